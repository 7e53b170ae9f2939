"""Hand-off pieces in-process: settings, the store's atomic transitions, the webhook's
signature, retry after a 500, no duplicate, and a retry queue that survives a restart."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from channels.handoff import Hub, handoff_payload, signature, staff_text
from channels.handoff_settings import HandoffSettings
from channels.handoff_store import Handoff, HandoffStore
from channels.web import transcript
from tests.channels.fakes import FakeWebhook, wait_for

SECRET = "shared-webhook-secret"


@pytest.fixture(scope="module")
def webhook() -> Iterator[FakeWebhook]:
    fake = FakeWebhook().start()
    yield fake
    fake.stop()


def store_at(path: Path) -> HandoffStore:
    return HandoffStore(sa.create_engine(f"sqlite:///{path}"))


def record(sender: str = "web-1", status: str = "waiting") -> Handoff:
    return Handoff(id=f"h-{time.time_ns()}", sender_id=sender, channel="rest", status=status,
                   language="ja", payload={"diagnosis": "not_authorized", "summary": {
                       "diagnosis_label": "権限がない", "known": "-", "steps_done": "-",
                       "step_failed": "-"}, "last_messages": ["ID は [ID] です"]},
                   reference={}, deadline=time.time() + 60)


def test_nothing_configured_is_off() -> None:
    settings = HandoffSettings.from_env({})
    assert not settings.enabled and not settings.staffed


def test_staff_channel_needs_the_slack_app() -> None:
    assert not HandoffSettings.from_env({"HANDOFF_SLACK_CHANNEL": "C1"}).staffed
    env = {"HANDOFF_SLACK_CHANNEL": "C1", "SLACK_BOT_TOKEN": "x", "SLACK_SIGNING_SECRET": "y",
           "HANDOFF_STAFF_IDS": "U1, U2"}
    settings = HandoffSettings.from_env(env)
    assert settings.staffed and settings.may_take("U2") and not settings.may_take("U3")


def test_office_hours_in_their_time_zone() -> None:
    settings = HandoffSettings.from_env({"HANDOFF_OFFICE_HOURS": "09:00-18:00",
                                         "HANDOFF_OFFICE_DAYS": "mon-fri",
                                         "HANDOFF_TIMEZONE": "Asia/Tokyo"})
    utc = dt.timezone.utc
    assert settings.open_at(dt.datetime(2026, 12, 1, 1, 0, tzinfo=utc))  # Tue 10:00 JST
    assert not settings.open_at(dt.datetime(2026, 12, 1, 10, 0, tzinfo=utc))  # Tue 19:00
    assert not settings.open_at(dt.datetime(2026, 12, 5, 1, 0, tzinfo=utc))  # Saturday
    with pytest.raises(ValueError, match="HANDOFF_TIMEZONE"):
        HandoffSettings.from_env({"HANDOFF_TIMEZONE": "Mars/Olympus"})


def test_one_transition_wins(tmp_path: Path) -> None:
    store = store_at(tmp_path / "t.db")
    h = record()
    assert store.create(h) and not store.create(h)  # a second replica's create is a no-op
    assert store.live_for(h.sender_id) is not None
    assert store.transition(h.id, "waiting", "taken", staff_user="U1")
    assert not store.transition(h.id, "waiting", "missed")  # the deadline lost the race
    assert store.get(h.id).status == "taken"  # type: ignore[union-attr]


def test_staff_post_shows_language_and_masked_messages() -> None:
    text = staff_text(record())
    assert "Japanese" in text and "[ID]" in text and "not_authorized" in text


def test_widget_history_puts_relayed_messages_in_time_order() -> None:
    from rasa.shared.core.events import BotUttered

    first, second = BotUttered("joined", timestamp=10.0), BotUttered("reply", timestamp=30.0)
    messages = transcript([first, second], [(20.0, "user", "question"), (40.0, "user", "thanks")])
    assert [m["text"] for m in messages] == ["joined", "question", "reply", "thanks"]


def test_payload_only_of_the_latest_turn() -> None:
    from rasa.shared.core.events import BotUttered, UserUttered

    started = BotUttered(data={"custom": {"handoff": {"id": "h1"}}})
    assert handoff_payload([UserUttered("x"), started]) == {"id": "h1"}
    assert handoff_payload([started, UserUttered("y")]) is None


def test_webhook_signed_retried_after_a_500_once_and_survives_a_restart(
        tmp_path: Path, webhook: FakeWebhook) -> None:
    settings = HandoffSettings(webhook_url=f"{webhook.url}/hook", webhook_secret=SECRET,
                               webhook_backoff_s=0.5)
    h = record(sender=f"web-{time.time_ns()}")
    webhook.fail_once.add(h.sender_id)

    async def first_replica() -> None:
        hub = Hub(settings, store_at(tmp_path / "q.db"))
        hub.store.create(h)
        hub.store.enqueue(h.id, hub.webhook_body(h))
        await hub.deliver_webhooks()  # answered 500: stays queued with a backoff
        await hub.deliver_webhooks()  # not due yet: nothing sent
        if hub._http is not None:
            await hub._http.close()

    asyncio.run(first_replica())
    [row] = store_at(tmp_path / "q.db").outbox_rows(h.id)
    assert (row.state, row.attempts) == ("pending", 1)
    assert len(webhook.for_conversation(h.sender_id)) == 1

    async def after_restart() -> None:  # a new process: only the database is left
        hub = Hub(settings, store_at(tmp_path / "q.db"))
        await asyncio.sleep(0.6)
        await hub.deliver_webhooks()
        await hub.deliver_webhooks()  # delivered: never sent again
        if hub._http is not None:
            await hub._http.close()

    asyncio.run(after_restart())
    deliveries = wait_for(lambda: webhook.for_conversation(h.sender_id))
    assert [d["status"] for d in deliveries] == [500, 200]
    [row] = store_at(tmp_path / "q.db").outbox_rows(h.id)
    assert (row.state, row.attempts) == ("delivered", 2)
    for delivery in deliveries:
        headers = delivery["headers"]
        assert headers["Idempotency-Key"] == h.id  # the same key: the receiver dedups
        expected = hmac.new(SECRET.encode(), headers["X-Handoff-Timestamp"].encode() + b"."
                            + delivery["raw"], hashlib.sha256).hexdigest()
        assert headers["X-Handoff-Signature"] == f"sha256={expected}"
        assert headers["X-Handoff-Signature"] == signature(
            SECRET, headers["X-Handoff-Timestamp"], delivery["raw"])
        body = json.loads(delivery["raw"])
        assert body["summary"]["diagnosis_label"] == "権限がない"
        assert body["last_messages"] == ["ID は [ID] です"]


def test_relay_before_rasa_and_the_deadline_on_the_next_message(tmp_path: Path) -> None:
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    hub = Hub(HandoffSettings(slack_channel="C1"), store_at(tmp_path / "r.db"))
    to_rasa: list[str] = []
    calls: list[tuple[str, str]] = []

    async def rasa(message: UserMessage) -> None:
        to_rasa.append(message.text or "")

    async def from_partner(h: Handoff, message: UserMessage) -> None:
        calls.append(("relayed", message.text or ""))

    async def miss(h: Handoff) -> bool:
        calls.append(("missed", h.id))
        return hub.store.transition(h.id, "waiting", "missed")

    async def after_turn(message: UserMessage) -> None:
        return None

    hub.from_partner, hub.miss, hub._after_turn = from_partner, miss, after_turn  # type: ignore[method-assign]
    handle = hub.relaying(rasa)
    taken, overdue = record("web-a", "taken"), record("web-b")
    overdue.deadline = time.time() - 1
    hub.store.create(taken)
    hub.store.create(overdue)

    def say(sender: str, text: str) -> None:
        asyncio.run(handle(UserMessage(text, CollectingOutputChannel(), sender)))

    say("web-a", "to the person")
    say("web-b", "anyone there?")
    say("web-c", "no hand-off here")
    assert calls == [("relayed", "to the person"), ("missed", overdue.id)]
    assert to_rasa == ["anyone there?", "no hand-off here"]  # after the miss: the bot again
