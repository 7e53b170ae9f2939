"""Start the whole assistant: action server, Rasa server (REST, web widget, Teams, Slack).

Used by `scripts/start` (the README's run command; it execs this, so signals reach this
process) and by the tests, so both run the bot exactly the same way. Trains a model first
when none exists.

Lifecycle: SIGINT (Ctrl+C) and SIGTERM (`docker stop`, systemd, Kubernetes) stop the
children, the first-start training included: SIGTERM to each, STOP_GRACE_S for them to
exit, then SIGKILL; exit status 0. A child that exits on its own stops the other and the
exit status is 1, with the tail of its log. Each child runs in a session of its own, so a
Ctrl+C in the terminal reaches only this process, which stops them in order.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import yaml

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
PROMOTED_POINTER = MODELS / "PROMOTED"
RASA = [sys.executable, "-m", "rasa"]
# After SIGTERM a child gets this long before SIGKILL. With the polling around it the
# whole stop stays within the 10 s that `docker stop` (and Kubernetes) wait before their
# own SIGKILL, which would leave no time to kill the children.
STOP_GRACE_S = 7.0
POLL_S = 0.2
LOG_TAIL_LINES = 30


class StopRequested(Exception):
    """SIGINT or SIGTERM arrived: stop everything and exit 0."""


class StopSignals:
    """SIGINT and SIGTERM only note the request; `check()` raises it at a safe point.

    Raising from the handler itself could interrupt `Popen()` after the fork and lose the
    child's handle (an orphan that holds its port); polling keeps every handle.
    """

    def __init__(self) -> None:
        self.signum: int | None = None

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._note)

    def _note(self, signum: int, _frame: object) -> None:
        if self.signum is None:  # a second Ctrl+C while stopping changes nothing
            self.signum = signum

    def check(self) -> None:
        if self.signum is not None:
            raise StopRequested(signal.Signals(self.signum).name)


def _no_stop() -> None:
    """The default check: nothing stops a wait early (tests, benchmarks)."""


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    # Only while the child is unreaped (poll() is None): its group id is still its own.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def stop_processes(processes: Iterable[subprocess.Popen | None],
                   grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM to every running one at once, `grace_s` for all of them, then SIGKILL."""
    running = [p for p in processes if p is not None and p.poll() is None]
    for process in running:
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for process in running:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()


def spawn(command: list[str], env: dict[str, str] | None = None,
          log: BinaryIO | None = None) -> subprocess.Popen:
    """A child in a session (and process group) of its own: see the module docstring."""
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT if log else None, start_new_session=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def newest_model() -> Path | None:
    models = sorted(MODELS.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


def served_model() -> Path | None:
    """The promoted model when there is one (see the trainer loop), else the newest."""
    if PROMOTED_POINTER.exists():
        promoted = MODELS / PROMOTED_POINTER.read_text().strip()
        if promoted.exists():
            return promoted
    return newest_model()


def train(out: Path = MODELS, check: Callable[[], None] = _no_stop) -> Path:
    """A model trained from the project's data; `check` may stop (and so kill) it early."""
    command = [*RASA, "train", "--domain", "domain.yml", "--data", "data", "--config",
               "config.yml", "--out", str(out)]
    process = spawn(command)
    try:
        while process.poll() is None:
            check()
            time.sleep(POLL_S)
    finally:
        stop_processes([process])  # nothing to do unless check() or Ctrl+C interrupted it
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, command)
    model = newest_model()
    if model is None:
        raise RuntimeError("training produced no model")
    return model


def wait_until_up(url: str, process: subprocess.Popen, timeout_s: float,
                  check: Callable[[], None] = _no_stop) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        check()
        if process.poll() is not None:
            command = process.args if isinstance(process.args, list) else [process.args]
            raise RuntimeError(f"{command[:4]} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} not up after {timeout_s} s")


@dataclass
class Bot:
    """A running action server + Rasa server pair on loopback ports."""

    model: Path
    rasa_port: int = field(default_factory=free_port)
    actions_port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    cors: str = "http://localhost"
    api_token: str | None = None
    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mpnbot-")))
    check: Callable[[], None] = _no_stop  # called while waiting for a child to come up
    _rasa: subprocess.Popen | None = None
    _actions: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def actions_url(self) -> str:
        return f"http://127.0.0.1:{self.actions_port}"

    def _endpoints_file(self) -> Path:
        endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text())
        endpoints["action_endpoint"]["url"] = f"{self.actions_url}/webhook"
        path = self.log_dir / "endpoints.yml"
        path.write_text(yaml.safe_dump(endpoints))
        return path

    def _environment(self) -> dict[str, str]:
        env = {**os.environ, **self.env}
        env.setdefault("TRACKER_DB_URL", f"sqlite:///{self.log_dir / 'trackers.db'}")
        env["PYTHONPATH"] = str(ROOT)
        return env

    def start_actions(self) -> None:
        log = (self.log_dir / "actions.log").open("ab")
        self._actions = spawn(
            [sys.executable, "-m", "rasa_sdk", "--actions", "actions",
             "--port", str(self.actions_port)],
            self._environment(), log,
        )
        wait_until_up(f"{self.actions_url}/health", self._actions, 60, self.check)

    def start_rasa(self) -> None:
        command = [*RASA, "run", "--model", str(self.model), "--port", str(self.rasa_port),
                   "--endpoints", str(self._endpoints_file()),
                   "--credentials", str(ROOT / "credentials.yml"), "--cors", *self.cors.split()]
        if self.api_token:
            command += ["--enable-api", "--auth-token", self.api_token]
        log = (self.log_dir / "rasa.log").open("ab")
        self._rasa = spawn(command, self._environment(), log)
        wait_until_up(f"{self.url}/webhooks/rest/", self._rasa, 180, self.check)

    def start(self) -> Bot:
        self.start_actions()
        self.start_rasa()
        return self

    def stop_rasa(self) -> None:
        stop_processes([self._rasa])

    def stop_actions(self) -> None:
        stop_processes([self._actions])

    def stop(self) -> None:
        """Both at once (SIGTERM, a shared grace, SIGKILL): one bounded wait, not two."""
        stop_processes([self._rasa, self._actions])

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-5000:] for p in self.log_dir.glob("*.log"))

    def _children(self) -> list[tuple[str, subprocess.Popen | None, Path]]:
        return [("Rasa server", self._rasa, self.log_dir / "rasa.log"),
                ("action server", self._actions, self.log_dir / "actions.log")]

    def exited(self) -> str | None:
        """Which child has exited, with its exit code and the tail of its log; else None."""
        for name, process, log in self._children():
            if process is not None and process.poll() is not None:
                lines = log.read_text(errors="replace").splitlines() if log.exists() else []
                tail = "\n".join(lines[-LOG_TAIL_LINES:])
                return (f"The {name} (pid {process.pid}) exited on its own with code "
                        f"{process.returncode}. The end of {log}:\n{tail}")
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5005")))
    parser.add_argument("--actions-port", type=int, default=5055)
    parser.add_argument("--train", action="store_true", help="train a new model first")
    args = parser.parse_args()
    signals = StopSignals()
    signals.install()
    bot: Bot | None = None
    try:
        model = served_model()
        if args.train or model is None:
            print("Training a model (first start only; takes a few minutes)…", flush=True)
            model = train(check=signals.check)
        cors = os.environ.get("CORS_ORIGINS",
                              f"http://localhost:{args.port} http://127.0.0.1:{args.port}")
        bot = Bot(model=model, rasa_port=args.port, actions_port=args.actions_port, cors=cors,
                  api_token=os.environ.get("RASA_API_TOKEN") or None,
                  env={"TRACKER_DB_URL": os.environ.get("TRACKER_DB_URL",
                                                        f"sqlite:///{ROOT / 'rasa.db'}")},
                  check=signals.check)
        try:
            bot.start()
        except (RuntimeError, TimeoutError) as e:
            print(f"mpn-support-bot did not start: {e}\n{bot.exited() or ''}",
                  file=sys.stderr, flush=True)
            return 1
        print(f"\nmpn-support-bot is ready (model {model.name}).\n"
              f"  Web chat:      http://localhost:{args.port}/webhooks/web/\n"
              f"  REST channel:  http://localhost:{args.port}/webhooks/rest/webhook\n"
              f"  Logs:          {bot.log_dir}\nPress Ctrl+C to stop.", flush=True)
        while True:
            signals.check()
            died = bot.exited()
            if died:
                print(f"mpn-support-bot stopped: {died}", file=sys.stderr, flush=True)
                return 1
            time.sleep(POLL_S)
    except StopRequested as stop:
        print(f"{stop}: stopping…", flush=True)
        return 0
    except subprocess.CalledProcessError as e:
        print(f"Training failed (exit code {e.returncode}); see its output above.",
              file=sys.stderr, flush=True)
        return 1
    finally:
        if bot is not None:
            bot.stop()


if __name__ == "__main__":
    sys.exit(main())
