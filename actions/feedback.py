"""Feedback in the conversation: "did this solve it?" once after a guide is completed or a
final answer is given (docs/dialogue-contract.md, "Feedback").

Asked through `feedback_form`, so that a typed yes/no is the answer to this question and
not caught by the general yes/no rules; anything else (another topic, a request for a
person, any other message) rejects the form and is handled as usual, and the form then
ends without asking again. Stored as ordinary slots: `feedback` (yes/no),
`feedback_comment` (optional, after a no, IDs masked) and `feedback_for` (the situation it
was asked about, "diagnosis" or "diagnosis/guide"), which `python -m trainer insights`
reads.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, ActionExecutionRejection, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import actions as bot
from actions.clauses import QUESTION
from actions.guide import Position, step_failed
from components.redaction import mask_ids
from components.reply_intents import REPLY_INTENTS

FORM = bot.FEEDBACK_FORM
# Situations after which there is nothing to rate.
OUT_OF_SCOPE = bot.OUT_OF_SCOPE
NOT_RATED = {OUT_OF_SCOPE, "human_handoff"}
# The intents that answer it are the REPLY_INTENTS: yes/no (the slot's mappings in
# domain.yml), "できました" / "うまくいきません" right after a guide's last step, and
# "分からない": not sure it is solved is not solved, so the partner gets the next useful step.
REPLY_VALUES = {"guide_next": "yes", "guide_failed": "no", "dont_know": "no"}


def unsure(tracker: Tracker) -> bool:
    """"不知道算不算解决" (read as another topic): not sure it is solved, asking nothing."""
    return bot.says_dont_know(tracker) and not QUESTION.search(tracker.latest_message.get("text") or "")


def ask_feedback(tracker: Tracker, diagnosis: str | None, guide: str | None = None,
                 ) -> list[EventType]:
    """The events that ask for feedback now, or none: not after an offer made in this
    turn, not inside a guide or another form, at most once per situation in a session
    (so never twice in a row). A feedback question this answer replaced ("あと、TPDって
    なに" instead of yes or no) is asked again, about the new answer."""
    if not diagnosis or diagnosis in NOT_RATED or tracker.active_loop.get("name") not in (None, FORM):
        return []
    asked = tracker.get_slot("feedback_for")
    if asked and asked.split("/")[0] == diagnosis:
        return []
    offered = any(e.get("event") == "slot" and e.get("name") == "offer" and e.get("value")
                  for e in bot.turn_events(tracker))
    if offered:
        return []
    subject = f"{diagnosis}/{guide}" if guide else diagnosis
    return [SlotSet("feedback", None), SlotSet("feedback_comment", None),
            SlotSet("feedback_for", subject), SlotSet("requested_slot", None),
            FollowupAction(FORM)]


def keep_current_values(tracker: Tracker) -> list[EventType]:
    """At activation Rasa extracts the message's slots again (action_extract_slots) and
    keeps every value the validation does not set. This form starts after the message was
    answered, which may have refined them (`diagnosis` above all): set each back to its
    value before the form was called (the FollowupAction that called it)."""
    events = tracker.events
    called = max((i for i, e in enumerate(events)
                  if e.get("event") == "followup" and e.get("name") == FORM), default=None)
    if called is None:
        return []
    current: dict[str, Any] = {}
    for event in events[:called]:
        if event.get("event") == "slot":
            current[event.get("name")] = event.get("value")
    extracted = {e.get("name") for e in events[called:]
                 if e.get("event") == "slot"
                 and e.get("name") not in ("feedback", "feedback_comment", "requested_slot")}
    return [SlotSet(name, current.get(name)) for name in sorted(extracted)]


# A request in a message ("アクティブ化したいです", "请告诉我…"): a new topic, not a comment.
REQUEST = re.compile(r"たい|ください|下さい|お願い|想|请|請|帮我|幫我")


class ValidateFeedbackForm(bot.PendingQuestionValidation):
    def name(self) -> str:
        return "validate_feedback_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        requested = tracker.get_slot("requested_slot")
        if requested is None:
            # Starting: the answer before it already handled this turn's slots.
            return keep_current_values(tracker)
        if not bot.replying_to_user(tracker):
            # Back after another action answered the message (a change of topic): the
            # question has lapsed; end the form without asking again.
            return [SlotSet("requested_slot", None)]
        ValidateFeedbackForm.topics = bot.diagnosis_of_intents(domain)
        if requested == "feedback" and bot.corrects_a_fact(tracker):
            raise ActionExecutionRejection(self.name(), "an earlier answer corrected")
        if requested == "feedback" and (compared := bot.answer_compared(tracker, domain)):
            # "それってサポートインシデントとどう違うの？" right after the TPD answer asks more
            # about that answer, whatever topic its other words read as; then ask again.
            bot.explain_topic(dispatcher, compared)
            return [SlotSet("diagnosis", bot.slot_before_this_turn(tracker, "diagnosis")),
                    SlotSet("requested_slot", requested)]
        if requested == "feedback" and bot.latest_intent(tracker) not in REPLY_INTENTS \
                and bot.cued_value(tracker, requested) is None and not unsure(tracker):
            raise ActionExecutionRejection(self.name(), "not an answer to the feedback question")
        return await super().run(dispatcher, tracker, domain)

    async def get_extraction_events(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> list[EventType]:
        events = await super().get_extraction_events(dispatcher, tracker, domain)
        value = REPLY_VALUES.get(bot.latest_intent(tracker) or "") or ("no" if unsure(tracker) else None)
        # The answer's own words win over the intent's reading ("よく分かりました、解決しました"
        # read as "don't know").
        if tracker.get_slot("requested_slot") == "feedback" and value \
                and bot.cued_value(tracker, "feedback") is None:
            events.append(SlotSet("feedback", value))
        return events

    def answers_requested_slot(self, tracker: Tracker, domain: DomainDict, by_cue: bool = True) -> bool:
        if tracker.get_slot("requested_slot") == "feedback_comment":
            # Any text fills the comment (often one the classifier takes for out of
            # scope); another situation's question is not one, but words of a situation that
            # ask nothing are ("もっと具体的な中身が知りたかったです").
            text = tracker.latest_message.get("text") or ""
            return (self.topics.get(bot.latest_intent(tracker) or "", OUT_OF_SCOPE) == OUT_OF_SCOPE
                    or not (QUESTION.search(text) or REQUEST.search(text)))
        if tracker.get_slot("requested_slot") == "feedback" and unsure(tracker):
            return True
        return super().answers_requested_slot(tracker, domain, by_cue)

    topics: dict[str, str] = {}  # intent → diagnosis, from the domain (the same for all)

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        ValidateFeedbackForm.topics = bot.diagnosis_of_intents(domain)
        value = tracker.slots_to_validate().get("feedback") or tracker.get_slot("feedback")
        return ["feedback", "feedback_comment"] if value == "no" else ["feedback"]

    def validate_feedback_comment(self, value: Any, dispatcher: CollectingDispatcher,
                                  tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        text = " ".join(str(value or "").split())
        # The skip button (/deny) leaves no comment, but answers the question.
        return {"feedback_comment": "" if text.startswith("/") else mask_ids(text)}


class ActionFeedbackDone(Action):
    """After the form: yes → thanks; no → the next useful step (the guide's likely causes
    when it has any, else a person, offered)."""

    def name(self) -> str:
        return "action_feedback_done"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        feedback = tracker.get_slot("feedback")
        if feedback == "yes":
            dispatcher.utter_message(response="utter_feedback_thanks")
            return []
        if feedback != "no" or tracker.get_slot("feedback_comment") is None:
            # The question lapsed: another topic answered instead; if nothing did, the
            # partner is not left without a reply.
            answered = any(event.get("event") == "bot" for event in bot.turn_events(tracker))
            return [] if answered else bot.show_menu(dispatcher, tracker)
        dispatcher.utter_message(response="utter_feedback_noted")
        subject = tracker.get_slot("feedback_for") or ""
        guide_name = subject.split("/")[1] if "/" in subject else None
        guide = bot.load_content().guides.get(guide_name or "")
        if guide is not None and guide.steps[-1].if_failed:
            # "That didn't work" at the last step: its first likely cause.
            last = Position(guide.id, len(guide.steps) - 1, None)
            events = bot.apply_move(dispatcher, tracker, step_failed(guide, last))
            return [*events, SlotSet("guide_diagnosis", subject.split("/")[0])]
        dispatcher.utter_message(response="utter_feedback_offer_handoff")
        return [bot.offer("handoff")]
