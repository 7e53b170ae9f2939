"""The two support kinds and the intent that asks how to open a request for each: read by
the NLU component that lets a named kind pick the intent (components/intent_rules.py)
and by the actions (a message about both kinds asks for both requests). Standard library
only: the action server imports it without Rasa.
"""

from __future__ import annotations

REQUEST_INTENTS = {"on_premises": "ask_onprem_request", "cloud": "ask_cloud_support"}


def other_request_intent(intent: str | None) -> str | None:
    """The request intent of the other support kind."""
    others = [other for other in REQUEST_INTENTS.values() if other != intent]
    return others[0] if intent in REQUEST_INTENTS.values() and len(others) == 1 else None
