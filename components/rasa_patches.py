"""Every change this project makes to Rasa's own behaviour, in one place, installed explicitly.

Rasa 3.6 has no hook for these, so they replace or wrap Rasa internals (private methods,
module constants, attributes of its SQL tracker store). They were written against one Rasa
version and are tested with it: `install()` refuses to start on any other
(TESTED_RASA_VERSION), because a private function may have moved or changed its contract
without any error until a partner's message takes the changed path.

Importing this module changes nothing. `install()` is called by the classes Rasa itself
loads from this project's configuration, so the patches are in place wherever the project
runs, and only there:
- components.stores.EnvTrackerStore and EnvLockStore (endpoints.yml): `rasa run`;
- components.message_guard.MessageLengthPolicy (config.yml): wherever a model of this
  project is loaded (`rasa run`, `rasa shell`, `rasa test`, an Agent in the tests) or trained.
It is idempotent.

The patches (PATCHES describes each; tests/test_rasa_patches.py checks that every Rasa
attribute they rely on still exists with the signature they were written for, and their
behaviour, including inside a form's validation action):
1. Action-failure apology (RemoteAction.run): a custom action that fails or times out
   answers `utter_action_failed` in the partner's language instead of silence, and leaves
   the conversation as it was before the message.
2. Action timeout (rasa.core.actions.action.DEFAULT_REQUEST_TIMEOUT): 300 s → 8 s.
3. Compiled reply validator (RemoteAction._validate_action_result): ~100 ms → ~1.5 ms of
   CPU per custom action.
4. ID masking in log lines (a logging.Filter on Rasa's and Sanic's log handlers).
5. SQL session scope (SQLTrackerStore.session_scope, used by EnvTrackerStore): a database
   error fails one message instead of stopping the server.
6. SQLite tuning (SQLTrackerStore.engine / .sessionmaker, used by EnvTrackerStore).
7. Event class lookup (Event.resolve_by_type): found classes remembered instead of walking
   every Event subclass per stored event on each tracker load.
8. One HTTP session per endpoint (EndpointConfig.session): the action server's connection
   is kept alive between calls instead of a new session and TCP connection per call.

Subclasses elsewhere rely on internals too, without changing Rasa; the same tests check
them: channels/rest.py (RestInput's handler calls `_extract_sender` before reading the
body, and Sanic's `request.json` returns `request.parsed_json` once set) and
components/stores.py's AtomicRedisLockStore (RedisLockStore's `red` and `key_prefix`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

# The one Rasa version these patches were written against and the test suite passes with.
# Rasa Open Source 3.6.21 is the last 3.6 release; a new version means re-reading every
# target in PATCHES, then changing this constant.
TESTED_RASA_VERSION = "3.6.21"

APOLOGY_RESPONSE = "utter_action_failed"
ACTION_TIMEOUT_SECONDS = float(os.environ.get("ACTION_TIMEOUT_SECONDS", "8"))
# The patches that only make Rasa faster and change no behaviour can be left out, by these
# names, comma-separated in RASA_PATCHES_SKIP: to measure each one's effect in the same
# benchmark run (scripts/bench_bot.py --variant) and to rule one out when diagnosing.
SKIPPABLE = ("reply-validator", "event-lookup", "http-session")
# Prefix of a form's validation action (Rasa: f"validate_{form name}").
FORM_VALIDATION_PREFIX = "validate_"


@dataclass(frozen=True)
class Patch:
    """One change to Rasa: the Rasa attribute it replaces or relies on, what and why."""

    name: str
    target: str
    what: str
    why: str


PATCHES: tuple[Patch, ...] = (
    Patch(
        "action-failure apology", "rasa.core.actions.action.RemoteAction.run",
        "Wraps it: any failure except a form's ActionExecutionRejection answers "
        "utter_action_failed in the partner's language; the action's events are dropped, and "
        "for a form's validation action the slots this message filled are reset.",
        "Rasa 3.6 only logs a failed custom action: the partner gets no reply at all, and "
        "inside a form the unvalidated answer would be kept."),
    Patch(
        "action timeout", "rasa.core.actions.action.DEFAULT_REQUEST_TIMEOUT",
        "Sets the module constant RemoteAction.run reads at call time to "
        "ACTION_TIMEOUT_SECONDS (default 8 s).",
        "Rasa's 300 s would keep the partner waiting five minutes for the apology."),
    Patch(
        "compiled reply validator", "rasa.core.actions.action.RemoteAction._validate_action_result",
        "Replaces it: the same JSON schema check with a validator built once.",
        "Rasa calls jsonschema.validate on every reply, which re-checks the schema against its "
        "meta-schema first: ~100 ms of CPU per custom action, 45 % of the server's CPU in a "
        "py-spy profile; the compiled validator takes ~1.5 ms."),
    Patch(
        "ID masking in logs", "logging handlers of the root, rasa and sanic.* loggers",
        "Adds a filter that masks Access/Contract-ID-like strings in every log line.",
        "Rasa logs a message's text when its processing fails, and everywhere with --debug."),
    Patch(
        "SQL session scope", "rasa.core.tracker_store.SQLTrackerStore.session_scope",
        "EnvTrackerStore's session_scope: Rasa's, with sys.exit only for the missing schema.",
        "Rasa turns any ValueError raised while talking to the database into sys.exit(1) "
        "(it means 'schema missing'), so one sender ID that SQLite cannot encode (an unpaired "
        "surrogate) or PostgreSQL refuses (NUL) stopped the whole server."),
    Patch(
        "SQLite tuning", "rasa.core.tracker_store.SQLTrackerStore.engine/.sessionmaker",
        "EnvTrackerStore replaces the engine with a pooled one in WAL mode, synchronous=NORMAL.",
        "A new SQLite connection per query and an fsync per commit took about a fifth of the "
        "server's time per turn (py-spy)."),
    Patch(
        "event class lookup", "rasa.shared.core.events.Event.resolve_by_type",
        "Wraps it: the class Rasa's lookup found for an event name is remembered and returned "
        "for the next event of that name; unknown names still go through Rasa's lookup.",
        "Rasa walks the whole Event class tree (rasa.shared.utils.common.all_subclasses, with "
        "inspect.isabstract on each class) once per event it deserialises, and the SQL store "
        "deserialises the whole session on every turn: in a cProfile of the benchmark mix "
        "this was 16 % of a turn, the biggest single item."),
    Patch(
        "one HTTP session per endpoint", "rasa.utils.endpoints.EndpointConfig.session",
        "Replaces it: per event loop and endpoint headers/auth, one aiohttp ClientSession that "
        "`async with` leaves open (keep-alive 4 s, below the action server's 5 s).",
        "EndpointConfig.request opens a new ClientSession, so a new TCP connection, for every "
        "action call (one to three per turn); Rasa 3.6 has no setting for it."),
)

_installed = False
_result_validator: Any = None
_remote_run: Any = None
# Rasa's own functions that install() replaced, by qualified name (for the guard tests).
originals: dict[str, Any] = {}


def check_rasa_version(installed: str | None = None) -> None:
    """Stops start-up with a clear message unless the installed Rasa is the tested one."""
    if installed is None:
        import rasa.version

        installed = str(rasa.version.__version__)
    if installed != TESTED_RASA_VERSION:
        message = (f"mpn-support-bot: Rasa {installed} is installed, but components/rasa_patches.py "
                   f"changes Rasa internals and was written and tested against Rasa "
                   f"{TESTED_RASA_VERSION} only. Install rasa=={TESTED_RASA_VERSION} (uv sync "
                   "--frozen), or re-check every target in rasa_patches.PATCHES against the new "
                   "version and update TESTED_RASA_VERSION.")
        logger.error(message)
        # SystemExit, not an Exception: Rasa's store loaders catch exceptions and fall back to
        # in-memory stores, and its graph runner wraps them; this must stop the process.
        raise SystemExit(message)


def skipped_patches() -> set[str]:
    """RASA_PATCHES_SKIP's names; an unknown one stops start-up (a typo would measure nothing)."""
    names = {n.strip() for n in os.environ.get("RASA_PATCHES_SKIP", "").split(",") if n.strip()}
    unknown = names - set(SKIPPABLE)
    if unknown:
        raise SystemExit(f"RASA_PATCHES_SKIP: unknown {sorted(unknown)}; known: {list(SKIPPABLE)}")
    if names:
        logger.warning("Rasa patches left out (RASA_PATCHES_SKIP): %s", ", ".join(sorted(names)))
    return names


def install() -> None:
    """Checks the Rasa version, then installs every patch; safe to call more than once."""
    global _installed, _remote_run
    mask_ids_in_logs()  # every call: handlers added since the last call get the filter too
    if _installed:
        return
    check_rasa_version()
    import rasa.core.actions.action as rasa_actions
    from rasa.core.actions.action import RemoteAction

    # Rasa ships no type information, so these assignments type-check as Any (no ignore).
    from rasa.shared.core.events import Event
    from rasa.utils.endpoints import EndpointConfig

    _remote_run = RemoteAction.run
    originals.update({"RemoteAction.run": RemoteAction.run,
                      "RemoteAction._validate_action_result": RemoteAction._validate_action_result,
                      "Event.resolve_by_type": Event.resolve_by_type,
                      "EndpointConfig.session": EndpointConfig.session})
    skip = skipped_patches()
    RemoteAction.run = run_or_apologise
    if "reply-validator" not in skip:
        RemoteAction._validate_action_result = validate_action_result
    rasa_actions.DEFAULT_REQUEST_TIMEOUT = ACTION_TIMEOUT_SECONDS
    if "event-lookup" not in skip:
        Event.resolve_by_type = staticmethod(resolve_event_type)
    if "http-session" not in skip:
        EndpointConfig.session = shared_endpoint_session
    _installed = True
    logger.debug("Rasa patches installed: %s", ", ".join(patch.name for patch in PATCHES))


# --- 1. action-failure apology ---------------------------------------------------------------


async def run_or_apologise(self: Any, output_channel: Any, nlg: Any, tracker: Any,
                           domain: Any) -> list[Any]:
    """RemoteAction.run, answering utter_action_failed when the action fails or times out."""
    from rasa.core.actions.action import ActionExecutionRejection, create_bot_utterance

    try:
        return list(await _remote_run(self, output_channel, nlg, tracker, domain))
    except ActionExecutionRejection:
        raise  # a form's "not my slot": the form and the policies rely on it
    except Exception as error:  # noqa: BLE001 - any failure must still answer the partner
        logger.error("Custom action '%s' failed (%s); answering %s.", self.name(),
                     type(error).__name__, APOLOGY_RESPONSE)
        apology = await nlg.generate(APOLOGY_RESPONSE, tracker, output_channel.name())
        events: list[Any] = [create_bot_utterance(apology)] if apology else []
        if self.name().startswith(FORM_VALIDATION_PREFIX):
            events += unvalidated_slot_resets(tracker, self.name()[len(FORM_VALIDATION_PREFIX):])
        return events


def unvalidated_slot_resets(tracker: Any, form: str) -> list[Any]:
    """For a form's failed validation action: the slots this message filled, set back to
    their values before the message.

    Rasa's FormAction hands the validation action a temporary tracker whose events end with
    ActionExecuted(form) and the candidate SlotSets; the same SlotSets are already applied to
    the conversation by action_extract_slots. If the validation action returns no SlotSet,
    Rasa keeps them unvalidated (a form could then finish on an answer no check has seen);
    these resets make the form ask the same question again, after the apology.
    """
    from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered

    events = list(tracker.events)
    ends = [i for i, e in enumerate(events) if isinstance(e, ActionExecuted) and e.action_name == form]
    if not ends:
        return []
    candidates = {e.key for e in events[ends[-1] + 1:] if isinstance(e, SlotSet)}
    users = [i for i, e in enumerate(events) if isinstance(e, UserUttered)]
    before = events[: users[-1]] if users else []
    previous: dict[str, Any] = {}
    for event in before:
        if isinstance(event, SlotSet):
            previous[event.key] = event.value
    return [SlotSet(key, previous.get(key)) for key in sorted(candidates)]


# --- 3. compiled reply validator -------------------------------------------------------------


def validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    """RemoteAction._validate_action_result with the schema compiled once."""
    global _result_validator
    from jsonschema import ValidationError, validators
    from rasa.core.actions.action import RemoteAction

    if _result_validator is None:
        schema = RemoteAction.action_response_format_spec()
        validator_class = validators.validator_for(schema)
        validator_class.check_schema(schema)
        _result_validator = validator_class(schema)
    try:
        _result_validator.validate(result)
        return True
    except ValidationError as error:  # Rasa's message, as RemoteAction.run expects
        error.message += (". Failed to validate Action server response from API, make sure "
                          "your response from the Action endpoint is valid.")
        raise


# --- 4. ID masking in logs -------------------------------------------------------------------


class MaskIdsInLogs(logging.Filter):
    """Replaces Access/Contract-ID-like strings in a log record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        from components.redaction import mask_ids

        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is logging's problem, not ours
            return True
        masked = mask_ids(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def mask_ids_in_logs() -> None:
    """Adds the filter to every handler (Rasa's structlog output ends in these too)."""
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in
                                      ("sanic.root", "sanic.error", "sanic.access", "rasa"))]
    for each in loggers:
        for handler in each.handlers:
            if not any(isinstance(f, MaskIdsInLogs) for f in handler.filters):
                handler.addFilter(MaskIdsInLogs())


# --- 5. SQL session scope --------------------------------------------------------------------


@contextlib.contextmanager
def sql_session_scope(store: Any) -> Generator[Any, None, None]:
    """SQLTrackerStore.session_scope, exiting only when the configured schema is missing
    (the ValueError of ensure_schema_exists); any other error fails the one message."""
    from rasa.core.tracker_store import ensure_schema_exists
    from rasa.shared.utils.cli import print_error_and_exit

    session = store.sessionmaker()
    try:
        try:
            ensure_schema_exists(session)
        except ValueError as error:  # the configured POSTGRESQL_SCHEMA does not exist
            print_error_and_exit(f"Requested PostgreSQL schema '{error}' was not found in "
                                 "the database. Create it or unset POSTGRESQL_SCHEMA.")
        yield session
    finally:
        session.close()


# --- 6. SQLite tuning ------------------------------------------------------------------------


def tune_sqlite(store: Any) -> None:
    """Replaces a file-based SQLite store's engine and sessionmaker.

    SQLAlchemy 1.4 opens a new SQLite connection per query session, and SQLite's defaults
    (rollback journal, synchronous=FULL) fsync on every commit: together about a fifth of
    the server's time per turn (py-spy). A small connection pool, the write-ahead log and
    synchronous=NORMAL keep commits durable against a crash of the process; a power cut may
    lose the last turns.
    """
    import sqlalchemy as sa
    from sqlalchemy import event
    from sqlalchemy.orm import sessionmaker
    from sqlalchemy.pool import QueuePool

    url = store.engine.url
    store.engine.dispose()
    store.engine = sa.create_engine(url, poolclass=QueuePool, pool_size=4, max_overflow=4,
                                    connect_args={"check_same_thread": False})

    @event.listens_for(store.engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    store.sessionmaker = sessionmaker(bind=store.engine)


# --- 7. event class lookup -------------------------------------------------------------------

_event_classes: dict[str, Any] = {}


def resolve_event_type(type_name: str, default: Any = None) -> Any:
    """Event.resolve_by_type, remembering each class it found.

    Only a class whose `type_name` is the name asked for is remembered (not `default`, not
    the None of the old "topic" event), so what is cached is exactly what Rasa's first match
    over the Event subclasses returned; unknown names take Rasa's path and its ValueError.
    """
    found = _event_classes.get(type_name)
    if found is not None:
        return found
    found = originals["Event.resolve_by_type"](type_name, default)
    if found is not None and getattr(found, "type_name", None) == type_name:
        _event_classes[type_name] = found
    return found


# --- 8. one HTTP session per endpoint --------------------------------------------------------

# Below Sanic's default KEEP_ALIVE_TIMEOUT (5 s, the rasa_sdk action server): the client
# drops an idle connection before the server may close it under a request in flight.
KEEPALIVE_SECONDS = 4.0
_sessions: dict[tuple[Any, ...], tuple[Any, Any]] = {}


class _OpenSession:
    """`async with` on it gives the shared session and leaves it open for the next call."""

    def __init__(self, session: Any) -> None:
        self.session = session

    async def __aenter__(self) -> Any:
        return self.session

    async def __aexit__(self, *_exc: object) -> None:
        return None


def shared_endpoint_session(self: Any) -> Any:
    """EndpointConfig.session: one ClientSession per event loop and headers/auth/timeout,
    created as Rasa creates it, with a keep-alive connection pool."""
    import asyncio

    import aiohttp
    from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT

    loop = asyncio.get_running_loop()  # aiohttp (Rasa's session too) needs one anyway
    key = (tuple(sorted(self.headers.items())), tuple(sorted(self.basic_auth.items())))
    session_loop, session = _sessions.get(key, (None, None))
    if session is None or session.closed or session_loop is not loop:
        auth = (aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
                if self.basic_auth else None)
        session = aiohttp.ClientSession(
            headers=self.headers, auth=auth,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_SECONDS))
        _sessions[key] = (loop, session)
    return _OpenSession(session)
