"""Conversation and lock stores configured from the environment, with embedded defaults.

`endpoints.yml` cannot give `${VAR}` a default (an unset variable aborts start-up), so
these classes read the environment themselves:

- TRACKER_DB_URL: SQLAlchemy URL of the tracker store, e.g.
  postgresql://user:pass@db:5432/rasa. Default: sqlite:///rasa.db (a file, no server).
- REDIS_URL: redis://host:port/db of the lock store, required with more than one Rasa
  replica. Default: in-memory locks (one process). REDIS_KEY_PREFIX (alphanumeric)
  separates several bots on one Redis.

Rasa's RedisLockStore changes a conversation's lock by reading it, changing it in Python
and writing it back. Two replicas doing that at the same moment overwrite each other's
ticket (measured: 4 clients issuing 800 tickets left 262), so both may process the same
conversation at once and one of the turns is lost from the SQL tracker store.
AtomicRedisLockStore makes every change one optimistic Redis transaction.

User messages are stored with Access/Contract-ID-like strings masked, and so is every log
line of the Rasa server once the store is created.

The parts of this that change how Rasa's own SQL store works (its session scope, its SQLite
engine, the log filter) are in components/rasa_patches.py with the reasons, installed and
version-checked by these stores' constructors.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore, LockError, LockStore, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import make_url

from components import rasa_patches
from components.redaction import mask_ids

DEFAULT_TRACKER_DB_URL = "sqlite:///rasa.db"
T = TypeVar("T")
_DELETE = object()


class EnvTrackerStore(SQLTrackerStore):
    def __init__(self, domain: Domain | None = None, host: str | None = None,
                 event_broker: Any = None, **kwargs: Any) -> None:
        rasa_patches.install()
        url = make_url(os.environ.get("TRACKER_DB_URL") or DEFAULT_TRACKER_DB_URL)
        super().__init__(
            domain=domain,
            dialect=url.drivername,
            host=url.host,
            port=url.port,
            db=url.database or "rasa.db",
            username=url.username,
            password=url.password,
            event_broker=event_broker,
            query=dict(url.query) or None,
        )
        if self.engine.dialect.name == "sqlite" and self.engine.url.database not in (None, "", ":memory:"):
            rasa_patches.tune_sqlite(self)

    @contextlib.contextmanager
    def session_scope(self) -> Generator[Any, None, None]:
        with rasa_patches.sql_session_scope(self) as session:
            yield session

    async def save(self, tracker: DialogueStateTracker) -> None:
        for event in tracker.events:
            if isinstance(event, UserUttered) and event.text:
                masked = mask_ids(event.text)
                if masked != event.text:
                    event.text = masked
                    event.parse_data["text"] = masked
        await super().save(tracker)


class AtomicRedisLockStore(RedisLockStore):
    """RedisLockStore whose lock changes are atomic across processes (WATCH/MULTI/EXEC)."""

    def _change(self, conversation_id: str,
                change: Callable[[TicketLock | None], tuple[Any, T]]) -> T:
        """Applies `change` to the stored lock; it returns (lock to store, or _DELETE, or
        None for no write; result). Retried when another process changed the lock."""
        from redis.exceptions import WatchError

        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    lock = TicketLock.from_dict(json.loads(raw)) if raw else None
                    new_lock, result = change(lock)
                    pipe.multi()
                    if new_lock is _DELETE:
                        pipe.delete(key)
                    elif new_lock is not None:
                        pipe.set(key, new_lock.dumps())
                    pipe.execute()
                    return result
                except WatchError:
                    continue

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: TicketLock | None) -> tuple[TicketLock, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._change(conversation_id, issue)
        except Exception as error:  # same contract as LockStore.issue_ticket
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        def update(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock:
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, update)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        def finish(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock:
                lock.remove_ticket_for(ticket_number)
            return lock, None

        self._change(conversation_id, finish)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        def release(lock: TicketLock | None) -> tuple[Any, None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else _DELETE), None

        self._change(conversation_id, release)


class EnvLockStore(LockStore):
    """An AtomicRedisLockStore when REDIS_URL is set, else an InMemoryLockStore: the
    configured store is `self.store`, and every lock operation is delegated to it."""

    def __init__(self, endpoint_config: Any = None) -> None:
        rasa_patches.install()
        self.store = configured_lock_store()

    @contextlib.asynccontextmanager
    async def lock(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = 1) -> AsyncGenerator[TicketLock, None]:
        async with self.store.lock(conversation_id, lock_lifetime, wait_time_in_seconds) as lock:
            yield lock

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        return self.store.get_lock(conversation_id)

    def delete_lock(self, conversation_id: str) -> None:
        self.store.delete_lock(conversation_id)

    def save_lock(self, lock: TicketLock) -> None:
        self.store.save_lock(lock)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        return self.store.issue_ticket(conversation_id, lock_lifetime)

    def update_lock(self, conversation_id: str) -> None:
        self.store.update_lock(conversation_id)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self.store.finish_serving(conversation_id, ticket_number)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        self.store.cleanup(conversation_id, ticket_number)


def configured_lock_store() -> LockStore:
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        if os.environ.get("SANIC_WORKERS", "1").strip() not in ("", "0", "1"):
            # Rasa allows several workers with any custom lock store class, but in-memory
            # locks are per process: one conversation could then be processed by two
            # workers at once and lose a turn.
            logging.getLogger(__name__).error(
                "SANIC_WORKERS=%s without REDIS_URL: every worker has its own locks, so "
                "two messages of one conversation may be processed at once. Set REDIS_URL.",
                os.environ["SANIC_WORKERS"])
        return InMemoryLockStore()
    url = make_url(redis_url)
    return AtomicRedisLockStore(
        host=url.host or "localhost",
        port=url.port or 6379,
        db=int(url.database or 0),
        password=url.password,
        use_ssl=url.drivername == "rediss",
        key_prefix=os.environ.get("REDIS_KEY_PREFIX") or None,
    )
