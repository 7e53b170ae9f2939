"""Where a partner is in a step-by-step guide, and where "done" or "didn't work" leads.

Pure functions over a small value, so every edge is tested with plain tables. The
position lives in slots (guide, guide_step, guide_cause) between turns.

Buttons carry the position they were shown at, 1-based like the numbers the partner
sees (`/guide_next{"step": 2}`, `/guide_failed{"step": 2, "cause": 1}`); a click whose
position is no longer current (a double click, an old button further up the chat) is
stale and only re-shows the current position, so a repeated "done" never skips a step.
Typed messages ("できました") carry no position and act on the current one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from actions.content import Guide


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
