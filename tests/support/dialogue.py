"""Scripted conversations played over the REST channel and checked turn by turn.

A script file holds `conversations:`, each with `turns:` of `user` (+ optional
`metadata`) and `expect`. Expectations (all optional):
  diagnosis, language, handoff_from   slot values after the bot's reply
  guide                               slot `guide` (a guide id or null)
  guide_step                          the step number the partner sees (1-based)
  says_any / says_all                 facts in the reply text (one of / all of)
  buttons_include / buttons_min       button payloads offered / at least N buttons
  responses_include                   domain responses uttered in this turn
A conversation passes only if every turn does.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.rest import RestClient

SLOT_EXPECTATIONS = ("diagnosis", "language", "handoff_from", "guide")
HELD_OUT = Path(__file__).resolve().parents[1] / "dialogue"


@dataclass
class Played:
    name: str
    language: str
    kinds: list[str]
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def load_scripts(paths: Iterable[Path]) -> list[tuple[str, dict[str, Any]]]:
    """(language, conversation) pairs; the language is the file's stem (ja.yml, zh.yml)."""
    return [(path.stem, conversation) for path in sorted(paths)
            for conversation in yaml.safe_load(path.read_text(encoding="utf-8"))["conversations"]]


def add_set_argument(parser: argparse.ArgumentParser) -> None:
    """--set NAME: play the subfolder tests/dialogue/NAME/ instead of the development part."""
    subsets = sorted(path.name for path in HELD_OUT.iterdir() if path.is_dir())
    parser.add_argument("--set", dest="subset", choices=subsets,
                        help="play a subfolder of tests/dialogue instead of the development part")


def held_out_scripts(subset: str | None) -> list[tuple[str, dict[str, Any]]]:
    """The development part (tests/dialogue/*.yml) or the named subfolder's conversations."""
    return load_scripts((HELD_OUT / subset if subset else HELD_OUT).glob("*.yml"))


def uttered_responses(tracker: dict[str, Any]) -> list[str]:
    """The responses the bot uttered since the latest user message."""
    events = tracker.get("events") or []
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    return [(e.get("metadata") or {}).get("utter_action") for e in events[last_user + 1:]
            if e.get("event") == "bot"]


def check_turn(expect: dict[str, Any], replies: list[dict[str, Any]],
               tracker: dict[str, Any]) -> list[str]:
    slots = tracker.get("slots") or {}
    text = "\n".join(reply.get("text") or "" for reply in replies)
    payloads = [b["payload"] for reply in replies for b in reply.get("buttons") or []]
    problems = [f"{slot}={slots.get(slot)!r}, expected {expect[slot]!r}"
                for slot in SLOT_EXPECTATIONS if slot in expect and slots.get(slot) != expect[slot]]
    if "guide_step" in expect:
        step = slots.get("guide_step")
        shown = None if step is None else int(step) + 1
        if shown != expect["guide_step"]:
            problems.append(f"guide step {shown}, expected {expect['guide_step']}")
    if "says_any" in expect and not any(fact in text for fact in expect["says_any"]):
        problems.append(f"none of {expect['says_any']} in reply")
    missing = [fact for fact in expect.get("says_all", []) if fact not in text]
    if missing:
        problems.append(f"{missing} missing from reply")
    missing_buttons = [p for p in expect.get("buttons_include", []) if p not in payloads]
    if missing_buttons:
        problems.append(f"buttons {missing_buttons} missing (got {payloads})")
    if len(payloads) < expect.get("buttons_min", 0):
        problems.append(f"{len(payloads)} buttons, expected at least {expect['buttons_min']}")
    uttered = uttered_responses(tracker)
    absent = [name for name in expect.get("responses_include", []) if name not in uttered]
    if absent:
        problems.append(f"responses {absent} not uttered (got {uttered})")
    return problems


def play(rest: RestClient, language: str, conversation: dict[str, Any]) -> Played:
    played = Played(conversation["name"], language, list(conversation.get("kinds") or []))
    sender = rest.new_sender()
    for number, turn in enumerate(conversation["turns"], start=1):
        replies = rest.send(sender, turn["user"], turn.get("metadata")).replies
        problems = check_turn(turn.get("expect") or {}, replies, rest.tracker(sender))
        if not replies:
            problems.append("no reply at all")
        if problems:
            text = " ".join(reply.get("text") or "" for reply in replies)[:200]
            played.problems.append(f"turn {number} {turn['user']!r}: " + "; ".join(problems)
                                   + f"\n    reply: {text!r}")
    return played


def pass_rates(results: list[Played]) -> dict[str, dict[str, float]]:
    """Pass rate per language and per kind (a conversation counts under each of its kinds)."""
    groups: dict[str, dict[str, list[bool]]] = {"language": defaultdict(list),
                                               "kind": defaultdict(list)}
    for result in results:
        groups["language"][result.language].append(result.passed)
        for kind in result.kinds:
            groups["kind"][kind].append(result.passed)
    return {group: {key: sum(values) / len(values) for key, values in sorted(members.items())}
            for group, members in groups.items()}


def report(results: list[Played]) -> str:
    rates = pass_rates(results)
    counts: dict[str, int] = defaultdict(int)
    for result in results:
        counts[result.language] += 1
        for kind in result.kinds:
            counts[kind] += 1
    lines = [f"{sum(r.passed for r in results)}/{len(results)} conversations passed"]
    for group, members in rates.items():
        lines += [f"  {group:8} {key:16} {rate:6.1%}  (n={counts[key]})"
                  for key, rate in members.items()]
    return "\n".join(lines)
