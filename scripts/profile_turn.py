"""Where a turn's CPU goes: cProfile around Rasa's own message handling (never in CI).

Loads the model into this process the way `rasa run` does (Agent with this project's
tracker and lock stores from endpoints.yml, the action endpoint pointing at an action
server started here), warms up, then profiles `--turns` turns of the benchmark's
conversation mix (scripts/bench_bot.py, long session included) and prints the functions
by cumulative time and a summary of the main parts of a turn.

    nice -n 10 .venv/bin/python -m scripts.profile_turn --model PATH [--turns 200] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import pstats
import tempfile
import time
import uuid
from pathlib import Path

from scripts.bench_bot import CONVERSATIONS, with_long_session
from scripts.serve import Bot

# Parts of a turn: (label, function name as cProfile reports it, a file name fragment).
PARTS = [
    ("whole turn (MessageProcessor.handle_message)", "handle_message", "processor.py"),
    ("NLU graph run (parse_message)", "parse_message", "processor.py"),
    ("  DIET process", "process", "diet_classifier.py"),
    ("  tokenizer process", "process", "tokenizer.py"),
    ("  CountVectorsFeaturizer process", "process", "count_vectors_featurizer.py"),
    ("  RegexFeaturizer process", "process", "regex_featurizer.py"),
    ("policy predictions (_predict_next_with_tracker)", "_predict_next_with_tracker",
     "processor.py"),
    ("  RulePolicy predict_action_probabilities", "predict_action_probabilities",
     "rule_policy.py"),
    ("  MemoizationPolicy predict_action_probabilities", "predict_action_probabilities",
     "memoization.py"),
    ("tracker store retrieve (load + replay)", "retrieve", "tracker_store.py"),
    ("tracker store save", "save", "tracker_store.py"),
    ("custom action call (RemoteAction.run)", "run", "action.py"),
    ("  request JSON (_action_call_format)", "_action_call_format", "action.py"),
    ("  domain.as_dict", "as_dict", "domain.py"),
    ("  EndpointConfig.request (HTTP, session)", "request", "endpoints.py"),
    ("response rendering (NLG generate)", "generate", "response.py"),
    ("logging (Logger._log)", "_log", "logging/__init__.py"),
]


async def run(model: Path, turns: int, out: Path | None) -> None:
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.endpoints import EndpointConfig, read_endpoint_config
    from rasa.utils.log_utils import configure_structlog

    from components.stores import EnvLockStore, EnvTrackerStore

    # Logging as `rasa run` sets it up (INFO unless LOG_LEVEL): structlog's default would
    # otherwise print every debug event and dominate the profile.
    level = logging.getLevelName(os.environ.get("LOG_LEVEL", "INFO"))
    configure_logging_and_warnings(level)
    configure_structlog(level)
    bot = Bot(model=model)
    bot.start_actions()
    try:
        endpoints = str(Path(__file__).resolve().parent.parent / "endpoints.yml")
        action_endpoint = read_endpoint_config(endpoints, "action_endpoint")
        assert action_endpoint is not None
        action_endpoint = EndpointConfig(f"{bot.actions_url}/webhook", **action_endpoint.kwargs)
        os.environ.setdefault("TRACKER_DB_URL", f"sqlite:///{tempfile.mkdtemp()}/trackers.db")
        agent = Agent.load(str(model), action_endpoint=action_endpoint,
                           tracker_store=EnvTrackerStore(), lock_store=EnvLockStore())
        mix = with_long_session(CONVERSATIONS)

        async def turns_of(count: int) -> None:
            done = 0
            while done < count:
                for conversation in mix:
                    sender = f"profile-{uuid.uuid4().hex[:8]}"
                    for text in conversation:
                        await agent.handle_message(UserMessage(
                            text, CollectingOutputChannel(), sender))
                        done += 1
                        if done >= count:
                            return

        await turns_of(40)  # warm-up: TensorFlow's first calls, caches
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        await turns_of(turns)
        profile.disable()
        wall = (time.perf_counter() - started) * 1000 / turns
    finally:
        bot.stop()
    stats = pstats.Stats(profile)
    if out:
        stats.dump_stats(str(out))
    print(f"{turns} turns, {wall:.1f} ms wall per turn (profiled; cProfile adds overhead)\n")
    cumulative: dict[tuple[str, str], float] = {}
    for (filename, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        for _label, function, fragment in PARTS:
            if name == function and fragment in filename:
                key = (function, fragment)  # the outermost match: nested ones (wrappers,
                cumulative[key] = max(cumulative.get(key, 0.0), ct)  # overrides) are inside
    print("| part of a turn | ms per turn (cumulative) |\n|---|---|")
    for label, function, fragment in PARTS:
        print(f"| {label} | {cumulative.get((function, fragment), 0.0) * 1000 / turns:.1f} |")
    print()
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--out", type=Path, default=None, help="also write the raw profile")
    args = parser.parse_args()
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    asyncio.run(run(args.model, args.turns, args.out))


if __name__ == "__main__":
    main()
