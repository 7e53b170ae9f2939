"""components/rasa_patches.py: the version guard, the Rasa internals the patches rely on,
and their behaviour — including inside a real form's validation action.

If a Rasa upgrade moved or changed one of the patched internals, a test here fails before
a partner's message takes the changed path.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from components import rasa_patches

ROOT = Path(__file__).resolve().parent.parent
APOLOGY = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))[
    "responses"]["utter_action_failed"]


def apology_text(language: str) -> str:
    """The real domain's utter_action_failed in one language (zh variant: its condition)."""
    for variation in APOLOGY:
        conditions = variation.get("condition") or []
        if any(c.get("name") == "language" and c.get("value") == language for c in conditions):
            return str(variation["text"])
    return str(next(v["text"] for v in APOLOGY if not v.get("condition")))


# --- the version guard and explicit installation -------------------------------------------


def test_the_installed_rasa_is_the_tested_one() -> None:
    import rasa

    assert rasa.__version__ == rasa_patches.TESTED_RASA_VERSION
    rasa_patches.check_rasa_version()  # no exit


@pytest.mark.parametrize("version", ["3.6.20", "3.7.0", "3.6.21rc1", ""])
def test_another_rasa_version_refuses_to_start_with_a_clear_message(version: str) -> None:
    with pytest.raises(SystemExit) as stopped:
        rasa_patches.check_rasa_version(version)
    message = str(stopped.value.code)
    assert f"Rasa {version} is installed" in message
    assert rasa_patches.TESTED_RASA_VERSION in message and "rasa_patches.PATCHES" in message


def test_install_refuses_an_untested_rasa(monkeypatch: pytest.MonkeyPatch) -> None:
    import rasa.version

    monkeypatch.setattr(rasa_patches, "_installed", False)
    monkeypatch.setattr(rasa.version, "__version__", "3.7.0")
    with pytest.raises(SystemExit):
        rasa_patches.install()


def test_rasa_run_on_an_untested_rasa_stops_with_the_message(model_path: Path,
                                                           tmp_path: Path) -> None:
    """The real start-up path: Rasa's store loader catches exceptions and falls back to an
    in-memory store, and Sanic runs the loader in a listener; the refusal must still stop
    the process, with the message."""
    import os
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = ("import sys, rasa.version\n"
            "rasa.version.__version__ = '3.7.0'  # as if another Rasa were installed\n"
            "from rasa.__main__ import main\n"
            f"sys.argv = ['rasa', 'run', '--model', {str(model_path)!r}, '--port', '{port}',\n"
            "            '--endpoints', 'endpoints.yml', '--credentials', 'credentials.yml']\n"
            "main()\n")
    env = {**os.environ, "TRACKER_DB_URL": f"sqlite:///{tmp_path / 'trackers.db'}",
           "RASA_TELEMETRY_ENABLED": "false", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=600)
    assert done.returncode != 0
    assert "Rasa 3.7.0 is installed, but components/rasa_patches.py" in done.stdout + done.stderr


def test_importing_the_project_changes_nothing_in_rasa() -> None:
    code = ("import components.rasa_patches, components.message_guard, components.stores\n"
            "from rasa.core.actions import action\n"
            "print(action.RemoteAction.run.__module__, action.DEFAULT_REQUEST_TIMEOUT)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    assert done.stdout.split()[-2:] == ["rasa.core.actions.action", "300"]


def test_the_classes_rasa_loads_install_the_patches(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.engine.graph import ExecutionContext, GraphSchema

    from components.message_guard import MessageLengthPolicy
    from components.stores import EnvLockStore, EnvTrackerStore

    monkeypatch.setenv("TRACKER_DB_URL", f"sqlite:///{tmp_path / 'trackers.db'}")
    monkeypatch.delenv("REDIS_URL", raising=False)
    calls: list[str] = []
    real_install = rasa_patches.install
    monkeypatch.setattr(rasa_patches, "install", lambda: calls.append("install") or real_install())
    EnvTrackerStore()  # endpoints.yml: tracker_store
    EnvLockStore()  # endpoints.yml: lock_store
    MessageLengthPolicy.create(MessageLengthPolicy.get_default_config(), None, None,  # type: ignore[arg-type]  # unused by this policy
                               ExecutionContext(GraphSchema({})))  # config.yml: policies
    assert calls == ["install"] * 3


def test_install_is_idempotent() -> None:
    from rasa.core.actions import action

    rasa_patches.install()
    rasa_patches.install()
    assert action.RemoteAction.run is rasa_patches.run_or_apologise
    assert action.RemoteAction._validate_action_result is rasa_patches.validate_action_result
    assert action.DEFAULT_REQUEST_TIMEOUT == rasa_patches.ACTION_TIMEOUT_SECONDS
    from rasa.shared.core.events import Event
    from rasa.utils.endpoints import EndpointConfig

    assert Event.resolve_by_type is rasa_patches.resolve_event_type
    assert EndpointConfig.session is rasa_patches.shared_endpoint_session
    assert rasa_patches.originals["Event.resolve_by_type"].__module__ == "rasa.shared.core.events"
    assert rasa_patches.originals["EndpointConfig.session"].__module__ == "rasa.utils.endpoints"
    # The wrapper wraps Rasa's own run, never itself.
    assert rasa_patches._remote_run.__module__ == "rasa.core.actions.action"


# --- the Rasa internals each patch relies on -------------------------------------------------


def parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_patched_and_used_rasa_internals_are_where_the_patches_expect_them() -> None:
    from rasa.core.actions import action, forms
    from rasa.core.tracker_store import SQLTrackerStore, ensure_schema_exists

    run = rasa_patches._remote_run or action.RemoteAction.run
    assert parameters(run) == ["self", "output_channel", "nlg", "tracker", "domain"]
    assert inspect.iscoroutinefunction(run)
    # The timeout is a module global that RemoteAction.run reads at call time.
    assert "DEFAULT_REQUEST_TIMEOUT" in run.__code__.co_names
    assert isinstance(action.DEFAULT_REQUEST_TIMEOUT, (int, float))
    assert issubclass(action.ActionExecutionRejection, Exception)
    assert parameters(action.create_bot_utterance) == ["message"]
    assert parameters(action.RemoteAction.action_response_format_spec) == []
    # A form validates through a RemoteAction built at call time: the patched run.
    assert {"RemoteAction", "_temporary_tracker", "run"} <= set(
        forms.FormAction.validate_slots.__code__.co_names)
    assert parameters(forms.FormAction._temporary_tracker) == [
        "self", "current_tracker", "additional_events", "domain"]
    # The SQL store: what sql_session_scope and tune_sqlite use.
    assert parameters(SQLTrackerStore.session_scope) == ["self"]
    assert parameters(ensure_schema_exists) == ["session"]
    assert {"engine", "sessionmaker"} <= set(SQLTrackerStore.__init__.__code__.co_names)
    for patch in rasa_patches.PATCHES:
        assert patch.what and patch.why, patch.name


def test_internals_the_project_s_subclasses_rely_on_are_there() -> None:
    from rasa.core.lock_store import RedisLockStore
    from sanic.request import Request

    # channels/rest.py stores its checked body where request.json reads it.
    assert "parsed_json" in Request.json.fget.__code__.co_names  # type: ignore[attr-defined]  # a property
    # components/stores.py AtomicRedisLockStore works on the Redis client and key prefix.
    assert {"red", "key_prefix"} <= set(RedisLockStore.__init__.__code__.co_names)


# Source fingerprints of the Rasa functions the patches copy or wrap. A change means the
# patch must be re-read against the new code (then update the fingerprint).
FINGERPRINTS = {
    "SQLTrackerStore.session_scope": "6775e1ede3ec8d2d",
    "RemoteAction._validate_action_result": "f8cdb4be68123961",
    "RemoteAction.run": "ccabf6f1160d527a",
    "Event.resolve_by_type": "b5cf570fa7f286c7",
    "EndpointConfig.session": "e55aa13d9d4fb4bc",
    # Enters `self.session()` with `async with` per call: what the shared session relies on.
    "EndpointConfig.request": "ccdb778aed8208e2",
    # channels/rest.py: the handler calls _extract_sender first, which checks the body.
    "RestInput.blueprint": "886a9338e4c2505a",
}


def test_the_copied_and_wrapped_rasa_functions_are_unchanged() -> None:
    from rasa.core.actions.action import RemoteAction
    from rasa.core.channels.rest import RestInput
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.events import Event
    from rasa.utils.endpoints import EndpointConfig

    owners = {"RemoteAction": RemoteAction, "Event": Event, "EndpointConfig": EndpointConfig}
    functions = [SQLTrackerStore.session_scope, RestInput.blueprint, EndpointConfig.request,
                 *(rasa_patches.originals.get(name) or getattr(owners[name.split(".")[0]],
                                                               name.split(".")[1])
                   for name in ("RemoteAction._validate_action_result", "RemoteAction.run",
                                "Event.resolve_by_type", "EndpointConfig.session"))]
    found = {function.__qualname__: hashlib.sha256(inspect.getsource(function).encode())
             .hexdigest()[:16] for function in functions}
    assert found == FINGERPRINTS


# --- behaviour: a fake action server ---------------------------------------------------------


class FakeActions:
    """An action server whose `validate_*` actions succeed, fail (500), time out or reject."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.calls: list[str] = []

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        name = body["next_action"]
        self.calls.append(f"{name}:{self.mode}")
        if self.mode == "fail":
            return web.Response(status=500, text="boom")
        if self.mode == "slow":
            await asyncio.sleep(5)
        if self.mode == "reject":
            return web.json_response({"action_name": name, "error": "not mine"}, status=400)
        slots = body["tracker"]["slots"]
        events = [{"event": "slot", "name": "answer", "value": slots.get("answer")}]
        return web.json_response({"events": events, "responses": []})


@asynccontextmanager
async def action_server(actions: FakeActions) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/webhook", actions.webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # started above
    try:
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        await runner.cleanup()


@pytest.fixture
def short_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.core.actions import action

    rasa_patches.install()
    monkeypatch.setattr(action, "DEFAULT_REQUEST_TIMEOUT", 0.5)


# --- behaviour: a real form (tiny fixture project, trained once) -----------------------------

FIXTURE_DOMAIN = {
    "version": "3.1",
    "intents": ["start", "inform"],
    "entities": ["language"],
    "slots": {
        "language": {"type": "categorical", "values": ["ja", "zh"],
                     "influence_conversation": False,
                     "mappings": [{"type": "from_entity", "entity": "language"}]},
        "answer": {"type": "text", "influence_conversation": False,
                   "mappings": [{"type": "from_text", "intent": "inform",
                                 "conditions": [{"active_loop": "demo_form"}]}]},
    },
    "forms": {"demo_form": {"required_slots": ["answer"]}},
    "actions": ["validate_demo_form"],
    "responses": {
        "utter_ask_answer": [{"text": "ASK"}],
        "utter_done": [{"text": "DONE"}],
        "utter_action_failed": APOLOGY,
    },
    "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": True},
}
FIXTURE_NLU = {"version": "3.1", "nlu": [
    {"intent": "start", "examples": "- start\n- begin\n"},
    {"intent": "inform", "examples": "- blue\n- red\n"},
]}
FIXTURE_RULES = {"version": "3.1", "rules": [
    {"rule": "start the form", "steps": [
        {"intent": "start"}, {"action": "demo_form"}, {"active_loop": "demo_form"}]},
    {"rule": "submit the form", "condition": [{"active_loop": "demo_form"}], "steps": [
        {"action": "demo_form"}, {"active_loop": None},
        {"slot_was_set": [{"requested_slot": None}]}, {"action": "utter_done"}]},
]}
# The project's own policy, so that loading this model installs the patches as in production.
FIXTURE_CONFIG = {
    "recipe": "default.v1", "language": "en", "assistant_id": "patch-fixture",
    "pipeline": [{"name": "WhitespaceTokenizer"}, {"name": "KeywordIntentClassifier"}],
    "policies": [{"name": "components.message_guard.MessageLengthPolicy"},
                 {"name": "RulePolicy"}],
}


@pytest.fixture(scope="module")
def form_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from rasa.model_training import train

    root = tmp_path_factory.mktemp("form_fixture")
    for name, content in [("domain.yml", FIXTURE_DOMAIN), ("nlu.yml", FIXTURE_NLU),
                          ("rules.yml", FIXTURE_RULES), ("config.yml", FIXTURE_CONFIG)]:
        (root / name).write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
    result = train(domain=str(root / "domain.yml"), config=str(root / "config.yml"),
                   training_files=[str(root / "nlu.yml"), str(root / "rules.yml")],
                   output=str(root / "models"), fixed_model_name="form")
    assert result.code == 0 and result.model
    yield Path(result.model)


def agent_for(model: Path, url: str) -> Any:
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig

    return Agent.load(str(model), action_endpoint=EndpointConfig(url=url))


@pytest.mark.parametrize("failure", ["fail", "slow"])
@pytest.mark.parametrize("language", ["ja", "zh"])
async def test_a_form_s_failing_validation_action_apologises_and_asks_again(
        form_model: Path, short_timeout: None, failure: str, language: str) -> None:
    actions = FakeActions()
    async with action_server(actions) as url:
        agent = agent_for(form_model, url)
        # Loading the project's policy installed the patches (no import side effect).
        from rasa.core.actions.action import RemoteAction
        assert RemoteAction.run is rasa_patches.run_or_apologise

        async def say(text: str) -> list[str]:
            answers = await agent.handle_text(text, sender_id=f"{failure}-{language}") or []
            return [str(answer.get("text")) for answer in answers]

        assert await say(f'/start{{"language": "{language}"}}') == ["ASK"]
        actions.mode = failure
        started = asyncio.get_running_loop().time()
        replies = await say("blue")
        # The apology in the partner's language, then the same question again.
        assert replies == [apology_text(language), "ASK"]
        assert asyncio.get_running_loop().time() - started < 3  # not Rasa's 300 s
        assert actions.calls[-1] == f"validate_demo_form:{failure}"
        tracker = await agent.tracker_store.get_or_create_tracker(f"{failure}-{language}")
        assert tracker.get_slot("answer") is None  # the unvalidated answer was not kept
        assert tracker.active_loop_name == "demo_form"
        # The action server is back: the same message works.
        actions.mode = "ok"
        assert await say("blue") == ["DONE"]
        tracker = await agent.tracker_store.get_or_create_tracker(f"{failure}-{language}")
        assert tracker.get_slot("answer") == "blue"


async def test_a_form_s_rejection_still_reaches_the_form(form_model: Path,
                                                        short_timeout: None) -> None:
    """ActionExecutionRejection is how a validation action says "not my slot": not an error."""
    actions = FakeActions()
    async with action_server(actions) as url:
        agent = agent_for(form_model, url)
        await agent.handle_text('/start{"language": "ja"}', sender_id="reject")
        actions.mode = "reject"
        replies = [str(a.get("text")) for a in await agent.handle_text("blue", sender_id="reject")
                   or []]
        assert apology_text("ja") not in replies


async def test_an_unreachable_action_server_gets_the_apology(form_model: Path,
                                                            short_timeout: None) -> None:
    actions = FakeActions()
    async with action_server(actions) as url:
        agent = agent_for(form_model, url)
        await agent.handle_text('/start{"language": "zh"}', sender_id="down")
    # The server is gone (connection refused).
    replies = [str(a.get("text")) for a in await agent.handle_text("blue", sender_id="down") or []]
    assert replies == [apology_text("zh"), "ASK"]


def test_the_reply_validator_accepts_and_refuses_like_rasa_s() -> None:
    from jsonschema import ValidationError
    from rasa.core.actions.action import RemoteAction

    action = RemoteAction("validate_demo_form", None)
    assert rasa_patches.validate_action_result(action, {"events": [], "responses": []})
    for bad in ({"events": "not a list"}, {"events": [{"event": "slot", "name": 5}]}):
        with pytest.raises(ValidationError) as refused:
            rasa_patches.validate_action_result(action, bad)
        assert "Failed to validate Action server response" in refused.value.message
    json.dumps(RemoteAction.action_response_format_spec())  # still a plain JSON schema


# --- event class lookup and the shared HTTP session ------------------------------------------


def test_the_event_lookup_finds_what_rasa_s_finds_and_refuses_the_same() -> None:
    from rasa.shared.core.events import Event, SlotSet
    from rasa.shared.utils.common import all_subclasses

    rasa_patches.install()
    rasa_lookup = rasa_patches.originals["Event.resolve_by_type"]
    for name in {cls.type_name for cls in all_subclasses(Event)}:
        assert rasa_patches.resolve_event_type(name) is rasa_lookup(name), name
        assert rasa_patches.resolve_event_type(name) is rasa_lookup(name), name  # cached
    assert rasa_patches.resolve_event_type("topic") is None
    assert rasa_patches.resolve_event_type("no such event", SlotSet) is SlotSet
    assert "no such event" not in rasa_patches._event_classes  # a default is not cached
    with pytest.raises(ValueError, match="Unknown event name"):
        rasa_patches.resolve_event_type("no such event")
    # Rasa's deserialisation goes through it.
    events = [{"event": "slot", "name": "x", "value": 1}, {"event": "action", "name": "a"}]
    assert Event.resolve_by_type("slot") is SlotSet
    from rasa.shared.core.events import deserialise_events

    assert [e.as_dict()["event"] for e in deserialise_events(events)] == ["slot", "action"]


async def test_action_calls_share_one_session_and_one_connection() -> None:
    from rasa.utils.endpoints import EndpointConfig

    rasa_patches.install()
    peers: list[Any] = []

    async def webhook(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        return web.json_response({"events": [], "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", headers={"X-A": "1"})
        for _ in range(3):
            assert await endpoint.request(json={"next_action": "a"}, method="post") == {
                "events": [], "responses": []}
        async with endpoint.session() as first, endpoint.copy().session() as second:
            assert first is second and not first.closed
        assert not first.closed  # `async with` leaves it open for the next call
        other = EndpointConfig(f"http://127.0.0.1:{port}/webhook", headers={"X-B": "1"})
        async with other.session() as third:
            assert third is not first and third._default_headers.get("X-B") == "1"
        assert len(peers) == 3 and len(set(peers)) == 1  # one kept-alive connection
    finally:
        await runner.cleanup()
        for _loop, session in list(rasa_patches._sessions.values()):
            await session.close()



def test_the_speed_patches_can_be_left_out_by_name_and_a_typo_stops() -> None:
    code = ("from components import rasa_patches as p\n"
            "from rasa.shared.core.events import Event\n"
            "from rasa.utils.endpoints import EndpointConfig\n"
            "from rasa.core.actions.action import RemoteAction\n"
            "p.install()\n"
            "print(Event.resolve_by_type.__module__, EndpointConfig.session.__module__,\n"
            "      RemoteAction._validate_action_result.__module__, RemoteAction.run.__module__)")
    env = {**os.environ, "RASA_PATCHES_SKIP": "event-lookup, http-session"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT, env=env)
    assert done.stdout.split()[-4:] == ["rasa.shared.core.events", "rasa.utils.endpoints",
                                        "components.rasa_patches", "components.rasa_patches"]
    env["RASA_PATCHES_SKIP"] = "event-lokup"
    failed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, env=env)
    assert failed.returncode != 0 and "unknown ['event-lokup']" in failed.stderr
