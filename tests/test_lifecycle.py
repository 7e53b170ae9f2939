"""`scripts/start`'s process lifecycle, with real processes: SIGTERM (what `docker stop`
sends) once the bot is ready and once during the first-start training stops every child,
frees the ports and exits 0 within Docker's 10 s grace; a child that dies on its own makes
it exit 1 and say which. `scripts/start` execs `python -m scripts.serve`, so the signal
reaches the same process these tests start (its `uv sync` is left out: it would remove
tools installed beside the lock).

Each test runs a temporary copy of the project, so that its models directory can be set up
(a link to the shared model, or empty to make it train) without touching the real one.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.serve import ROOT, free_port

pytestmark = pytest.mark.slow

DOCKER_GRACE_S = 10.0  # `docker stop`'s default before SIGKILL: a correctness bound
NOT_COPIED = (".git", ".venv", "models", "tests", "benchmarks", "web/node_modules", "rasa.db",
              "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache")


def _proc_table() -> dict[int, tuple[int, str, str]]:
    """pid → (parent pid, state, command line) of every process, from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # exited meanwhile
        # "pid (comm) state ppid …": comm may hold spaces and parentheses.
        state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
        table[int(entry.name)] = (int(ppid), state, cmdline)
    return table


def descendants(pid: int) -> dict[int, str]:
    table = _proc_table()
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, _, cmdline) in table.items():
            if ppid == parent and child not in found:
                found[child] = cmdline
                frontier.append(child)
    return found


def still_running(pids: dict[int, str]) -> dict[int, str]:
    """Those of `pids` that still run (a zombie has exited: it holds no port)."""
    table = _proc_table()
    return {pid: cmd for pid, cmd in pids.items() if pid in table and table[pid][1] != "Z"}


def port_free(port: int) -> bool:
    """Nobody listens on it and a server could bind it (SO_REUSEADDR, as Sanic binds:
    connections of the stopped server may linger in TIME_WAIT)."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            server.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Started:
    process: subprocess.Popen
    output: Path
    ports: tuple[int, int]
    models: Path

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_for(self, what: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while what not in self.text():
            if self.process.poll() is not None:
                pytest.fail(f"exited with {self.process.returncode} before {what!r}:\n{self.text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what!r} after {timeout_s} s:\n{self.text()[-3000:]}")
            time.sleep(0.2)

    def stop_timed(self, signum: int = signal.SIGTERM) -> float:
        """Seconds from the signal to the process's exit."""
        sent = time.monotonic()
        self.process.send_signal(signum)
        try:
            self.process.wait(DOCKER_GRACE_S + 20)  # longer than the bound, to measure
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f"still running {DOCKER_GRACE_S + 20} s after the signal")
        return time.monotonic() - sent


def project_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(*NOT_COPIED), symlinks=True)
    (copy / "models").mkdir()
    return copy


@pytest.fixture
def start(tmp_path: Path) -> Iterator:
    started: list[Started] = []

    def run(model: Path | None) -> Started:
        copy = project_copy(tmp_path)
        if model is not None:
            (copy / "models" / model.name).symlink_to(model.resolve())
        ports = (free_port(), free_port())
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TEAMS_", "SLACK_", "TRACKER_", "REDIS_", "MPN_"))}
        env.update(PYTHONPATH=str(copy), RASA_TELEMETRY_ENABLED="false")
        output = tmp_path / "output.txt"
        with output.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "scripts.serve", "--port", str(ports[0]),
                 "--actions-port", str(ports[1])],
                cwd=copy, env=env, stdout=sink, stderr=subprocess.STDOUT)
        started.append(Started(process, output, ports, copy / "models"))
        return started[-1]

    yield run
    for each in started:  # a failed test must not leave a bot behind
        if each.process.poll() is None:
            children = descendants(each.process.pid)
            each.process.kill()
            each.process.wait()
            for pid in still_running(children):
                os.kill(pid, signal.SIGKILL)


def assert_all_gone(started: Started, children: dict[int, str]) -> None:
    assert still_running(children) == {}, started.text()[-3000:]
    for port in started.ports:
        assert port_free(port), f"port {port} still taken"


def test_sigterm_once_ready_stops_everything(start, model_path: Path) -> None:
    bot = start(model_path)
    bot.wait_for("is ready", 300)
    children = descendants(bot.process.pid)
    commands = " | ".join(children.values())
    assert "rasa_sdk" in commands and "rasa run" in commands, commands
    elapsed = bot.stop_timed()
    print(f"stop once ready: {elapsed:.2f} s")
    assert bot.process.returncode == 0, bot.text()[-3000:]
    assert elapsed < DOCKER_GRACE_S
    assert_all_gone(bot, children)


def test_sigterm_during_first_start_training_stops_it(start) -> None:
    bot = start(None)  # no model: the first start trains one
    bot.wait_for("Training a model", 60)
    deadline = time.monotonic() + 60
    while not any("rasa train" in cmd for cmd in descendants(bot.process.pid).values()):
        assert time.monotonic() < deadline, "no training process"
        time.sleep(0.2)
    time.sleep(5)  # well into it: Rasa and TensorFlow loaded, training under way
    children = descendants(bot.process.pid)
    elapsed = bot.stop_timed()
    print(f"stop during training: {elapsed:.2f} s")
    assert bot.process.returncode == 0, bot.text()[-3000:]
    assert elapsed < DOCKER_GRACE_S
    assert_all_gone(bot, children)
    assert list(bot.models.glob("*.tar.gz")) == []  # stopped, not finished
    assert "is ready" not in bot.text()


def test_a_child_dying_on_its_own_stops_the_other_and_exits_1(start, model_path: Path) -> None:
    bot = start(model_path)
    bot.wait_for("is ready", 300)
    children = descendants(bot.process.pid)
    [actions] = [pid for pid, cmd in children.items() if "rasa_sdk" in cmd]
    os.kill(actions, signal.SIGKILL)
    bot.process.wait(DOCKER_GRACE_S + 5)
    out = bot.text()
    assert bot.process.returncode == 1, out[-3000:]
    assert "The action server" in out and "exited on its own with code -9" in out, out[-3000:]
    assert "actions.log" in out  # and the end of its log follows
    assert_all_gone(bot, children)
