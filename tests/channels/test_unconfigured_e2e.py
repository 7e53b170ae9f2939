"""With no channel variable set, `rasa run` (credentials.yml as shipped) starts and the Teams
and Slack webhooks answer 503; the REST channel is unaffected."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.serve import Bot
from tests.channels.conftest import CHANNEL_VARS, http
from tests.support.bots import served


@pytest.fixture(scope="module")
def bare_rasa(channel_model: Path) -> Iterator[Bot]:
    bot = Bot(model=channel_model, env={var: "" for var in CHANNEL_VARS})
    with served(bot, rasa_only=True) as started:  # no action server needed to answer 503
        yield started


@pytest.mark.parametrize("channel", ["teams", "slack"])
def test_unconfigured_channel_answers_503(bare_rasa: Bot, channel: str) -> None:
    status, _ = http("POST", f"{bare_rasa.url}/webhooks/{channel}/webhook", b"{}",
                     {"Content-Type": "application/json"})
    assert status == 503
    assert http("GET", f"{bare_rasa.url}/webhooks/{channel}/")[0] == 503
    assert http("GET", f"{bare_rasa.url}/webhooks/rest/")[0] == 200
