"""A SQLite tracker store of realistic conversations for scripts/bench_insights.py.

The events are the bot's own: the conversations of tests/insights/conversations.yml are
played over REST against a real bot (or read from --templates, a store that already holds
played conversations), and each generated conversation is a copy of one of them under a
new sender, started at a random moment of the last --days days (event timestamps moved
with it, in the rows and in their JSON). Not used by CI.

    python -m scripts.gen_insights_store --out /tmp/insights-10k.db [--count 10000]
        [--model models/x.tar.gz | --templates played.db] [--days 30] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from scripts.serve import Bot, newest_model

TOKEN = "gen-insights-token"
COLUMNS = ("sender_id", "type_name", "timestamp", "intent_name", "action_name", "data")
Row = tuple[str, str, float, str | None, str | None, str]


def play_templates(model: Path) -> Path:
    from tests.insights import support
    from tests.support.rest import RestClient

    store = Path(tempfile.mkdtemp(prefix="mpnbot-gen-")) / "templates.db"
    bot = Bot(model=model, api_token=TOKEN, env={"TRACKER_DB_URL": f"sqlite:///{store}"}).start()
    try:
        support.play(RestClient(bot.url, TOKEN), support.load())
    finally:
        bot.stop()
    return store


def read_templates(store: Path) -> list[list[Row]]:
    """One list of rows per played sender, in id order."""
    with sqlite3.connect(store) as db:
        rows = db.execute(f"SELECT {', '.join(COLUMNS)} FROM events ORDER BY sender_id, id").fetchall()
    templates: dict[str, list[Row]] = {}
    for row in rows:
        templates.setdefault(row[0], []).append(row)
    return list(templates.values())


def create_store(out: Path) -> sqlite3.Connection:
    out.unlink(missing_ok=True)
    db = sqlite3.connect(out)
    # The table and index Rasa's SQLTrackerStore creates.
    db.execute("CREATE TABLE events (id INTEGER NOT NULL, sender_id VARCHAR(255) NOT NULL, "
               "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
               "action_name VARCHAR(255), data TEXT, PRIMARY KEY (id))")
    db.execute("CREATE INDEX ix_events_sender_id ON events (sender_id)")
    return db


def generate(templates: list[list[Row]], out: Path, count: int, days: float, seed: int) -> int:
    rng = random.Random(seed)
    now = time.time()
    db = create_store(out)
    written = 0
    for number in range(count):
        template = rng.choice(templates)
        sender = f"gen-{number:06d}-{rng.getrandbits(32):08x}"
        start = now - rng.uniform(0, days * 86400)
        origin = template[0][2]
        rows = []
        for _, type_name, timestamp, intent, action, data in template:
            moved = start + (timestamp - origin)
            event = json.loads(data)
            event["timestamp"] = moved
            rows.append((sender, type_name, moved, intent, action,
                         json.dumps(event, ensure_ascii=False)))
        db.executemany(f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)", rows)
        written += len(rows)
    db.commit()
    db.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--model", type=Path, help="model to play the templates with "
                                                   "(default: the newest in models/)")
    parser.add_argument("--templates", type=Path, help="a store of played conversations")
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.templates is None:
        model = args.model or newest_model()
        if model is None:
            raise SystemExit("no model: train one, or pass --templates")
        print(f"Playing the template conversations against {model.name}…", flush=True)
        args.templates = play_templates(model)
    templates = read_templates(args.templates)
    events = generate(templates, args.out, args.count, args.days, args.seed)
    print(f"{args.out}: {args.count} conversations ({events} events) from "
          f"{len(templates)} played ones")


if __name__ == "__main__":
    main()
