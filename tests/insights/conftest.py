"""A bot of its own with an empty SQLite tracker store, filled once with the conversations
of tests/insights/conversations.yml (the shared bot's store has other tests' turns)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.serve import Bot
from tests.conftest import API_TOKEN
from tests.insights import support
from tests.support.rest import RestClient


@dataclass
class PlayedStore:
    url: str
    path: Path | None  # the SQLite file, None for PostgreSQL


@pytest.fixture(scope="session")
def played_sqlite(model_path: Path) -> Iterator[PlayedStore]:
    path = Path(tempfile.mkdtemp(prefix="mpnbot-insights-")) / "trackers.db"
    url = f"sqlite:///{path}"
    bot = Bot(model=model_path, api_token=API_TOKEN, env={"TRACKER_DB_URL": url}).start()
    try:
        support.play(RestClient(bot.url, API_TOKEN), support.load())
    finally:
        bot.stop()  # the store is read as an operator would, with the bot stopped or not
    yield PlayedStore(url, path)
