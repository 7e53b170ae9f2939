"""What action_handoff tells the partner with and without a hand-off configured, and the
named actions of a hand-off's life (actions/handoff.py)."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.shared.core.domain import Domain

from actions import actions as bot_actions
from actions import handoff as handoff_actions
from tests.test_actions import domain, domain_dict, make_tracker, run

__all__ = ["domain", "domain_dict"]  # fixtures used here

STAFFED = {"HANDOFF_SLACK_CHANNEL": "C0STAFF", "SLACK_BOT_TOKEN": "xoxb-x",
           "SLACK_SIGNING_SECRET": "s", "HANDOFF_TIMEOUT_SECONDS": "120"}


def use_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name in [*STAFFED, "HANDOFF_OFFICE_HOURS", "HANDOFF_OFFICE_DAYS", "HANDOFF_TIMEZONE",
                 "HANDOFF_WEBHOOK_URL"]:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def payload(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return next(m["custom"]["handoff"] for m in messages if m.get("custom"))


async def test_nothing_configured_answers_as_before(monkeypatch, domain_dict) -> None:
    use_env(monkeypatch, {})
    messages, _, slots = await run(bot_actions.ActionHandoff(),
                                   make_tracker({"diagnosis": "not_authorized"}), domain_dict)
    assert messages[0]["response"] == "utter_handoff"
    assert "handoff_status" not in slots and "id" not in payload(messages)
    assert slots["diagnosis"] == "human_handoff"


async def test_staffed_the_partner_waits_for_a_person(monkeypatch, domain_dict) -> None:
    use_env(monkeypatch, STAFFED)
    messages, _, slots = await run(bot_actions.ActionHandoff(),
                                   make_tracker({"diagnosis": "not_authorized"}), domain_dict)
    assert messages[0]["response"] == "utter_handoff_waiting"
    assert messages[0]["minutes"] == 2
    assert slots["handoff_status"] == "waiting" and slots["diagnosis"] == "human_handoff"
    data = payload(messages)
    assert data["id"] == slots["handoff_id"] and data["status"] == "waiting"
    assert set(data["summary"]) == {"diagnosis_label", "known", "steps_done", "step_failed"}


async def test_outside_office_hours_the_summary_at_once(monkeypatch, domain_dict) -> None:
    # An office that is never open: 00:00-00:00 matches no time of day.
    use_env(monkeypatch, {**STAFFED, "HANDOFF_OFFICE_HOURS": "00:00-00:00"})
    messages, _, slots = await run(bot_actions.ActionHandoff(),
                                   make_tracker({"diagnosis": "not_authorized"}), domain_dict)
    assert messages[0]["response"] == "utter_handoff"
    assert slots["handoff_status"] == "missed"


async def test_missed_repeats_the_stored_summary(domain_dict) -> None:
    summary = {"diagnosis_label": "A", "known": "B", "steps_done": "C", "step_failed": "D"}
    events = [{"event": "bot", "text": None,
               "data": {"custom": {"handoff": {"id": "h1", "summary": summary}}}}]
    messages, _, slots = await run(handoff_actions.ActionHandoffMissed(),
                                   make_tracker(events=events), domain_dict)
    assert [m["response"] for m in messages] == ["utter_handoff_missed", "utter_handoff"]
    assert messages[1]["step_failed"] == "D" and slots["handoff_status"] == "missed"


@pytest.mark.parametrize("action, response, status", [
    (handoff_actions.ActionHandoffTaken(), "utter_handoff_joined", "taken"),
    (handoff_actions.ActionHandoffEnded(), "utter_handoff_back", "ended"),
])
async def test_taken_and_ended(action, response, status, domain_dict) -> None:
    messages, events, slots = await run(action, make_tracker({"diagnosis": "human_handoff"}),
                                        domain_dict)
    assert [m["response"] for m in messages] == [response]
    assert slots == {"handoff_status": status}  # nothing else of the conversation changes


def test_every_hand_off_name_is_in_the_domain(domain: Domain) -> None:
    for name in ("action_handoff_taken", "action_handoff_missed", "action_handoff_ended"):
        assert name in domain.action_names_or_texts
    for slot in ("handoff_id", "handoff_status"):
        assert slot in [s.name for s in domain.slots]
    for response in ("utter_handoff_waiting", "utter_handoff_joined", "utter_handoff_missed",
                     "utter_handoff_back"):
        assert {v.get("condition") is None for v in domain.responses[response]} == {True,
                                                                                    False}
