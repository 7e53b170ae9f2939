"""The stock `rasa init` bot as the benchmark's reference (scripts/bench_bot.py; never in CI).

Built in a temp dir from Rasa's own project template (rasa/cli/initial_project: its default
config, i.e. DIET + ResponseSelector, Memoization, Rule, UnexpecTED and TED policies), with
two changes so that a turn does the same kind of work as one of this bot's turns:

- one trivial custom action (`action_note_turn`, returns nothing) after the bot's reply in
  every story and rule step, served by a rasa_sdk action server: one action call per turn;
- Rasa's own SQLTrackerStore on a SQLite file (no tuning, none of this project's patches),
  in-memory locks, the REST channel.

Training it takes minutes: `--stock-model` reuses one built earlier (the path is printed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from scripts.serve import free_port, stop_processes, wait_until_up

ACTION = "action_note_turn"
ACTIONS_PY = f'''from rasa_sdk import Action


class NoteTurn(Action):
    """Does nothing: the stock bot's one action-server call per turn."""

    def name(self):
        return "{ACTION}"

    def run(self, dispatcher, tracker, domain):
        return []
'''

# Natural English conversations for the stock bot's intents (its NLU data is English).
STOCK_CONVERSATIONS: list[list[str]] = [
    ["hello there", "I am feeling very good", "bye"],
    ["hi", "I am sad", "yes", "goodbye"],
    ["good morning", "my day was horrible", "not really"],
    ["hey", "am I talking to a bot?", "great", "see you later"],
    ["good evening", "I don't feel very well", "of course", "are you a human?", "bye bye"],
    ["hey there", "super stoked", "have a nice day"],
]


def template_dir() -> Path:
    import rasa.cli

    return Path(rasa.cli.__file__).parent / "initial_project"


def with_action_after_replies(steps: list[dict]) -> list[dict]:
    """`steps` with ACTION after each run of bot actions (one call per user turn)."""
    out: list[dict] = []
    for index, step in enumerate(steps):
        out.append(step)
        following = steps[index + 1] if index + 1 < len(steps) else None
        if "action" in step and (following is None or "action" not in following):
            out.append({"action": ACTION})
    return out


def build_project(directory: Path) -> Path:
    """The stock project with the custom action in `directory`; returns it."""
    shutil.copytree(template_dir(), directory, dirs_exist_ok=True)
    (directory / "actions" / "actions.py").write_text(ACTIONS_PY)
    domain = yaml.safe_load((directory / "domain.yml").read_text())
    domain["actions"] = [ACTION]
    (directory / "domain.yml").write_text(yaml.safe_dump(domain, allow_unicode=True))
    for name, key in (("stories.yml", "stories"), ("rules.yml", "rules")):
        path = directory / "data" / name
        data = yaml.safe_load(path.read_text())
        for item in data[key]:
            item["steps"] = with_action_after_replies(item["steps"])
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    shutil.rmtree(directory / "tests", ignore_errors=True)  # test stories lack the action
    return directory


def train_stock(directory: Path) -> Path:
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run([sys.executable, "-m", "rasa", "train", "--out", "models",
                    "--fixed-model-name", "stock"], cwd=directory, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return directory / "models" / "stock.tar.gz"


@dataclass
class StockBot:
    """Same interface as scripts.serve.Bot for bench_bot.run_one."""

    model: Path
    api_token: str
    env: dict[str, str] = field(default_factory=dict)
    rasa_port: int = field(default_factory=free_port)
    actions_port: int = field(default_factory=free_port)
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-stock-")))
    _rasa: subprocess.Popen | None = None
    _actions: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    def _spawn(self, command: list[str], log: str) -> subprocess.Popen:
        env = {**os.environ, **self.env, "RASA_TELEMETRY_ENABLED": "false",
               "PYTHONPATH": str(self.directory)}
        return subprocess.Popen(command, cwd=self.directory, env=env,
                                stdout=(self.directory / log).open("ab"),
                                stderr=subprocess.STDOUT, start_new_session=True)

    def start_actions(self) -> None:
        if not (self.directory / "actions").exists():
            build_project(self.directory)
        self._actions = self._spawn([sys.executable, "-m", "rasa_sdk", "--actions", "actions",
                                     "--port", str(self.actions_port)], "actions.log")
        wait_until_up(f"http://127.0.0.1:{self.actions_port}/health", self._actions, 60)

    def start_rasa(self) -> None:
        endpoints = {
            "action_endpoint": {"url": f"http://127.0.0.1:{self.actions_port}/webhook"},
            "tracker_store": {"type": "SQL", "dialect": "sqlite",
                              "db": str(self.directory / "trackers.db")},
        }
        (self.directory / "bench-endpoints.yml").write_text(yaml.safe_dump(endpoints))
        (self.directory / "bench-credentials.yml").write_text("rest:\n")
        self._rasa = self._spawn(
            [sys.executable, "-m", "rasa", "run", "--model", str(self.model), "--port",
             str(self.rasa_port), "--endpoints", "bench-endpoints.yml", "--credentials",
             "bench-credentials.yml", "--enable-api", "--auth-token", self.api_token], "rasa.log")
        wait_until_up(f"{self.url}/webhooks/rest/", self._rasa, 300)

    def stop(self) -> None:
        stop_processes([self._rasa, self._actions])
