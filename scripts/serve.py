"""Start the whole assistant: action server, Rasa server (REST, web widget, Teams, Slack).

Used by `scripts/start` (the README's run command) and by the tests, so both run the
bot exactly the same way. Trains a model first when none exists.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
PROMOTED_POINTER = MODELS / "PROMOTED"
RASA = [sys.executable, "-m", "rasa"]


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


def train(out: Path = MODELS) -> Path:
    subprocess.run(
        [*RASA, "train", "--domain", "domain.yml", "--data", "data", "--config", "config.yml",
         "--out", str(out)],
        cwd=ROOT, check=True,
    )
    model = newest_model()
    if model is None:
        raise RuntimeError("training produced no model")
    return model


def wait_until_up(url: str, process: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:4]} exited with {process.returncode}")
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
        self._actions = subprocess.Popen(
            [sys.executable, "-m", "rasa_sdk", "--actions", "actions",
             "--port", str(self.actions_port)],
            cwd=ROOT, env=self._environment(), stdout=log, stderr=subprocess.STDOUT,
        )
        wait_until_up(f"{self.actions_url}/health", self._actions, 60)

    def start_rasa(self) -> None:
        command = [*RASA, "run", "--model", str(self.model), "--port", str(self.rasa_port),
                   "--endpoints", str(self._endpoints_file()),
                   "--credentials", str(ROOT / "credentials.yml"), "--cors", *self.cors.split()]
        if self.api_token:
            command += ["--enable-api", "--auth-token", self.api_token]
        log = (self.log_dir / "rasa.log").open("ab")
        self._rasa = subprocess.Popen(
            command, cwd=ROOT, env=self._environment(), stdout=log, stderr=subprocess.STDOUT,
        )
        wait_until_up(f"{self.url}/webhooks/rest/", self._rasa, 180)

    def start(self) -> Bot:
        self.start_actions()
        self.start_rasa()
        return self

    @staticmethod
    def _stop(process: subprocess.Popen | None) -> None:
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop_rasa(self) -> None:
        self._stop(self._rasa)

    def stop_actions(self) -> None:
        self._stop(self._actions)

    def stop(self) -> None:
        self.stop_rasa()
        self.stop_actions()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-5000:] for p in self.log_dir.glob("*.log"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5005")))
    parser.add_argument("--actions-port", type=int, default=5055)
    parser.add_argument("--train", action="store_true", help="train a new model first")
    args = parser.parse_args()

    model = served_model()
    if args.train or model is None:
        print("Training a model (first start only; takes a few minutes)…", flush=True)
        model = train()
    cors = os.environ.get("CORS_ORIGINS", f"http://localhost:{args.port} http://127.0.0.1:{args.port}")
    bot = Bot(model=model, rasa_port=args.port, actions_port=args.actions_port, cors=cors,
              api_token=os.environ.get("RASA_API_TOKEN") or None,
              env={"TRACKER_DB_URL": os.environ.get("TRACKER_DB_URL", f"sqlite:///{ROOT / 'rasa.db'}")})
    try:
        bot.start()
        print(f"\nmpn-support-bot is ready (model {model.name}).\n"
              f"  Web chat:      http://localhost:{args.port}/webhooks/web/\n"
              f"  REST channel:  http://localhost:{args.port}/webhooks/rest/webhook\n"
              f"  Logs:          {bot.log_dir}\nPress Ctrl+C to stop.", flush=True)
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        bot.stop()


if __name__ == "__main__":
    main()
