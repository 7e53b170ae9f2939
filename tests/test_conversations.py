"""Scripted conversations (tests/conversations/<lang>.yml) played over the REST channel
against the real action server and Rasa server, checking slots and facts every turn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.dialogue import load_scripts, play
from tests.support.rest import RestClient

SCRIPTS = Path(__file__).parent / "conversations"


@pytest.mark.parametrize(("language", "conversation"), [
    pytest.param(language, conversation, id=f"{language}-{conversation['name']}")
    for language, conversation in load_scripts(SCRIPTS.glob("*.yml"))
])
def test_conversation(rest: RestClient, language: str, conversation: dict[str, Any]) -> None:
    played = play(rest, language, conversation)
    assert played.passed, "\n".join(played.problems)
