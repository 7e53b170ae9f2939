"""`python -m trainer prune`: on a copy of the played store, where some conversations are
made old (their events moved back in time) and one sender has an old and a recent
session, exactly the old conversations go, whole, and only with --yes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.insights import support
from tests.insights.conftest import PlayedStore
from trainer.cli import main

DAY = 86400.0


def events_per_sender(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT sender_id, count(*) FROM events GROUP BY sender_id"))


@pytest.fixture
def aged_copy(played_sqlite: PlayedStore, tmp_path: Path) -> tuple[Path, set[str], int]:
    """A copy in which every other conversation is 100 days old, and the first
    conversation also got a second, recent session (its old one must go)."""
    assert played_sqlite.path is not None
    copy = tmp_path / "copy.db"
    with sqlite3.connect(played_sqlite.path) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    senders = [support.sender_of(c) for c in support.load()]
    old = set(senders[::2])
    with sqlite3.connect(copy) as db:
        db.execute("PRAGMA journal_mode=DELETE")
        db.executemany("UPDATE events SET timestamp = timestamp - ? WHERE sender_id = ?",
                       [(100 * DAY, s) for s in old])
        # The first sender comes back today: a new session, copied from its old one's
        # events (with new ids, after the old ones) at today's time.
        first = senders[0]
        rows = db.execute("SELECT type_name, timestamp, intent_name, action_name, data FROM events"
                          " WHERE sender_id = ? ORDER BY id", (first,)).fetchall()
        db.executemany("INSERT INTO events (sender_id, type_name, timestamp, intent_name, "
                       "action_name, data) VALUES (?, ?, ?, ?, ?, ?)",
                       [(first, t, ts + 100 * DAY, i, a, d) for t, ts, i, a, d in rows])
    return copy, old, len(rows)


def test_prune_is_a_dry_run_without_yes(aged_copy: tuple[Path, set[str], int]) -> None:
    copy, _, _ = aged_copy
    before = copy.read_bytes()
    assert main(["prune", "--db", f"sqlite:///{copy}", "--older-than", "30"]) == 0
    assert copy.read_bytes() == before


def test_prune_deletes_exactly_the_old_conversations(aged_copy: tuple[Path, set[str], int],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    copy, old, recent_session_rows = aged_copy
    first = support.sender_of(support.load()[0])
    before = events_per_sender(copy)
    size_before = copy.stat().st_size
    assert main(["prune", "--db", f"sqlite:///{copy}", "--older-than", "30", "--yes"]) == 0
    assert f"Deleted {len(old)} conversations of {len(old)} senders" in capsys.readouterr().out
    after = events_per_sender(copy)
    # Gone: the old conversations; the first sender keeps only its recent session.
    assert set(after) == (set(before) - old) | {first}
    assert after[first] == recent_session_rows
    assert all(after[s] == before[s] for s in after if s != first)
    with sqlite3.connect(copy) as db:
        assert db.execute("PRAGMA freelist_count").fetchone()[0] == 0  # VACUUM ran
    assert copy.stat().st_size < size_before
