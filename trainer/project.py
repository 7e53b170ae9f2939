"""Where a project's files are, and how to run Rasa on it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from components.language import LANGUAGES as _LANGUAGES

# The repository holding this package (and `components/`, which Rasa must import).
REPO = Path(__file__).resolve().parent.parent
PACKAGE = Path(__file__).resolve().parent
# The bot's languages, from the one home of the language rule (a standard-library module:
# importing it does not load Rasa, which commands such as compare and promote do not need).
LANGUAGES: tuple[str, ...] = _LANGUAGES


@dataclass(frozen=True)
class Project:
    root: Path

    @property
    def domain(self) -> Path:
        return self.root / "domain.yml"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def config(self) -> Path:
        return self.root / "config.yml"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def content(self) -> Path:
        return self.root / "actions" / "content"

    @property
    def contract(self) -> Path:
        return self.root / "docs" / "dialogue-contract.md"

    @property
    def baseline(self) -> Path:
        return self.root / "tests" / "nlu" / "baseline.json"

    def nlu_dir(self, language: str) -> Path:
        return self.data / "nlu" / language

    def heldout(self, language: str) -> Path:
        return self.root / "tests" / "nlu" / f"heldout_{language}.yml"

    @property
    def heldout_conversations(self) -> list[Path]:
        """The held-out conversation sets (sealed part included) and the pending-question
        replies: none of their messages may be a training example."""
        tests = self.root / "tests"
        return sorted([*(tests / "dialogue").rglob("*.yml"), *(tests / "pending").glob("*.yml")])

    @property
    def languages(self) -> tuple[str, ...]:
        return LANGUAGES

    def rel(self, path: Path) -> str:
        """A path as shown in messages: relative to the project root when inside it."""
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)

    def newest_model(self) -> Path | None:
        models = sorted(self.models.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
        return models[-1] if models else None

    def resolve_model(self, name: str | None) -> Path:
        """--model as given (a path, or a file name in models/), else the newest model."""
        if name is None:
            model = self.newest_model()
            if model is None:
                raise SystemExit(f"No model in {self.models}: run `python -m trainer train`.")
            return model
        for candidate in (Path(name), self.root / name, self.models / name):
            if candidate.is_file():
                return candidate.resolve()
        raise SystemExit(f"Model not found: {name}")

    def env(self) -> dict[str, str]:
        """Environment for Rasa subprocesses: the project's and this repository's code
        importable (custom components), no telemetry (there is no internet)."""
        paths = [str(self.root), str(REPO), os.environ.get("PYTHONPATH", "")]
        return {**os.environ, "RASA_TELEMETRY_ENABLED": "false",
                "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def rasa_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "rasa", *args]


def run_streaming(command: list[str], project: Project) -> tuple[int, str]:
    """Runs a command in the project root, echoing its output as it comes (Rasa shows its
    own progress bars), and returns the exit code and the whole output."""
    print(f"$ {' '.join(command[2:] if command[:2] == [sys.executable, '-m'] else command)}",
          flush=True)
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=project.root, env=project.env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               errors="replace")
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line)
        print(line, end="", flush=True)
    code = process.wait()
    print(f"({time.monotonic() - started:.0f} s)", flush=True)
    return code, "".join(lines)


def run_quiet(command: list[str], project: Project) -> tuple[int, str]:
    """Runs a command in the project root and returns the exit code and its output."""
    done = subprocess.run(command, cwd=project.root, env=project.env(), capture_output=True,
                          text=True, errors="replace")
    return done.returncode, done.stdout + done.stderr
