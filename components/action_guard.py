"""A custom action that fails or is slow must not leave the partner with silence.

Rasa 3.6 waits up to 300 s for the action server and, when the call fails, only logs
it: the user gets no reply. This wraps Rasa's RemoteAction so that a failure or a
timeout (ACTION_TIMEOUT_SECONDS, default 8 s) answers `utter_action_failed` in the
partner's language instead. The action's events are not applied, so the conversation
state (e.g. the guide step) is unchanged and the same message works again once the
action server is back. Form rejections pass through untouched: forms rely on them.

It also makes the check of the action server's reply cheap: Rasa 3.6 calls
`jsonschema.validate` on every reply, which first re-validates the schema itself against
the meta-schema (about 100 ms of CPU per custom action here, 45 % of all server CPU in a
py-spy profile). A validator built once checks the same reply in ~1.5 ms.

Installed by `components/message_guard.py`, i.e. whenever Rasa loads this project's model.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import rasa.core.actions.action as rasa_actions
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction, create_bot_utterance

logger = logging.getLogger(__name__)

APOLOGY_RESPONSE = "utter_action_failed"
ACTION_TIMEOUT_SECONDS = float(os.environ.get("ACTION_TIMEOUT_SECONDS", "8"))

_remote_run = RemoteAction.run
_result_validator: Any = None


async def run_or_apologise(self: RemoteAction, output_channel: Any, nlg: Any, tracker: Any,
                           domain: Any) -> list[Any]:
    try:
        return await _remote_run(self, output_channel, nlg, tracker, domain)
    except ActionExecutionRejection:
        raise
    except Exception as error:  # noqa: BLE001 - any failure must still answer the user
        logger.error("Custom action '%s' failed (%s); answering %s.", self.name(),
                     type(error).__name__, APOLOGY_RESPONSE)
        apology = await nlg.generate(APOLOGY_RESPONSE, tracker, output_channel.name())
        return [create_bot_utterance(apology)] if apology else []


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """RemoteAction._validate_action_result with the schema compiled once."""
    global _result_validator
    from jsonschema import ValidationError, validators

    if _result_validator is None:
        schema = RemoteAction.action_response_format_spec()
        validator_class = validators.validator_for(schema)
        validator_class.check_schema(schema)
        _result_validator = validator_class(schema)
    try:
        _result_validator.validate(result)
        return True
    except ValidationError as error:
        error.message += (". Failed to validate Action server response from API, make sure "
                          "your response from the Action endpoint is valid.")
        raise


def install() -> None:
    if RemoteAction._validate_action_result is not validate_action_result:
        RemoteAction._validate_action_result = validate_action_result
    if RemoteAction.run is not run_or_apologise:
        RemoteAction.run = run_or_apologise
        # Read by RemoteAction.run at call time.
        rasa_actions.DEFAULT_REQUEST_TIMEOUT = ACTION_TIMEOUT_SECONDS
