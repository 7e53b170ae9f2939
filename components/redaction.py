"""Masks strings that look like an Access ID or a Contract ID.

Anyone who has those IDs can use the partner's support benefit, so they must not end up
in logs, trackers or exports. Their exact format is not documented in the source
articles, so anything ID-shaped is masked: GUIDs, and runs of 8+ letters/digits/dashes
that contain at least 4 digits (which ordinary words and product names never do).
"""

from __future__ import annotations

import re

MASK = "[ID]"

_GUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z][0-9A-Za-z-]{6,}[0-9A-Za-z](?![0-9A-Za-z])")


def _mask_if_id_like(match: re.Match[str]) -> str:
    token = match.group(0)
    return MASK if sum(char.isdigit() for char in token) >= 4 else token


def mask_ids(text: str) -> str:
    """The text with every Access/Contract-ID-like string replaced by [ID]."""
    return _ID_LIKE.sub(_mask_if_id_like, _GUID.sub(MASK, text))
