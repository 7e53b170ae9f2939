"""Custom actions run with real Tracker, CollectingDispatcher and the project's domain."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from rasa.shared.core.domain import Domain
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import actions as bot_actions
from actions.content import load_content

ROOT = Path(__file__).resolve().parent.parent
CONTENT = load_content()


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def domain_dict(domain: Domain) -> dict[str, Any]:
    return domain.as_dict()


def make_tracker(slots: dict[str, Any] | None = None, intent: str = "greet",
                 entities: list[dict[str, Any]] | None = None, text: str = "",
                 events: list[dict[str, Any]] | None = None,
                 ranking: list[dict[str, Any]] | None = None) -> Tracker:
    latest = {"intent": {"name": intent, "confidence": 1.0}, "entities": entities or [],
              "text": text, "intent_ranking": ranking or []}
    return Tracker.from_dict({
        "sender_id": "unit", "slots": {"language": "ja", **(slots or {})},
        "latest_message": latest, "events": events or [], "paused": False,
        "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen",
    })


async def run(action: Action, tracker: Tracker, domain_dict: dict[str, Any]):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain_dict)
    slot_values = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    return dispatcher.messages, events, slot_values


def step_entity(step: int, cause: int | None = None) -> list[dict[str, Any]]:
    entities = [{"entity": "step", "value": step}]
    if cause is not None:
        entities.append({"entity": "cause", "value": cause})
    return entities


def guide_slots(guide: str, step: int, cause: int | None = None) -> dict[str, Any]:
    return {"guide": guide, "guide_step": float(step),
            "guide_cause": None if cause is None else float(cause)}


def test_every_response_the_actions_use_exists_in_both_languages(domain: Domain) -> None:
    source = (ROOT / "actions" / "actions.py").read_text()
    # "utter_action" is the key under which Rasa records a response's name, not a response.
    used = set(re.findall(r'"(utter_[a-z_]+)"', source)) - {"utter_action"}
    for name in used:
        variations = domain.responses[name]
        conditions = [v.get("condition") for v in variations]
        assert None in conditions, f"{name} has no default (ja) variation"
        assert any(c and c[0]["value"] == "zh" for c in conditions), f"{name} has no zh variation"


def test_every_fixed_label_the_actions_use_exists_in_both_languages() -> None:
    # A label missing (or read by YAML as a boolean key) fails only when a partner reaches it.
    source = "".join(path.read_text() for path in (ROOT / "actions").glob("*.py"))
    used = set(re.findall(r'label\([a-z_.]+, "([a-z_]+)", "([a-z_]+)"\)', source))
    assert ("ui", "yes") in used
    for section, key in used:
        for language in ("ja", "zh"):
            assert CONTENT.label(language, section, key).strip(), (section, key, language)


def test_a_content_file_with_a_boolean_key_is_refused(tmp_path, monkeypatch) -> None:
    from actions import content

    (tmp_path / "labels.yml").write_text('ui:\n  yes: {ja: "はい", zh: "好的"}\n', encoding="utf-8")
    monkeypatch.setattr(content, "CONTENT", tmp_path)
    with pytest.raises(ValueError, match=r"labels.yml > ui: key True is not text"):
        content._load("labels.yml")
    (tmp_path / "cues.yml").write_text('offer:\n  "no": [不用, no]\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"cues.yml > offer > no: False is not text"):
        content._load("cues.yml")


@pytest.mark.parametrize("diagnosis", sorted(CONTENT.starts))
async def test_start_guide_shows_the_first_position(diagnosis: str, domain_dict) -> None:
    start = CONTENT.starts[diagnosis]
    key, _, route = diagnosis.partition("/")
    slots = {"diagnosis": key, "cloud_route": route or None}
    messages, _, slot_values = await run(bot_actions.ActionStartGuide(), make_tracker(slots), domain_dict)
    if route:  # the cloud route starts through its own answer action, not by diagnosis
        assert messages == []
        return
    guide = CONTENT.guides[start.guide]
    step = guide.index_of(start.step) if start.step else 0
    assert slot_values["guide"] == start.guide
    assert slot_values["guide_step"] == step
    payloads = [b["payload"] for b in messages[-1]["buttons"]]
    if start.cause is None:
        assert guide.steps[step].text["ja"] in messages[-1]["text"]
        assert f'/guide_next{{"step": {step + 1}}}' in payloads
    else:
        assert f'/guide_failed{{"step": {step + 1}, "cause": {start.cause + 1}}}' in payloads


@pytest.mark.parametrize("language", ["ja", "zh"])
async def test_guide_next_advances_once_and_ignores_a_repeated_click(language: str,
                                                                     domain_dict) -> None:
    guide = CONTENT.guides["view_activate"]
    tracker = make_tracker({**guide_slots("view_activate", 0), "language": language},
                           intent="guide_next", entities=step_entity(1))
    messages, _, slots = await run(bot_actions.ActionGuideNext(), tracker, domain_dict)
    assert slots["guide_step"] == 1
    assert guide.steps[1].text[language] in messages[0]["text"]
    # The same "done" button again, now that step 2 is current: step 2 is shown again.
    repeated = make_tracker({**guide_slots("view_activate", 1), "language": language},
                            intent="guide_next", entities=step_entity(1))
    messages, _, slots = await run(bot_actions.ActionGuideNext(), repeated, domain_dict)
    assert slots["guide_step"] == 1
    assert guide.steps[1].text[language] in messages[0]["text"]


async def test_last_step_done_finishes_and_clears_the_position(domain_dict) -> None:
    last = len(CONTENT.guides["link_azure"].steps) - 1
    tracker = make_tracker(guide_slots("link_azure", last), intent="guide_next",
                           entities=step_entity(last + 1))
    messages, _, slots = await run(bot_actions.ActionGuideNext(), tracker, domain_dict)
    assert messages[0]["response"] == "utter_guide_finished"
    assert slots == {"guide": None, "guide_step": None, "guide_cause": None, "guide_diagnosis": None}


@pytest.mark.parametrize("action", [bot_actions.ActionGuideNext(), bot_actions.ActionGuideFailed(),
                                    bot_actions.ActionGuideShowAll()])
async def test_guide_buttons_after_a_guide_ended_say_so(action: Action, domain_dict) -> None:
    ended = [{"event": "slot", "name": "guide", "value": "link_azure"},
             {"event": "slot", "name": "guide", "value": None}]
    messages, events, _ = await run(action, make_tracker(events=ended), domain_dict)
    assert messages[0]["response"] == "utter_no_active_guide"
    assert events == []


async def test_it_does_not_work_before_any_guide_gets_the_menu(domain_dict) -> None:
    """"搞不定了" as a first message: the situations to choose from, not "no guide"."""
    tracker = make_tracker(intent="guide_failed", text="急，求帮忙，搞不定了")
    messages, _, _ = await run(bot_actions.ActionGuideFailed(), tracker, domain_dict)
    assert messages[0]["response"] == "utter_menu" and messages[0]["buttons"]


async def test_a_failure_outside_a_guide_follows_the_situation_it_names(domain_dict) -> None:
    # "メンバーシップがないと言われました" read as "that didn't work", the situation second.
    ranking = [{"name": "guide_failed", "confidence": 0.52},
               {"name": "report_no_benefits", "confidence": 0.31}]
    tracker = make_tracker(intent="guide_failed", text="メンバーシップがないと言われました",
                           ranking=ranking)
    _, events, slots = await run(bot_actions.ActionGuideFailed(), tracker, domain_dict)
    assert slots["diagnosis"] == "no_benefits_yet"
    assert events[-1] == {"event": "followup", "name": "membership_check_form", "timestamp": None}


@pytest.mark.parametrize(
    ("guide_id", "step"),
    [(g, s) for g in sorted(CONTENT.guides) for s in range(len(CONTENT.guides[g].steps))],
)
async def test_didnt_work_walks_the_causes_then_hands_off(guide_id: str, step: int,
                                                          domain_dict) -> None:
    guide = CONTENT.guides[guide_id]
    slots = {**guide_slots(guide_id, step), "diagnosis": "activate_benefits",
             "membership": "gold"}
    cause_payload: int | None = None
    for cause_id in guide.steps[step].if_failed:
        tracker = make_tracker(slots, intent="guide_failed", entities=step_entity(step + 1, cause_payload))
        messages, _, new_slots = await run(bot_actions.ActionGuideFailed(), tracker, domain_dict)
        cause = CONTENT.causes[cause_id]
        assert messages[0]["text"] == cause.text["ja"]
        if cause.diagnosis:
            assert new_slots["diagnosis"] == cause.diagnosis
        slots.update(new_slots)
        cause_payload = int(new_slots["guide_cause"]) + 1
    tracker = make_tracker(slots, intent="guide_failed", entities=step_entity(step + 1, cause_payload))
    messages, _, new_slots = await run(bot_actions.ActionGuideFailed(), tracker, domain_dict)
    assert new_slots["diagnosis"] == "human_handoff"
    assert new_slots["handoff_from"] == slots["diagnosis"]
    summary = next(m for m in messages if m.get("response") == "utter_handoff")
    payload = next(m["custom"]["handoff"] for m in messages if m.get("custom"))
    assert payload["guide"] == guide_id
    assert payload["steps_done"] == [s.id for s in guide.steps[:step]]
    assert payload["known"] == {"membership": "gold"}
    assert CONTENT.label("ja", "values", "membership", "gold") in summary["known"]
    if guide.steps[step].if_failed:
        assert payload["step_failed"] == guide.steps[step].id
        assert summary["step_failed"] == guide.steps[step].title["ja"]


async def test_show_all_lists_every_step_and_keeps_the_position(domain_dict) -> None:
    guide = CONTENT.guides["csp_request"]
    tracker = make_tracker({**guide_slots("csp_request", 1), "language": "zh"})
    messages, _, slots = await run(bot_actions.ActionGuideShowAll(), tracker, domain_dict)
    listing = messages[0]["steps"]
    for number, step in enumerate(guide.steps, start=1):
        assert f"{number}. {step.title['zh']}" in listing
    assert slots["guide_step"] == 1


async def test_handoff_on_request_keeps_the_previous_diagnosis(domain_dict) -> None:
    tracker = make_tracker({"diagnosis": "entitlement", "membership": "silver",
                            "support_kind": "cloud", "language": "zh"})
    messages, _, slots = await run(bot_actions.ActionHandoff(), tracker, domain_dict)
    assert slots["diagnosis"] == "human_handoff"
    assert slots["handoff_from"] == "entitlement"
    summary = messages[0]
    assert summary["diagnosis_label"] == CONTENT.label("zh", "diagnoses", "entitlement")
    assert CONTENT.label("zh", "values", "support_kind", "cloud") in summary["known"]
    json.dumps(messages[1]["custom"])  # the structured summary is plain JSON


async def test_a_second_handoff_keeps_the_first_origin(domain_dict) -> None:
    tracker = make_tracker({"diagnosis": "human_handoff", "handoff_from": "not_authorized"})
    _, _, slots = await run(bot_actions.ActionHandoff(), tracker, domain_dict)
    assert slots["handoff_from"] == "not_authorized"


@pytest.mark.parametrize(
    ("membership", "support_kind", "competency_kind", "responses", "counts", "diagnosis"),
    [
        ("action_pack", None, None, ["utter_entitlement_action_pack"], [], "entitlement"),
        ("action_pack", "on_premises", None, ["utter_entitlement_action_pack"], [], "entitlement"),
        ("action_pack", "cloud", None, ["utter_action_pack_no_cloud"], [], "action_pack_no_cloud"),
        ("silver", "on_premises", None, ["utter_entitlement_onprem"], [15], "entitlement"),
        ("gold", "on_premises", None, ["utter_entitlement_onprem"], [20], "entitlement"),
        ("silver", "cloud", "cloud", ["utter_entitlement_cloud_unlimited"], [], "entitlement"),
        ("silver", "cloud", "other", ["utter_entitlement_cloud_count"], [5], "entitlement"),
        ("gold", "cloud", "other", ["utter_entitlement_cloud_count"], [10], "entitlement"),
        ("gold", "cloud", "unknown",
         ["utter_entitlement_cloud_unlimited", "utter_entitlement_cloud_count"], [10], "entitlement"),
    ],
)
async def test_entitlement_table(membership, support_kind, competency_kind, responses, counts,
                                 diagnosis, domain_dict) -> None:
    tracker = make_tracker({"membership": membership, "support_kind": support_kind,
                            "competency_kind": competency_kind})
    messages, _, slots = await run(bot_actions.ActionAnswerEntitlement(), tracker, domain_dict)
    assert [m["response"] for m in messages] == responses
    assert [m["count"] for m in messages if "count" in m] == counts
    assert slots["diagnosis"] == diagnosis


@pytest.mark.parametrize(
    ("state", "response", "diagnosis"),
    [
        ("linked", "utter_access_id_linked", "access_id_already_associated_linked"),
        ("expired", "utter_access_id_expired", "access_id_already_associated_expired"),
        ("unknown", "utter_access_id_unknown", "access_id_already_associated"),
    ],
)
async def test_access_id_cases(state, response, diagnosis, domain_dict) -> None:
    tracker = make_tracker({"contract_state": state})
    messages, _, slots = await run(bot_actions.ActionAnswerAccessId(), tracker, domain_dict)
    assert messages[0]["response"] == response
    assert slots["diagnosis"] == diagnosis


async def test_a_message_naming_both_cases_is_the_expired_case(domain_dict) -> None:
    both = [{"entity": "contract_state", "value": "expired"},
            {"entity": "contract_state", "value": "linked"}]
    tracker = make_tracker({"contract_state": "linked"}, entities=both)
    messages, _, slots = await run(bot_actions.ActionAnswerAccessId(), tracker, domain_dict)
    assert messages[0]["response"] == "utter_access_id_expired"


@pytest.mark.parametrize(
    ("slots", "first_response", "guide"),
    [
        ({"has_membership": "yes"}, "utter_no_benefits_wrong_account", "switch_account"),
        ({"membership": "gold"}, "utter_no_benefits_wrong_account", "switch_account"),
        ({"has_membership": "unknown"}, "utter_no_benefits_unsure", "switch_account"),
        ({"has_membership": "no"}, "utter_no_benefits_no_membership", None),
    ],
)
async def test_no_benefits_branches(slots, first_response, guide, domain_dict) -> None:
    messages, _, new_slots = await run(bot_actions.ActionAnswerNoBenefits(), make_tracker(slots),
                                       domain_dict)
    assert messages[0]["response"] == first_response
    assert new_slots["diagnosis"] == "no_benefits_yet"
    assert new_slots.get("guide") == guide


@pytest.mark.parametrize(
    ("slots", "responses", "diagnosis", "guide"),
    [
        ({"membership": "action_pack"}, ["utter_action_pack_no_cloud"], "action_pack_no_cloud", None),
        ({"membership": "gold"}, ["utter_explain_cloud_signature"], "cloud_support_request", "link_azure"),
        ({"cloud_route": "csp"}, ["utter_explain_cloud_csp"], "cloud_support_request", "csp_request"),
        ({"membership": "silver", "cloud_route": "csp"}, ["utter_explain_cloud_csp"],
         "cloud_support_request", "csp_request"),
        ({"cloud_route": "unknown"}, ["utter_explain_cloud_signature", "utter_explain_cloud_csp"],
         "cloud_support_request", None),
    ],
)
async def test_cloud_support_routes(slots, responses, diagnosis, guide, domain_dict) -> None:
    messages, _, new_slots = await run(bot_actions.ActionAnswerCloudSupport(), make_tracker(slots),
                                       domain_dict)
    assert [m.get("response") for m in messages if m.get("response")] == responses
    assert new_slots["diagnosis"] == diagnosis
    assert new_slots.get("guide") == guide


def fallback_tracker(ranking: list[dict[str, Any]], slots: dict[str, Any] | None = None,
                     text: str = "") -> Tracker:
    """The latest message fell back (nlu_fallback), with this ranking."""
    return make_tracker(slots, intent="nlu_fallback", ranking=ranking, text=text,
                        events=[{"event": "user", "parse_data": {"intent": {"name": "nlu_fallback"}}}])


async def test_clarify_offers_the_likeliest_situations_in_the_users_language(domain_dict) -> None:
    ranking = [{"name": "nlu_fallback", "confidence": 1.0},
               {"name": "ask_entitlement", "confidence": 0.4},
               {"name": "greet", "confidence": 0.3},
               {"name": "ask_remaining_incidents", "confidence": 0.2}]
    tracker = fallback_tracker(ranking, {"language": "zh"})
    messages, _, _ = await run(bot_actions.ActionClarify(), tracker, domain_dict)
    buttons = messages[0]["buttons"]
    assert [b["payload"] for b in buttons] == ["/ask_entitlement", "/ask_remaining_incidents", "/deny"]
    assert buttons[0]["title"] == CONTENT.label("zh", "intents", "ask_entitlement")


@pytest.mark.parametrize(("kind", "events"), [
    # After an Azure VM problem, "じゃあそのリクエストはどう出せば？": the cloud request.
    ("cloud", [{"event": "slot", "name": "diagnosis", "value": "cloud_support_request",
                "timestamp": None},
               {"event": "followup", "name": "cloud_route_form", "timestamp": None}]),
    (None, []),  # no kind said before: the buttons
])
async def test_clarify_of_an_unsure_request_question_takes_the_kind_said_before(
        domain_dict, kind: str | None, events: list[dict[str, Any]]) -> None:
    ranking = [{"name": "nlu_fallback", "confidence": 0.45},
               {"name": "ask_onprem_request", "confidence": 0.3},
               {"name": "ask_access_contract_ids", "confidence": 0.1}]
    tracker = fallback_tracker(ranking, {"language": "ja", "support_kind": kind,
                                         "diagnosis": "out_of_scope"},
                               text="じゃあそのリクエストはどう出せば")
    messages, got, _ = await run(bot_actions.ActionClarify(), tracker, domain_dict)
    assert got == events
    assert bool(messages) == (kind is None)


async def test_clarify_without_a_plausible_situation_shows_the_menu(domain_dict) -> None:
    ranking = [{"name": "nlu_fallback", "confidence": 1.0}, {"name": "thank", "confidence": 0.3}]
    tracker = fallback_tracker(ranking)
    messages, _, _ = await run(bot_actions.ActionClarify(), tracker, domain_dict)
    assert messages[0]["response"] == "utter_menu"
    assert [b["payload"] for b in messages[0]["buttons"]] == [f"/{i}" for i in CONTENT.menu]


async def test_clarify_of_an_unsure_help_shows_the_menu(domain_dict) -> None:
    """"help" read as the menu, unsurely: every situation, not the two that rank next."""
    ranking = [{"name": "nlu_fallback", "confidence": 0.45}, {"name": "ask_menu", "confidence": 0.32},
               {"name": "ask_entitlement", "confidence": 0.1}, {"name": "ask_tpd", "confidence": 0.05}]
    tracker = fallback_tracker(ranking, text="help")
    messages, _, _ = await run(bot_actions.ActionClarify(), tracker, domain_dict)
    assert messages[0]["response"] == "utter_menu"
    assert [b["payload"] for b in messages[0]["buttons"]] == [f"/{i}" for i in CONTENT.menu]


async def test_clarify_of_an_unsure_greeting_shows_the_menu(domain_dict) -> None:
    """"您好，我这边遇到点状况": a greeting that opens a problem not told yet."""
    ranking = [{"name": "nlu_fallback", "confidence": 0.45}, {"name": "greet", "confidence": 0.42},
               {"name": "report_not_authorized", "confidence": 0.1}]
    tracker = fallback_tracker(ranking, {"language": "zh"}, text="您好，我这边遇到点状况")
    messages, _, _ = await run(bot_actions.ActionClarify(), tracker, domain_dict)
    assert messages[0]["response"] == "utter_menu"


async def test_clarify_hands_off_when_a_person_ranks_second_behind_the_fallback(domain_dict) -> None:
    """"それは私には分からないので、詳しい方と話せますか": don't know 0.53, a person 0.47."""
    ranking = [{"name": "nlu_fallback", "confidence": 0.45}, {"name": "dont_know", "confidence": 0.53},
               {"name": "request_human", "confidence": 0.47}]
    tracker = fallback_tracker(ranking, text="詳しい方と話せますか")
    _, _, slots = await run(bot_actions.ActionClarify(), tracker, domain_dict)
    assert slots["diagnosis"] == "human_handoff"


async def test_second_failure_in_a_row_offers_a_person(domain_dict) -> None:
    fallback = {"event": "user", "parse_data": {"intent": {"name": "nlu_fallback"}}}
    tracker = make_tracker(intent="nlu_fallback", events=[fallback, fallback])
    messages, _, _ = await run(bot_actions.ActionClarify(), tracker, domain_dict)
    assert messages[0]["response"] == "utter_clarify_handoff"


@pytest.mark.parametrize(
    ("metadata", "existing", "expected"),
    [
        ({"language": "zh"}, None, "zh"),
        ({"locale": "zh-TW"}, None, "zh"),
        ({"locale": "ja-JP"}, None, "ja"),
        ({"locale": "en-US"}, None, "ja"),
        (None, None, "ja"),
        ({"language": "zh"}, "ja", None),  # the conversation keeps its language
    ],
)
async def test_session_start_language(metadata, existing, expected, domain_dict) -> None:
    tracker = make_tracker({"language": existing, "session_started_metadata": metadata,
                            "guide": "view_activate", "requested_slot": "membership"})
    _, events, slots = await run(bot_actions.ActionSessionStart(), tracker, domain_dict)
    assert events[0]["event"] == "session_started"
    assert (events[-1]["event"], events[-1]["name"]) == ("action", "action_listen")
    assert slots["guide"] == "view_activate"  # carried over: a guide survives a new session
    assert "requested_slot" not in slots
    if expected:
        assert slots["language"] == expected
    else:
        assert slots["language"] == existing


@pytest.mark.parametrize(
    ("slots", "intent", "entities", "expected"),
    [
        ({"diagnosis": "entitlement"}, "inform", [{"entity": "membership", "value": "gold"}],
         ("entitlement_form", None)),
        ({"diagnosis": "cloud_support_request"}, "inform", [{"entity": "cloud_route", "value": "csp"}],
         ("cloud_route_form", None)),
        # Out of the blue, the question's situation starts with it.
        ({}, "inform", [{"entity": "support_kind", "value": "cloud"}],
         ("entitlement_form", "entitlement")),
        ({"diagnosis": "access_id_already_associated_expired"}, "inform",
         [{"entity": "membership", "value": "silver"}], ("entitlement_form", None)),
        ({"diagnosis": "cloud_support_request"}, "inform",
         [{"entity": "membership", "value": "gold"}], ("cloud_route_form", None)),
        ({"diagnosis": "entitlement"}, "inform", [{"entity": "contract_state", "value": "expired"}],
         ("access_id_form", None)),
    ],
)
async def test_bare_answers_continue_the_last_question(slots, intent, entities, expected,
                                                       domain_dict) -> None:
    form, diagnosis = expected
    tracker = make_tracker(slots, intent=intent, entities=entities)
    _, events, values = await run(bot_actions.ActionHandleAnswer(), tracker, domain_dict)
    assert events[-1] == {"event": "followup", "name": form, "timestamp": None}
    assert values.get("diagnosis") == diagnosis


async def test_yes_during_troubleshooting_means_it_worked(domain_dict) -> None:
    tracker = make_tracker(guide_slots("view_activate", 2, cause=0), intent="affirm")
    _, _, slots = await run(bot_actions.ActionHandleAnswer(), tracker, domain_dict)
    assert slots["guide_step"] == 3


@pytest.mark.parametrize(("intent", "value", "moved"), [
    ("affirm", "failed", "cause"),  # "はい、押しました。でもまだ表示されません"
    ("inform", "done", "step"),  # "管理エージェントのユーザーでサインインしました"
    ("deny", "done", "step"),  # "いえ、もう開けました"
])
async def test_the_words_of_a_step_report_decide_over_yes_and_no(domain_dict, intent: str,
                                                                 value: str, moved: str) -> None:
    entities = [{"entity": "step_report", "value": value}]
    tracker = make_tracker(guide_slots("view_activate", 1), intent=intent, entities=entities)
    _, _, slots = await run(bot_actions.ActionHandleAnswer(), tracker, domain_dict)
    if moved == "step":
        assert slots["guide_step"] == 2 and slots["guide_cause"] is None
    else:
        assert slots.get("guide_step", 1) == 1 and slots["guide_cause"] == 0


async def test_bare_answer_with_nothing_to_continue_shows_the_menu(domain_dict) -> None:
    messages, _, _ = await run(bot_actions.ActionHandleAnswer(), make_tracker(intent="deny"),
                               domain_dict)
    assert messages[0]["response"] == "utter_menu"


@pytest.mark.parametrize(
    ("entities", "expected"),
    [
        ([], None),  # an answer from an earlier question is forgotten
        ([{"entity": "contract_state", "value": "linked"}], "linked"),
        ([{"entity": "contract_state", "value": "linked"},
          {"entity": "contract_state", "value": "expired"}], "expired"),
    ],
)
async def test_stale_answers_are_cleared_and_conflicts_settled(entities, expected, domain_dict) -> None:
    tracker = make_tracker({"contract_state": "linked", "has_membership": "yes"},
                           intent="report_access_id_associated", entities=entities)
    _, _, slots = await run(bot_actions.ActionClearStaleAnswers(), tracker, domain_dict)
    assert slots == {"has_membership": None, "contract_state": expected}


def test_the_action_server_registers_exactly_the_domains_custom_actions(domain: Domain) -> None:
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_package("actions")
    custom = {name for name in domain.user_actions if not name.startswith("utter_")}
    assert set(executor.actions) == custom


async def test_a_typed_failure_read_as_another_topic_hands_off_from_the_guides_situation(
        domain_dict) -> None:
    """"MPNのアカウントで入ってます。それでもダメです" read as the IDs question at the last
    cause: the intent's mapping rewrote `diagnosis`, the hand-off is from the guide's."""
    slots = {"guide": "switch_account", "guide_step": 0.0, "guide_cause": 0.0,
             "guide_diagnosis": "not_authorized", "diagnosis": "access_contract_ids"}
    events = [{"event": "slot", "name": "diagnosis", "value": "not_authorized"},
              {"event": "user", "text": "それでもダメです",
               "parse_data": {"intent": {"name": "ask_access_contract_ids"}}},
              {"event": "slot", "name": "diagnosis", "value": "access_contract_ids"}]
    tracker = make_tracker(slots, intent="ask_access_contract_ids", text="それでもダメです", events=events,
                           entities=[{"entity": "step_report", "value": "still"}])
    _, _, new_slots = await run(bot_actions.ActionGuideFailed(), tracker, domain_dict)
    assert new_slots["diagnosis"] == "human_handoff" and new_slots["handoff_from"] == "not_authorized"
