"""Reading fields of JSON bodies that an authentic sender may still get wrong.

Teams activities and Slack events are parsed by hand (their SDK models are not used), so
every nested field is read through these: a field of the wrong type counts as missing
instead of raising in the middle of a webhook (a 500, and Slack would retry it).
"""

from __future__ import annotations

from typing import Any


def obj(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def objs(value: Any) -> list[dict[str, Any]]:
    """The JSON objects of `value` if it is a list; anything else in it is skipped."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def nonempty_str(value: Any) -> str | None:
    """`value` if it is a non-empty string."""
    return value if isinstance(value, str) and value else None
