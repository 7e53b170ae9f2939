"""The review queue on real conversations: the fixture bot (`rasa run --enable-api`) is
talked to over the REST channel with a temporary SQLite tracker store, `review export`
finds the misunderstood messages, `review merge` adds the labelled ones to the right file."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.serve import free_port, wait_until_up
from tests.support.rest import RestClient
from tests.trainer.conftest import Trained, copy_fixture, run_trainer
from trainer.cli import main
from trainer.project import REPO, Project
from trainer.review import CSV_ENCODING, misunderstood
from trainer.sources import Sources

TOKEN = "trainer-test"
THRESHOLD = 0.6
# (sender, messages): ordinary questions, messages the fixture model cannot place, a
# guide that "didn't work" (button payload and typed), an Access-ID-like string.
CONVERSATIONS = [
    ("ja-1", ["こんにちは", "特典をアクティブ化したいです", '/guide_failed{"step": 1}']),
    ("ja-2", ["ぴよぴよ ほげほげ", "あいうえお", "契約 1234-5678-ABCD ぬぬぬ"]),
    ("ja-3", ["アクティブ化の画面はどこですか", "まあまあです", "/guide_failed"]),
    ("zh-1", ["你好", "权益在哪", "不行"]),
    ("zh-2", ["请问", "嗯嗯", "天气"]),
]


@dataclass(frozen=True)
class Store:
    project: Project
    url: str
    trackers: dict[str, list[dict]]  # sender → user events as the bot stored them


@pytest.fixture(scope="module")
def store(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """Real conversations with the fixture bot, stored in a fresh SQLite file."""
    directory = tmp_path_factory.mktemp("store")
    url = f"sqlite:///{directory / 'trackers.db'}"
    port = free_port()
    env = {**os.environ, "TRACKER_DB_URL": url, "RASA_TELEMETRY_ENABLED": "false",
           "PYTHONPATH": os.pathsep.join([str(REPO), str(trained.project.root)])}
    log = (directory / "rasa.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "rasa", "run", "--enable-api", "--auth-token", TOKEN,
         "--model", str(trained.model), "--port", str(port), "--endpoints", "endpoints.yml",
         "--credentials", "credentials.yml"],
        cwd=trained.project.root, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/webhooks/rest/", process, 300)
        client = RestClient(f"http://127.0.0.1:{port}", TOKEN)
        trackers = {}
        for sender, messages in CONVERSATIONS:
            for message in messages:
                client.send(sender, message)
            trackers[sender] = [e for e in client.tracker(sender)["events"]
                                if e["event"] == "user"]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
    yield Store(trained.project, url, trackers)


def expected_rows(store: Store) -> dict[str, set[tuple[str, str]]]:
    """(text, reason) per language, computed from what the bot itself recorded."""
    expected: dict[str, set[tuple[str, str]]] = {"ja": set(), "zh": set()}
    for sender, events in store.trackers.items():
        language = sender[:2]
        reasons: dict[str, list[str]] = {}
        typed: list[dict] = []
        for event in events:
            intent = event["parse_data"]["intent"]
            text = event["text"]
            if intent["name"] == "guide_failed":
                subject = next(e for e in reversed(typed)
                               if e["parse_data"]["intent"]["name"] not in
                               ("guide_next", "guide_failed", "guide_show_all", "nlu_fallback"))
                reasons.setdefault(subject["text"], []).append("guide_failed")
            if text.startswith("/"):
                continue
            typed.append(event)
            if intent["name"] == "nlu_fallback":
                reasons.setdefault(text, []).append("fallback")
            elif intent["confidence"] < THRESHOLD:
                reasons.setdefault(text, []).append("low_confidence")
        expected[language] |= {(text, "+".join(r)) for text, r in reasons.items()}
    return expected


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding=CSV_ENCODING, newline="") as handle:
        return list(csv.DictReader(handle))


def test_conversations_were_stored_with_ids_masked(store: Store) -> None:
    texts = [e["text"] for events in store.trackers.values() for e in events]
    assert "契約 [ID] ぬぬぬ" in texts and not any("1234-5678" in t for t in texts)


def test_export_finds_the_misunderstood_messages(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "review"
    done = run_trainer(store.project, "review", "export", "--db", store.url, "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    expected = expected_rows(store)
    # The fixture model places these poorly, the guides "did not work" for these.
    for text in ("特典をアクティブ化したいです", "アクティブ化の画面はどこですか"):
        assert any(t == text and "guide_failed" in r for t, r in expected["ja"])
    assert any("fallback" in r or "low_confidence" in r for _, r in expected["ja"])
    assert any("fallback" in r or "low_confidence" in r for _, r in expected["zh"])
    for language in ("ja", "zh"):
        rows = read_rows(out / f"{language}.csv")
        assert list(rows[0]) == ["text", "predicted_intent", "confidence", "reason", "sender",
                                 "timestamp", "label"]
        assert {(r["text"], r["reason"]) for r in rows} == expected[language]
        for row in rows:
            assert row["predicted_intent"] not in ("", "nlu_fallback")
            assert 0 <= float(row["confidence"]) <= 1 and row["label"] == ""
            assert row["sender"].startswith(language) and row["timestamp"][:2] == "20"
        assert f"review/{language}.csv" in done.stdout or str(out) in done.stdout

    # A second export keeps the trainer's labels and adds nothing twice.
    path = out / "ja.csv"
    rows = read_rows(path)
    rows[0]["label"] = "greet"
    with path.open("w", encoding=CSV_ENCODING, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert main(["--root", str(store.project.root), "review", "export", "--db", store.url,
                 "--out", str(out)]) == 0  # in this process: Rasa is loaded already
    again = read_rows(path)
    assert len(again) == len(rows) and again[0]["label"] == "greet"


def test_export_masks_ids_itself(tmp_path: Path) -> None:
    """Trackers written before masking (or by another store class) are masked on export;
    a message whose script does not decide takes the conversation's language slot."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    db = tmp_path / "old.db"
    tracker = DialogueStateTracker.from_events("old", [
        SlotSet("language", "zh"),
        UserUttered("access ID 9f8e7d6c-1234-4a5b-9c8d-0123456789ab ???", parse_data={
            "intent": {"name": "nlu_fallback", "confidence": 0.45},
            "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.45},
                               {"name": "ask_entitlement", "confidence": 0.3}]}),
    ])
    asyncio.run(SQLTrackerStore(Domain.empty(), db=str(db)).save(tracker))
    turns = misunderstood(Project(tmp_path), f"sqlite:///{db}", THRESHOLD)
    assert [(t.language, t.row()["text"], t.intent, t.reasons) for t in turns] == [
        ("zh", "access ID [ID] ???", "ask_entitlement", ["fallback"])]


def test_merge_adds_labelled_rows_to_the_right_file(
        trained: Trained, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = copy_fixture(tmp_path / "project", trained.project.root)
    before = {p: p.read_text(encoding="utf-8") for p in project.data.rglob("*.yml")}
    review = project.root / "review"
    review.mkdir()
    rows = [
        ("アクティブ化の画面はどこですか", "ask_activate_benefits"),   # → benefits.yml
        ("ぴよぴよ ほげほげ", "out_of_scope"),                        # → conversation.yml
        ("契約 [ID] でサポートは何件？", "ask_entitlement"),          # → benefits.yml
        ("アクティブ化の画面はどこですか？", "ask_activate_benefits"),  # same as row 1
        ("特典を有効化したい", "ask_activate_benefits"),              # already in training
        ("特典を有効化したい！", "greet"),                             # conflicts
        ("特典をアクティブ化したいです", "ask_activate_benefits"),     # held-out example
        ("まあまあです", "no_such_intent"),                           # unknown label
        ("あいうえお", ""),                                           # not labelled
    ]
    with (review / "ja.csv").open("w", encoding=CSV_ENCODING, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "predicted_intent", "confidence", "reason", "sender",
                         "timestamp", "label"])
        writer.writerows([text, "x", "0.1", "fallback", "s", "t", label] for text, label in rows)

    done = run_trainer(project, "review", "merge", "review/ja.csv")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Added 3 examples:" in done.stdout and "Skipped 5:" in done.stdout
    for why in ("duplicate of another row", "already an example", "conflicts with intent "
                "ask_activate_benefits", "held-out test example (tests/nlu/heldout_ja.yml:",
                "'no_such_intent' is not an intent"):
        assert why in done.stdout

    src = Sources(project)
    placed = {(e.text, e.intent, project.rel(e.entry.path)) for e in src.training_examples}
    assert ("アクティブ化の画面はどこですか", "ask_activate_benefits",
            "data/nlu/ja/benefits.yml") in placed
    assert ("ぴよぴよ ほげほげ", "out_of_scope", "data/nlu/ja/conversation.yml") in placed
    assert ("契約 [ID] でサポートは何件？", "ask_entitlement", "data/nlu/ja/benefits.yml") in placed
    # Only lines were added: everything else is byte for byte as before.
    for path, text in before.items():
        old, new = text.splitlines(), path.read_text(encoding="utf-8").splitlines()
        added = [line for line in new if line not in old]
        assert [line for line in new if line not in added] == old
        assert all(line.startswith("    - ") for line in added)
    # Each example sits at the end of its intent's block, where the report says.
    for line in done.stdout.splitlines():
        if line.startswith("  data/nlu/ja/"):
            where, _, rest = line.strip().partition("  ")
            file, number = where.rsplit(":", 1)
            text = rest.split(": ", 1)[1]
            lines = (project.root / file).read_text(encoding="utf-8").splitlines()
            assert lines[int(number) - 1] == f"    - {text}"

    # Merging again adds nothing.
    capsys.readouterr()
    assert main(["--root", str(project.root), "review", "merge", "review/ja.csv"]) == 0
    assert "Added 0 examples:" in capsys.readouterr().out
