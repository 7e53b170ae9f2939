"""Prints model load time and NLU parse latency (median, p95) of a trained model.

Not a test and never run in CI: figures depend on the machine. Usage:
    PYTHONPATH=. .venv/bin/python scripts/bench_nlu.py [models/<model>.tar.gz]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

from rasa.core.agent import Agent
from rasa.shared.nlu.training_data.loading import load_data

from scripts.serve import served_model


async def main(model: Path) -> None:
    started = time.perf_counter()
    agent = Agent.load(str(model))
    print(f"model {model.name}: load {time.perf_counter() - started:.1f} s")
    for language in ("ja", "zh"):
        texts = [e.get("text") for e in load_data(f"tests/nlu/heldout_{language}.yml").intent_examples]
        await agent.parse_message(texts[0])  # warm-up
        timings = []
        for text in texts:
            began = time.perf_counter()
            await agent.parse_message(text)
            timings.append((time.perf_counter() - began) * 1000)
        timings.sort()
        p95 = timings[int(len(timings) * 0.95) - 1]
        print(f"{language}: parse median {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms "
              f"over {len(timings)} held-out messages")


if __name__ == "__main__":
    chosen = Path(sys.argv[1]) if len(sys.argv) > 1 else served_model()
    if chosen is None:
        sys.exit("no model: train one first (scripts/start or python -m trainer train)")
    asyncio.run(main(chosen))
