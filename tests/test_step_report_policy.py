"""The StepReportPolicy on real Rasa trackers and the project's domain: a report on the
current guide step continues the guide whatever topic its words also name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from components.step_report_policy import StepReportPolicy
from components.step_reports import step_report

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(ROOT / "domain.yml")


@pytest.fixture(scope="module")
def policy() -> StepReportPolicy:
    return StepReportPolicy.create(StepReportPolicy.get_default_config(), None, None,  # type: ignore[arg-type]  # unused by this policy
                                   ExecutionContext(GraphSchema({})))


def report(value: str) -> dict[str, Any]:
    return {"entity": "step_report", "value": value, "start": 0, "end": 2}


def tracker(domain: Domain, intent: str, entities: list[dict[str, Any]], in_guide: bool = True,
            after: list[Event] | None = None) -> DialogueStateTracker:
    events: list[Event] = [ActionExecuted("action_listen")]
    if in_guide:
        events += [SlotSet("guide", "view_activate"), SlotSet("guide_step", 2.0)]
    events += [UserUttered("还是看不到访问 ID", intent={"name": intent, "confidence": 0.9},
                           entities=entities), *(after or [])]
    return DialogueStateTracker.from_events("s", events, slots=domain.slots)


def guide_state(domain: Domain, guide: str, step: float, text: str, intent: str, confidence: float,
                value: str, **slots: float | str) -> DialogueStateTracker:
    """A typed message (with a step report of `value`) at `step` of `guide`; `slots` adds
    guide_diagnosis, guide_cause…"""
    events: list[Event] = [ActionExecuted("action_listen"), SlotSet("guide", guide),
                           SlotSet("guide_step", step),
                           *(SlotSet(name, slot_value) for name, slot_value in slots.items()),
                           UserUttered(text, intent={"name": intent, "confidence": confidence},
                                       entities=[report(value)])]
    return DialogueStateTracker.from_events("s", events, slots=domain.slots)


def predicted(policy: StepReportPolicy, domain: Domain, state: DialogueStateTracker) -> str | None:
    probabilities = policy.predict_action_probabilities(state, domain).probabilities
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    return domain.action_names_or_texts[best] if probabilities[best] > 0 else None


@pytest.mark.parametrize(("intent", "value", "action"), [
    ("report_access_id_associated", "failed", "action_guide_failed"),
    ("ask_access_contract_ids", "done", "action_guide_next"),
    ("nlu_fallback", "failed", "action_guide_failed"),
    # "押したけど何も出ない" taken for "done": the failure in its words wins.
    ("guide_next", "failed", "action_guide_failed"),
])
def test_a_report_in_a_guide_continues_the_guide(policy: StepReportPolicy, domain: Domain,
                                                 intent: str, value: str, action: str) -> None:
    assert predicted(policy, domain, tracker(domain, intent, [report(value)])) == action
    # …and then the bot listens: no rule follows the guide action for this intent.
    answered = tracker(domain, intent, [report(value)], after=[ActionExecuted(action)])
    assert predicted(policy, domain, answered) == "action_listen"


@pytest.mark.parametrize(("intent", "entities", "in_guide", "after"), [
    ("report_access_id_associated", [], True, []),  # no report: the topic's rule answers
    ("report_access_id_associated", [report("failed")], False, []),  # no guide in progress
    ("deny", [report("failed")], True, []),  # bare answers: action_handle_answer reads them
    ("guide_next", [report("done")], True, []),  # the guide's own intent keeps its rule
    ("report_access_id_associated", [report("failed")], True,
     [ActiveLoop("access_id_form")]),  # a form asks its own question
])
def test_other_messages_are_left_to_the_rules(policy: StepReportPolicy, domain: Domain, intent: str,
                                              entities: list[dict[str, Any]], in_guide: bool,
                                              after: list[Event]) -> None:
    state = tracker(domain, intent, entities, in_guide)
    for event in after:
        state.update(event)
    assert predicted(policy, domain, state) is None


@pytest.mark.parametrize(("value", "action"), [("failed", None), ("still", "action_guide_failed"),
                                              ("done", "action_guide_next")])
def test_the_guides_own_problem_told_again_is_a_report_only_when_it_insists_or_is_done(
        policy: StepReportPolicy, domain: Domain, value: str, action: str | None) -> None:
    # "アクティブ化ボタンが押せません" again in the activation guide: explained again;
    # "还是点不了" (still): the step's next cause; "開きました" (done): the next step.
    state = tracker(domain, "report_activation_failed", [report(value)],
                    after=[SlotSet("guide_diagnosis", "activation_role_required")])
    assert predicted(policy, domain, state) == action


@pytest.mark.parametrize(("cause", "action"), [
    (1.0, "action_guide_failed"),  # "アクティブ化したのは先週…まだIDが出ません" to "it takes days"
    (0.0, None),  # at the first cause: the problem told again is explained again
])
def test_the_guides_own_problem_told_after_a_cause_was_ruled_out_reports_on_the_next(
        policy: StepReportPolicy, domain: Domain, cause: float, action: str | None) -> None:
    state = tracker(domain, "report_activation_failed", [report("failed")],
                    after=[SlotSet("guide_diagnosis", "activation_role_required"),
                           SlotSet("guide_cause", cause)])
    assert predicted(policy, domain, state) == action


@pytest.mark.parametrize(("text", "action"), [
    ("サポートプランを選んでも、サポート特典のリンクが出てこない", "action_guide_failed"),
    ("Azure のサポート特典をリンクできない", None),  # the problem told again: explained again
])
def test_the_guides_own_problem_naming_the_current_steps_label_is_a_report_on_it(
        policy: StepReportPolicy, domain: Domain, text: str, action: str | None) -> None:
    state = guide_state(domain, "link_azure", 1.0, text, "ask_cloud_support", 0.7, "failed",
                        guide_diagnosis="cloud_support_request")
    assert predicted(policy, domain, state) == action


@pytest.mark.parametrize(("text", "action"), [
    ("はい、言われたとおりにしたら、エラーが出なくなりました", "action_guide_next"),
    ("言われたとおりにしたら、エラーが出た", None),  # no yes: the classifier's "failed" stands
])
def test_a_yes_with_words_of_a_step_done_is_done_whatever_the_classifier_read(
        policy: StepReportPolicy, domain: Domain, text: str, action: str | None) -> None:
    state = guide_state(domain, "switch_account", 0.0, text, "guide_failed", 0.74, "done",
                        guide_cause=0.0)
    assert predicted(policy, domain, state) == action


@pytest.mark.parametrize(("text", "action"), [
    ("右上角那个图标点开看了，当前是我个人的微软账号", "action_guide_next"),
    ("图标点开了，还是帮我转人工吧", None),  # a person wins: the hand-off rule answers
    ("全然解決しないんだけど。人間出して", None),
])
def test_a_report_read_as_a_request_for_a_person_without_its_words_is_the_report(
        policy: StepReportPolicy, domain: Domain, text: str, action: str | None) -> None:
    state = guide_state(domain, "switch_account", 0.0, text, "request_human", 0.81, "done")
    assert predicted(policy, domain, state) == action


@pytest.mark.parametrize(("text", "confidence", "action"), [
    ("もう一つ、TPDというのも特典ページにありましたが、あれは何でしょう", 0.99, None),
    ("TPDのページにありました", 0.99, "action_guide_next"),  # no question: a report
    ("TPDというのもありましたが、あれは何でしょう", 0.6, "action_guide_next"),  # an unsure topic
])
def test_a_sure_question_of_another_topic_is_no_report_on_the_step(
        policy: StepReportPolicy, domain: Domain, text: str, confidence: float,
        action: str | None) -> None:
    state = guide_state(domain, "onprem_request", 1.0, text, "ask_tpd", confidence, "done",
                        guide_diagnosis="onprem_support_request")
    assert predicted(policy, domain, state) == action


def test_another_situations_error_seen_at_the_step_is_that_situation(
        policy: StepReportPolicy, domain: Domain) -> None:
    text = "リンクのところで、そのアクセスIDは既にアカウントに関連付けられています、と出ました"
    state = guide_state(domain, "link_azure", 1.0, text, "report_access_id_associated", 0.99, "done",
                        guide_diagnosis="cloud_support_request")
    assert predicted(policy, domain, state) is None


def test_a_failure_in_the_same_message_wins_over_a_success() -> None:
    assert step_report([report("done"), report("still")]) == "failed"
    assert step_report([report("done"), report("failed")]) == "failed"
    assert step_report([report("done")]) == "done"
    assert step_report([{"entity": "membership", "value": "gold"}]) is None
