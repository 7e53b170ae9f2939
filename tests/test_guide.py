"""The guide state machine and the guide content, walked through every step and edge."""

from __future__ import annotations

import pytest

from actions.content import load_content
from actions.guide import Outcome, Position, furthest_named_step, step_done, step_failed

CONTENT = load_content()
GUIDES = sorted(CONTENT.guides)


@pytest.mark.parametrize("guide_id", GUIDES)
def test_done_walks_every_step_in_order_then_finishes(guide_id: str) -> None:
    guide = CONTENT.guides[guide_id]
    position = Position(guide_id, 0)
    seen = [position.step]
    while True:
        move = step_done(guide, position, claimed_step=position.step + 1)
        if move.outcome is Outcome.FINISHED:
            break
        assert move.outcome is Outcome.SHOW
        position = move.position
        seen.append(position.step)
    assert seen == list(range(len(guide.steps)))


@pytest.mark.parametrize(
    ("guide_id", "step"),
    [(guide_id, step) for guide_id in GUIDES for step in range(len(CONTENT.guides[guide_id].steps))],
)
def test_failed_walks_each_likely_cause_then_hands_off(guide_id: str, step: int) -> None:
    guide = CONTENT.guides[guide_id]
    position = Position(guide_id, step)
    shown_causes = []
    move = step_failed(guide, position, claimed_step=step + 1)
    while move.outcome is Outcome.SHOW:
        position = move.position
        shown_causes.append(guide.steps[step].if_failed[position.cause])
        move = step_failed(guide, position, claimed_step=step + 1, claimed_cause=position.cause + 1)
    assert move.outcome is Outcome.HANDOFF
    assert shown_causes == list(guide.steps[step].if_failed)


def test_a_cause_that_fixed_it_continues_with_the_next_step() -> None:
    guide = CONTENT.guides["view_activate"]
    troubleshooting = Position("view_activate", 2, cause=1)
    move = step_done(guide, troubleshooting, claimed_step=3)
    assert move.outcome is Outcome.SHOW
    assert move.position == Position("view_activate", 3, None)


@pytest.mark.parametrize(
    ("position", "claimed_step", "claimed_cause"),
    [
        (Position("view_activate", 2), 2, None),  # "done" clicked again on step 2
        (Position("view_activate", 2), 1, None),  # an old button further up
        (Position("view_activate", 2, cause=1), 3, 1),  # "still failing" clicked twice
        (Position("view_activate", 2, cause=0), 3, None),  # step's own button after a cause
    ],
)
def test_stale_clicks_never_move(position: Position, claimed_step: int,
                                 claimed_cause: int | None) -> None:
    guide = CONTENT.guides["view_activate"]
    if claimed_cause is None and position.cause is None:
        move = step_done(guide, position, claimed_step)
    else:
        move = step_failed(guide, position, claimed_step, claimed_cause)
    assert move.outcome is Outcome.STALE
    assert move.position == position


def test_typed_done_without_a_position_acts_on_the_current_step() -> None:
    guide = CONTENT.guides["remaining_incidents"]
    assert step_done(guide, Position("remaining_incidents", 0)).position == \
        Position("remaining_incidents", 1)


@pytest.mark.parametrize(
    ("position", "text", "named"),
    [
        # Step 1 is "help + support"; the report names the labels of step 2.
        (Position("link_azure", 0), "サポートプラン選んで、サポート特典のリンク押した", 1),
        (Position("link_azure", 0), "支持计划那里选好了", 1),
        (Position("csp_request", 0), "已经点了新建请求", 2),
        (Position("csp_request", 0), "ｻｰﾋﾞｽ管理 まで行きました", 1),  # half-width kana
        (Position("link_azure", 0), "できました", None),  # no label: the current step
        (Position("link_azure", 1), "サポートプランは選んだ", None),  # the current step's label
        (Position("link_azure", 2), "ヘルプとサポートは開いた", None),  # an earlier step's label
        # A label in the guide's title names the topic, not a step.
        (Position("view_activate", 0), "アクティブ化したい", None),
    ],
)
def test_a_typed_report_naming_a_later_step_finds_that_step(position: Position, text: str,
                                                            named: int | None) -> None:
    assert furthest_named_step(CONTENT.guides[position.guide], position, text) == named


@pytest.mark.parametrize(("text", "named"), [
    ("アクティブ化ボタン押しても何も起きない", 2),  # the title's label, failed: the Activate step
    ("点了激活没反应", 2),
    ("サインインできません", None),
])
def test_a_typed_failure_naming_a_later_step_finds_it_by_the_titles_labels_too(
        text: str, named: int | None) -> None:
    position = Position("view_activate", 0)
    assert furthest_named_step(CONTENT.guides["view_activate"], position, text, failed=True) == named


@pytest.mark.parametrize("guide_id", GUIDES)
def test_every_step_and_cause_speaks_both_languages(guide_id: str) -> None:
    guide = CONTENT.guides[guide_id]
    for text in [guide.title, *(s.title for s in guide.steps), *(s.text for s in guide.steps)]:
        assert text["ja"].strip() and text["zh"].strip()
    for step in guide.steps:
        for cause_id in step.if_failed:
            cause = CONTENT.causes[cause_id]
            assert cause.text["ja"].strip() and cause.text["zh"].strip()


def test_every_start_points_at_a_real_guide_and_step() -> None:
    for start in CONTENT.starts.values():
        guide = CONTENT.guides[start.guide]
        step = guide.index_of(start.step) if start.step else 0
        if start.cause is not None:
            assert start.cause < len(guide.steps[step].if_failed)
