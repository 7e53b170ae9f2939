"""How long `python -m trainer insights` takes on a store (median of --runs).

    python -m scripts.gen_insights_store --out /tmp/insights-10k.db
    python -m scripts.bench_insights --db sqlite:////tmp/insights-10k.db

Times the whole command as an operator runs it (read, fold, JSON, charts, HTML), in
this process after one import of the modules. Not used by CI.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from trainer import insights

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="tracker store URL")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    times = []
    for _ in range(args.runs):
        out = Path(tempfile.mkdtemp(prefix="mpnbot-bench-insights-"))
        started = time.perf_counter()
        data = insights.run(insights.Options(url=args.db, out=out, root=ROOT, progress=False))
        times.append(time.perf_counter() - started)
    print(f"{data['totals']['conversations']} conversations: insights took "
          f"{statistics.median(times):.2f} s (median of {args.runs}: "
          + ", ".join(f"{t:.2f}" for t in times) + ")")


if __name__ == "__main__":
    main()
