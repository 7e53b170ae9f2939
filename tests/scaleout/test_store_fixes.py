"""Fixes found while scaling out: the tracker store must not stop the server on a bad
sender ID, SQLite commits cheaply, and the action reply check is fast."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from pathlib import Path

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from components.rasa_patches import mask_ids_in_logs, validate_action_result
from components.stores import EnvTrackerStore
from scripts.serve import ROOT
from tests.scaleout.services import Postgres

DOMAIN = Domain.load(str(ROOT / "domain.yml"))


def store_for(url: str, monkeypatch: pytest.MonkeyPatch) -> EnvTrackerStore:
    monkeypatch.setenv("TRACKER_DB_URL", url)
    return EnvTrackerStore(domain=DOMAIN)


def tracker(sender: str, text: str) -> DialogueStateTracker:
    result = DialogueStateTracker(sender, DOMAIN.slots)
    result.update(ActionExecuted("action_listen"))
    result.update(UserUttered(text))
    return result


def test_sqlite_store_uses_a_pool_and_the_write_ahead_log(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    store = store_for(f"sqlite:///{tmp_path / 'trackers.db'}", monkeypatch)
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    asyncio.run(store.save(tracker("partner", "契約 ID は 1234-5678-ABCD です")))
    stored = asyncio.run(store.retrieve("partner"))
    assert [e.text for e in stored.events if isinstance(e, UserUttered)] == ["契約 ID は [ID] です"]


def test_an_unstorable_sender_fails_one_message_not_the_server(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rasa's own session_scope turns this ValueError into sys.exit(1)."""
    store = store_for(f"sqlite:///{tmp_path / 'trackers.db'}", monkeypatch)
    with pytest.raises(ValueError):  # a SystemExit would not be caught here and fail the test
        asyncio.run(store.retrieve("partner\ud800"))
    asyncio.run(store.save(tracker("partner", "こんにちは")))  # the store still works
    assert asyncio.run(store.retrieve("partner")) is not None


@pytest.mark.scaleout
def test_postgres_refuses_nul_in_a_sender_without_stopping_the_server(
        postgres: Postgres, monkeypatch: pytest.MonkeyPatch) -> None:
    store = store_for(postgres.url, monkeypatch)
    with pytest.raises(ValueError):
        asyncio.run(store.retrieve("partner\x00"))
    asyncio.run(store.save(tracker("pg-partner", "你好")))
    assert asyncio.run(store.retrieve("pg-partner")) is not None


def test_action_replies_are_checked_against_the_schema_quickly() -> None:
    action = RemoteAction("action_guide_next", None)
    reply = {"events": [{"event": "slot", "name": "guide_step", "value": 1, "timestamp": None}],
             "responses": [{"text": "手順 2/4", "buttons": [{"title": "OK", "payload": "/affirm"}]}]}
    started = time.perf_counter()
    for _ in range(200):
        assert validate_action_result(action, reply)
    assert time.perf_counter() - started < 2.0  # jsonschema.validate took ~100 ms per call
    with pytest.raises(ValidationError):
        validate_action_result(action, {"events": "not a list"})
    with pytest.raises(ValidationError):
        validate_action_result(action, {"events": [{"event": "slot", "name": 5}]})
    from components import rasa_patches

    rasa_patches.install()  # as the stores and the policy do at start-up
    assert RemoteAction._validate_action_result is validate_action_result


def test_ids_are_masked_in_every_log_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        mask_ids_in_logs()
        logging.getLogger("rasa.core.channels.rest").error(
            "rest.message.received.failure text=%s", "アクセス ID 1234-5678-ABCD が使えない")
        logging.getLogger("anything").warning("guid 0f8fad5b-d9cb-469f-a165-70867728950e here")
    finally:
        root.removeHandler(handler)
    output = stream.getvalue()
    assert "1234-5678-ABCD" not in output and "0f8fad5b" not in output
    assert output.count("[ID]") == 2 and "が使えない" in output
