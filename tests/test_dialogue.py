"""The held-out conversation set (tests/dialogue/<lang>.yml), played over the REST channel
against the real servers: pass rate per language and per kind, against the floors in
tests/dialogue/baseline.json. The sealed part (tests/dialogue/sealed/) is not played
here: `python -m scripts.eval_dialogue --set sealed` reports it."""

from __future__ import annotations

import json

import pytest

from tests.support.dialogue import HELD_OUT, held_out_scripts, pass_rates, play, report
from tests.support.rest import RestClient

BASELINE = json.loads((HELD_OUT / "baseline.json").read_text(encoding="utf-8"))


def test_held_out_conversations_meet_the_baseline(rest: RestClient,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    results = [play(rest, language, conversation)
               for language, conversation in held_out_scripts(None)]
    rates = pass_rates(results)
    with capsys.disabled():
        print("\n" + report(results))
    below = [f"{group} {key}: {rates[group].get(key, 0.0):.1%} < floor {floor:.1%}"
             for group, floors in BASELINE["floors"].items() for key, floor in floors.items()
             if rates[group].get(key, 0.0) < floor]
    failures = "\n".join(f"{r.language}/{r.name}:\n  " + "\n  ".join(r.problems)
                         for r in results if not r.passed)
    assert not below, "\n".join(below) + "\n\nfailed conversations:\n" + failures
