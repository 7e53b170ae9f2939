"""Custom actions: guides one step at a time, answers that depend on what is known,
hand-off with a summary, "did you mean" clarification, and session start.

Every text comes from domain responses (by key) or actions/content/*.yml; the language
is the tracker's `language` slot, which Rasa fills before any action of the turn runs.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any

from rasa_sdk import Action, ActionExecutionRejection, FormValidationAction, Tracker
from rasa_sdk.events import (
    ActionExecuted,
    ActiveLoop,
    EventType,
    FollowupAction,
    SessionStarted,
    SlotSet,
)
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.clauses import (
    ASKS_IF_IT_IS_THE_CAUSE,
    QUESTION,
    clause_classifier,
    clause_intents,
    clause_probabilities,
    clauses,
    compares_with_the_answer,
    condition_spans,
    lacks_needed_words,
    likeliest_intent,
)
from actions.content import (
    ROLE_CAUSE,
    UNKNOWN,
    Content,
    Guide,
    Start,
    entitlement_for,
    form_of_intents,
    load_content,
    topic_actions,
    topic_rules,
)
from actions.guide import Move, Outcome, Position, furthest_named_step, step_done, step_failed
from actions.handoff import handoff_reply
from components.negation import BOTH_VALUES
from components.reply_intents import (
    GUIDE_REPLIES,
    MENU_INTENT,
    OFFER_REPLIES,
    OFFER_REPLY_CONFIDENCE,
    REPLY_INTENTS,
    SURE_TOPIC,
)
from components.step_reports import DONE, step_report
from components.support_kinds import REQUEST_INTENTS, other_request_intent

# Fit the clause classifier while the action server starts, not in a partner's turn.
threading.Thread(target=clause_classifier, name="clause-classifier", daemon=True).start()

DEFAULT_LANGUAGE = "ja"
# Facts about the partner that the hand-off summary reports, in this order.
KNOWN_FACT_SLOTS = ("membership", "support_kind", "competency_kind", "contract_state", "cloud_route")
CLARIFY_BUTTONS = 3
# Intents that open a conversation without naming a situation: unsure, they get the menu.
OPENERS = (MENU_INTENT, "greet")
# Slots never carried into a new session.
SESSION_LOCAL_SLOTS = {"requested_slot", "session_started_metadata", "offer", "feedback",
                       "feedback_comment", "feedback_for"}
HANDOFF_INTENT = "request_human"
OUT_OF_SCOPE = "out_of_scope"  # the intent and the diagnosis
# The form that asks whether the answer helped (actions/feedback.py).
FEEDBACK_FORM = "feedback_form"
# A request for a person wins even when the classifier ranks it only second this high
# ("分からないので詳しい方と話せますか" is also a don't-know).
PERSON_CONFIDENCE = 0.3
PERSON_WORDS_CONFIDENCE = 0.1
# Entities that are answers to the bot's questions.
FACT_ENTITIES = ("membership", "support_kind", "competency_kind", "contract_state", "cloud_route",
                 "partner_role")
ADMIN_ROLES = ("global_admin", "mpn_partner_admin")


def language_of(tracker: Tracker) -> str:
    return tracker.get_slot("language") or DEFAULT_LANGUAGE


def payload(intent: str, **entities: Any) -> str:
    return f"/{intent}{json.dumps(entities)}" if entities else f"/{intent}"


def latest_entity(tracker: Tracker, name: str) -> Any:
    return next(tracker.get_latest_entity_values(name), None)


def names_value(tracker: Tracker, name: str, value: str) -> bool:
    """Whether the message names the value itself, not only the other value negated
    ("オンプレの話でした", not "クラウドじゃない")."""
    return any(entity.get("entity") == name and entity.get("value") == value
               and not entity.get("negated")
               for entity in tracker.latest_message.get("entities") or [])


def corrects_a_fact(tracker: Tracker) -> bool:
    """The message gives another value for a fact answered before ("期限切れでした" after
    "前に追加しました")."""
    return any(value is not None and slot_before_this_turn(tracker, entity) not in (None, value)
               for entity in FACT_ENTITIES for value in [latest_entity(tracker, entity)])


def corrects_an_answer(tracker: Tracker, domain: DomainDict) -> bool:
    """A correction of an answered question (Content.corrections), in any words."""
    before = {slot: slot_before_this_turn(tracker, slot) for slot in form_slots(domain)}
    return bool(load_content().corrections(tracker.latest_message.get("text") or "",
                                           tracker.latest_message.get("entities") or [], before,
                                           set(before)))


def form_slots(domain: DomainDict) -> list[str]:
    """The slots some form asks for (the bot's questions)."""
    return sorted({slot for form in domain.get("forms", {}).values()
                   for slot in form.get("required_slots") or []})


def latest_intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def wants_person(tracker: Tracker) -> bool:
    """A request for a person: the top intent, or a close second, unless the message gives
    a fact without naming a person ("しぐねちゃーのほうで" answers Signature or CSP, whatever
    "のほうで" sounds like; "CSP です、人に代わって" asks for a person)."""
    gives_fact = any(latest_entity(tracker, entity) for entity in FACT_ENTITIES)
    text = tracker.latest_message.get("text") or ""
    content = load_content()
    names_person = content.says(text, "person")
    if says_dont_know(tracker) and not content.says(text, "person_request"):
        return False  # "経理の人が管理してて、正直分かりません": who knows, not a request
    if latest_intent(tracker) == HANDOFF_INTENT:
        return names_person or not gives_fact
    if gives_fact:
        return False
    ranking = [item for item in tracker.latest_message.get("intent_ranking") or []
               if item.get("name") != "nlu_fallback"][:2]  # the fallback is no reading
    # "分からないので、詳しい方と話せますか": a person and a request to be put through in
    # the partner's words make a weaker second reading enough.
    asks_through = names_person and content.says(text, "person_request")
    least = PERSON_WORDS_CONFIDENCE if asks_through else PERSON_CONFIDENCE
    return any(item.get("name") == HANDOFF_INTENT and item.get("confidence", 0) >= least
               for item in ranking)


def turn_events(tracker: Tracker, turns_back: int = 0) -> list[dict[str, Any]]:
    """The events after a user message: 0 = since the latest one (this turn), 1 = the
    bot's previous turn (between the two latest user messages)."""
    events = tracker.events
    users = [i for i, event in enumerate(events) if event.get("event") == "user"]
    if turns_back == 0:
        return events[users[-1] + 1:] if users else list(events)
    if len(users) < turns_back + 1:
        return events[: users[-turns_back]] if len(users) >= turns_back else []
    return events[users[-turns_back - 1] + 1: users[-turns_back]]


def slot_before_this_turn(tracker: Tracker, slot: str) -> Any:
    """The slot's value before the latest user message was processed."""
    events = tracker.events
    users = [i for i, event in enumerate(events) if event.get("event") == "user"]
    value = None
    for event in events[: users[-1]] if users else events:
        if event.get("event") == "slot" and event.get("name") == slot:
            value = event.get("value")
    return value


def pending_offer(tracker: Tracker) -> str | None:
    """The offer the bot made in its previous turn, which this message may answer."""
    offers = [event.get("value") for event in turn_events(tracker, 1)
              if event.get("event") == "slot" and event.get("name") == "offer"]
    return offers[-1] if offers else None


def uttered_this_turn(tracker: Tracker, responses: Iterable[str]) -> bool:
    """One of these responses was already given this turn (by an earlier action)."""
    names = set(responses)
    return any(event.get("event") == "bot"
               and (event.get("metadata") or {}).get("utter_action") in names
               for event in turn_events(tracker))


def set_this_turn(tracker: Tracker, slot: str) -> bool:
    return any(event.get("event") == "slot" and event.get("name") == slot
               for event in turn_events(tracker))


def diagnosis_of_intents(domain: DomainDict) -> dict[str, str]:
    """intent → diagnosis, from the `from_intent` mappings of the slot `diagnosis`."""
    return {mapping["intent"]: mapping["value"]
            for mapping in domain["slots"]["diagnosis"]["mappings"]
            if mapping.get("type") == "from_intent"}


def latest_int_entity(tracker: Tracker, name: str) -> int | None:
    value = latest_entity(tracker, name)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


# --- guides ---------------------------------------------------------------------------

def position_of(tracker: Tracker) -> Position | None:
    guide, step = tracker.get_slot("guide"), tracker.get_slot("guide_step")
    if not guide or step is None or guide not in load_content().guides:
        return None
    cause = tracker.get_slot("guide_cause")
    return Position(guide, int(step), None if cause is None else int(cause))


def position_events(position: Position | None) -> list[EventType]:
    if position is None:
        return [SlotSet("guide", None), SlotSet("guide_step", None), SlotSet("guide_cause", None),
                SlotSet("guide_diagnosis", None)]
    return [SlotSet("guide", position.guide), SlotSet("guide_step", float(position.step)),
            SlotSet("guide_cause", None if position.cause is None else float(position.cause))]


class GuidePresenter:
    """Renders a guide position as a chat message with its buttons."""

    def __init__(self, content: Content, language: str) -> None:
        self.content = content
        self.language = language

    def ui(self, key: str) -> str:
        return self.content.label(self.language, "ui", key)

    def counter(self, guide: Guide, step: int) -> str:
        return self.ui("step_counter").format(n=step + 1, total=len(guide.steps))

    def step_buttons(self, step: int) -> list[dict[str, str]]:
        return [
            {"title": self.ui("guide_next"), "payload": payload("guide_next", step=step + 1)},
            {"title": self.ui("guide_failed"), "payload": payload("guide_failed", step=step + 1)},
            {"title": self.ui("guide_show_all"), "payload": payload("guide_show_all")},
        ]

    def cause_buttons(self, step: int, cause: int) -> list[dict[str, str]]:
        return [
            {"title": self.ui("cause_fixed"), "payload": payload("guide_next", step=step + 1)},
            {"title": self.ui("cause_still_failing"),
             "payload": payload("guide_failed", step=step + 1, cause=cause + 1)},
            {"title": self.ui("talk_to_person"), "payload": payload("request_human")},
        ]

    def show(self, dispatcher: CollectingDispatcher, position: Position,
             explained: bool = False) -> list[EventType]:
        """Sends the step (or the cause to check) and returns the slot events.

        explained: the cause's explanation was just given by a response, so only the
        step heading and the buttons are sent.
        """
        guide = self.content.guides[position.guide]
        step = guide.steps[position.step]
        heading = f"{self.counter(guide, position.step)} {step.title[self.language]}"
        events = position_events(position)
        if position.cause is None:
            dispatcher.utter_message(text=f"{heading}\n{step.text[self.language]}",
                                     buttons=self.step_buttons(position.step))
            return events
        cause = self.content.causes[step.if_failed[position.cause]]
        text = heading if explained else cause.text[self.language]
        dispatcher.utter_message(text=text, buttons=self.cause_buttons(position.step, position.cause))
        if cause.diagnosis:
            events.append(SlotSet("diagnosis", cause.diagnosis))
        return events

    def all_steps(self, guide: Guide) -> str:
        return "\n".join(
            f"{number}. {step.title[self.language]}: {step.text[self.language]}"
            for number, step in enumerate(guide.steps, start=1)
        )


def start_position(start: Start, content: Content) -> Position:
    guide = content.guides[start.guide]
    step = guide.index_of(start.step) if start.step else 0
    return Position(start.guide, step, start.cause)


def start_guide(dispatcher: CollectingDispatcher, tracker: Tracker, key: str) -> list[EventType]:
    content = load_content()
    start = content.starts.get(key)
    if start is None:
        return []
    presenter = GuidePresenter(content, language_of(tracker))
    events = presenter.show(dispatcher, start_position(start, content),
                            explained=start.cause is not None)
    # The start key is the diagnosis, with the route after a slash where it has several.
    return [*events, SlotSet("guide_diagnosis", key.split("/")[0])]


# --- hand-off -------------------------------------------------------------------------

def handoff(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """Summarises the conversation for a person and for the partner, in their language."""
    content = load_content()
    language = language_of(tracker)
    nothing = content.label(language, "ui", "nothing")
    separator = content.label(language, "ui", "list_separator")
    previous = tracker.get_slot("diagnosis")
    handoff_from = tracker.get_slot("handoff_from") if previous == "human_handoff" else previous

    known = {slot: tracker.get_slot(slot) for slot in KNOWN_FACT_SLOTS
             if tracker.get_slot(slot) not in (None, "unknown")}
    known_text = separator.join(
        f"{content.label(language, 'slots', slot)}: {content.label(language, 'values', slot, value)}"
        for slot, value in known.items()
    )
    position = position_of(tracker)
    steps_done: list[str] = []
    step_failed_id = None
    step_failed_title = nothing
    if position:
        guide = content.guides[position.guide]
        steps_done = [step.id for step in guide.steps[: position.step]]
        steps_done_titles = [step.title[language] for step in guide.steps[: position.step]]
        if position.cause is not None:
            step_failed_id = guide.steps[position.step].id
            step_failed_title = guide.steps[position.step].title[language]
    else:
        steps_done_titles = []

    summary = {
        "diagnosis_label": content.label(language, "diagnoses", handoff_from) if handoff_from else nothing,
        "known": known_text or nothing,
        "steps_done": separator.join(steps_done_titles) or nothing,
        "step_failed": step_failed_title,
    }
    # The summary and the addresses, or "a person will join" (actions/handoff.py).
    events = handoff_reply(dispatcher, summary, {
        "diagnosis": handoff_from,
        "language": language,
        "known": known,
        "guide": position.guide if position else None,
        "steps_done": steps_done,
        "step_failed": step_failed_id,
    })
    # A person wins over any pending question: the form in progress ends here.
    return [SlotSet("diagnosis", "human_handoff"), SlotSet("handoff_from", handoff_from),
            *events, *position_events(None), ActiveLoop(None), SlotSet("requested_slot", None)]


def apply_move(dispatcher: CollectingDispatcher, tracker: Tracker, move: Move) -> list[EventType]:
    content = load_content()
    if move.outcome is Outcome.FINISHED:
        from actions.feedback import ask_feedback  # (it imports this module)

        dispatcher.utter_message(response="utter_guide_finished")
        return [*position_events(None), *ask_feedback(
            tracker, tracker.get_slot("guide_diagnosis") or tracker.get_slot("diagnosis"),
            tracker.get_slot("guide"))]
    if move.outcome is Outcome.HANDOFF:
        return handoff(dispatcher, tracker)
    assert move.position is not None
    return GuidePresenter(content, language_of(tracker)).show(dispatcher, move.position)


class ActionStartGuide(Action):
    def name(self) -> str:
        return "action_start_guide"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        events = start_guide(dispatcher, tracker, tracker.get_slot("diagnosis") or "")
        return [*events, *answer_second_topic(dispatcher, tracker, domain,
                                              guide_started=bool(events))]


# A guide report outside a guide follows a situation ranked after it at least this likely.
LIKELY_TOPIC_CONFIDENCE = 0.2


def likely_topic(tracker: Tracker, domain: DomainDict) -> str | None:
    """The second reading of the message when it is a situation and likely enough."""
    ranking = tracker.latest_message.get("intent_ranking") or []
    situations = diagnosis_of_intents(domain)
    return next((str(item["name"]) for item in ranking[1:3]
                 if item.get("name") in situations and item.get("name") != HANDOFF_INTENT
                 and item.get("confidence", 0) >= LIKELY_TOPIC_CONFIDENCE), None)


class GuideAction(Action, ABC):
    """Base of the actions behind the guide buttons: without a guide in progress they
    say so; otherwise `act` gets the guide and the current position."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        position = position_of(tracker)
        pending = pending_offer(tracker)
        if position is None and pending:  # "はい、その手順を教えて" to an offer of steps
            # ..., unless it opens with a "no" ("いえ、そこまでは大丈夫です" read as "done").
            if offer_reply(tracker) == "deny":
                return decline_offer(dispatcher, tracker, pending)
            return accept_offer(dispatcher, tracker, domain, pending)
        if position is None and corrects_a_fact(tracker):
            # "いや、違うかも。契約自体が期限切れでした": no step failed, an answer changed.
            return handle_answer(dispatcher, tracker, domain, "inform")
        if position is None and (topic := likely_topic(tracker, domain)):
            # "メンバーシップがないと言われました" read as "that didn't work" with no guide to
            # report on: the situation it names, its close second reading.
            return start_topic(dispatcher, tracker, domain, topic) or []
        if position is None:
            # "搞不定了" as a first message is a vague opener: "no guide in progress" only
            # means something once a guide was given.
            guided = any(event.get("event") == "slot" and event.get("name") == "guide"
                         and event.get("value") for event in tracker.events)
            return show_menu(dispatcher, tracker, "utter_no_active_guide" if guided else "utter_menu")
        # A report on the step in words of another situation ("可以了，权益都显示出来了",
        # components/step_report_policy.py) had its mapping rewrite `diagnosis`: undo it
        # first, so that only the move's own events change it.
        previous = slot_before_this_turn(tracker, "diagnosis")
        kept: list[EventType] = []
        if set_this_turn(tracker, "diagnosis") and tracker.get_slot("diagnosis") != previous:
            kept = [SlotSet("diagnosis", previous)]
            tracker.slots["diagnosis"] = previous  # what the move reads (a hand-off's "from")
        return [*kept, *self.act(dispatcher, tracker, load_content().guides[position.guide], position)]

    @abstractmethod
    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, guide: Guide,
            position: Position) -> list[EventType]:
        """The events of this button's move from `position`."""


class ActionGuideNext(GuideAction):
    def name(self) -> str:
        return "action_guide_next"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, guide: Guide,
            position: Position) -> list[EventType]:
        step = latest_int_entity(tracker, "step")
        resumed: list[EventType] = []
        if step is None and pending_offer(tracker) == "resume_guide":
            if offer_reply(tracker) == "deny":  # "先不继续了，谢谢" read as "continue"
                return decline_offer(dispatcher, tracker, "resume_guide")
            if step_report(tracker.latest_message.get("entities") or []) != DONE:
                return [SlotSet("offer", None), *resume_guide(dispatcher, tracker, position)]
            # "ビジネス向けサポート開きました" instead of "続けて": back in the guide, one step on.
            resumed = [SlotSet("offer", None), SlotSet("diagnosis", tracker.get_slot("guide_diagnosis"))]
        if step is None:  # typed: the partner may have gone ahead of the guide
            ahead = furthest_named_step(guide, position, tracker.latest_message.get("text") or "")
            position = position if ahead is None else Position(guide.id, ahead)
        move = step_done(guide, position, step)
        return [*resumed, *apply_move(dispatcher, tracker, move)]


class ActionGuideFailed(GuideAction):
    def name(self) -> str:
        return "action_guide_failed"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, guide: Guide,
            position: Position) -> list[EventType]:
        step = latest_int_entity(tracker, "step")
        if step is None and (ended := end_guide_if_called_off(dispatcher, tracker)):  # typed "算了，不弄了"
            return ended
        if step is None:  # typed: "点了激活没反应" at the sign-in step failed at Activate
            ahead = furthest_named_step(guide, position, tracker.latest_message.get("text") or "",
                                        failed=True)
            position = position if ahead is None else Position(guide.id, ahead)
        move = step_failed(guide, position, step, latest_int_entity(tracker, "cause"))
        return apply_move(dispatcher, tracker, move)


class ActionGuideShowAll(GuideAction):
    def name(self) -> str:
        return "action_guide_show_all"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, guide: Guide,
            position: Position) -> list[EventType]:
        presenter = GuidePresenter(load_content(), language_of(tracker))
        dispatcher.utter_message(response="utter_guide_all_steps",
                                 guide_title=guide.title[presenter.language],
                                 steps=presenter.all_steps(guide))
        return presenter.show(dispatcher, position)


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        return handoff(dispatcher, tracker)


# --- answers that depend on what is known ---------------------------------------------

def offer(name: str) -> EventType:
    """Marks an offer made in this turn; `pending_offer` reads it on the next one."""
    return SlotSet("offer", name)


class ActionAnswerEntitlement(Action):
    """Answers from the entitlement table (actions/content/entitlement.yml).

    membership "unknown" → the table for every membership; support kind "unknown" or
    "both" → both kinds for the membership; competency kind unknown → both figures."""

    def name(self) -> str:
        return "action_answer_entitlement"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        return self.answer(dispatcher, tracker)

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        content = load_content()
        table = content.entitlement
        membership = tracker.get_slot("membership")
        support_kind = tracker.get_slot("support_kind")
        if membership == "unknown":
            dispatcher.utter_message(
                response="utter_entitlement_table",
                **{f"{m}_onprem": table["on_premises"][m] for m in table["on_premises"]},
                **{f"{m}_other": table["cloud"][m]["other"] for m in ("silver", "gold")})
            return [SlotSet("diagnosis", "entitlement"), SlotSet("membership", None)]
        if membership not in table["on_premises"]:
            dispatcher.utter_message(response="utter_ask_membership")
            return []
        named = list(dict.fromkeys(tracker.get_latest_entity_values("membership")))
        if len(named) > 1 and all(m in table["on_premises"] for m in named):
            # "シルバーとゴールドでは何件違う？": the same answer for each membership named.
            events: list[EventType] = []
            for each in named:
                events = self.answer_for(dispatcher, tracker, each, support_kind)
            return events
        if membership == "action_pack":
            if support_kind == "cloud":
                dispatcher.utter_message(response="utter_action_pack_no_cloud")
                return [SlotSet("diagnosis", "action_pack_no_cloud"), offer("paid_plans")]
            dispatcher.utter_message(response="utter_entitlement_action_pack")
            return [SlotSet("diagnosis", "entitlement")]
        return self.answer_for(dispatcher, tracker, membership, support_kind)

    @staticmethod
    def answer_for(dispatcher: CollectingDispatcher, tracker: Tracker, membership: str,
                   support_kind: str | None) -> list[EventType]:
        content = load_content()
        table = content.entitlement
        if membership == "action_pack":
            dispatcher.utter_message(response="utter_entitlement_action_pack")
            return [SlotSet("diagnosis", "entitlement")]
        label = content.label(language_of(tracker), "values", "membership", membership)
        if support_kind != "cloud":
            count = entitlement_for(table, membership, "on_premises", None)
            dispatcher.utter_message(response="utter_entitlement_onprem",
                                     membership_label=label, count=count)
        if support_kind != "on_premises":
            competency_kind = tracker.get_slot("competency_kind")
            kinds = [competency_kind] if competency_kind in ("cloud", "other") else ["cloud", "other"]
            for kind in kinds:
                count = entitlement_for(table, membership, "cloud", kind)
                if count == "unlimited":
                    dispatcher.utter_message(response="utter_entitlement_cloud_unlimited",
                                             membership_label=label)
                else:
                    dispatcher.utter_message(response="utter_entitlement_cloud_count",
                                             membership_label=label, count=count)
        return [SlotSet("diagnosis", "entitlement")]


class ActionAnswerNoBenefits(Action):
    def name(self) -> str:
        return "action_answer_no_benefits"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        has_membership = "yes" if tracker.get_slot("membership") else tracker.get_slot("has_membership")
        if has_membership == "no":
            dispatcher.utter_message(response="utter_no_benefits_no_membership")
            return [SlotSet("diagnosis", "no_benefits_yet"), offer("paid_plans")]
        dispatcher.utter_message(response="utter_no_benefits_wrong_account" if has_membership == "yes"
                                 else "utter_no_benefits_unsure")
        return [SlotSet("diagnosis", "no_benefits_yet"),
                *start_guide(dispatcher, tracker, "no_benefits_yet")]


CLOUD_ROUTE_RESPONSES = {"signature": "utter_explain_cloud_signature",
                         "csp": "utter_explain_cloud_csp"}
CONTRACT_STATE_RESPONSES = {"linked": "utter_access_id_linked", "expired": "utter_access_id_expired"}


def cloud_route(tracker: Tracker) -> str | None:
    """signature, csp, unknown, action_pack, or None when it must be asked."""
    route = tracker.get_slot("cloud_route")
    membership = tracker.get_slot("membership")
    if membership == "action_pack" and route != "csp":  # Action Pack has no Signature support
        return "action_pack"
    if route:
        return route
    if membership in ("silver", "gold"):
        return "signature"
    return None


class ActionAnswerCloudSupport(Action):
    def name(self) -> str:
        return "action_answer_cloud_support"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        route = cloud_route(tracker)
        if route == "action_pack":
            dispatcher.utter_message(response="utter_action_pack_no_cloud")
            return [SlotSet("diagnosis", "action_pack_no_cloud"), offer("paid_plans")]
        if route in CLOUD_ROUTE_RESPONSES:
            return answer_cloud_route(dispatcher, tracker, route)
        dispatcher.utter_message(response="utter_explain_cloud_signature")
        dispatcher.utter_message(response="utter_explain_cloud_csp")
        return [SlotSet("diagnosis", "cloud_support_request"), SlotSet("cloud_route", None)]


def answer_cloud_route(dispatcher: CollectingDispatcher, tracker: Tracker, route: str) -> list[EventType]:
    """The route's facts and its guide (Signature: link the benefits; CSP: the request)."""
    dispatcher.utter_message(response=CLOUD_ROUTE_RESPONSES[route])
    return [SlotSet("diagnosis", "cloud_support_request"),
            *start_guide(dispatcher, tracker, f"cloud_support_request/{route}")]


class ActionAnswerAccessId(Action):
    def name(self) -> str:
        return "action_answer_access_id"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        state = stated_contract_state(tracker) or tracker.get_slot("contract_state")
        if state in ("linked", "expired"):
            dispatcher.utter_message(response=CONTRACT_STATE_RESPONSES[state])
            return [SlotSet("diagnosis", f"access_id_already_associated_{state}")]
        dispatcher.utter_message(response="utter_access_id_unknown")
        return [SlotSet("diagnosis", "access_id_already_associated"), offer("remaining_incidents")]


def stated_contract_state(tracker: Tracker) -> str | None:
    """The contract state the latest message states, if any.

    A message can name both cases ("relinked a contract with no incidents left"): an
    expired contract explains the error whether or not it was linked before, so it wins.
    (Rasa's slot filling keeps the last entity, which would be "linked" there.)
    """
    states = set(tracker.get_latest_entity_values("contract_state"))
    return "expired" if "expired" in states else next(iter(states), None)


class ActionClearStaleAnswers(Action):
    """Forgets answers to situation-specific questions before that question is asked
    again, unless the new message itself gives the answer."""

    def name(self) -> str:
        return "action_clear_stale_answers"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        return clear_stale_answers(dispatcher, tracker, domain)


def clear_stale_answers(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                        answered: str | None = None) -> list[EventType]:
    # The question comes next: a second question of the message is answered first.
    return [SlotSet("has_membership", None),
            SlotSet("contract_state", stated_contract_state(tracker)),
            *answer_second_topic(dispatcher, tracker, domain, question_pending=True,
                                 answered=answered)]


# Diagnoses that refine another one (set by an answer action, not by an intent), for the
# question a later bare answer continues; "<id>_<case>" refines "<id>" by its name.
REFINES = {"action_pack_no_cloud": "entitlement"}


def form_of_diagnosis(domain: DomainDict, diagnosis: str | None) -> str | None:
    """The question (form) of a situation: the form its intent's rule starts."""
    forms = {topic: form_of_intents()[intent]
             for intent, topic in diagnosis_of_intents(domain).items() if intent in form_of_intents()}
    diagnosis = REFINES.get(diagnosis or "", diagnosis)
    return next((form for topic, form in forms.items()
                 if diagnosis and (diagnosis == topic or diagnosis.startswith(f"{topic}_"))), None)


def diagnosis_of_form(domain: DomainDict, form: str) -> str | None:
    """The situation whose question the form asks (the inverse of `form_of_diagnosis`)."""
    return next((diagnosis for intent, diagnosis in diagnosis_of_intents(domain).items()
                 if form_of_intents().get(intent) == form), None)


def form_of_entity(domain: DomainDict, entity: str) -> str | None:
    """The one form that asks for this entity's slot, if only one does."""
    forms = [name for name, form in domain.get("forms", {}).items()
             if entity in (form.get("required_slots") or [])]
    return forms[0] if len(forms) == 1 else None


def form_for_answer(tracker: Tracker, domain: DomainDict) -> str | None:
    """Which question a bare answer ("ゴールドです") continues: an entity that belongs to
    one question decides; else the current situation's question does; else entitlement
    facts ("and for Silver?") reopen the entitlement question."""
    for entity in ("contract_state", "cloud_route", "competency_kind"):
        if latest_entity(tracker, entity) and (form := form_of_entity(domain, entity)):
            return form
    current = form_of_diagnosis(domain, tracker.get_slot("diagnosis"))
    entitlement = form_of_diagnosis(domain, "entitlement")
    if latest_entity(tracker, "membership") and current in (None, form_of_entity(domain, "contract_state")):
        return entitlement
    if current is None and latest_entity(tracker, "support_kind"):
        return entitlement
    return current


# --- offers, the menu, a second question ------------------------------------------------

# A message that asks two things ("アクセスIDって何？あと、残りの件数は？"): each clause's
# own topic (actions/clauses.py) first; when a clause is not read with some confidence,
# the topic the classifier ranks just below the first.
CLAUSE_TOPIC_CONFIDENCE = 0.45
CLAUSE_READ_CONFIDENCE = 0.4
WEAK_CLAUSE_TOPIC_CONFIDENCE = 0.3
SECOND_TOPIC_CONFIDENCE = 0.05


def second_topic(tracker: Tracker, domain: DomainDict, answered: str | None = None) -> str | None:
    """The topic of a second question in the message, other than the one `answered`
    (default: the message's intent)."""
    text = tracker.latest_message.get("text") or ""
    if len(clauses(text)) < 2:
        return None
    top = answered or latest_intent(tracker)
    if top == OUT_OF_SCOPE:
        # A product problem's other sentences ("原因わかりますか？") describe the problem;
        # they are no second question about the benefits.
        return None
    topics, answers = diagnosis_of_intents(domain), topic_actions()

    def answerable(name: object) -> bool:
        return name != top and name in topics and (name in answers or name in form_of_intents())

    other_kind = other_request_intent(top)
    if latest_entity(tracker, "support_kind") == BOTH_VALUES and answerable(other_kind):
        return other_kind  # "オンプレのリクエストはどこから？クラウドの場合は？"
    rows = clause_probabilities(text)
    # The clause most like the message's own topic asks it; the others may ask another.
    own = max(range(len(rows)), key=lambda i: rows[i].get(str(top), 0.0))
    parts = clauses(text)
    for i, row in enumerate(rows):
        name, probability = max(((name, p) for name, p in row.items() if name != top),
                                key=lambda item: item[1])
        if top not in topics and not QUESTION.search(parts[i]):
            continue  # an answer's other clause that asks nothing ("確認したら残数はまだありました")
        # A clause that reads as the own topic only weakly ("アクティブ化したらIDはどこに
        # 出ますか", 0.37) asks its next likeliest topic (the IDs, 0.35).
        # An answer ("合同没有过期，…") is no topic: its other clauses need the full confidence.
        weakly_own = top in topics and row.get(str(top), 0.0) < CLAUSE_READ_CONFIDENCE
        wanted = CLAUSE_TOPIC_CONFIDENCE if not weakly_own else WEAK_CLAUSE_TOPIC_CONFIDENCE
        if i != own and answerable(name) and probability >= wanted:
            return name
    # A preamble ("顺便问一下，…", "ありがとうございます。…") asks nothing of its own.
    asking = [row for row in rows if max(row, key=row.__getitem__) not in (*OPENERS, "thank")]
    if all(max(row, key=row.__getitem__) == top and row[str(top)] >= CLAUSE_READ_CONFIDENCE
           for row in asking):
        return None  # every clause was read as the message's own topic: no second question
    if top not in topics and not any(QUESTION.search(part) for part in parts):
        return None  # an answer that asks nothing more
    for item in (tracker.latest_message.get("intent_ranking") or [])[1:3]:
        name = item.get("name")
        # A runner-up without the words its intent needs is no question ("確認したらシルバー
        # でした。オンプレの件数は？" asks no remaining incidents).
        if (answerable(name) and item.get("confidence", 0) >= SECOND_TOPIC_CONFIDENCE
                and not lacks_needed_words(str(name), text)):
            return str(name)
    return None


def run_topic(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
              intent: str, explained: bool = False) -> list[EventType]:
    """What the topic's rule does (its responses, its guide), run from an action;
    `explained`: its responses were given already, only its guide is left."""
    diagnosis = diagnosis_of_intents(domain).get(intent)
    events: list[EventType] = [SlotSet("diagnosis", diagnosis)] if diagnosis else []
    if not explained:
        explain_topic(dispatcher, intent)
    if "action_start_guide" in topic_actions()[intent] and diagnosis:
        events += start_guide(dispatcher, tracker, diagnosis)
    return events


def explain_topic(dispatcher: CollectingDispatcher, intent: str) -> None:
    """The responses of the topic's rule (its facts), without its guide."""
    for action in topic_actions()[intent]:
        if action.startswith("utter_"):
            dispatcher.utter_message(response=action)


def answer_second_topic(dispatcher: CollectingDispatcher, tracker: Tracker,
                        domain: DomainDict, guide_started: bool = False,
                        question_pending: bool = False,
                        answered: str | None = None) -> list[EventType]:
    """Answers a second question of the message. A topic with a guide always gets its
    explanation (the facts asked for); its steps start only when no other guide is in
    hand and no question is pending, since two at once cannot both be followed: with a
    guide in hand they are offered, with a question pending they wait for the partner.
    A topic that asks its own question (a form) is offered, after how to tell its answers
    apart, unless a question is pending. A cloud question whose route is known is answered
    with that route's guide when nothing else is in hand; with a question pending it gets
    the route's facts, and its steps wait for the partner."""
    intent = second_topic(tracker, domain, answered)
    if intent is None:
        return []
    if form_of_intents().get(intent) == "entitlement_form" and all(
            tracker.get_slot(slot) for slot in entitlement_questions(tracker)):
        # "银牌云能力有几个事件？在 Azure 里面怎么链接？": everything the count needs is known.
        return [event for event in ActionAnswerEntitlement().answer(dispatcher, tracker)
                if event.get("name") != "diagnosis"]
    in_hand = guide_started or position_of(tracker) is not None or set_this_turn(tracker, "guide")
    if intent in form_of_intents():
        # "ゴールドの Signature は何件？それと Azure portal でのリンク方法も": the route is known.
        route = cloud_route(tracker) if intent == "ask_cloud_support" else None
        if route in CLOUD_ROUTE_RESPONSES and not (in_hand or question_pending):
            return answer_cloud_route(dispatcher, tracker, str(route))
        if question_pending:
            if route in CLOUD_ROUTE_RESPONSES:
                dispatcher.utter_message(response=CLOUD_ROUTE_RESPONSES[str(route)])
            return []
        explain_choice(dispatcher, tracker, domain, form_of_intents()[intent])
        return offer_second_topic(dispatcher, tracker, intent, "topic")
    if uttered_this_turn(tracker, topic_actions()[intent]):
        return []
    if "action_start_guide" not in topic_actions()[intent]:
        # A plain answer: the message's own topic keeps the diagnosis.
        return [event for event in run_topic(dispatcher, tracker, domain, intent)
                if event.get("name") != "diagnosis"]
    if not (in_hand or question_pending):
        # Its guide starts: the conversation goes on in that situation, so it is the diagnosis.
        return run_topic(dispatcher, tracker, domain, intent)
    explain_topic(dispatcher, intent)
    return [] if question_pending else offer_second_topic(dispatcher, tracker, intent, "steps")


def explain_choice(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                   form: str) -> None:
    """How to tell the answers of the form's open question apart, where the domain has it
    (`utter_explain_<slot>_choice`): the facts a second question asked for, before its
    question is offered ("…クラウドの場合は？" learns the two cloud routes)."""
    responses = domain.get("responses") or {}
    for slot in domain["forms"][form]["required_slots"]:
        if not tracker.get_slot(slot) and (response := f"utter_explain_{slot}_choice") in responses:
            dispatcher.utter_message(response=response)
            return


def offer_second_topic(dispatcher: CollectingDispatcher, tracker: Tracker, intent: str,
                       kind: str, response: str | None = None) -> list[EventType]:
    """Offers what is left of a second question: its steps (`steps`, already explained)
    or its own question (`topic`)."""
    content = load_content()
    language = language_of(tracker)
    response = response or ("utter_offer_second_topic" if kind == "steps" else "utter_offer_second_question")
    dispatcher.utter_message(response=response,
                             topic=content.label(language, "intents", intent),
                             buttons=[{"title": content.label(language, "ui", "yes"),
                                       "payload": payload("affirm")},
                                      {"title": content.label(language, "ui", "no"),
                                       "payload": payload("deny")}])
    return [offer(f"{kind}:{intent}")]


def show_menu(dispatcher: CollectingDispatcher, tracker: Tracker,
              response: str = "utter_menu") -> list[EventType]:
    """The situations the bot knows, as buttons (actions/content/menu.yml)."""
    content = load_content()
    language = language_of(tracker)
    buttons = [{"title": content.label(language, "intents", name), "payload": payload(name)}
               for name in content.menu]
    dispatcher.utter_message(response=response, buttons=buttons)
    return []


def resume_guide(dispatcher: CollectingDispatcher, tracker: Tracker,
                 position: Position) -> list[EventType]:
    events = GuidePresenter(load_content(), language_of(tracker)).show(dispatcher, position)
    return [*events, SlotSet("diagnosis", tracker.get_slot("guide_diagnosis")),
            SlotSet("guide_diagnosis", tracker.get_slot("guide_diagnosis"))]


def accept_offer(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                 name: str) -> list[EventType]:
    consumed = SlotSet("offer", None)
    if name.startswith("steps:"):  # the topic was explained with the offer
        return [consumed, *run_topic(dispatcher, tracker, domain, name.split(":", 1)[1],
                                     explained=True)]
    if name.startswith("topic:"):  # a topic that asks its own question: its form asks it
        intent = name.split(":", 1)[1]
        return [consumed, SlotSet("diagnosis", diagnosis_of_intents(domain).get(intent)),
                FollowupAction(form_of_intents()[intent])]
    position = position_of(tracker)
    if name == "resume_guide" and position:
        return [consumed, *resume_guide(dispatcher, tracker, position)]
    if name == "paid_plans":
        dispatcher.utter_message(response="utter_paid_support_plans")
        return [consumed, SlotSet("diagnosis", "paid_support_plans")]
    if name == "remaining_incidents":
        dispatcher.utter_message(response="utter_explain_remaining_incidents")
        return [consumed, SlotSet("diagnosis", "remaining_incidents"),
                *start_guide(dispatcher, tracker, "remaining_incidents")]
    if name == "handoff":
        return [consumed, *handoff(dispatcher, tracker)]
    return [consumed, *show_menu(dispatcher, tracker)]


def withdraw_offer(name: str) -> list[EventType]:
    """The offer is off; declining the offer to continue a guide ends the guide."""
    return [SlotSet("offer", None), *(position_events(None) if name == "resume_guide" else ())]


def end_guide_if_called_off(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """In a guide, the partner calls it off ("いや、やっぱりいいです", "算了") without asking
    for a person instead ("もういいです、人に代わって"): the guide ends and the menu offers
    what else. No events when the message does not call a guide off."""
    text, content = tracker.latest_message.get("text") or "", load_content()
    if not position_of(tracker) or not content.says(text, "never_mind") or content.says(text, "person"):
        return []
    return decline_offer(dispatcher, tracker, "resume_guide")  # withdrawing it ends the guide


def decline_offer(dispatcher: CollectingDispatcher, tracker: Tracker, name: str) -> list[EventType]:
    return [*withdraw_offer(name), *show_menu(dispatcher, tracker, "utter_offer_declined")]


class ActionShowMenu(Action):
    """A vague opener ("I have a question"): a short menu of the situations."""

    def name(self) -> str:
        return "action_show_menu"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        return show_menu(dispatcher, tracker)


class ActionGreet(Action):
    """A greeting: what the bot helps with, and the situations as buttons, since a
    greeting often opens a question that has not come yet ("お世話になっております…")."""

    def name(self) -> str:
        return "action_greet"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        return show_menu(dispatcher, tracker, "utter_greet")


class ActionClose(Action):
    """A goodbye ends the guide in progress and any offer: nothing is pending any more."""

    def name(self) -> str:
        return "action_close"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        return [*position_events(None), SlotSet("offer", None)]


class ActionThanked(Action):
    """Thanks in reply to an offer ("不需要了，谢谢", "ありがとう、大丈夫です") declines it: an
    offer to continue the guide ends the guide. Thanks with nothing offered change nothing,
    unless a later clause asks something ("先日はありがとうございました。また一つ伺いたい
    ことがあります"): that is answered after the "you are welcome"."""

    def name(self) -> str:
        return "action_thanked"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        return thanked(dispatcher, tracker, domain)


def thanked(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
    """After the "you are welcome": the offer declined, then the question after the thanks."""
    pending = pending_offer(tracker)
    events = withdraw_offer(pending) if pending else []
    asked = question_after_thanks(tracker.latest_message.get("text") or "", domain)
    if asked == MENU_INTENT:
        return [*events, *show_menu(dispatcher, tracker)]
    if asked and (started := start_topic(dispatcher, tracker, domain, asked)) is not None:
        return [*events, *started]
    return events


def question_after_thanks(text: str, domain: DomainDict) -> str | None:
    """The vague opener or topic that a clause after the thanks reads as, surely enough."""
    asks = {MENU_INTENT, *diagnosis_of_intents(domain)}
    return next((intent for intent, probability in clause_intents(text)[1:]
                 if intent in asks and probability >= SECOND_OPINION_CONFIDENCE), None)


class ActionOfferResume(Action):
    """After a digression answered in the middle of a guide: offer to continue it at the
    same step. Nothing when this turn started a guide; after a final answer (no guide in
    progress, no offer made), the feedback question (actions/feedback.py)."""

    def name(self) -> str:
        return "action_offer_resume"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        second = answer_second_topic(dispatcher, tracker, domain)
        position = position_of(tracker)
        offered = any(event.get("name") == "offer" for event in second)
        if offered or set_this_turn(tracker, "guide"):
            return second
        # The question to go back to: one this answer's question replaced while unanswered
        # ("途中ですが、何件使えるんでしたっけ" while Signature or CSP was asked), or the
        # bot's own question left waiting for a plain answer ("先打断一下，TPD 是什么？").
        # As in a guide, the partner decides whether to go back; a waiting one waits no more.
        back = None if position or second else (interrupted_question(tracker, domain)
                                                 or waiting_question(tracker, domain))
        if back:
            waiting = bool(tracker.active_loop.get("name"))
            waits = [ActiveLoop(None), SlotSet("requested_slot", None)] if waiting else []
            return [*offer_second_topic(dispatcher, tracker, back, "topic",
                                        response="utter_offer_back_to_question"), *waits]
        if position is None:
            from actions.feedback import ask_feedback

            # A final answer (no guide started by a second topic either): was it helpful?
            final = not any(event.get("name") == "guide" for event in second)
            return [*second, *(ask_feedback(tracker, tracker.get_slot("diagnosis")) if final else [])]
        guide = load_content().guides[position.guide]
        dispatcher.utter_message(response="utter_offer_resume_guide",
                                 guide_title=guide.title[language_of(tracker)],
                                 step=position.step + 1)
        return [*second, offer("resume_guide")]


def waiting_question(tracker: Tracker, domain: DomainDict) -> str | None:
    """The topic intent of the bot's question (an active form, not the feedback question)
    that this message left unanswered for a plain answer of another topic."""
    form = tracker.active_loop.get("name")
    if not form or form == FEEDBACK_FORM:
        return None
    return topic_of_form(domain, form)


def interrupted_question(tracker: Tracker, domain: DomainDict) -> str | None:
    """The topic intent of the question (form) that the question answered this turn
    replaced while it was unanswered, if it is still unanswered (offered once)."""
    answered_now = any(event.get("event") == "active_loop" and event.get("name") is None
                       for event in turn_events(tracker))
    loops = [event.get("name") for event in tracker.events if event.get("event") == "active_loop"]
    # ..., A, B, None: B started while A was asking and has just been answered.
    if (not answered_now or len(loops) < 3 or loops[-1] is not None or None in loops[-3:-1]
            or FEEDBACK_FORM in loops[-3:-1]):
        return None
    form = loops[-3]
    required = domain.get("forms", {}).get(form, {}).get("required_slots") or []
    if form == loops[-2] or not any(tracker.get_slot(slot) is None for slot in required):
        return None
    return topic_of_form(domain, form)


def topic_of_form(domain: DomainDict, form: str) -> str | None:
    """The topic intent whose rule starts the form (offered as "topic:<intent>")."""
    diagnosis = diagnosis_of_form(domain, form)
    return next((intent for intent, topic in diagnosis_of_intents(domain).items()
                 if topic == diagnosis and form_of_intents().get(intent) == form), None)


def answer_role(dispatcher: CollectingDispatcher, tracker: Tracker, role: str) -> list[EventType] | None:
    """The partner's role, said while activation is the topic: no admin role is the cause
    (ask an admin); an admin role rules that cause out (the next likely one)."""
    position = position_of(tracker)
    content = load_content()
    guide = content.guides[position.guide] if position else None
    causes = guide.steps[position.step].if_failed if guide and position else ()
    # Activating takes a Global admin or MPN partner admin: the Admin agent role (what CSP
    # requests take) is not one, where the step checks the role.
    if role == "none" or (role not in ADMIN_ROLES and ROLE_CAUSE in causes):
        dispatcher.utter_message(response="utter_role_missing")
        events: list[EventType] = [SlotSet("diagnosis", "activation_role_required")]
        if guide and position and ROLE_CAUSE in causes:
            cause = causes.index(ROLE_CAUSE)
            presenter = GuidePresenter(content, language_of(tracker))
            events += presenter.show(dispatcher, Position(position.guide, position.step, cause),
                                     explained=True)
        return events
    if role in ADMIN_ROLES and guide and position and ROLE_CAUSE in causes:
        checked = Position(position.guide, position.step, causes.index(ROLE_CAUSE))
        return apply_move(dispatcher, tracker, step_failed(guide, checked))
    return None


class ActionHandleAnswer(Action):
    """A bare answer (inform / yes / no / don't know) outside a form: it answers the offer
    the bot just made, else continues what it belongs to (the guide in progress, or the
    question the answer fits), else the partner gets the menu."""

    def name(self) -> str:
        return "action_handle_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        return handle_answer(dispatcher, tracker, domain, latest_intent(tracker))


def late_answer_form(tracker: Tracker, domain: DomainDict) -> str | None:
    """The form of a question answered "don't know" before, whose value the message now
    gives in the question's own words ("…使用できないサポートプランの中にしか出てきません
    でした", "見てみたら、契約の期限がもう切れていました" in the steps to find out)."""
    # Before this turn: the message's entity has already filled the slot.
    unknown = {slot for slot in form_slots(domain) if slot_before_this_turn(tracker, slot) == UNKNOWN}
    message = tracker.latest_message
    late = load_content().late_answers(message.get("text") or "", message.get("entities") or [], unknown)
    return next((form for slot in late if (form := form_of_entity(domain, slot))), None)


def handle_answer(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                  intent: str | None) -> list[EventType]:
    if wants_person(tracker):
        return handoff(dispatcher, tracker)
    previous = slot_before_this_turn(tracker, "diagnosis")
    pending = pending_offer(tracker)
    if intent != "inform" and corrects_an_answer(tracker, domain):
        # "更正一下：…", "ごめんなさい、ゴールドありました" read as another topic or as a step
        # report (components/reply_policy.py): an answer to the question it corrects.
        tracker.slots["diagnosis"] = previous
        return [SlotSet("diagnosis", previous), *handle_answer(dispatcher, tracker, domain, "inform")]
    if intent in diagnosis_of_intents(domain) and tracker.get_slot("diagnosis") != previous:
        # A late answer or a reply to the offer (components/reply_policy.py) in words of
        # another situation: an answer, and its mapping's `diagnosis` is undone.
        reply = offer_reply(tracker) if pending else None
        tracker.slots["diagnosis"] = previous  # what follows reads the question's situation
        return [SlotSet("diagnosis", previous),
                *handle_answer(dispatcher, tracker, domain, reply or "inform")]
    if late := late_answer_form(tracker, domain):
        # Read as nothing in particular, as another topic or as a report on the steps that
        # were to find it out: the question's own words answer it now.
        # The steps to find it out, offered or in progress, are done with.
        situation = diagnosis_of_form(domain, late)
        return [SlotSet("offer", None), *position_events(None), SlotSet("diagnosis", situation),
                FollowupAction(late)]
    if pending and intent in (*GUIDE_REPLIES, "goodbye", "inform", "nlu_fallback",
                              MENU_INTENT) \
            and (reply := offer_reply(tracker)):
        # "好，那接着说剩余事件的" to the offer of those steps (components/reply_policy.py):
        # a reply to the offer, not a report on the guide's step; "いえ、続きはまた今度に
        # します" declines it rather than saying goodbye, "いいえ、CSPの手順はまた後日" rather
        # than naming the route.
        return handle_answer(dispatcher, tracker, domain, reply)
    if pending == "resume_guide" and intent == "guide_next" and (position := position_of(tracker)):
        # "続きをお願いします" to the offer to resume, read unsurely as "next" (action_clarify):
        # the guide resumes as the typed "next" does, not one step on.
        return ActionGuideNext().act(dispatcher, tracker, load_content().guides[position.guide], position)
    if pending and intent in ("affirm", "dont_know"):
        return accept_offer(dispatcher, tracker, domain, pending)
    if pending and pending.startswith("topic:") and intent == "inform":
        # "ゴールドです" to the offer to go back to the membership question: back, with it
        # (the form takes the message's answer when it starts).
        return accept_offer(dispatcher, tracker, domain, pending)
    if pending and intent == "deny":
        return decline_offer(dispatcher, tracker, pending)
    role = latest_entity(tracker, "partner_role")
    if role:
        events = answer_role(dispatcher, tracker, role)
        if events is not None:
            return events
    active_form = tracker.active_loop.get("name")
    if active_form and intent != "inform":  # not an answer to the pending question: ask again
        return [FollowupAction(active_form)]
    if intent in ("deny", "guide_failed") and (ended := end_guide_if_called_off(dispatcher, tracker)):
        return ended
    position = position_of(tracker)
    report = step_report(tracker.latest_message.get("entities") or [])
    if position and (report or intent in REPLY_INTENTS):
        # The words of a report decide ("はい、でもまだ表示されません" did not work);
        # "分からない" to "did that work?" is treated as not working: the likely causes
        # are what helps the partner find out.
        guide = load_content().guides[position.guide]
        done = report == DONE if report else intent in ("affirm", "guide_next")
        return apply_move(dispatcher, tracker,
                          step_done(guide, position) if done else step_failed(guide, position))
    form = form_for_answer(tracker, domain) if intent == "inform" else None
    if form:
        situation, current = diagnosis_of_form(domain, form), tracker.get_slot("diagnosis")
        if current != situation and form_of_diagnosis(domain, current) in (None, form):
            # "うちはゴールドです" out of the blue (or after a product question) starts the
            # question's situation; a corrected answer ("不是 Action Pack，是银牌") goes back
            # to it from the case it had led to, and the form's answer refines it anew.
            return [SlotSet("diagnosis", situation), FollowupAction(form)]
        return [FollowupAction(form)]
    return show_menu(dispatcher, tracker)


# --- forms: pending questions -------------------------------------------------------------

class PendingQuestionValidation(FormValidationAction, ABC):
    """Base of every form's validation: the reply is read against the pending question
    before it is taken for anything else.

    - A request for a person rejects the form whatever else the message says, so that
      the hand-off rule answers (the hand-off then ends the form).
    - Another situation's intent that does not answer the pending question is a change of
      topic: the form is rejected and that topic's rule answers; the form stays active
      and still takes a later answer.
    - An answer that the classifier took for another situation ("前にオンプレで同じ契約を
      追加した" to the contract question) is an answer: the `diagnosis` that the intent's
      mapping just rewrote goes back to the question's.
    Subclasses add `extract_<slot>` / `validate_<slot>` methods and `required_slots`.
    """

    @abstractmethod
    def name(self) -> str:
        """validate_<form name>."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        starting = self.own_question(tracker, domain) is None
        if starting or not replying_to_user(tracker):
            # Starting (this message opened it; a question of another form it replaced is
            # not ours), or coming back after another action answered this message: only
            # a fresh reply is read against the question.
            events = await super().run(dispatcher, tracker, domain)
            if starting and (kept := diagnosis_kept_by_answer(tracker)):
                # Rasa extracts the slots again when a form starts, and the intent's mapping
                # would undo the situation action_handle_answer kept ("クラウドの場合は
                # どうですか？" after the entitlement answer, read as the cloud request).
                events.append(SlotSet("diagnosis", kept))
            if starting and replying_to_user(tracker) and await self.asks(dispatcher, tracker, domain):
                # A plain second question in the opening message ("…还没有任何权益，另外
                # TPD 是什么？") is answered before this question is asked. A form with
                # nothing to ask answers at once: the second question comes after its answer
                # (action_offer_resume), its guide included.
                events = [*answer_second_topic(dispatcher, tracker, domain, question_pending=True),
                          *events]
            return events
        intent = latest_intent(tracker)
        if wants_person(tracker):
            raise ActionExecutionRejection(self.name(), "the partner asks for a person")
        topics = diagnosis_of_intents(domain)
        previous = slot_before_this_turn(tracker, "diagnosis")
        other_topic = intent in topics and topics[intent] != previous
        # A question of another topic ("先打断一下，TPD 这个权益是做什么的？") is no answer
        # because a word of the options (权益) occurs in it: only an entity answers then.
        # "是不是因为这个？" asks whether the partner's own words are the answer: they are.
        text = tracker.latest_message.get("text") or ""
        asks_other = (other_topic and bool(QUESTION.search(text)) and not ASKS_IF_IT_IS_THE_CAUSE.search(text)
                      and (tracker.latest_message.get("intent") or {}).get("confidence", 0) >= SURE_TOPIC)
        answered = self.answers_requested_slot(tracker, domain, by_cue=not asks_other)
        if other_topic and not answered:
            raise ActionExecutionRejection(self.name(), f"change of topic: {intent}")
        if intent in topics and not answered:
            # The same question asked again ("インシデントは何件？" twice): ask ours again.
            requested = tracker.get_slot("requested_slot")
            return [SlotSet("diagnosis", previous), SlotSet("requested_slot", requested)]
        events = await super().run(dispatcher, tracker, domain)
        if other_topic:
            events.append(SlotSet("diagnosis", previous))
        return events

    async def asks(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                   domain: DomainDict) -> bool:
        """Whether a question is left after validation (rasa_sdk has applied its events)."""
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        return any(tracker.slots.get(slot) is None for slot in required)

    def own_slots(self, domain: DomainDict) -> list[str]:
        return domain.get("forms", {}).get(self.form_name(), {}).get("required_slots") or []

    def own_question(self, tracker: Tracker, domain: DomainDict) -> str | None:
        """The slot this form is asking for; None while it starts (the requested slot
        may still be another form's, e.g. the feedback question this message replaced)."""
        requested = tracker.get_slot("requested_slot")
        return requested if requested in self.own_slots(domain) else None

    # requested slot → another of the form's slots whose value also answers it
    answered_through: dict[str, str] = {}

    def answers_requested_slot(self, tracker: Tracker, domain: DomainDict, by_cue: bool = True) -> bool:
        requested = tracker.get_slot("requested_slot")
        candidates = tracker.slots_to_validate()
        return (candidates.get(requested) is not None
                or candidates.get(self.answered_through.get(requested, "")) is not None
                or (by_cue and cued_value(tracker, requested) is not None)
                or (says_dont_know(tracker) and accepts_dont_know(domain, requested)))

    async def get_extraction_events(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> list[EventType]:
        """The options' own words (actions/content/cues.yml) answer the pending question
        when the message names no entity for it ("契約の期限が先月で切れていました")."""
        events = await super().get_extraction_events(dispatcher, tracker, domain)
        requested = self.own_question(tracker, domain)
        value = cued_value(tracker, requested)
        read_as_dont_know = latest_intent(tracker) == "dont_know" and value is None
        if (read_as_dont_know or says_dont_know(tracker)) and accepts_dont_know(domain, requested):
            # "算不算云能力我不清楚" names a value but does not give it; "不清楚，会员资格
            # 不是我管的" is no "no" (the classifier may read it as one). Without a word of
            # not knowing, the options' own words win over the classifier's "don't know"
            # ("正直に言うと、まだどのプログラムにも加入できていないんです").
            return [*events, SlotSet(requested, "unknown")]
        if requested and value is not None and latest_entity(tracker, requested) is None:
            # The options' own words are more telling than a yes/no reading of the message:
            # "メンバーシップがないわけではない" may be classified as "no".
            events.append(SlotSet(requested, value))
        if requested is None:
            events += self.corrections_in_cues(tracker, domain)
        return events

    def corrections_in_cues(self, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        """A reply that comes back to an answered question in the options' own words
        corrects the answer ("哦不是，是我们之前在本地支持那边加过一次" after "expired") or
        gives it late ("合同跑到“不可用的支持计划”下面去了" after "don't know")."""
        # The answer given before may be among the slots to validate (Rasa hands a form it
        # activates its filled slots): only an entity of this message is a new answer.
        return [SlotSet(slot, value) for slot in self.own_slots(domain)
                if tracker.get_slot(slot) is not None
                and latest_entity(tracker, slot) is None
                and (value := cued_value(tracker, slot)) not in (None, tracker.get_slot(slot))]


def names_on_premises(tracker: Tracker) -> bool:
    """On-premises products are a support kind, never a competency: naming them to the
    competency question changes the support kind asked about ("クラウドじゃなくてオンプレの
    話でした", "クラウドじゃなくて Windows Server の話でした": a product's own name is a
    cue word), while "クラウド系じゃない" only describes the competency."""
    return (names_value(tracker, "support_kind", "on_premises")
            or cued_value(tracker, "support_kind") == "on_premises")


def entitlement_questions(tracker: Tracker) -> list[str]:
    """What the entitlement answer needs, given what is known: the membership; then the
    support kind; for cloud support, the competency kind."""
    membership = tracker.get_slot("membership")
    if membership in ("action_pack", "unknown"):
        return ["membership"]
    support_kind = tracker.get_slot("support_kind")
    if tracker.get_slot("requested_slot") == "competency_kind" and not names_on_premises(tracker):
        # "クラウド系じゃない" to the competency question describes the competency
        # (validate_support_kind): the support kind stays the one asked about.
        support_kind = slot_before_this_turn(tracker, "support_kind") or support_kind
    if support_kind == "cloud":
        return ["membership", "support_kind", "competency_kind"]
    return ["membership", "support_kind"]


class ValidateEntitlementForm(PendingQuestionValidation):
    def name(self) -> str:
        return "validate_entitlement_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        return entitlement_questions(tracker)

    # "クラウド系ではない" answers the competency question through the support kind.
    answered_through = {"competency_kind": "support_kind"}

    async def extract_support_kind(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: DomainDict) -> dict[str, Any]:
        """A competency ("Cloud Platform です") is only asked about for cloud support, and
        the Signature and CSP routes are cloud support ("署名クラウドは何件？")."""
        if tracker.get_slot("support_kind") is None and (
                tracker.get_slot("competency_kind")
                or latest_entity(tracker, "cloud_route") in ("signature", "csp")):
            return {"support_kind": "cloud"}
        return {}

    def validate_support_kind(self, value: Any, dispatcher: CollectingDispatcher,
                              tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        """While the competency kind is asked, "cloud" / "not cloud" describe the
        competency, not a change of support kind."""
        if tracker.get_slot("requested_slot") != "competency_kind" or names_on_premises(tracker):
            return {"support_kind": value}
        # "资格这块我不太确定算不算云的" names cloud but does not say it is.
        kind = None if says_dont_know(tracker) else {"cloud": "cloud", "on_premises": "other"}.get(value)
        return {"support_kind": slot_before_this_turn(tracker, "support_kind"),
                "competency_kind": kind or tracker.get_slot("competency_kind")}


class ValidateMembershipCheckForm(PendingQuestionValidation):
    def name(self) -> str:
        return "validate_membership_check_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        return [] if tracker.get_slot("membership") else ["has_membership"]

    answered_through = {"has_membership": "membership"}  # "ゴールドです" means yes


class ValidateCloudRouteForm(PendingQuestionValidation):
    def name(self) -> str:
        return "validate_cloud_route_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        route = cloud_route(tracker)
        # An answer found in this message (a cue word: "リセラーです") makes the route known
        # before it is validated; it stays required, or rasa_sdk would drop it unvalidated.
        answered_now = tracker.slots_to_validate().get("cloud_route") is not None
        if route is None or answered_now or (route == "unknown" and not self.explained(tracker)):
            return ["cloud_route"]
        return []

    def explained(self, tracker: Tracker) -> bool:
        return uttered_since_form_start(tracker, self.form_name(), "utter_explain_cloud_route_choice")

    answered_through = {"cloud_route": "membership"}  # Gold/Silver → Signature

    def validate_cloud_route(self, value: Any, dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        """The first "don't know" gets how to tell the two routes apart and the question
        again; a second one gets both routes. A first answer that names both routes
        ("Signature って何ですか、CSP とどう違う？") asks how to tell them apart."""
        routes = set(tracker.get_latest_entity_values("cloud_route"))
        if {"signature", "csp"} <= routes and slot_before_this_turn(tracker, "cloud_route") is None:
            value = "unknown"
        if value == "unknown" and not self.explained(tracker):
            dispatcher.utter_message(response="utter_explain_cloud_route_choice")
            return {"cloud_route": None}
        return {"cloud_route": value}


class ValidateAccessIdForm(PendingQuestionValidation):
    def name(self) -> str:
        return "validate_access_id_form"

    def validate_contract_state(self, value: Any, dispatcher: CollectingDispatcher,
                                tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return {"contract_state": stated_contract_state(tracker) or value}


# Where Rasa records, in a bot event's metadata, which response it uttered.
UTTERED_RESPONSE_KEY = "utter" + "_action"


def diagnosis_kept_by_answer(tracker: Tracker) -> str | None:
    """The situation action_handle_answer set when it started this form as an answer."""
    actions = [i for i, e in enumerate(tracker.events) if e.get("event") == "action"]
    if len(actions) < 2 or tracker.events[actions[-2]].get("name") != "action_handle_answer":
        return None
    return next((e.get("value") for e in tracker.events[actions[-2] + 1:actions[-1]]
                 if e.get("event") == "slot" and e.get("name") == "diagnosis"), None)


def replying_to_user(tracker: Tracker) -> bool:
    """Whether the form runs right after the partner's message (the action before the
    form's own, which Rasa appends for its validation, is action_listen)."""
    actions = [e.get("name") for e in tracker.events if e.get("event") == "action"]
    return len(actions) >= 2 and actions[-2] == "action_listen"


def accepts_dont_know(domain: DomainDict, slot: str | None) -> bool:
    mappings = domain["slots"].get(slot or "", {}).get("mappings", [])
    return any(m.get("type") == "from_intent" and m.get("intent") == "dont_know" for m in mappings)


def says_dont_know(tracker: Tracker) -> bool:
    """"I don't know" in the partner's words (actions/content/cues.yml `dont_know`)."""
    return cued_value(tracker, "dont_know") is not None


def opening_cue(tracker: Tracker, question: str) -> str | None:
    """The value whose cue word opens the message ("好的，…", "いえ、…")."""
    return load_content().opening_cue(tracker.latest_message.get("text") or "", question)


def offer_reply(tracker: Tracker) -> str | None:
    """affirm or deny for a message that replies to an offer without being classified as
    yes or no: a cue word opens it ("はい、確認の手順を…"), or the classifier ranks yes or
    no close behind its top intent (components/reply_policy.py sends such messages here)."""
    opening = opening_cue(tracker, "offer")
    if opening:
        return "affirm" if opening == "yes" else "deny"
    ranked = {item.get("name"): item.get("confidence", 0)
              for item in (tracker.latest_message.get("intent_ranking") or [])[:3]}
    if max(ranked.get("affirm", 0), ranked.get("deny", 0)) < OFFER_REPLY_CONFIDENCE:
        return None
    return "affirm" if ranked.get("affirm", 0) >= ranked.get("deny", 0) else "deny"


def cued_value(tracker: Tracker, slot: str | None) -> str | None:
    """The value a cue word of the pending question gives (Content.cued_value)."""
    return load_content().cued_value(tracker.latest_message.get("text") or "", slot)


def uttered_since_form_start(tracker: Tracker, form: str, response: str) -> bool:
    events = tracker.events
    starts = [i for i, e in enumerate(events) if e.get("event") == "active_loop"
              and e.get("name") == form]
    since = events[starts[-1]:] if starts else events
    return any(e.get("event") == "bot" and (e.get("metadata") or {}).get(UTTERED_RESPONSE_KEY) == response
               for e in since)


# --- clarification and session start ---------------------------------------------------

def recent_intents(tracker: Tracker, count: int) -> list[str | None]:
    user_events = [event for event in tracker.events if event.get("event") == "user"]
    return [event.get("parse_data", {}).get("intent", {}).get("name")
            for event in user_events[-count:]]


# Where Rasa's classifier is unsure, the clause classifier's reading of the whole message
# is followed when it is this sure (it reads kana-only and misspelt messages differently).
SECOND_OPINION_CONFIDENCE = 0.6


def follow_second_opinion(dispatcher: CollectingDispatcher, tracker: Tracker,
                          domain: DomainDict) -> list[EventType] | None:
    """What the second opinion's intent leads to, or None to clarify as usual."""
    text = tracker.latest_message.get("text") or ""
    intent, probability = likeliest_intent(text)
    first_clause = next(iter(clause_intents(text)), None)
    if probability < SECOND_OPINION_CONFIDENCE and first_clause:
        # Two questions confuse the whole-message reading; the first clause may be clear.
        intent, probability = first_clause
    if probability < SECOND_OPINION_CONFIDENCE:
        return None
    if intent == "request_human":
        return handoff(dispatcher, tracker)
    if intent in REPLY_INTENTS and (pending_offer(tracker) or position_of(tracker)):
        return handle_answer(dispatcher, tracker, domain, intent)
    if intent == MENU_INTENT:
        return show_menu(dispatcher, tracker)
    if intent == "thank":
        dispatcher.utter_message(response="utter_you_are_welcome")
        return thanked(dispatcher, tracker, domain)
    return start_topic(dispatcher, tracker, domain, intent)


def start_topic(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                intent: str) -> list[EventType] | None:
    """What the topic intent's rule does, from an action; None for no topic intent."""
    if intent in topic_actions() and intent in diagnosis_of_intents(domain):
        events = run_topic(dispatcher, tracker, domain, intent)
        return [*events, *answer_second_topic(
            dispatcher, tracker, domain, answered=intent,
            guide_started=any(event.get("name") == "guide" for event in events))]
    if intent in form_of_intents() and intent in diagnosis_of_intents(domain):
        # A topic that asks its own question: what its rule runs before the form, then it.
        actions = [step.get("action") for step in topic_rules()[intent]]
        before = (clear_stale_answers(dispatcher, tracker, domain, answered=intent)
                  if "action_clear_stale_answers" in actions else [])
        return [SlotSet("diagnosis", diagnosis_of_intents(domain)[intent]), *before,
                FollowupAction(form_of_intents()[intent])]
    return None


# An unsure message whose ranking still names the topic just answered follows up on it.
FOLLOW_UP_CONFIDENCE = 0.2


def plain_answer_of_last_turn(tracker: Tracker, domain: DomainDict) -> str | None:
    """The intent of the topic answered last turn, when its answer is a plain one (a guide
    would start again from its first step)."""
    previous = slot_before_this_turn(tracker, "diagnosis")
    intent = next((name for name, diagnosis in diagnosis_of_intents(domain).items()
                   if diagnosis == previous), None)
    if intent in topic_actions() and "action_start_guide" not in topic_actions()[intent]:
        return intent
    return None


def answer_compared(tracker: Tracker, domain: DomainDict) -> str | None:
    """The intent of the plain answer given last turn, when the message compares it with
    something else ("这个和支持事件有什么区别？" after the TPD answer)."""
    if compares_with_the_answer(tracker.latest_message.get("text") or ""):
        return plain_answer_of_last_turn(tracker, domain)
    return None


def same_topic_follow_up(tracker: Tracker, domain: DomainDict) -> str | None:
    """The plain answer's topic of last turn, when the unsure message ranks it this high,
    or the clause classifier reads it first ("毎回入れないといけないんですか" after the IDs)."""
    intent = plain_answer_of_last_turn(tracker, domain)
    if intent is None:
        return None
    ranked = {item.get("name"): item.get("confidence", 0)
              for item in (tracker.latest_message.get("intent_ranking") or [])[:3]}
    second, probability = likeliest_intent(tracker.latest_message.get("text") or "")
    if second == intent:
        ranked[intent] = max(ranked.get(intent, 0), probability)
    return intent if ranked.get(intent, 0) >= FOLLOW_UP_CONFIDENCE else None


class ActionClarify(Action):
    """Low NLU or dialogue confidence: offer the likeliest situations as buttons, or the
    menu when none is plausible; on the second failure in a row, offer a person."""

    def name(self) -> str:
        return "action_clarify"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        pending = pending_offer(tracker)
        reply = offer_reply(tracker) if pending else None
        if pending and reply:  # both, for the type checker
            # An unsure "はい、確認の手順を…" / "好的，请告诉我怎么查" right after an offer.
            return (accept_offer(dispatcher, tracker, domain, pending) if reply == "affirm"
                    else decline_offer(dispatcher, tracker, pending))
        if ended := end_guide_if_called_off(dispatcher, tracker):  # an unsure "いや、やっぱりいいです"
            return ended
        if wants_person(tracker):
            return handoff(dispatcher, tracker)
        followed = follow_second_opinion(dispatcher, tracker, domain)
        if followed is not None:
            return followed
        likeliest = next((item["name"] for item in tracker.latest_message.get("intent_ranking") or []
                          if item.get("name") != "nlu_fallback"), None)
        if position_of(tracker) and likeliest in (*GUIDE_REPLIES, *OFFER_REPLIES):
            # "技術関連の特典のページ、出ました" in the middle of a guide: a reply to the step.
            return handle_answer(dispatcher, tracker, domain, likeliest)
        facts = fact_entities(tracker)
        if facts and not all(map(in_condition(tracker), facts)):
            # An unsure "ちがう、ごーるどだった" still names the fact it answers.
            return handle_answer(dispatcher, tracker, domain, "inform")
        if facts and likeliest and (started := start_topic(dispatcher, tracker, domain, likeliest)):
            # "如果这些都用完了，还有什么付费的办法？": the facts are a hypothesis, and the
            # question asked under it is the likeliest reading.
            return started
        same = same_topic_follow_up(tracker, domain)
        if same:
            # "毎回入れないといけないんですか" right after the IDs answer: a follow-up on the
            # topic just answered, whose answer holds the facts around it.
            return run_topic(dispatcher, tracker, domain, same)
        if (request := request_of_known_kind(tracker)) and (started := start_topic(
                dispatcher, tracker, domain, request)) is not None:
            # "じゃあそのリクエストはどう出せば？" after an Azure VM problem: the support kind
            # said before tells which request is meant.
            return started
        if recent_intents(tracker, 3).count("nlu_fallback") >= 2:
            dispatcher.utter_message(response="utter_clarify_handoff")
            return [offer("handoff")]
        content = load_content()
        language = language_of(tracker)
        labelled = content.labels["intents"]
        ranking = tracker.latest_message.get("intent_ranking") or []
        if likeliest == OUT_OF_SCOPE:
            # Most likely outside the domain (a product problem, small talk): say what the
            # bot covers and how product problems are handled, rather than guess a topic.
            dispatcher.utter_message(response="utter_out_of_scope")
            return [SlotSet("diagnosis", OUT_OF_SCOPE)]
        candidates = [item["name"] for item in ranking
                      if item.get("name") in labelled and item["name"] != OUT_OF_SCOPE]
        if not candidates or likeliest in OPENERS:  # "help", "您好，我这边遇到点状况": every situation
            return show_menu(dispatcher, tracker)
        buttons = [{"title": content.label(language, "intents", name), "payload": payload(name)}
                   for name in candidates[:CLARIFY_BUTTONS]]
        buttons.append({"title": content.label(language, "ui", "none_of_these"),
                        "payload": payload("deny")})
        dispatcher.utter_message(response="utter_clarify", buttons=buttons)
        return []


def fact_entities(tracker: Tracker) -> list[dict[str, Any]]:
    return [entity for entity in tracker.latest_message.get("entities") or []
            if entity.get("entity") in FACT_ENTITIES and entity.get("value")]


def in_condition(tracker: Tracker) -> Callable[[dict[str, Any]], bool]:
    """Whether an entity lies in a condition that a later clause asks under."""
    spans = condition_spans(tracker.latest_message.get("text") or "")
    return lambda entity: any(start <= entity.get("start", -1) < end for start, end in spans)


def request_of_known_kind(tracker: Tracker) -> str | None:
    """The request intent of the support kind the conversation named, when the unsure
    message's likeliest topics are the request intents and it names no kind itself."""
    kind = tracker.get_slot("support_kind")
    ranking = [item.get("name") for item in tracker.latest_message.get("intent_ranking") or []
               if item.get("name") not in ("nlu_fallback", OUT_OF_SCOPE)][:2]
    if kind not in REQUEST_INTENTS or latest_entity(tracker, "support_kind") or not (
            set(ranking) & set(REQUEST_INTENTS.values())):
        return None
    return REQUEST_INTENTS[kind]


def channel_language_hint(metadata: dict[str, Any] | None) -> str | None:
    """ja/zh from the channel's metadata: {"language": "zh"} or a locale ("zh-TW"), by the
    project's one locale rule (components/language.py, standard library only)."""
    from components.language import language_from_metadata

    return language_from_metadata(metadata)


def carried_over(slots: dict[str, Any]) -> Iterable[EventType]:
    return (SlotSet(name, value) for name, value in slots.items()
            if value is not None and name not in SESSION_LOCAL_SLOTS)


class ActionSessionStart(Action):
    """Rasa's session start, plus the conversation's first language: the channel's hint
    (widget switch, Teams locale, Slack user locale), else Japanese."""

    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        events: list[EventType] = [SessionStarted(), *carried_over(tracker.slots)]
        if not tracker.get_slot("language"):
            hint = channel_language_hint(tracker.get_slot("session_started_metadata"))
            events.append(SlotSet("language", hint or DEFAULT_LANGUAGE))
        events.append(ActionExecuted("action_listen"))
        return events

