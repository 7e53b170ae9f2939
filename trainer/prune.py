"""`python -m trainer prune --older-than DAYS`: deletes old conversations from the
tracker store, for privacy rules (docs/production.md, "Retention").

Whole conversations only (a conversation as in docs/insights.md: a sender's session):
one goes when its last event is older than the limit. A sender whose newest session is
still recent keeps it, and the older sessions before it go (their events are the rows
before that session's `action_session_start`). Without `--yes` nothing is deleted: it
says what would go. After deleting, SQLite reclaims the space (VACUUM).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.insights import sqlite_store

# The first rows of a session (the slot's name is in the action_name column); the first
# one after a session_started begins the next session.
SESSION_OPENERS = {("slot", "session_started_metadata"), ("action", "action_session_start")}


@dataclass
class Cut:
    """The rows of one sender to delete: every id up to and including `last_id`."""

    sender: str
    last_id: int
    conversations: int
    events: int


def plan(connection: Any, cutoff: float) -> list[Cut]:
    """One pass over (sender, id, timestamp, session start?) in sender, id order."""
    import sqlalchemy as sa

    events = sa.table("events", sa.column("id"), sa.column("sender_id"), sa.column("type_name"),
                      sa.column("timestamp"), sa.column("action_name"))
    query = (sa.select(events.c.sender_id, events.c.id, events.c.timestamp, events.c.type_name,
                       events.c.action_name)
             .order_by(events.c.sender_id, events.c.id))
    cuts: list[Cut] = []
    sender_now: str | None = None
    sessions: list[tuple[int, int, float, int]] = []  # first id, last id, last time, rows

    def close() -> None:
        # The old sessions are the ones before the first recent one (timestamps grow
        # with ids, so an old session never follows a recent one).
        keep_from = next((i for i, s in enumerate(sessions) if s[2] >= cutoff), len(sessions))
        old = sessions[:keep_from]
        if old and sender_now is not None:
            cuts.append(Cut(sender_now, old[-1][1], len(old), sum(s[3] for s in old)))

    started = False  # whether the last session has its session_started yet
    rows = connection.execution_options(stream_results=True, yield_per=5000).execute(query)
    for sender, event_id, timestamp, type_name, action_name in rows:
        if sender != sender_now:
            close()
            sender_now, sessions = sender, []
        opens = (type_name, action_name) in SESSION_OPENERS
        if not sessions or (opens and started):
            # A session's rows: its metadata slot, action_session_start, session_started…
            sessions.append((event_id, event_id, float(timestamp or 0), 0))
            started = False
        started = started or type_name == "session_started"
        first, _, _, count = sessions[-1]
        sessions[-1] = (first, event_id, float(timestamp or 0), count + 1)
    close()
    return cuts


def prune(url: str, root: Path, older_than_days: float, yes: bool,
          now: float | None = None) -> list[Cut]:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        parsed = parsed.set(database=str(sqlite_store(parsed.database, root)))
    engine = sa.create_engine(parsed)
    cutoff = (now if now is not None else time.time()) - older_than_days * 86400
    events = sa.table("events", sa.column("id"), sa.column("sender_id"))
    with engine.begin() as connection:
        cuts = plan(connection, cutoff)
        if yes:
            for cut in cuts:
                connection.execute(sa.delete(events).where(events.c.sender_id == cut.sender,
                                                           events.c.id <= cut.last_id))
    if yes and cuts and engine.dialect.name == "sqlite":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM")
    engine.dispose()
    return cuts
