"""The review queue: what real partners wrote that the bot did not understand.

export: reads Rasa's `events` table (SQLTrackerStore: SQLite file or PostgreSQL by URL)
and writes review/<lang>.csv with the user messages that went to nlu_fallback, had a
low intent confidence, or were followed by "that didn't work" (guide_failed), with the
predicted intent and confidence. Access/Contract-ID-like strings are masked. A trainer
fills the `label` column (an intent name) in Excel or any editor.

merge: adds the labelled rows to data/nlu/<lang>/, into the file that already holds the
intent, appended to its examples block as plain text lines (the rest of the file is left
byte for byte), skipping duplicates, near-duplicates and held-out examples.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from components.language import detect_language
from components.redaction import mask_ids
from trainer.project import Project
from trainer.similarity import DEFAULT_THRESHOLD, SimilarityIndex, similar
from trainer.sources import Block, SourceError, Sources, load_yaml, read_nlu_file

COLUMNS = ("text", "predicted_intent", "confidence", "reason", "sender", "timestamp", "label")
DEFAULT_THRESHOLD_CONFIDENCE = 0.6
FALLBACK_INTENT = "nlu_fallback"
GUIDE_FAILED = "guide_failed"
# Messages that only move through a guide: never the message a failure is about.
GUIDE_INTENTS = {"guide_next", "guide_failed", "guide_show_all"}
# Excel opens UTF-8 CSV correctly only with a byte order mark.
CSV_ENCODING = "utf-8-sig"


@dataclass
class Turn:
    text: str
    intent: str
    confidence: float
    sender: str
    timestamp: float
    language: str
    reasons: list[str] = field(default_factory=list)

    @property
    def is_payload(self) -> bool:
        return self.text.startswith("/")

    def row(self) -> dict[str, str]:
        return {"text": mask_ids(" ".join(self.text.split())),
                "predicted_intent": self.intent, "confidence": f"{self.confidence:.3f}",
                "reason": "+".join(self.reasons), "sender": self.sender,
                "timestamp": datetime.fromtimestamp(self.timestamp, timezone.utc)
                .isoformat(timespec="seconds"), "label": ""}


def default_db_url(project: Project) -> str:
    return os.environ.get("TRACKER_DB_URL") or f"sqlite:///{project.root / 'rasa.db'}"


def _engine(project: Project, url: str) -> Any:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite") and parsed.database \
            and not Path(parsed.database).is_absolute():
        parsed = parsed.set(database=str(project.root / parsed.database))
    if parsed.drivername.startswith("sqlite") and not Path(parsed.database or "").exists():
        raise SystemExit(f"No tracker store at {parsed.database}.")
    return sa.create_engine(parsed)


def _events(project: Project, url: str) -> Iterator[tuple[str, str, float, dict[str, Any]]]:
    import sqlalchemy as sa

    engine = _engine(project, url)
    query = sa.text("SELECT sender_id, type_name, timestamp, data FROM events "
                    "WHERE type_name IN ('user', 'slot') ORDER BY sender_id, id")
    with engine.connect() as connection:
        for sender, type_name, timestamp, data in connection.execute(query):
            yield sender, type_name, float(timestamp or 0), json.loads(data or "{}")
    engine.dispose()


def _user_turn(sender: str, timestamp: float, data: dict[str, Any],
               language_slot: str | None) -> Turn:
    parse = data.get("parse_data") or {}
    intent = parse.get("intent") or {}
    name, confidence = intent.get("name") or "", float(intent.get("confidence") or 0.0)
    if name == FALLBACK_INTENT:
        # The fallback replaced the best guess: show that guess and its confidence.
        best: dict[str, Any] = next((i for i in parse.get("intent_ranking") or []
                     if i.get("name") != FALLBACK_INTENT), {})
        name, confidence = best.get("name") or FALLBACK_INTENT, float(best.get("confidence") or 0)
        reasons = ["fallback"]
    else:
        reasons = []
    text = data.get("text") or ""
    detected = next((e.get("value") for e in parse.get("entities") or []
                     if e.get("entity") == "language"), None)
    language = detected or language_slot or detect_language(text) or "ja"
    return Turn(text, name, confidence, sender, timestamp, language, reasons)


def _blame(typed: list[Turn], flagged: list[Turn]) -> None:
    """Flags the message a "that didn't work" is about: the last typed message that chose
    the guidance (not a move through a guide, not one the bot did not understand)."""
    subject = next((t for t in reversed(typed)
                    if t.intent not in GUIDE_INTENTS and "fallback" not in t.reasons), None)
    if subject is None or GUIDE_FAILED in subject.reasons:
        return
    if not subject.reasons:  # not flagged yet
        flagged.append(subject)
    subject.reasons.append(GUIDE_FAILED)


def misunderstood(project: Project, url: str, threshold: float) -> list[Turn]:
    """The user messages to review, in conversation order."""
    flagged: list[Turn] = []
    sender_now, language_slot = None, None
    typed: list[Turn] = []  # this conversation's typed messages so far
    for sender, type_name, timestamp, data in _events(project, url):
        if sender != sender_now:
            sender_now, language_slot, typed = sender, None, []
        if type_name == "slot":
            if data.get("name") == "language" and data.get("value"):
                language_slot = str(data["value"])
            continue
        turn = _user_turn(sender, timestamp, data, language_slot)
        if turn.intent == GUIDE_FAILED and not turn.reasons:  # (not a fallback's guess)
            _blame(typed, flagged)
        if turn.is_payload or not turn.text.strip():
            continue  # a button: nothing a trainer can label
        if "fallback" not in turn.reasons and turn.confidence < threshold:
            turn.reasons.append("low_confidence")
        typed.append(turn)
        if turn.reasons:
            flagged.append(turn)
    return flagged


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding=CSV_ENCODING, newline="") as handle:
        return [{k: (v or "") for k, v in row.items() if k} for row in csv.DictReader(handle)]


def export(project: Project, url: str, out: Path, threshold: float) -> dict[str, int]:
    """Writes out/<lang>.csv; rows already in an existing file (and their labels) stay."""
    from sqlalchemy.engine import make_url

    print(f"Reading conversations from {make_url(url)!r}…", flush=True)  # (password hidden)
    turns = misunderstood(project, url, threshold)
    out.mkdir(parents=True, exist_ok=True)
    added: dict[str, int] = {}
    for language in project.languages:
        path = out / f"{language}.csv"
        rows = read_csv(path) if path.exists() else []
        seen = {row["text"] for row in rows}
        new = 0
        for turn in turns:
            row = turn.row()
            if turn.language == language and row["text"] not in seen:
                rows.append(row)
                seen.add(row["text"])
                new += 1
        with path.open("w", encoding=CSV_ENCODING, newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        added[language] = new
        print(f"  {project.rel(path)}: {new} new messages to review ({len(rows)} in the file)")
    return added


# ---------------------------------------------------------------- merge

@dataclass
class MergeReport:
    added: list[tuple[str, str, str]] = field(default_factory=list)  # where, intent, text
    skipped: list[tuple[str, str]] = field(default_factory=list)  # text, why


def _append_block(path: Path, intent: str, texts: list[str]) -> None:
    """A new `- intent:` item at the end of a file (created when missing)."""
    existing = path.read_text(encoding="utf-8") if path.exists() else 'version: "3.1"\nnlu:\n'
    if not existing.endswith("\n"):
        existing += "\n"
    block = f"\n- intent: {intent}\n  examples: |\n" + "".join(f"    - {t}\n" for t in texts)
    path.write_text(existing + block, encoding="utf-8")


def _insert_after(path: Path, block: Block, texts: list[str]) -> None:
    """Example lines inserted after the block's last example, with its indentation."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    last = block.entries[-1].line  # 1-based
    indent = lines[last - 1][: len(lines[last - 1]) - len(lines[last - 1].lstrip())]
    if not lines[last - 1].endswith("\n"):
        lines[last - 1] += "\n"
    lines[last:last] = [f"{indent}- {t}\n" for t in texts]
    path.write_text("".join(lines), encoding="utf-8")


def _target(src: Sources, language: str, intent: str) -> tuple[Path, Block | None]:
    """The file of data/nlu/<lang>/ that holds the intent (its last block), or a new one."""
    blocks = [b for b in src.nlu_blocks if b.kind == "intent" and b.name == intent
              and src.project.nlu_dir(language) in b.path.parents and b.entries]
    if blocks:
        return blocks[-1].path, blocks[-1]
    return src.project.nlu_dir(language) / f"{intent}.yml", None


def merge(project: Project, csv_path: Path, language: str | None,
          threshold: float = DEFAULT_THRESHOLD) -> MergeReport:
    language = language or csv_path.stem
    if language not in project.languages:
        raise SystemExit(f"Which language is {csv_path.name}? Use --lang "
                         f"({', '.join(project.languages)}).")
    src = Sources(project)
    training = SimilarityIndex(((e.text, e) for e in src.training_examples), threshold)
    heldout = SimilarityIndex(((e.text, e) for e in src.heldout_examples), threshold)
    report = MergeReport()
    accepted: dict[str, list[str]] = {}
    for row in read_csv(csv_path):
        intent, text = row.get("label", "").strip(), " ".join(row.get("text", "").split())
        if not intent:
            continue
        if not text:
            report.skipped.append((text, "empty text"))
        elif intent not in src.intents:
            report.skipped.append((text, f"label '{intent}' is not an intent of the domain"))
        elif held := heldout.find(text):
            where = held[0].item.entry
            report.skipped.append((text, f"held-out test example "
                                         f"({project.rel(where.path)}:{where.line})"))
        elif known := training.find(text):
            other = known[0].item
            what = "already an example" if other.intent == intent else \
                f"conflicts with intent {other.intent}"
            report.skipped.append((text, f"{what} ({project.rel(other.entry.path)}:"
                                         f"{other.entry.line}, similarity {known[0].score:.2f})"))
        elif any(similar(t, text, threshold) for texts in accepted.values() for t in texts):
            report.skipped.append((text, "duplicate of another row of this file"))
        else:
            accepted.setdefault(intent, []).append(text)

    files: dict[Path, list[tuple[str, Block | None, list[str]]]] = {}
    for intent, texts in accepted.items():
        path, block = _target(src, language, intent)
        files.setdefault(path, []).append((intent, block, texts))
    for path, additions in files.items():
        _write(project, path, additions, report)
    return report


def _write(project: Project, path: Path, additions: list[tuple[str, Block | None, list[str]]],
           report: MergeReport) -> None:
    """Adds the examples to one file, checks the result, and restores the file if wrong."""
    original = path.read_text(encoding="utf-8") if path.exists() else None
    # Bottom-up, so that the insertion points read before any change stay right;
    # new blocks go at the very end.
    for intent, block, texts in sorted(
            additions, key=lambda a: -a[1].entries[-1].line if a[1] else -(10 ** 9)):
        if block is None:
            _append_block(path, intent, texts)
        else:
            _insert_after(path, block, texts)
    try:  # the file must still be valid, with each new example under its intent
        entries = {(b.name, e.text): e.line for b in read_nlu_file(path, load_yaml(path))
                   if b.kind == "intent" for e in b.entries}
        missing = [t for intent, _, texts in additions for t in texts
                   if (intent, t) not in entries]
        if missing:
            raise SourceError(path, 1, f"{len(missing)} examples did not land under their intent")
    except SourceError as error:
        if original is None:
            path.unlink()
        else:
            path.write_text(original, encoding="utf-8")
        report.skipped += [(t, f"could not add to {project.rel(path)}: {error.message}")
                           for _, _, texts in additions for t in texts]
        return
    report.added += [(f"{project.rel(path)}:{entries[intent, t]}", intent, t)
                     for intent, _, texts in additions for t in texts]
