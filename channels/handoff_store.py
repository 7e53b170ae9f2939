"""Where hand-offs live between requests: three small SQL tables next to the tracker store
(same TRACKER_DB_URL), so that any replica, after any restart, sees the same state.

- `handoffs`: one row per hand-off (status waiting → taken → ended, or waiting → missed),
  the partner's conversation reference, the staff post, the deadline;
- `handoff_relay`: the messages relayed while a person had the conversation (the partner's
  ones never reach Rasa, so the widget's history reads them from here);
- `handoff_outbox`: the webhook's retry queue.

Every status change is one conditional UPDATE (`… WHERE status = :from`): of two replicas
acting on one deadline or one click, exactly one wins.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

DEFAULT_DB_URL = "sqlite:///rasa.db"  # components/stores.py's default
LIVE = ("waiting", "taken")

metadata = sa.MetaData()
handoffs = sa.Table(
    "handoffs", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("sender_id", sa.String(255), index=True, nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), index=True, nullable=False),
    sa.Column("language", sa.String(8)),
    sa.Column("payload", sa.Text, nullable=False),  # the action's summary (JSON)
    sa.Column("reference", sa.Text, nullable=False),  # how to reach the partner (JSON)
    sa.Column("staff_ts", sa.String(32), index=True),  # the Slack staff post
    sa.Column("staff_user", sa.String(64)),
    sa.Column("deadline", sa.Float),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)
relay = sa.Table(
    "handoff_relay", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("handoff_id", sa.String(64), index=True, nullable=False),
    sa.Column("sender_id", sa.String(255), index=True, nullable=False),
    sa.Column("role", sa.String(8), nullable=False),  # "user" (partner) or "staff"
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)
outbox = sa.Table(
    "handoff_outbox", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("handoff_id", sa.String(64), index=True, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_at", sa.Float, index=True, nullable=False),
    sa.Column("state", sa.String(12), nullable=False, default="pending"),  # delivered, failed
)


@dataclass
class Handoff:
    id: str
    sender_id: str
    channel: str
    status: str
    language: str | None
    payload: dict[str, Any]
    reference: dict[str, Any]
    staff_ts: str | None = None
    staff_user: str | None = None
    deadline: float | None = None
    created_at: float = field(default_factory=time.time)

    @classmethod
    def from_row(cls, row: Any) -> Handoff:
        return cls(id=row.id, sender_id=row.sender_id, channel=row.channel, status=row.status,
                   language=row.language, payload=json.loads(row.payload),
                   reference=json.loads(row.reference), staff_ts=row.staff_ts,
                   staff_user=row.staff_user, deadline=row.deadline,
                   created_at=row.created_at)


def engine_from_env() -> Engine:
    url = make_url(os.environ.get("TRACKER_DB_URL") or DEFAULT_DB_URL)
    if url.drivername.startswith("sqlite"):
        # The tracker store writes to the same file: wait for its lock, do not fail.
        return sa.create_engine(url, connect_args={"timeout": 30})
    return sa.create_engine(url, pool_pre_ping=True)


class HandoffStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)  # CREATE TABLE IF NOT EXISTS, safe from every replica

    def create(self, h: Handoff) -> bool:
        """False when it exists already (another replica, or a repeated message)."""
        now = time.time()
        try:
            with self.engine.begin() as db:
                db.execute(handoffs.insert().values(
                    id=h.id, sender_id=h.sender_id, channel=h.channel, status=h.status,
                    language=h.language, payload=json.dumps(h.payload, ensure_ascii=False),
                    reference=json.dumps(h.reference, ensure_ascii=False),
                    deadline=h.deadline, created_at=h.created_at, updated_at=now))
            return True
        except sa.exc.IntegrityError:
            return False

    def get(self, handoff_id: str) -> Handoff | None:
        with self.engine.connect() as db:
            row = db.execute(handoffs.select().where(handoffs.c.id == handoff_id)).first()
        return Handoff.from_row(row) if row else None

    def live_for(self, sender_id: str) -> Handoff | None:
        """The conversation's hand-off that is waiting for or with a person, if any."""
        with self.engine.connect() as db:
            row = db.execute(handoffs.select()
                             .where(handoffs.c.sender_id == sender_id,
                                    handoffs.c.status.in_(LIVE))
                             .order_by(handoffs.c.created_at.desc())).first()
        return Handoff.from_row(row) if row else None

    def by_staff_ts(self, staff_ts: str) -> Handoff | None:
        with self.engine.connect() as db:
            row = db.execute(handoffs.select().where(handoffs.c.staff_ts == staff_ts)).first()
        return Handoff.from_row(row) if row else None

    def update(self, handoff_id: str, **values: Any) -> None:
        with self.engine.begin() as db:
            db.execute(handoffs.update().where(handoffs.c.id == handoff_id)
                       .values(updated_at=time.time(), **values))

    def transition(self, handoff_id: str, from_status: str, to_status: str,
                   **values: Any) -> bool:
        """Atomically from → to; False when the hand-off was not in `from_status`."""
        with self.engine.begin() as db:
            result = db.execute(handoffs.update()
                                .where(handoffs.c.id == handoff_id,
                                       handoffs.c.status == from_status)
                                .values(status=to_status, updated_at=time.time(), **values))
        return bool(result.rowcount == 1)

    def due(self, now: float) -> list[Handoff]:
        with self.engine.connect() as db:
            rows = db.execute(handoffs.select().where(handoffs.c.status == "waiting",
                                                      handoffs.c.deadline <= now)).all()
        return [Handoff.from_row(row) for row in rows]

    # --- relayed messages ---------------------------------------------------------------

    def add_relayed(self, h: Handoff, role: str, text: str) -> None:
        with self.engine.begin() as db:
            db.execute(relay.insert().values(handoff_id=h.id, sender_id=h.sender_id,
                                             role=role, text=text, at=time.time()))

    def relayed(self, sender_id: str, role: str | None = None) -> list[tuple[float, str, str]]:
        """(time, role, text) of the conversation's relayed messages, oldest first."""
        query = relay.select().where(relay.c.sender_id == sender_id)
        if role:
            query = query.where(relay.c.role == role)
        with self.engine.connect() as db:
            rows = db.execute(query.order_by(relay.c.id)).all()
        return [(row.at, row.role, row.text) for row in rows]

    # --- webhook outbox -------------------------------------------------------------------

    def enqueue(self, handoff_id: str, body: dict[str, Any]) -> None:
        with self.engine.begin() as db:
            db.execute(outbox.insert().values(
                handoff_id=handoff_id, body=json.dumps(body, ensure_ascii=False),
                attempts=0, next_at=time.time(), state="pending"))

    def outbox_due(self, now: float) -> list[Any]:
        with self.engine.connect() as db:
            return list(db.execute(outbox.select().where(outbox.c.state == "pending",
                                                         outbox.c.next_at <= now)).all())

    def claim(self, row_id: int, seen_next_at: float, lease_until: float) -> bool:
        """This replica sends the row now (others see it leased until `lease_until`)."""
        with self.engine.begin() as db:
            result = db.execute(outbox.update()
                                .where(outbox.c.id == row_id, outbox.c.state == "pending",
                                       outbox.c.next_at == seen_next_at)
                                .values(next_at=lease_until))
        return bool(result.rowcount == 1)

    def attempted(self, row_id: int, attempts: int, state: str, next_at: float) -> None:
        with self.engine.begin() as db:
            db.execute(outbox.update().where(outbox.c.id == row_id)
                       .values(attempts=attempts, state=state, next_at=next_at))

    def outbox_rows(self, handoff_id: str) -> list[Any]:
        with self.engine.connect() as db:
            return list(db.execute(outbox.select().where(outbox.c.handoff_id == handoff_id)))
