"""Reads a message as the reply to what the bot asked or offered before, where its words
alone would start another topic. Both cases go to `action_handle_answer`.

- A late answer. "分からない" to "which of the two cases?" gets how to tell them apart;
  the partner checks and comes back: "我查了，合同已经没有剩余事件了". Read alone, that is
  a question about remaining incidents. When the message gives a concrete value for a
  question answered "unknown" (the value of a form's slot), the action treats it as the
  late answer (the form runs again and answers).
- A reply to an offer. "はい、確認の手順をお願いします" right after "shall I show you how to
  check?" reads, word by word, like a request for some guide (activation, 0.5 to 0.75).
  When the bot made an offer in its previous turn and the classifier is unsure of the
  topic, a yes/no cue word opening the message (actions/content/cues.yml `offer`) or yes
  or no ranked close behind makes it the reply to the offer. So does a cue word opening a
  message about the very thing offered, however sure the classifier is.
- An answer to the role check. In the activation guide, "我就是 global admin，还是激活不了"
  names the partner's role while the step checks it: the role answers the check.

A request for a person keeps its rule; so do the guide's own replies (a report on a step
is StepReportPolicy's) unless they name the thing just offered ("好，那接着说剩余事件的"
to the offer of those steps) or give the late answer, and the plain replies, which the
rules already read as answers.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_RANKING_KEY

from actions.content import UNKNOWN, load_content
from components.one_action_policy import OneActionPolicy, topics
from components.reply_intents import GUIDE_REPLIES, MENU_INTENT, OFFER_REPLIES, OFFER_REPLY_CONFIDENCE
from components.step_reports import step_report

KEPT_INTENTS = ("request_human", *GUIDE_REPLIES, "guide_show_all")
# Below this the classifier is unsure of a topic read in a reply to an offer...
OFFER_TOPIC_CONFIDENCE = 0.9
# ...and yes or no ranked OFFER_REPLY_CONFIDENCE makes the message the reply.
# A topic ranked second this high is named too (message_topics).
RUNNER_UP_TOPIC_CONFIDENCE = 0.3


def user_message_indices(tracker: DialogueStateTracker) -> list[int]:
    return [i for i, event in enumerate(tracker.events) if isinstance(event, UserUttered)]


def slots_before_latest_message(tracker: DialogueStateTracker) -> dict[str, Any]:
    """Slot values as they were when the partner sent the latest message."""
    values: dict[str, Any] = {}
    events = list(tracker.events)
    last_user = (user_message_indices(tracker) or [len(events)])[-1]
    for event in events[:last_user]:
        if isinstance(event, SlotSet):
            values[event.key] = event.value
    return values


def offer_before_latest_message(tracker: DialogueStateTracker) -> str | None:
    """The offer (slot `offer`) the bot made in its turn before the latest message, as
    actions.pending_offer reads it."""
    offers = [event.value for event in previous_turn(tracker)
              if isinstance(event, SlotSet) and event.key == "offer"]
    return str(offers[-1]) if offers and offers[-1] else None


def form_slots(domain: Domain) -> set[str]:
    """The slots some form asks for (the bot's questions)."""
    return {slot for form in domain.forms.values() for slot in form.get("required_slots") or []}


def previous_turn(tracker: DialogueStateTracker) -> list[Any]:
    """The bot's events between the two latest messages."""
    users = user_message_indices(tracker)
    return list(tracker.events)[users[-2] + 1: users[-1]] if len(users) >= 2 else []


def is_late_answer(tracker: DialogueStateTracker, domain: Domain) -> bool:
    """A value for a question answered "don't know": an entity for it, or the options' own
    words right after that answer ("合同跑到“不可用的支持计划”下面去了" once the bot said how
    to tell the two cases) or in a report on the steps to find it out."""
    before = slots_before_latest_message(tracker)
    asked = form_slots(domain)
    unknown = {slot for slot in asked if before.get(slot) == UNKNOWN}
    worded = None  # a report on the steps to find it out ("見てみたら、契約の期限がもう切れていました")
    message = tracker.latest_message
    if message.intent.get("name") in topics(domain) and step_report(message.entities) is None:
        # Words that read as a topic answer only the question answered "don't know" just
        # now; in a report on a step ("我打开看了，那个合同跑到不可用的那一栏里了") they answer.
        worded = {event.key for event in previous_turn(tracker)
                  if isinstance(event, SlotSet) and event.key in asked and event.value == UNKNOWN}
    return bool(load_content().late_answers(message.text or "", message.entities, unknown, worded))


def corrects_an_answer(tracker: DialogueStateTracker, domain: Domain) -> bool:
    """A correction of a question answered before ("更正一下：合同还在有效期内，…已经绑定过
    一次了" after "expired"): the answer is corrected, whatever topic the rest of the words
    name (actions.content.Content.corrections)."""
    message = tracker.latest_message
    return bool(load_content().corrections(message.text or "", message.entities,
                                           slots_before_latest_message(tracker), form_slots(domain)))


# What the offers without an intent in their name offer (actions.accept_offer).
OFFERED_SITUATIONS = {"paid_plans": "paid_support_plans", "remaining_incidents": "remaining_incidents"}


def offered_situation(offer: str, domain: Domain) -> str | None:
    """The situation an offer is about: "steps:<intent>" and "topic:<intent>" name it."""
    _, _, intent = offer.rpartition(":")
    return topics(domain).get(intent) or OFFERED_SITUATIONS.get(offer)


def guides_of(situation: str | None) -> set[str]:
    """The guides a situation starts (actions/content/starts.yml: "<situation>[/<route>]")."""
    return {start.guide for key, start in load_content().starts.items()
            if key.split("/")[0] == situation}


def message_topics(tracker: DialogueStateTracker, domain: Domain) -> set[str]:
    """The situations the message names: its intent's, and a runner-up's read this high
    ("好，那接着说剩余事件的" reads as "next step" first, remaining incidents second)."""
    ranking = tracker.latest_message.parse_data.get(INTENT_RANKING_KEY) or []
    named = {str(tracker.latest_message.intent.get("name"))}
    named |= {str(item.get("name")) for item in ranking[1:2]
              if item.get("confidence", 0.0) >= RUNNER_UP_TOPIC_CONFIDENCE}
    situations = topics(domain)
    return {situations[intent] for intent in named if intent in situations}


def is_reply_about_the_offer(tracker: DialogueStateTracker, domain: Domain) -> bool:
    """A yes/no cue opens a message about the very thing offered, however sure the
    classifier is of that topic: "不用了，激活那个我之后自己弄" to "continue the activation
    guide?", "はい、残りのインシデントの確認手順を" to the offer of those steps."""
    message = tracker.latest_message
    offer = offer_before_latest_message(tracker)
    named = message_topics(tracker, domain)
    if offer is None or not named or load_content().opening_cue(message.text or "", "offer") is None:
        return False
    if offer == "resume_guide":
        return any(tracker.get_slot("guide") in guides_of(topic) for topic in named)
    return offered_situation(offer, domain) in named


def answers_the_role_check(tracker: DialogueStateTracker) -> bool:
    """A role named while the guide's step checks the role ("我就是 global admin，还是激活
    不了") answers that check, whatever topic the rest of the words name."""
    return (any(entity.get("entity") == "partner_role" for entity in tracker.latest_message.entities)
            and load_content().checks_role(tracker.get_slot("guide"), tracker.get_slot("guide_step")))


def is_unsure_offer_reply(tracker: DialogueStateTracker, domain: Domain) -> bool:
    message = tracker.latest_message
    intent = message.intent.get("name")
    # "嗯，想了解一下" to an offer reads, unsurely, as a vague opener ("I'd like to know"):
    # in reply to an offer it takes the offer, like a topic read unsurely.
    if ((intent not in topics(domain) and intent != MENU_INTENT) or intent in OFFER_REPLIES
            or message.intent.get("confidence", 1.0) >= OFFER_TOPIC_CONFIDENCE):
        return False
    ranking = message.parse_data.get(INTENT_RANKING_KEY) or []
    replies = [item.get("confidence", 0.0) for item in ranking[:3] if item.get("name") in OFFER_REPLIES]
    reads_as_reply = (max(replies, default=0.0) >= OFFER_REPLY_CONFIDENCE
                      or load_content().opening_cue(message.text or "", "offer") is not None)
    return reads_as_reply and offer_before_latest_message(tracker) is not None


def is_goodbye_to_the_offer(tracker: DialogueStateTracker) -> bool:
    """"いえ、手順の続きはまた今度にします" to an offer reads as a goodbye; its opening "no"
    declines the offer (and the bot says what else it can do)."""
    message = tracker.latest_message
    return (message.intent.get("name") == "goodbye" and offer_before_latest_message(tracker) is not None
            and load_content().opening_cue(message.text or "", "offer") is not None)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False
)
class ReplyPolicy(OneActionPolicy):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # Above RulePolicy (6), below StepReportPolicy (8).
        return {"priority": 7}

    def next_action(self, tracker: DialogueStateTracker, domain: Domain) -> str | None:
        if tracker.latest_message is None:
            return None
        if tracker.active_loop_name:
            # A form's question comes first; a correction that it turned down is still one.
            if not (tracker.is_active_loop_rejected and corrects_an_answer(tracker, domain)):
                return None
        elif not is_reply(tracker, domain):
            return None
        if tracker.latest_action_name == ACTION_LISTEN_NAME:
            return "action_handle_answer"
        if tracker.latest_action_name == "action_handle_answer":
            return ACTION_LISTEN_NAME  # the reply was answered; no rule follows it
        return None


def is_reply(tracker: DialogueStateTracker, domain: Domain) -> bool:
    intent = tracker.latest_message.intent.get("name")
    if intent != "request_human" and corrects_an_answer(tracker, domain):
        return True  # "ごめんなさい、ゴールドありました" read as a step report is a correction
    if intent in KEPT_INTENTS:
        # A step report keeps its rule unless it names the thing just offered.
        return intent in GUIDE_REPLIES and (is_reply_about_the_offer(tracker, domain)
                                            or is_late_answer(tracker, domain))
    return (is_late_answer(tracker, domain) or is_unsure_offer_reply(tracker, domain)
            or is_reply_about_the_offer(tracker, domain) or answers_the_role_check(tracker)
            or is_goodbye_to_the_offer(tracker))
