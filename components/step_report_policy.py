"""Reads a report on the current guide step as the answer to "did that work?".

In the middle of a guide, partners answer the step in their own words, and those words
often name another situation: "还是看不到访问 ID 和合同 ID" is not the access-ID question
but "still not there", "MPNのアカウントで入ってます。それでもダメです" not a new topic but
"that didn't help". The intent classifier reads each message alone, so a rule would
start the other topic. The entity `step_report` (components/step_reports.py) marks
such a report; while a guide is in progress and no form asks its own question, this
policy outranks the rules and continues the guide: `failed` → the step's next likely
cause, `done` → the next step.

Bare answers (yes / no / don't know / a value) go to `action_handle_answer`, which reads
the same entity; a request for a person and the guide's own intents keep their rules.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from actions.clauses import QUESTION
from actions.content import load_content
from actions.guide import Position, names_current_step
from components.one_action_policy import OneActionPolicy, topics
from components.reply_intents import REPLY_INTENTS, SURE_TOPIC
from components.reply_policy import is_late_answer
from components.step_reports import DONE, FAILED, insists, step_report

ACTION_OF_REPORT = {FAILED: "action_guide_failed", DONE: "action_guide_next"}
# Intents whose own rules already read the message as a reply or must win.
KEPT_INTENTS = ("request_human", "guide_show_all", "inform", *REPLY_INTENTS)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False
)
class StepReportPolicy(OneActionPolicy):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # Above RulePolicy (6) and ReplyPolicy (7), below MessageLengthPolicy (9).
        return {"priority": 8}

    def next_action(self, tracker: DialogueStateTracker, domain: Domain) -> str | None:
        message = tracker.latest_message
        if message is None or tracker.active_loop_name:
            return None
        report = step_report(message.entities)
        intent = message.intent.get("name")
        # "アクティブ化押したけど何も出ない" reads as "done" to the classifier; its words say
        # the step failed, and a failure wins (components/step_reports.py).
        failed_done = intent == "guide_next" and report == FAILED
        # "はい、やったら今度はエラー出なくなりました" reads as "failed" (エラー) to it; a yes
        # that opens words of a step done, with none of failure, says it worked.
        done_failed = (intent == "guide_failed" and report == DONE
                       and load_content().opening_cue(message.text or "", "offer") == "yes")
        # "图标点开看了，当前是我个人的微软账号" (个人 is no person) read as a request for one:
        # without words of being put through, the report on the step is what it says.
        person_misread = (intent == "request_human"
                          and not load_content().says(message.text or "", "person_request"))
        if report is None or (intent in KEPT_INTENTS and not (failed_done or done_failed or person_misread)):
            return None
        if asks_another_topic(tracker, domain, report):
            return None  # "TPDというのも…ありましたが、あれは何でしょう": its rule answers
        if is_late_answer(tracker, domain):
            return None  # "查了一下，合同已经过期了" in the steps to find out: ReplyPolicy's
        topic = topics(domain).get(str(intent))
        # Once a likely cause was ruled out, a failure answers the next one being checked
        # ("アクティブ化したのは先週なんですけど、まだIDが出ません" to "processing can take
        # days"); at the first cause the problem told again is explained again (maybe in
        # the language just asked for).
        checking_cause = (tracker.get_slot("guide_cause") or 0) >= 1
        retold = (report == FAILED and not insists(message.entities) and not checking_cause
                  and not names_current_step_of(tracker, message.text or ""))
        if topic and topic == tracker.get_slot("guide_diagnosis") and retold:
            # The guide's own problem told again ("アクティブ化ボタンが押せません" in the
            # activation guide, maybe in another language): its rule explains it again;
            # "还是点不了" (still) is a report on the step, and so is a step done in the
            # problem's own words ("右上的帐户图标打开了，登录的是只关联CSP的账号").
            return None
        if tracker.latest_action_name == ACTION_OF_REPORT[report]:
            return ACTION_LISTEN_NAME  # the report was answered; no rule follows it
        in_guide = tracker.get_slot("guide") and tracker.get_slot("guide_step") is not None
        if tracker.latest_action_name == ACTION_LISTEN_NAME and in_guide:
            return ACTION_OF_REPORT[report]
        return None




# The intents that tell of an error message of its own situation (domain.yml: report_*).
ERROR_REPORT_PREFIX = "report_"


def asks_another_topic(tracker: DialogueStateTracker, domain: Domain, report: str) -> bool:
    """A question of another topic that only mentions seeing something ("特典ページに
    ありましたが…何でしょう"), or another situation's error seen at the step ("既に関連付け
    られています、と出ました"): no report on the step but that topic. A failure ("なぜ表示
    されないんですか") stays a report."""
    message = tracker.latest_message
    intent = str(message.intent.get("name"))
    topic = topics(domain).get(intent)
    tells = intent.startswith(ERROR_REPORT_PREFIX) or QUESTION.search(message.text or "") is not None
    return (report == DONE and topic is not None and topic != tracker.get_slot("guide_diagnosis")
            and message.intent.get("confidence", 0.0) >= SURE_TOPIC and tells)


def names_current_step_of(tracker: DialogueStateTracker, text: str) -> bool:
    """The report names the current step's own label: a report on it, not the problem retold."""
    guide, step = tracker.get_slot("guide"), tracker.get_slot("guide_step")
    guides = load_content().guides
    if guide not in guides or step is None:
        return False
    return names_current_step(guides[guide], Position(str(guide), int(step)), text)
