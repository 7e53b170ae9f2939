"""Where a partner is in a step-by-step guide, and where "done" or "didn't work" leads.

Pure functions over a small value, so every edge is tested with plain tables. The
position lives in slots (guide, guide_step, guide_cause) between turns.

Buttons carry the position they were shown at, 1-based like the numbers the partner
sees (`/guide_next{"step": 2}`, `/guide_failed{"step": 2, "cause": 1}`); a click whose
position is no longer current (a double click, an old button further up the chat) is
stale and only re-shows the current position, so a repeated "done" never skips a step.
Typed messages ("できました") carry no position and act on the current one, unless they
name an on-screen label of a later step ("サポートプラン選んで、サポート特典のリンク押した"
at step 1): the partner went ahead, and the guide follows them (`furthest_named_step`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from enum import Enum

from actions.content import Guide
from components.language import fold_kana


@dataclass(frozen=True)
class Position:
    guide: str
    step: int  # 0-based index into guide.steps
    cause: int | None = None  # index into the step's if_failed list while troubleshooting


class Outcome(Enum):
    SHOW = "show"  # show the position (a step, or a cause to check)
    STALE = "stale"  # the click was for an earlier position: re-show the current one
    FINISHED = "finished"  # the last step is done
    HANDOFF = "handoff"  # no likely cause left: hand over to a person


@dataclass(frozen=True)
class Move:
    outcome: Outcome
    position: Position | None


def _is_stale(position: Position, claimed_step: int | None, claimed_cause: int | None,
              check_cause: bool) -> bool:
    if claimed_step is None:
        return False
    if claimed_step != position.step + 1:
        return True
    shown_cause = None if position.cause is None else position.cause + 1
    return check_cause and claimed_cause != shown_cause


# The on-screen labels a step names: 「…」 / “…” and the English name in brackets after it.
_LABEL = re.compile(r"[「“]([^」”]+)[」”](?:\s*\(([^)]+)\))?")
# Labels this short ("特典", "权益") also occur inside the longer labels of other steps.
_MIN_LABEL_LENGTH = 4


def _folded(text: str) -> str:
    return re.sub(r"[\s・·]", "", fold_kana(text))


def _names_in(texts: Iterable[str]) -> Iterator[str]:
    for text in texts:
        for match in _LABEL.finditer(text):
            yield from (name for name in match.groups() if name)


def step_labels(guide: Guide, with_title_labels: bool = False) -> list[set[str]]:
    """For each step, the labels it introduces in any language (a label belongs to the
    first step that names it): a partner may report in another language than the guide's."""
    # A label in the guide's own title ("アクティブ化") names the topic, not a step done;
    # a failure of it ("点了激活没反应") is a failure of the step that has it, however short.
    titles = "" if with_title_labels else " ".join(map(_folded, guide.title.values()))
    shortest = 2 if with_title_labels else _MIN_LABEL_LENGTH
    seen: set[str] = set()
    labels: list[set[str]] = []
    for step in guide.steps:
        names = set(map(_folded, _names_in(step.text.values())))
        own = {name for name in names - seen
               if len(name) >= shortest and name not in titles}
        seen |= names
        labels.append(own)
    return labels


def names_current_step(guide: Guide, position: Position, text: str) -> bool:
    """Whether the text names a label that the current step, past the first, introduces
    ("サポート特典のリンクが出てこない" at the link step): it reports on that step."""
    folded = _folded(text)
    return position.step > 0 and any(label in folded for label in step_labels(guide)[position.step])


def furthest_named_step(guide: Guide, position: Position, text: str,
                        failed: bool = False) -> int | None:
    """The last step after the current one whose label the report (of a failure: labels
    in the guide's title too) names, if any."""
    folded = _folded(text)
    named = [index for index, labels in enumerate(step_labels(guide, with_title_labels=failed))
             if index > position.step and any(label in folded for label in labels)]
    return max(named, default=None)


def step_done(guide: Guide, position: Position, claimed_step: int | None = None) -> Move:
    """The partner finished the current step (or a checked cause fixed it)."""
    if _is_stale(position, claimed_step, None, check_cause=False):
        return Move(Outcome.STALE, position)
    if position.step + 1 >= len(guide.steps):
        return Move(Outcome.FINISHED, None)
    return Move(Outcome.SHOW, Position(position.guide, position.step + 1))


def step_failed(guide: Guide, position: Position, claimed_step: int | None = None,
                claimed_cause: int | None = None) -> Move:
    """The current step (or the cause just checked) did not work: next likely cause."""
    if _is_stale(position, claimed_step, claimed_cause, check_cause=True):
        return Move(Outcome.STALE, position)
    causes = guide.steps[position.step].if_failed
    next_cause = 0 if position.cause is None else position.cause + 1
    if next_cause >= len(causes):
        return Move(Outcome.HANDOFF, replace(position, cause=position.cause))
    return Move(Outcome.SHOW, replace(position, cause=next_cause))
