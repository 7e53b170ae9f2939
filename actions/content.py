"""Trainer-editable content: guides, labels, the entitlement table (actions/content/*.yml).

Everything here is data read once at start-up; nothing a partner reads is written in
Python. Each text is a mapping {ja: ..., zh: ...}.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from components.language import fold_kana, fold_kana_with_spans
from components.negation import OTHER_VALUE, is_negated

CONTENT = Path(__file__).resolve().parent / "content"
RULES = Path(__file__).resolve().parent.parent / "data" / "rules.yml"
Localized = dict[str, str]


def _load(name: str) -> Any:
    data = yaml.safe_load((CONTENT / name).read_text(encoding="utf-8"))
    _require_text_keys(data, name)
    return data


def _require_text_keys(node: Any, where: str) -> None:
    """YAML reads an unquoted `yes:`/`no:`/`on:` key (or list item) as a boolean, so a
    lookup by its name fails only when a partner reaches it; refuse such a file at
    start-up instead."""
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str):
                raise ValueError(f"actions/content/{where}: key {key!r} is not text; "
                                 'quote it, e.g. "yes": or "no":')
            _require_text_keys(value, f"{where} > {key}")
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, bool):  # a cue word `no` / `yes` read as a boolean
                raise ValueError(f"actions/content/{where}: {item!r} is not text; quote it")
            _require_text_keys(item, where)


@dataclass(frozen=True)
class Cause:
    id: str
    text: Localized
    diagnosis: str | None


@dataclass(frozen=True)
class Step:
    id: str
    title: Localized
    text: Localized
    if_failed: tuple[str, ...]


# The answer "don't know" (the dont_know mappings of the slots).
UNKNOWN = "unknown"
# The guide cause that checks the partner's role (guides.yml).
ROLE_CAUSE = "activation_role"


@dataclass(frozen=True)
class Guide:
    id: str
    title: Localized
    steps: tuple[Step, ...]

    def index_of(self, step_id: str) -> int:
        return next(i for i, step in enumerate(self.steps) if step.id == step_id)


@dataclass(frozen=True)
class Start:
    guide: str
    step: str | None = None
    cause: int | None = None


@dataclass(frozen=True)
class Content:
    guides: dict[str, Guide]
    causes: dict[str, Cause]
    starts: dict[str, Start]
    labels: dict[str, Any]
    entitlement: dict[str, Any]
    menu: tuple[str, ...]
    cues: dict[str, dict[str, tuple[str, ...]]]  # folded like the messages they are sought in

    def label(self, language: str, *path: str) -> str:
        """A label such as label("ja", "values", "membership", "gold")."""
        node: Any = self.labels
        for key in path:
            node = node[key]
        return node[language]

    def checks_role(self, guide: str | None, step: float | None) -> bool:
        """Whether the guide's step, when it fails, checks the partner's role."""
        return (guide in self.guides and step is not None
                and ROLE_CAUSE in self.guides[guide].steps[int(step)].if_failed)

    def cued_value(self, text: str, question: str | None) -> str | None:
        """The value a cue word of the question gives in the text; a negated cue ("クラウド系
        じゃない") gives the other value of a two-valued fact, or none."""
        folded, spans = fold_kana_with_spans(text)
        for marker in self.cues.get("discourse", {}).get("yes", ()):
            folded = folded.replace(marker, " " * len(marker))  # same length: spans stay aligned
        for value, words in self.cues.get(question or "", {}).items():
            found = [{"start": spans[at][0], "end": spans[at + len(word) - 1][1]}
                     for word in words for at in [folded.find(word)] if at >= 0]
            if not found:
                continue
            # Any negated cue of the value negates it: "期限は切れてない" has 期限 and 切れ.
            if not any(is_negated(text, cue, []) for cue in found):
                return value
            return OTHER_VALUE.get(question or "", {}).get(value)
        return None

    def answers_any(self, text: str, questions: set[str]) -> bool:
        """Whether the text gives a value in the own words of one of the questions (late
        answers to questions answered "don't know")."""
        return any(self.cued_value(text, question) not in (None, UNKNOWN) for question in questions)

    def late_answers(self, text: str, entities: list[dict[str, Any]], unknown: set[str],
                     worded: set[str] | None = None) -> list[str]:
        """Of the questions answered "don't know" before (`unknown`), those the message
        answers now: with an entity, or, of those in `worded` (all, by default), in the
        question's own words ("見てみたら、契約の期限がもう切れていました")."""
        by_entity = {entity.get("entity") for entity in entities
                     if entity.get("value") not in (None, UNKNOWN)}
        worded = unknown if worded is None else worded
        return sorted(question for question in unknown
                      if question in by_entity or (question in worded and self.answers_any(text, {question})))

    def corrections(self, text: str, entities: list[dict[str, Any]], before: dict[str, Any],
                    asked: set[str]) -> dict[str, Any]:
        """The answers a message corrects: with a correction word ("更正一下", "ごめんなさい"),
        another value for a question answered before (`before`: the slots as they were),
        from an entity or the question's own words ("ゴールドありました" to "会員資格は？").
        A "what about" with only other values ("クラウドの場合は？", "那云呢？") asks the
        answered question again in the same way."""
        from actions.clauses import is_elliptic_follow_up  # the shapes of messages

        spans = [(int(entity["start"]), int(entity["end"])) for entity in entities
                 if entity.get("entity") in asked and "start" in entity and "end" in entity]
        if not self.says(text, "correction") and not is_elliptic_follow_up(text, spans):
            return {}
        given = {str(entity.get("entity")): entity.get("value") for entity in entities}
        corrected = {}
        for slot in asked:
            value = given.get(slot) or self.cued_value(text, slot)
            if before.get(slot) not in (None, UNKNOWN) and value not in (None, UNKNOWN, before.get(slot)):
                corrected[slot] = value
        return corrected

    def says(self, text: str, words: str) -> bool:
        """Whether the text has a word of the cue list `words` anywhere ("更正一下：…")."""
        folded = fold_kana(text)
        return any(word in folded for value in self.cues.get(words, {}).values() for word in value)

    def opening_cue(self, text: str, question: str) -> str | None:
        """The value of `question` whose cue word opens the text ("好的，…", "いえ、…")."""
        folded = fold_kana(text).lstrip()
        return next((value for value, words in self.cues.get(question, {}).items()
                     if any(folded.startswith(word) for word in words)), None)


@cache
def load_content() -> Content:
    raw_guides = _load("guides.yml")
    guides = {
        guide_id: Guide(
            id=guide_id,
            title=guide["title"],
            steps=tuple(
                Step(id=step["id"], title=step["title"], text=step["text"],
                     if_failed=tuple(step.get("if_failed") or ()))
                for step in guide["steps"]
            ),
        )
        for guide_id, guide in raw_guides["guides"].items()
    }
    causes = {
        cause_id: Cause(id=cause_id, text=cause["text"], diagnosis=cause.get("diagnosis"))
        for cause_id, cause in raw_guides["causes"].items()
    }
    starts = {key: Start(**value) for key, value in _load("starts.yml").items()}
    return Content(guides=guides, causes=causes, starts=starts, labels=_load("labels.yml"),
                   entitlement=_load("entitlement.yml"), menu=tuple(_load("menu.yml")["menu"]),
                   cues={slot: {value: tuple(fold_kana(word) for word in words)
                                for value, words in values.items()}
                         for slot, values in _load("cues.yml").items()})


@cache
def topic_rules() -> dict[str, tuple[dict[str, Any], ...]]:
    """intent → the steps after it of the unconditioned rule that starts with it
    (data/rules.yml), read once."""
    found: dict[str, tuple[dict[str, Any], ...]] = {}
    for rule in yaml.safe_load(RULES.read_text(encoding="utf-8"))["rules"]:
        steps = rule.get("steps") or []
        if not rule.get("condition") and steps and "intent" in steps[0]:
            found[steps[0]["intent"]] = tuple(steps[1:])
    return found


@cache
def topic_actions() -> dict[str, tuple[str, ...]]:
    """intent → the actions its rule runs, for the rules that answer one message with
    responses and at most a guide: what a second question in the same message, or an
    accepted offer of that topic, runs."""
    found: dict[str, tuple[str, ...]] = {}
    for intent, steps in topic_rules().items():
        actions = tuple(step["action"] for step in steps if "action" in step)
        if actions and all(a.startswith("utter_") or a in ANSWER_ACTIONS for a in actions):
            found[intent] = actions
    return found


@cache
def form_of_intents() -> dict[str, str]:
    """intent → the form (pending question) its rule starts."""
    return {intent: forms[0] for intent, steps in topic_rules().items()
            if (forms := [step["active_loop"] for step in steps if step.get("active_loop")])}


# Custom actions a topic's rule may run besides responses, replayed by `topic_actions` users.
ANSWER_ACTIONS = ("action_start_guide", "action_offer_resume")


def entitlement_for(table: dict[str, Any], membership: str, support_kind: str,
                    competency_kind: str | None) -> int | str | None:
    """Incidents for a membership/support kind/competency kind: a number, "unlimited",
    "none", or None when the competency kind is still needed."""
    entry = table[support_kind][membership]
    if isinstance(entry, dict):
        return entry.get(competency_kind) if competency_kind else None
    return entry
