"""Plays tests/insights/conversations.yml into a bot's tracker store and derives, from
each conversation's `expect`, the figures insights.json must show."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import yaml

from tests.support.rest import RestClient
from trainer.insights import OUTCOMES, guide_steps

SCRIPT = Path(__file__).with_name("conversations.yml")
ROOT = Path(__file__).resolve().parents[2]
FAR_FUTURE = "2099-01-01"  # --now: every conversation is idle long enough to be abandoned


def load() -> list[dict[str, Any]]:
    return yaml.safe_load(SCRIPT.read_text(encoding="utf-8"))["conversations"]


def sender_of(conversation: dict[str, Any]) -> str:
    return f"insights-{conversation['name']}"


def play(rest: RestClient, conversations: list[dict[str, Any]]) -> None:
    for conversation in conversations:
        sender = sender_of(conversation)
        language = conversation["expect"]["language"]
        for text in conversation["turns"]:
            rest.send(sender, text, {"language": language})


def _stats(group: list[dict[str, Any]]) -> dict[str, Any]:
    outcomes = Counter(e["outcome"] for e in group)
    return {"conversations": len(group), **{o: outcomes.get(o, 0) for o in OUTCOMES},
            "fallbacks": sum(e.get("fallbacks", 0) for e in group),
            "feedback_yes": sum(e.get("feedback") == "yes" for e in group),
            "feedback_no": sum(e.get("feedback") == "no" for e in group),
            "median_turns": float(statistics.median(e["turns"] for e in group))}


def expected(conversations: list[dict[str, Any]]) -> dict[str, Any]:
    """The parts of insights.json that the played conversations determine."""
    expects = [c["expect"] for c in conversations]
    by_diagnosis: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_language: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in expects:
        by_diagnosis[e["diagnosis"] or "none"].append(e)
        by_language[e["language"]].append(e)
    funnels = {}
    for guide, ids in guide_steps(ROOT).items():
        started = [e for e in expects if guide in (e.get("reached") or {})]
        if started:
            funnels[guide] = {
                "started": len(started),
                "steps": [{"step": n, "id": step_id,
                           "reached": sum(e["reached"][guide] >= n for e in started),
                           "abandoned_here": sum((e.get("abandoned_at") or {}).get(guide) == n
                                                 for e in started)}
                          for n, step_id in enumerate(ids, start=1)],
                "finished": sum(guide in (e.get("finished") or []) for e in started)}
    messages = Counter((text, e["language"]) for e in expects for text in e.get("misunderstood", []))
    return {
        "totals": _stats(expects),
        "by_diagnosis": {k: _stats(v) for k, v in by_diagnosis.items()},
        "by_language": {k: _stats(v) for k, v in by_language.items()},
        "funnels": funnels,
        "misunderstood_messages": sorted(
            ({"text": t, "language": lang, "count": n} for (t, lang), n in messages.items()),
            key=lambda m: (-m["count"], m["text"])),
    }


def comparable(data: dict[str, Any]) -> dict[str, Any]:
    """insights.json reduced to what `expected` describes (order-free where it is)."""
    return {"totals": data["totals"], "by_diagnosis": data["by_diagnosis"],
            "by_language": data["by_language"], "funnels": data["funnels"],
            "misunderstood_messages": sorted(data["misunderstood_messages"],
                                             key=lambda m: (-m["count"], m["text"]))}
