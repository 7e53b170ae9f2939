"""Every question and offer the bot makes (tests/pending/questions.yml) answered with each
kind of reply, in both languages, over the REST channel: the exact next step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.dialogue import check_turn
from tests.support.rest import RestClient

QUESTIONS = yaml.safe_load((Path(__file__).parent / "pending" / "questions.yml")
                           .read_text(encoding="utf-8"))["questions"]
REPLY_KINDS = ("yes", "no", "dont_know", "free_text", "topic", "person")


def cases() -> list[Any]:
    return [pytest.param(question[language], kind, id=f"{name}-{language}-{kind}")
            for name, question in QUESTIONS.items() for language in ("ja", "zh")
            for kind in REPLY_KINDS]


def test_every_question_lists_every_kind_of_reply() -> None:
    for name, question in QUESTIONS.items():
        for language in ("ja", "zh"):
            assert set(question[language]) == {"ask", *REPLY_KINDS}, f"{name}/{language}"


@pytest.mark.parametrize(("question", "kind"), cases())
def test_reply_leads_to_the_expected_next_step(rest: RestClient, question: dict[str, Any],
                                               kind: str) -> None:
    sender = rest.new_sender()
    for message in question["ask"]:
        assert rest.send(sender, message).replies, f"no reply to {message!r}"
    reply = question[kind]
    replies = rest.send(sender, reply["user"]).replies
    problems = check_turn(reply["expect"], replies, rest.tracker(sender))
    text = " | ".join(r.get("text") or "" for r in replies)[:300]
    assert not problems, f"{reply['user']!r}: " + "; ".join(problems) + f"\n  reply: {text}"
