"""Conversation and lock stores configured from the environment, with embedded defaults.

`endpoints.yml` cannot give `${VAR}` a default (an unset variable aborts start-up), so
these classes read the environment themselves:

- TRACKER_DB_URL: SQLAlchemy URL of the tracker store, e.g.
  postgresql://user:pass@db:5432/rasa. Default: sqlite:///rasa.db (a file, no server).
- REDIS_URL: redis://host:port/db of the lock store, required with more than one Rasa
  replica. Default: in-memory locks (one process).

User messages are stored with Access/Contract-ID-like strings masked.
"""

from __future__ import annotations

import os
from typing import Any

from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import make_url

from components.redaction import mask_ids

DEFAULT_TRACKER_DB_URL = "sqlite:///rasa.db"


class EnvTrackerStore(SQLTrackerStore):
    def __init__(self, domain: Domain | None = None, host: str | None = None,
                 event_broker: Any = None, **kwargs: Any) -> None:
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

    async def save(self, tracker: DialogueStateTracker) -> None:
        for event in tracker.events:
            if isinstance(event, UserUttered) and event.text:
                masked = mask_ids(event.text)
                if masked != event.text:
                    event.text = masked
                    event.parse_data["text"] = masked
        await super().save(tracker)


class EnvLockStore(LockStore):
    """Becomes a RedisLockStore when REDIS_URL is set, else an InMemoryLockStore."""

    def __new__(cls, endpoint_config: Any = None) -> LockStore:  # type: ignore[misc]
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            return InMemoryLockStore()
        url = make_url(redis_url)
        return RedisLockStore(
            host=url.host or "localhost",
            port=url.port or 6379,
            db=int(url.database or 0),
            password=url.password,
            use_ssl=url.drivername == "rediss",
            key_prefix=os.environ.get("REDIS_KEY_PREFIX") or None,
        )
