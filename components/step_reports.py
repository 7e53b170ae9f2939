"""What a message reports on the current guide step, from the entity `step_report`
(data/lookups/step_reports.yml: "还是看不到", "それでもダメ", "開きました", "找到了"…). Read by
the StepReportPolicy (components/step_report_policy.py) and by the actions' bare-answer
handling, so that both read a report the same way.
"""

from __future__ import annotations

from typing import Any

STEP_REPORT = "step_report"
FAILED, DONE = "failed", "done"
# "Still not" / "the same as before": a failure that insists, told apart because only it
# turns a restatement of the guide's own problem into a report on the step.
STILL = "still"


def report_values(entities: list[dict[str, Any]]) -> set[str]:
    return {str(entity.get("value")) for entity in entities if entity.get("entity") == STEP_REPORT}


def step_report(entities: list[dict[str, Any]]) -> str | None:
    """The report a message makes on a guide step, FAILED or DONE: a failure wins over a
    success ("押しましたが、まだ表示されません")."""
    values = report_values(entities)
    return FAILED if values & {FAILED, STILL} else DONE if DONE in values else None


def insists(entities: list[dict[str, Any]]) -> bool:
    """The report says "still" ("还是点不了", "それでも押せません")."""
    return STILL in report_values(entities)
