"""Custom actions: guides one step at a time, answers that depend on what is known,
hand-off with a summary, "did you mean" clarification, and session start.

Every text comes from domain responses (by key) or actions/content/*.yml; the language
is the tracker's `language` slot, which Rasa fills before any action of the turn runs.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecuted, EventType, FollowupAction, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.content import Content, Guide, Start, entitlement_for, load_content
from actions.guide import Move, Outcome, Position, step_done, step_failed

DEFAULT_LANGUAGE = "ja"
# Facts about the partner that the hand-off summary reports, in this order.
KNOWN_FACT_SLOTS = ("membership", "support_kind", "competency_kind", "contract_state", "cloud_route")
# Intents a "did you mean" button may propose (they all have a label in labels.yml).
CLARIFIABLE_INTENTS = (
    "report_not_authorized", "report_no_benefits", "ask_activate_benefits",
    "report_activation_failed", "ask_access_contract_ids", "ask_entitlement",
    "ask_onprem_request", "ask_remaining_incidents", "ask_cloud_support",
    "report_access_id_associated", "ask_paid_plans", "ask_tpd", "request_human",
)
CLARIFY_BUTTONS = 3
# Slots never carried into a new session.
SESSION_LOCAL_SLOTS = {"requested_slot", "session_started_metadata"}


def language_of(tracker: Tracker) -> str:
    return tracker.get_slot("language") or DEFAULT_LANGUAGE


def payload(intent: str, **entities: Any) -> str:
    return f"/{intent}{json.dumps(entities)}" if entities else f"/{intent}"


def latest_entity(tracker: Tracker, name: str) -> Any:
    return next(tracker.get_latest_entity_values(name), None)


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
        return [SlotSet("guide", None), SlotSet("guide_step", None), SlotSet("guide_cause", None)]
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
    return presenter.show(dispatcher, start_position(start, content),
                          explained=start.cause is not None)


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

    dispatcher.utter_message(
        response="utter_handoff",
        diagnosis_label=content.label(language, "diagnoses", handoff_from) if handoff_from else nothing,
        known=known_text or nothing,
        steps_done=separator.join(steps_done_titles) or nothing,
        step_failed=step_failed_title,
    )
    dispatcher.utter_message(json_message={"handoff": {
        "diagnosis": handoff_from,
        "language": language,
        "known": known,
        "guide": position.guide if position else None,
        "steps_done": steps_done,
        "step_failed": step_failed_id,
    }})
    return [SlotSet("diagnosis", "human_handoff"), SlotSet("handoff_from", handoff_from),
            *position_events(None)]


def apply_move(dispatcher: CollectingDispatcher, tracker: Tracker, move: Move) -> list[EventType]:
    content = load_content()
    if move.outcome is Outcome.FINISHED:
        dispatcher.utter_message(response="utter_guide_finished")
        return position_events(None)
    if move.outcome is Outcome.HANDOFF:
        return handoff(dispatcher, tracker)
    assert move.position is not None
    return GuidePresenter(content, language_of(tracker)).show(dispatcher, move.position)


class ActionStartGuide(Action):
    def name(self) -> str:
        return "action_start_guide"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        return start_guide(dispatcher, tracker, tracker.get_slot("diagnosis") or "")


class GuideAction(Action, ABC):
    """Base of the actions behind the guide buttons: without a guide in progress they
    say so; otherwise `act` gets the guide and the current position."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        position = position_of(tracker)
        if position is None:
            dispatcher.utter_message(response="utter_no_active_guide")
            return []
        return self.act(dispatcher, tracker, load_content().guides[position.guide], position)

    @abstractmethod
    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, guide: Guide,
            position: Position) -> list[EventType]:
        """The events of this button's move from `position`."""


class ActionGuideNext(GuideAction):
    def name(self) -> str:
        return "action_guide_next"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, guide: Guide,
            position: Position) -> list[EventType]:
        move = step_done(guide, position, latest_int_entity(tracker, "step"))
        return apply_move(dispatcher, tracker, move)


class ActionGuideFailed(GuideAction):
    def name(self) -> str:
        return "action_guide_failed"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, guide: Guide,
            position: Position) -> list[EventType]:
        move = step_failed(guide, position, latest_int_entity(tracker, "step"),
                           latest_int_entity(tracker, "cause"))
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

class ActionAnswerEntitlement(Action):
    """Answers from the entitlement table (actions/content/entitlement.yml)."""

    def name(self) -> str:
        return "action_answer_entitlement"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        content = load_content()
        language = language_of(tracker)
        membership = tracker.get_slot("membership")
        support_kind = tracker.get_slot("support_kind")
        competency_kind = tracker.get_slot("competency_kind")
        if membership not in content.entitlement["on_premises"]:
            dispatcher.utter_message(response="utter_ask_membership")
            return []
        if membership == "action_pack":
            if support_kind == "cloud":
                dispatcher.utter_message(response="utter_action_pack_no_cloud")
                return [SlotSet("diagnosis", "action_pack_no_cloud")]
            dispatcher.utter_message(response="utter_entitlement_action_pack")
            return [SlotSet("diagnosis", "entitlement")]
        label = content.label(language, "values", "membership", membership)
        if support_kind == "on_premises":
            count = entitlement_for(content.entitlement, membership, "on_premises", None)
            dispatcher.utter_message(response="utter_entitlement_onprem",
                                     membership_label=label, count=count)
            return [SlotSet("diagnosis", "entitlement")]
        kinds = [competency_kind] if competency_kind in ("cloud", "other") else ["cloud", "other"]
        for kind in kinds:
            count = entitlement_for(content.entitlement, membership, "cloud", kind)
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
            return [SlotSet("diagnosis", "no_benefits_yet")]
        dispatcher.utter_message(response="utter_no_benefits_wrong_account" if has_membership == "yes"
                                 else "utter_no_benefits_unsure")
        return [SlotSet("diagnosis", "no_benefits_yet"),
                *start_guide(dispatcher, tracker, "no_benefits_yet")]


def cloud_route(tracker: Tracker) -> str | None:
    """signature, csp, unknown, action_pack, or None when it must be asked."""
    route = tracker.get_slot("cloud_route")
    if route:
        return route
    membership = tracker.get_slot("membership")
    if membership == "action_pack":
        return "action_pack"
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
            return [SlotSet("diagnosis", "action_pack_no_cloud")]
        if route in ("signature", "csp"):
            dispatcher.utter_message(response=f"utter_explain_cloud_{route}")
            return [SlotSet("diagnosis", "cloud_support_request"),
                    *start_guide(dispatcher, tracker, f"cloud_support_request/{route}")]
        dispatcher.utter_message(response="utter_explain_cloud_signature")
        dispatcher.utter_message(response="utter_explain_cloud_csp")
        return [SlotSet("diagnosis", "cloud_support_request")]


class ActionAnswerAccessId(Action):
    def name(self) -> str:
        return "action_answer_access_id"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        state = stated_contract_state(tracker) or tracker.get_slot("contract_state")
        if state in ("linked", "expired"):
            dispatcher.utter_message(response=f"utter_access_id_{state}")
            return [SlotSet("diagnosis", f"access_id_already_associated_{state}")]
        dispatcher.utter_message(response="utter_access_id_unknown")
        return [SlotSet("diagnosis", "access_id_already_associated")]


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
        return [SlotSet("has_membership", None),
                SlotSet("contract_state", stated_contract_state(tracker))]


# Which question a bare answer ("ゴールドです") continues: an entity that belongs to one
# question decides; else the current situation's question does; else entitlement facts
# ("and for Silver?") reopen the entitlement question.
FORM_FOR_ENTITY = {
    "contract_state": "access_id_form",
    "cloud_route": "cloud_route_form",
    "competency_kind": "entitlement_form",
}
FORM_FOR_DIAGNOSIS = {
    "entitlement": "entitlement_form",
    "action_pack_no_cloud": "entitlement_form",
    "cloud_support_request": "cloud_route_form",
    "no_benefits_yet": "membership_check_form",
    "access_id_already_associated": "access_id_form",
    "access_id_already_associated_linked": "access_id_form",
    "access_id_already_associated_expired": "access_id_form",
}


def form_for_answer(tracker: Tracker) -> str | None:
    for entity, form in FORM_FOR_ENTITY.items():
        if latest_entity(tracker, entity):
            return form
    form = FORM_FOR_DIAGNOSIS.get(tracker.get_slot("diagnosis") or "")
    if latest_entity(tracker, "membership") and form in (None, "access_id_form"):
        return "entitlement_form"
    if form is None and latest_entity(tracker, "support_kind"):
        return "entitlement_form"
    return form


class ActionHandleAnswer(Action):
    """A bare answer (inform / yes / no / don't know) outside a question: continue what
    it belongs to — the guide in progress, or the question the answer fits."""

    def name(self) -> str:
        return "action_handle_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        intent = tracker.latest_message.get("intent", {}).get("name")
        position = position_of(tracker)
        if position and intent in ("affirm", "deny"):
            guide = load_content().guides[position.guide]
            move = step_done(guide, position) if intent == "affirm" else step_failed(guide, position)
            return apply_move(dispatcher, tracker, move)
        form = form_for_answer(tracker) if intent == "inform" else None
        if form:
            return [FollowupAction(form)]
        dispatcher.utter_message(response="utter_default")
        return []


# --- forms: ask only what is not known yet ---------------------------------------------

class ValidateEntitlementForm(FormValidationAction):
    def name(self) -> str:
        return "validate_entitlement_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        membership = tracker.get_slot("membership")
        if membership == "action_pack":
            return ["membership"]
        if tracker.get_slot("support_kind") == "cloud":
            return ["membership", "support_kind", "competency_kind"]
        return ["membership", "support_kind"]


class ValidateMembershipCheckForm(FormValidationAction):
    def name(self) -> str:
        return "validate_membership_check_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        return [] if tracker.get_slot("membership") else ["has_membership"]


class ValidateCloudRouteForm(FormValidationAction):
    def name(self) -> str:
        return "validate_cloud_route_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        return [] if cloud_route(tracker) else ["cloud_route"]


# --- clarification and session start ---------------------------------------------------

def recent_intents(tracker: Tracker, count: int) -> list[str | None]:
    user_events = [event for event in tracker.events if event.get("event") == "user"]
    return [event.get("parse_data", {}).get("intent", {}).get("name")
            for event in user_events[-count:]]


class ActionClarify(Action):
    """Low NLU confidence: offer the likeliest situations as buttons; on the second
    failure in a row, offer a person instead."""

    def name(self) -> str:
        return "action_clarify"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        if recent_intents(tracker, 3).count("nlu_fallback") >= 2:
            dispatcher.utter_message(response="utter_clarify_handoff")
            return []
        content = load_content()
        language = language_of(tracker)
        ranking = tracker.latest_message.get("intent_ranking") or []
        candidates = [item["name"] for item in ranking if item.get("name") in CLARIFIABLE_INTENTS]
        if not candidates:  # nothing plausible to propose: just ask to rephrase
            dispatcher.utter_message(response="utter_default")
            return []
        buttons = [{"title": content.label(language, "intents", name), "payload": payload(name)}
                   for name in candidates[:CLARIFY_BUTTONS]]
        buttons.append({"title": content.label(language, "ui", "none_of_these"),
                        "payload": payload("deny")})
        dispatcher.utter_message(response="utter_clarify", buttons=buttons)
        return []


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
