"""The trainer loop's tests run on a small fixture project (tests/trainer/fixture/):
a few intents in ja and zh, a tiny config, so one training takes seconds of CPU.

The fixture model is trained once per test session (`trained`); tests that change files
work on their own copy of the project.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from trainer.project import REPO, Project

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
FIXTURE = Path(__file__).resolve().parent / "fixture"
# The fixture's checks: its intents have 10 examples per language.
MIN_EXAMPLES = 8


def copy_fixture(destination: Path, source: Path = FIXTURE) -> Project:
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns("results", "review"))
    return Project(destination)


def run_trainer(project: Project, *args: str, timeout: float = 900
                ) -> subprocess.CompletedProcess[str]:
    """`python -m trainer --root <project> ...` as a trainer would run it."""
    done = subprocess.run([sys.executable, "-m", "trainer", "--root", str(project.root), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"})
    print(done.stdout[-5000:], done.stderr[-3000:])
    return done


@dataclass(frozen=True)
class Trained:
    project: Project
    model: Path


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """The fixture project with one trained model (full training through the CLI)."""
    project = copy_fixture(tmp_path_factory.mktemp("trained") / "project")
    done = run_trainer(project, "train", "--skip-validation")
    assert done.returncode == 0, done.stdout + done.stderr
    model = project.newest_model()
    assert model is not None and "New model: models/" in done.stdout
    return Trained(project, model)


@pytest.fixture
def fixture_copy(tmp_path: Path) -> Callable[[], Project]:
    """A fresh, editable copy of the fixture project (no model)."""
    def make() -> Project:
        return copy_fixture(tmp_path / f"project{len(list(tmp_path.iterdir()))}")
    return make
