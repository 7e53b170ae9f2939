"""The feedback question after a guide or a final answer (tests/feedback/flows.yml), in
both languages over the REST channel: buttons, typed answers, the optional comment, the
next step after a no, and another topic or a person instead of an answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.dialogue import check_turn, uttered_responses
from tests.support.rest import RestClient

FLOWS = yaml.safe_load((Path(__file__).parent / "feedback" / "flows.yml")
                       .read_text(encoding="utf-8"))["flows"]


def test_flows_cover_both_languages_and_every_kind_of_reply() -> None:
    names = [flow["name"] for flow in FLOWS]
    for language in ("ja", "zh"):
        mine = [n for n in names if n.startswith(language + "_")]
        for kind in ("yes", "no", "topic", "person"):
            assert any(kind in n for n in mine), f"{language}: no flow with a {kind} reply"


@pytest.mark.parametrize("flow", FLOWS, ids=[flow["name"] for flow in FLOWS])
def test_feedback_flow(rest: RestClient, flow: dict[str, Any]) -> None:
    sender = rest.new_sender()
    language = flow["name"].split("_")[0]
    for number, turn in enumerate(flow["turns"], start=1):
        replies = rest.send(sender, turn["user"], {"language": language}).replies
        expect = dict(turn.get("expect") or {})
        slots_expected = expect.pop("slots", {})
        excluded = expect.pop("responses_exclude", [])
        tracker = rest.tracker(sender)
        problems = check_turn(expect, replies, tracker)
        slots = tracker["slots"]
        problems += [f"{name}={slots.get(name)!r}, expected {value!r}"
                     for name, value in slots_expected.items() if slots.get(name) != value]
        uttered = uttered_responses(tracker)
        problems += [f"{name} uttered" for name in excluded if name in uttered]
        text = " | ".join(r.get("text") or "" for r in replies)[:300]
        assert not problems, (f"turn {number} {turn['user']!r}: " + "; ".join(problems)
                              + f"\n  uttered: {uttered}\n  reply: {text}")
