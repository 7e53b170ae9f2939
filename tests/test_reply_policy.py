"""The ReplyPolicy on real Rasa trackers and the project's domain: a value for a question
answered "don't know" before is that question's late answer, and an unsure topic with yes
or no close behind, right after an offer, is the reply to the offer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    Event,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from components.reply_policy import ReplyPolicy

ROOT = Path(__file__).resolve().parents[1]
EXPIRED = {"entity": "contract_state", "value": "expired", "start": 7, "end": 13}


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(ROOT / "domain.yml")


@pytest.fixture(scope="module")
def policy() -> ReplyPolicy:
    return ReplyPolicy.create(ReplyPolicy.get_default_config(), None, None,  # type: ignore[arg-type]  # unused by this policy
                                   ExecutionContext(GraphSchema({})))


def tracker(domain: Domain, before: Any, intent: str = "ask_remaining_incidents",
            entities: list[dict[str, Any]] | None = None,
            after: list[Event] | None = None) -> DialogueStateTracker:
    events: list[Event] = [SlotSet("diagnosis", "access_id_already_associated"),
                           SlotSet("contract_state", before), ActionExecuted("action_listen"),
                           UserUttered("我查了，合同已经没有剩余事件了",
                                       intent={"name": intent, "confidence": 0.97},
                                       entities=[EXPIRED] if entities is None else entities),
                           # action_extract_slots has applied the message's mappings
                           SlotSet("diagnosis", "remaining_incidents"),
                           SlotSet("contract_state", "expired"), *(after or [])]
    return DialogueStateTracker.from_events("s", events, slots=domain.slots)


def predicted(policy: ReplyPolicy, domain: Domain, state: DialogueStateTracker) -> str | None:
    probabilities = policy.predict_action_probabilities(state, domain).probabilities
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    return domain.action_names_or_texts[best] if probabilities[best] > 0 else None


def test_a_value_for_a_question_answered_dont_know_is_its_answer(policy: ReplyPolicy,
                                                                 domain: Domain) -> None:
    assert predicted(policy, domain, tracker(domain, "unknown")) == "action_handle_answer"


@pytest.mark.parametrize(("before", "intent", "entities", "after"), [
    (None, "ask_remaining_incidents", None, []),  # never asked: the topic's rule answers
    ("expired", "ask_remaining_incidents", None, []),  # the same answer again
    ("unknown", "ask_remaining_incidents", [], []),  # no value in the message
    ("unknown", "request_human", None, []),  # a person wins
    ("unknown", "ask_remaining_incidents", None, [ActiveLoop("access_id_form")]),  # a form asks
])
def test_other_messages_are_left_to_the_rules(policy: ReplyPolicy, domain: Domain, before: Any,
                                              intent: str, entities: list[dict[str, Any]] | None,
                                              after: list[Event]) -> None:
    assert predicted(policy, domain, tracker(domain, before, intent, entities, after)) is None


def after_offer(domain: Domain, ranking: list[tuple[str, float]], offer: str | None = "remaining_incidents",
                after: list[Event] | None = None,
                text: str = "はい、確認の手順をお願いします") -> DialogueStateTracker:
    intent = {"name": ranking[0][0], "confidence": ranking[0][1]}
    parse_data = {"intent": intent, "entities": [],
                  "intent_ranking": [{"name": name, "confidence": value} for name, value in ranking]}
    events: list[Event] = [ActionExecuted("action_listen"),
                           UserUttered("分からない", intent={"name": "dont_know"}),
                           ActionExecuted("action_answer_access_id"), SlotSet("offer", offer),
                           ActionExecuted("action_listen"),
                           UserUttered(text, intent=intent, parse_data=parse_data),
                           SlotSet("diagnosis", "activate_benefits"), *(after or [])]
    return DialogueStateTracker.from_events("s", events, slots=domain.slots)


UNSURE_TOPIC_THEN_YES = [("ask_activate_benefits", 0.53), ("affirm", 0.31), ("guide_show_all", 0.05)]


UNSURE_TOPIC = [("ask_activate_benefits", 0.74), ("ask_menu", 0.1), ("affirm", 0.04)]


@pytest.mark.parametrize(("ranking", "text"), [
    (UNSURE_TOPIC_THEN_YES, "確認の手順をお願いします"),  # yes close behind
    (UNSURE_TOPIC, "はい、確認の手順を教えてください"),  # a yes opens the message
    (UNSURE_TOPIC, "いえ、確認の手順は大丈夫です"),  # a no opens it
    # read unsurely as a vague opener ("I'd like to know"), opened by a yes
    ([("ask_menu", 0.56), ("affirm", 0.43)], "嗯，想了解一下"),
])
def test_an_unsure_topic_that_reads_as_yes_or_no_replies_to_the_offer(
        policy: ReplyPolicy, domain: Domain, ranking: list[tuple[str, float]], text: str) -> None:
    state = after_offer(domain, ranking, text=text)
    assert predicted(policy, domain, state) == "action_handle_answer"


@pytest.mark.parametrize(("ranking", "offer", "after", "text"), [
    (UNSURE_TOPIC_THEN_YES, None, [], "はい、確認の手順を"),  # nothing offered: the topic's rule answers
    ([("ask_activate_benefits", 0.93), ("affirm", 0.05)], "remaining_incidents", [],
     "はい、それとアクティブ化の方法も"),  # a clear new topic
    (UNSURE_TOPIC, "remaining_incidents", [], "確認の手順を"),  # no cue, yes or no far behind
    ([("affirm", 0.6), ("ask_activate_benefits", 0.3)], "remaining_incidents", [], "はい"),  # the rules
    # a clear vague opener is a new question, even opened by a yes
    ([("ask_menu", 0.95), ("affirm", 0.03)], "remaining_incidents", [], "はい、別件で相談があります"),
    ([("request_human", 0.5), ("affirm", 0.4)], "remaining_incidents", [], "はい、人と"),  # a person
    # "next step" with the offered topic far behind is a report on the step
    ([("guide_next", 0.8), ("ask_remaining_incidents", 0.1)], "remaining_incidents", [], "はい、次へ"),
])
def test_other_replies_to_an_offer_are_left_to_the_rules(policy: ReplyPolicy, domain: Domain,
                                                        ranking: list[tuple[str, float]],
                                                        offer: str | None, after: list[Event],
                                                        text: str) -> None:
    assert predicted(policy, domain, after_offer(domain, ranking, offer, after, text)) is None


def in_guide(domain: Domain, ranking: list[tuple[str, float]], text: str, offer: str | None,
             guide: str | None = "view_activate", step: int | None = 2,
             entities: list[dict[str, Any]] | None = None) -> DialogueStateTracker:
    """A message in the middle of a guide (view_activate step 3 checks the role when it fails)."""
    intent = {"name": ranking[0][0], "confidence": ranking[0][1]}
    parse_data = {"intent": intent, "entities": entities or [],
                  "intent_ranking": [{"name": name, "confidence": value} for name, value in ranking]}
    events: list[Event] = [SlotSet("guide", guide), SlotSet("guide_step", step),
                           ActionExecuted("action_listen"),
                           UserUttered("顺便问下，付费支持呢？", intent={"name": "ask_paid_plans"}),
                           ActionExecuted("utter_paid_support_plans"), SlotSet("offer", offer),
                           ActionExecuted("action_listen"),
                           UserUttered(text, intent=intent, entities=entities or [], parse_data=parse_data)]
    return DialogueStateTracker.from_events("s", events, slots=domain.slots)


GLOBAL_ADMIN = {"entity": "partner_role", "value": "global_admin", "start": 3, "end": 15}


@pytest.mark.parametrize("state", [
    # A sure topic, but the very thing offered, opened by a yes or a no.
    lambda d: after_offer(d, [("ask_remaining_incidents", 0.98)],
                          text="はい、残りのインシデントの確認手順を"),
    lambda d: in_guide(d, [("report_activation_failed", 0.96), ("deny", 0.03)],
                       "不用了，激活那个我之后自己弄", "resume_guide"),
    # The role named while the step checks it.
    lambda d: in_guide(d, [("report_activation_failed", 0.8), ("inform", 0.19)],
                       "我就是 global admin，还是激活不了", None, entities=[GLOBAL_ADMIN]),
])
def test_replies_about_the_offer_or_the_role_check_are_answers(policy: ReplyPolicy, domain: Domain,
                                                              state: Any) -> None:
    assert predicted(policy, domain, state(domain)) == "action_handle_answer"


@pytest.mark.parametrize("state", [
    # The offered guide's topic without a yes/no cue, and another guide's topic with one.
    lambda d: in_guide(d, [("report_activation_failed", 0.96)], "激活那个按钮还是灰的", "resume_guide"),
    lambda d: in_guide(d, [("ask_onprem_request", 0.96)], "不用了，本地的请求怎么提交", "resume_guide"),
    # A role named where the step checks something else, or with no guide at all.
    lambda d: in_guide(d, [("report_activation_failed", 0.8)], "我就是 global admin，还是不行",
                       None, step=1, entities=[GLOBAL_ADMIN]),
    lambda d: in_guide(d, [("report_activation_failed", 0.8)], "我就是 global admin，还是不行",
                       None, guide=None, step=None, entities=[GLOBAL_ADMIN]),
])
def test_other_topics_in_a_guide_are_left_to_the_rules(policy: ReplyPolicy, domain: Domain,
                                                      state: Any) -> None:
    assert predicted(policy, domain, state(domain)) is None


def test_a_step_report_naming_the_offered_thing_replies_to_the_offer(policy: ReplyPolicy,
                                                                     domain: Domain) -> None:
    # "next step" read first, the offered topic a close second: the partner takes the offer.
    ranking = [("guide_next", 0.55), ("ask_remaining_incidents", 0.35), ("affirm", 0.05)]
    state = after_offer(domain, ranking, text="好，那接着说剩余事件的")
    assert predicted(policy, domain, state) == "action_handle_answer"


@pytest.mark.parametrize("state", [
    lambda d: tracker(d, "unknown", after=[ActionExecuted("action_handle_answer")]),
    lambda d: after_offer(d, UNSURE_TOPIC_THEN_YES, after=[ActionExecuted("action_handle_answer")],
                          text="はい"),
])
def test_a_reply_once_answered_waits_for_the_partner(policy: ReplyPolicy, domain: Domain,
                                                    state: Any) -> None:
    # No rule follows action_handle_answer: without this the turn fell to action_clarify.
    assert predicted(policy, domain, state(domain)) == "action_listen"


def turned_down(domain: Domain, text: str, entities: list[dict[str, Any]],
                before: str | None = "expired") -> DialogueStateTracker:
    """The feedback question pending after the contract answer; the form has turned the
    message down as no answer to it."""
    events: list[Event] = [SlotSet("diagnosis", "access_id_already_associated_expired"),
                           SlotSet("contract_state", before), ActiveLoop("feedback_form"),
                           SlotSet("requested_slot", "feedback"), ActionExecuted("action_listen"),
                           UserUttered(text, intent={"name": "ask_remaining_incidents", "confidence": 0.91},
                                       entities=entities),
                           ActionExecutionRejected("feedback_form")]
    return DialogueStateTracker.from_events("s", events, slots=domain.slots)


LINKED = [{"entity": "contract_state", "value": "linked", "start": 20, "end": 26}]


@pytest.mark.parametrize(("text", "entities", "before", "expected"), [
    # A correction word and another value: the answer is corrected.
    ("更正一下：合同还在有效期内，当初开本地产品工单的时候已经绑定过一次了", LINKED, "expired",
     "action_handle_answer"),
    # Another value without a correction word: the topic's rule answers.
    ("合同还在有效期内，当初开本地产品工单的时候已经绑定过一次了，剩余事件在哪看", LINKED, "expired", None),
    # A correction word, but the same value as before.
    ("更正一下，是之前绑定过的那种", LINKED, "linked", None),
    # "I remember now": a correction too.
    ("啊不对，我想起来了，以前开本地工单时合同就绑定过一次", LINKED, "expired", "action_handle_answer"),
])
def test_a_correction_the_form_turned_down_is_answered(policy: ReplyPolicy, domain: Domain, text: str,
                                                      entities: list[dict[str, Any]], before: str,
                                                      expected: str | None) -> None:
    assert predicted(policy, domain, turned_down(domain, text, entities, before)) == expected


def test_the_options_own_words_right_after_dont_know_are_a_late_answer(policy: ReplyPolicy,
                                                                      domain: Domain) -> None:
    text = "我去企业支持看了一眼，那个合同跑到“不可用的支持计划”下面去了"
    events: list[Event] = [ActionExecuted("action_listen"),
                           UserUttered("说实话我分不清是哪种情况", intent={"name": "dont_know"}),
                           SlotSet("contract_state", "unknown"), ActionExecuted("action_answer_access_id"),
                           ActionExecuted("action_listen"),
                           UserUttered(text, intent={"name": "ask_remaining_incidents", "confidence": 1.0}),
                           SlotSet("diagnosis", "remaining_incidents")]
    state = DialogueStateTracker.from_events("s", events, slots=domain.slots)
    assert predicted(policy, domain, state) == "action_handle_answer"
    # A turn later the same words are a question of their own.
    later = DialogueStateTracker.from_events("s", [*events[:4], ActionExecuted("action_listen"),
                                                   UserUttered("谢谢", intent={"name": "thank"}),
                                                   ActionExecuted("utter_you_are_welcome"), *events[4:]],
                                             slots=domain.slots)
    assert predicted(policy, domain, later) is None


def after_the_entitlement_answer(domain: Domain, text: str, entities: list[dict[str, Any]],
                                 intent: str) -> DialogueStateTracker:
    """Gold on-premises answered, "was this helpful?" pending; the feedback form turned the
    message down."""
    events: list[Event] = [SlotSet("diagnosis", "entitlement"), SlotSet("membership", "gold"),
                           SlotSet("support_kind", "on_premises"), ActiveLoop("feedback_form"),
                           SlotSet("requested_slot", "feedback"), ActionExecuted("action_listen"),
                           UserUttered(text, intent={"name": intent, "confidence": 0.69}, entities=entities),
                           SlotSet("diagnosis", "cloud_support_request"), SlotSet("support_kind", "cloud"),
                           ActionExecutionRejected("feedback_form")]
    return DialogueStateTracker.from_events("s", events, slots=domain.slots)


@pytest.mark.parametrize(("text", "expected"), [
    # Only "what about cloud?": the count question again, for cloud.
    ("クラウドの場合はどうですか？", "action_handle_answer"),
    # A question of its own about the cloud: the cloud topic's rule answers.
    ("クラウドの場合のリクエストの出し方は？", None),
])
def test_a_what_about_after_an_answer_asks_its_question_again(policy: ReplyPolicy, domain: Domain,
                                                              text: str, expected: str | None) -> None:
    cloud = [{"entity": "support_kind", "value": "cloud", "start": 0, "end": 4}]
    state = after_the_entitlement_answer(domain, text, cloud, "ask_cloud_support")
    assert predicted(policy, domain, state) == expected


def test_a_report_that_gives_an_unknown_answer_is_the_late_answer(policy: ReplyPolicy,
                                                                  domain: Domain) -> None:
    """In the steps to find out the contract case, some turns after "don't know"."""
    def state(text: str) -> DialogueStateTracker:
        events: list[Event] = [SlotSet("contract_state", "unknown"), SlotSet("guide", "remaining_incidents"),
                               SlotSet("guide_step", 0.0), ActionExecuted("action_listen"),
                               UserUttered("はい、お願いします", intent={"name": "affirm"}),
                               ActionExecuted("action_handle_answer"), ActionExecuted("action_listen"),
                               UserUttered(text, intent={"name": "guide_next", "confidence": 0.8},
                                           entities=[{"entity": "step_report", "value": "done"}])]
        return DialogueStateTracker.from_events("s", events, slots=domain.slots)

    late = state("見てみたら、契約の期限がもう切れていました")
    assert predicted(policy, domain, late) == "action_handle_answer"
    # Read as a topic of its own, a report on the step still answers in the options' words.
    text = "我打开看了，那个合同跑到不可用的那一栏里了"
    as_topic = DialogueStateTracker.from_events("s", [*list(late.events)[:-1], UserUttered(
        text, intent={"name": "ask_remaining_incidents", "confidence": 0.79},
        entities=[{"entity": "step_report", "value": "done"}])], slots=domain.slots)
    assert predicted(policy, domain, as_topic) == "action_handle_answer"
    assert predicted(policy, domain, state("開けました")) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("いえ、手順の続きはまた今度にします", "action_handle_answer"),  # declines the offer
    ("今日はこれで失礼します", None),  # a goodbye: its rule ends the conversation
])
def test_a_goodbye_opened_by_no_declines_the_offer(policy: ReplyPolicy, domain: Domain, text: str,
                                                   expected: str | None) -> None:
    events: list[Event] = [ActionExecuted("action_listen"),
                           UserUttered("有償プランは？", intent={"name": "ask_paid_plans"}),
                           ActionExecuted("action_offer_resume"), SlotSet("offer", "resume_guide"),
                           ActionExecuted("action_listen"),
                           UserUttered(text, intent={"name": "goodbye", "confidence": 0.9})]
    state = DialogueStateTracker.from_events("s", events, slots=domain.slots)
    assert predicted(policy, domain, state) == expected
