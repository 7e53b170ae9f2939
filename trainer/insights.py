"""`python -m trainer insights`: did the partner get helped? Outcomes per situation,
language and guide, read from the tracker store (docs/insights.md).

The definitions (what a conversation is, which diagnosis it counts under, what counts as
a hand-off, a finished guide, a fallback, feedback, and the one outcome of each
conversation) live in the first part of this module and nowhere else; docs/insights.md
describes them and the tests check them against real conversations.

Reading is plain SQLAlchemy Core over Rasa's `events` table, opened read-only and
streamed in `sender_id, id` order (one pass, constant memory per conversation): not
Rasa's store classes (their start-up creates tables) and no tracker replay.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from components.redaction import mask_ids

# ---------------------------------------------------------------- definitions
# (docs/insights.md describes each of these; keep the two in step.)

# One outcome per conversation: the first of these that applies.
OUTCOMES = ("handed_off", "resolved", "out_of_scope", "misunderstood", "abandoned", "open")
DEFAULT_ABANDON_AFTER = timedelta(minutes=30)
OUT_OF_SCOPE = "out_of_scope"
HANDOFF_DIAGNOSIS = "human_handoff"
GUIDE_FINISHED_RESPONSE = "utter_guide_finished"
FALLBACK_ACTIONS = {"action_clarify", "action_default_fallback"}
FEEDBACK_SLOT = "feedback"
FEEDBACK_VALUES = ("yes", "no")
# The event types the definitions read; the others (featurization, loops…) are skipped
# in the query itself.
READ_TYPES = ("session_started", "user", "bot", "slot", "action")

Event = tuple[str, float, dict[str, Any]]  # type_name, timestamp, data


def _slot(data: dict[str, Any], name: str, value: Any) -> bool:
    return data.get("name") == name and data.get("value") == value


# What counts as a hand-off: each entry is (event type, test of its data). Another way to
# reach a person (a staff channel taking the conversation) is one more entry here.
HANDOFF_MARKERS: list[tuple[str, Callable[[dict[str, Any]], bool]]] = [
    ("slot", lambda data: _slot(data, "diagnosis", HANDOFF_DIAGNOSIS)),
]


def is_handoff(type_name: str, data: dict[str, Any]) -> bool:
    return any(type_name == kind and test(data) for kind, test in HANDOFF_MARKERS)


def event_data(type_name: str, action_name: str | None, raw: str | None) -> dict[str, Any]:
    """What the definitions read of an event. Parsing the JSON of every event is most of
    the reading time, so an action is only its name (a column of its own) and a bot
    message is parsed only when a definition can use it."""
    if type_name == "action":
        return {"name": action_name}
    if type_name == "bot" and not any(kind == "bot" for kind, _ in HANDOFF_MARKERS) \
            and GUIDE_FINISHED_RESPONSE not in (raw or ""):
        return {}
    return json.loads(raw or "{}")


def is_guide_finished(type_name: str, data: dict[str, Any]) -> bool:
    """The bot's "that was the last step" message: Rasa records the response key of
    every message sent by key, also from custom actions (apply_move)."""
    metadata = data.get("metadata") or {}
    return type_name == "bot" and GUIDE_FINISHED_RESPONSE in (
        metadata.get("utter_action"), metadata.get("template"))


@dataclass
class Conversation:
    """One session: a sender from one `session_started` to the next."""

    sender: str
    started: float
    language: str | None = None
    turns: int = 0
    last_user: float | None = None
    diagnosis: str | None = None  # the last before any hand-off
    handed_off: bool = False
    guide_finished: bool = False
    feedback: str | None = None  # the last answer, yes or no
    fallbacks: int = 0
    guide: str | None = None  # the guide in progress (None when none)
    step: int | None = None  # 0-based step of that guide
    reached: dict[str, int] = field(default_factory=dict)  # guide → highest 0-based step
    finished: set[str] = field(default_factory=set)  # guides completed
    misunderstood: list[str] = field(default_factory=list)  # the texts (masked)
    _pending_user: dict[str, Any] | None = None  # the last typed message, until answered

    def feed(self, type_name: str, timestamp: float, data: dict[str, Any]) -> None:
        if type_name == "user":
            self._user(timestamp, data)
        elif type_name == "action" and data.get("name") in FALLBACK_ACTIONS:
            self._fallback()
        elif type_name == "slot":
            self._slot_set(data)
        if is_handoff(type_name, data):
            self.handed_off = True
        if is_guide_finished(type_name, data):
            self.guide_finished = True
            if self.guide:
                self.finished.add(self.guide)

    def _user(self, timestamp: float, data: dict[str, Any]) -> None:
        self.turns += 1
        self.last_user = timestamp
        self._pending_user = data

    def _fallback(self) -> None:
        """Counted once per partner message, when the bot clarifies: a low-confidence
        message that a question takes as its free-text answer (a feedback comment) was
        understood."""
        data, self._pending_user = self._pending_user, None
        if data is None:
            return
        self.fallbacks += 1
        text = " ".join((data.get("text") or "").split())
        if text and not text.startswith("/"):
            self.misunderstood.append(mask_ids(text))

    def _slot_set(self, data: dict[str, Any]) -> None:
        name, value = data.get("name"), data.get("value")
        if name == "language" and value:
            self.language = str(value)
        elif self.turns == 0:
            # Slots carried over into a new session (action_session_start) are not
            # what this conversation was about.
            return
        elif name == "diagnosis" and value and value != HANDOFF_DIAGNOSIS and not self.handed_off:
            self.diagnosis = str(value)
        elif name == "guide":
            self.guide = str(value) if value else None
            self.step = None if value is None else self.step
        elif name == "guide_step" and value is not None and self.guide:
            self.step = int(value)
            self.reached[self.guide] = max(self.reached.get(self.guide, -1), self.step)
        elif name == FEEDBACK_SLOT and value in FEEDBACK_VALUES:
            self.feedback = str(value)

    @property
    def counted_diagnosis(self) -> str | None:
        if self.diagnosis is None and self.handed_off:
            return HANDOFF_DIAGNOSIS  # asked for a person straight away
        return self.diagnosis

    @property
    def resolved(self) -> bool:
        return self.guide_finished or self.feedback == "yes"

    def outcome(self, now: float, abandon_after: timedelta) -> str:
        if self.handed_off:
            return "handed_off"
        if self.resolved:
            return "resolved"
        if self.counted_diagnosis == OUT_OF_SCOPE:
            return "out_of_scope"
        if self.fallbacks and self.counted_diagnosis is None:
            return "misunderstood"
        idle = now - (self.last_user or self.started)
        return "abandoned" if idle >= abandon_after.total_seconds() else "open"


def conversations(events: Iterable[tuple[str, str, float, dict[str, Any]]]) -> Iterator[Conversation]:
    """Conversations with at least one partner message, from events in sender, id order."""
    current: Conversation | None = None
    sender_now = None
    for sender, type_name, timestamp, data in events:
        if sender != sender_now or type_name == "session_started":
            if current is not None and current.turns:
                yield current
            current = Conversation(sender, timestamp) if type_name == "session_started" else None
            sender_now = sender
            continue
        if current is not None:
            current.feed(type_name, timestamp, data)
    if current is not None and current.turns:
        yield current


# ---------------------------------------------------------------- reading

def sqlite_store(database: str | None, root: Path) -> Path:
    """The SQLite tracker store file of a URL's database part (relative to the project
    root, `rasa.db` by default, as the bot's store); it must exist."""
    path = Path(database or "rasa.db")
    path = path if path.is_absolute() else root / path
    if not path.exists():
        raise SystemExit(f"No tracker store at {path}.")
    return path


def open_engine(url: str, root: Path) -> Any:
    """A read-only engine: SQLite through a `mode=ro` URI (the file is never created or
    written), PostgreSQL with every transaction READ ONLY."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        path = sqlite_store(parsed.database, root)
        return sa.create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    engine = sa.create_engine(parsed)

    @sa.event.listens_for(engine, "begin")
    def read_only(connection: Any) -> None:
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")

    return engine


def read_events(engine: Any, since: float | None = None,
                progress: bool = True) -> Iterator[tuple[str, str, float, dict[str, Any]]]:
    """(sender, type, timestamp, data) in sender, id order, streamed (server-side cursor
    on PostgreSQL). With `since`, only events from then on: a conversation that started
    earlier then has no session_started and is skipped whole."""
    import sqlalchemy as sa
    from tqdm import tqdm

    events = sa.table("events", sa.column("id"), sa.column("sender_id"), sa.column("type_name"),
                      sa.column("timestamp"), sa.column("action_name"), sa.column("data"))
    where = [events.c.type_name.in_(READ_TYPES)]
    if since is not None:
        where.append(events.c.timestamp >= since)
    query = (sa.select(events.c.sender_id, events.c.type_name, events.c.timestamp,
                       events.c.action_name, events.c.data)
             .where(*where).order_by(events.c.sender_id, events.c.id))
    with engine.connect() as connection:
        total = connection.execute(
            sa.select(sa.func.count()).select_from(events).where(*where)).scalar() or 0
        rows = connection.execution_options(stream_results=True, yield_per=2000).execute(query)
        # Shown only on a terminal and for reads long enough to wait for.
        with tqdm(total=total, unit=" events", disable=not progress or total < 50_000 or None,
                  file=sys.stderr, desc="Reading events") as bar:
            for sender, type_name, timestamp, action_name, raw in rows:
                bar.update()
                yield sender, type_name, float(timestamp or 0), event_data(type_name, action_name,
                                                                           raw)
    engine.dispose()


# ---------------------------------------------------------------- figures

STATS = (*OUTCOMES, "fallbacks", "feedback_yes", "feedback_no", "median_turns")


def _stats(group: list[tuple[Conversation, str]]) -> dict[str, Any]:
    outcomes = Counter(outcome for _, outcome in group)
    return {"conversations": len(group),
            **{name: outcomes.get(name, 0) for name in OUTCOMES},
            "fallbacks": sum(c.fallbacks for c, _ in group),
            "feedback_yes": sum(c.feedback == "yes" for c, _ in group),
            "feedback_no": sum(c.feedback == "no" for c, _ in group),
            "median_turns": float(statistics.median(c.turns for c, _ in group)) if group else 0.0}


def guide_steps(root: Path) -> dict[str, list[str]]:
    """guide → its step ids, from actions/content/guides.yml."""
    import yaml

    guides = yaml.safe_load((root / "actions" / "content" / "guides.yml").read_text("utf-8"))
    return {name: [step["id"] for step in guide.get("steps") or []]
            for name, guide in (guides.get("guides") or {}).items()}


def summarise(convs: Iterable[Conversation], steps: dict[str, list[str]], now: float,
              abandon_after: timedelta, tz: ZoneInfo, top: int = 20) -> dict[str, Any]:
    rated = [(c, c.outcome(now, abandon_after)) for c in convs]
    by_diagnosis: dict[str, list[tuple[Conversation, str]]] = defaultdict(list)
    by_language: dict[str, list[tuple[Conversation, str]]] = defaultdict(list)
    by_day: dict[str, list[tuple[Conversation, str]]] = defaultdict(list)
    messages: Counter[tuple[str, str]] = Counter()
    for conversation, outcome in rated:
        by_diagnosis[conversation.counted_diagnosis or "none"].append((conversation, outcome))
        by_language[conversation.language or "unknown"].append((conversation, outcome))
        day = datetime.fromtimestamp(conversation.started, tz).date().isoformat()
        by_day[day].append((conversation, outcome))
        for text in conversation.misunderstood:
            messages[text, conversation.language or "unknown"] += 1

    funnels = {}
    for guide, ids in steps.items():
        started = [(c, o) for c, o in rated if guide in c.reached]
        if not started:
            continue
        abandoned = Counter(c.step for c, o in started if o == "abandoned" and c.guide == guide)
        funnels[guide] = {
            "started": len(started),
            "steps": [{"step": number, "id": step_id,
                       "reached": sum(c.reached[guide] >= number - 1 for c, _ in started),
                       "abandoned_here": abandoned.get(number - 1, 0)}
                      for number, step_id in enumerate(ids, start=1)],
            "finished": sum(guide in c.finished for c, _ in started),
        }
    return {
        "totals": _stats(rated),
        "by_diagnosis": {k: _stats(v) for k, v in sorted(by_diagnosis.items(),
                                                          key=lambda kv: (-len(kv[1]), kv[0]))},
        "by_language": {k: _stats(v) for k, v in sorted(by_language.items())},
        "diagnosis_by_language": {k: dict(Counter(c.language or "unknown" for c, _ in v))
                                  for k, v in by_diagnosis.items()},
        "funnels": funnels,
        "per_day": [{"date": day, **{k: v for k, v in _stats(group).items()
                                     if k in ("conversations", "resolved", "handed_off",
                                              "abandoned")}}
                    for day, group in sorted(by_day.items())],
        "misunderstood_messages": [{"text": text, "language": lang, "count": n}
                                   for (text, lang), n in messages.most_common(top)],
    }


# ---------------------------------------------------------------- command

def parse_time(value: str | None, tz: ZoneInfo, end_of_day: bool = False) -> float | None:
    """A date (YYYY-MM-DD; with end_of_day, the end of that day) or an ISO date-time,
    in `tz` unless it names its own offset; or seconds since the epoch."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        day = date.fromisoformat(value)
        moment = datetime(day.year, day.month, day.day, tzinfo=tz)
        return (moment + timedelta(days=1 if end_of_day else 0)).timestamp()
    except ValueError:
        moment = datetime.fromisoformat(value)
        return (moment if moment.tzinfo else moment.replace(tzinfo=tz)).timestamp()


@dataclass
class Options:
    url: str
    out: Path
    root: Path
    since: str | None = None
    until: str | None = None
    now: str | None = None
    abandon_after: timedelta = DEFAULT_ABANDON_AFTER
    tz: str = "UTC"
    progress: bool = True


def build(options: Options) -> dict[str, Any]:
    """Reads the store and returns insights.json's content."""
    from sqlalchemy.engine import make_url

    tz = ZoneInfo(options.tz)
    since = parse_time(options.since, tz)
    until = parse_time(options.until, tz, end_of_day=True)
    now = parse_time(options.now, tz) or datetime.now(timezone.utc).timestamp()
    engine = open_engine(options.url, options.root)
    convs = (c for c in conversations(read_events(engine, since, options.progress))
             if (since is None or c.started >= since) and (until is None or c.started < until))
    summary = summarise(convs, guide_steps(options.root), now, options.abandon_after, tz)
    iso = lambda t: None if t is None else datetime.fromtimestamp(t, tz).isoformat()  # noqa: E731
    return {
        "store": make_url(options.url).__repr__(),  # (password hidden)
        "generated_at": datetime.now(tz).isoformat(timespec="seconds"),
        "since": iso(since), "until": iso(until), "now": iso(now), "tz": options.tz,
        "abandon_after_minutes": options.abandon_after.total_seconds() / 60,
        "outcome_precedence": list(OUTCOMES),
        "definitions": "docs/insights.md",
        **summary,
    }


def run(options: Options) -> dict[str, Any]:
    from trainer.insights_report import render_html

    data = build(options)
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "insights.json").write_text(
        json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (options.out / "index.html").write_text(render_html(data, options.root), encoding="utf-8")
    return data

