"""Scripted conversations (tests/conversations/<lang>.yml) played over the REST channel
against the real action server and Rasa server, checking slots and facts every turn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.rest import RestClient

SCRIPTS = Path(__file__).parent / "conversations"


def load_conversations() -> list[Any]:
    cases = []
    for path in sorted(SCRIPTS.glob("*.yml")):
        for conversation in yaml.safe_load(path.read_text(encoding="utf-8"))["conversations"]:
            cases.append(pytest.param(conversation, id=f"{path.stem}-{conversation['name']}"))
    return cases


def check_turn(number: int, user: str, expect: dict[str, Any], replies: list[dict[str, Any]],
               slots: dict[str, Any]) -> list[str]:
    text = "\n".join(reply.get("text") or "" for reply in replies)
    payloads = [b["payload"] for reply in replies for b in reply.get("buttons") or []]
    problems = []
    for slot in ("diagnosis", "language"):
        if slot in expect and slots.get(slot) != expect[slot]:
            problems.append(f"{slot}={slots.get(slot)!r}, expected {expect[slot]!r}")
    if "says_any" in expect and not any(fact in text for fact in expect["says_any"]):
        problems.append(f"none of {expect['says_any']} in reply")
    missing = [fact for fact in expect.get("says_all", []) if fact not in text]
    if missing:
        problems.append(f"{missing} missing from reply")
    missing_buttons = [p for p in expect.get("buttons_include", []) if p not in payloads]
    if missing_buttons:
        problems.append(f"buttons {missing_buttons} missing (got {payloads})")
    if problems:
        return [f"turn {number} {user!r}: " + "; ".join(problems) + f"\n  reply: {text[:300]!r}"]
    return []


@pytest.mark.parametrize("conversation", load_conversations())
def test_conversation(rest: RestClient, conversation: dict[str, Any]) -> None:
    sender = rest.new_sender()
    problems: list[str] = []
    for number, turn in enumerate(conversation["turns"], start=1):
        result = rest.send(sender, turn["user"], turn.get("metadata"))
        assert result.replies, f"turn {number} {turn['user']!r}: no reply at all"
        problems += check_turn(number, turn["user"], turn.get("expect", {}), result.replies,
                               result.slots)
    assert not problems, "\n".join(problems)
