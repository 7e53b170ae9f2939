"""Reading fields of JSON bodies that an authentic sender may still get wrong.

Teams activities and Slack events are parsed by hand (their SDK models are not used), so
every nested field is read through these: a field of the wrong type counts as missing
instead of raising in the middle of a webhook (a 500, and Slack would retry it).
"""

from __future__ import annotations

import json
from typing import Any


def json_object(raw: str | bytes | None) -> dict[str, Any] | None:
    """The JSON object in `raw` (bytes must be UTF-8, as RFC 8259 requires between
    systems), or None for anything else: no body, invalid UTF-8 or JSON, another JSON
    type, or nesting too deep for the parser (RecursionError, not a ValueError)."""
    if not raw:
        return None
    try:
        value = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return value if isinstance(value, dict) else None


def obj(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def objs(value: Any) -> list[dict[str, Any]]:
    """The JSON objects of `value` if it is a list; anything else in it is skipped."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def nonempty_str(value: Any) -> str | None:
    """`value` if it is a non-empty string."""
    return value if isinstance(value, str) and value else None
