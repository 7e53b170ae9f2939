"""Shared fixtures: one trained model for the whole test run, and a running bot.

The model is the one in $MPN_MODEL, else the newest models/*.tar.gz (CI trains exactly
one before the tests), else one is trained here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.serve import Bot, newest_model, train
from tests.support.rest import RestClient

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
API_TOKEN = "test-token"


@pytest.fixture(scope="session")
def model_path() -> Path:
    if os.environ.get("MPN_MODEL"):
        return Path(os.environ["MPN_MODEL"])
    return newest_model() or train()


@pytest.fixture(scope="session")
def bot(model_path: Path) -> Iterator[Bot]:
    """Action server + Rasa server with the REST channel, API enabled with a token."""
    running = Bot(model=model_path, api_token=API_TOKEN).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def rest(bot: Bot) -> RestClient:
    return RestClient(bot.url, API_TOKEN)
