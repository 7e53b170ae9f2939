"""The recorded benchmark runs (benchmarks/results.jsonl) as a Markdown table.

    python -m benchmarks.report [--results FILE] [--dataset NAME ...] [--grep TEXT] [--all]

One row per run: dataset and split, variant, accuracy and macro-F1 of the top intent,
the same with nlu_fallback counted as a miss (and how many went to fallback), training
time (wall / CPU seconds) and the command. Without --all only the latest run of each
(dataset, split, variant) is shown.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.run import RESULTS


def rows(records: list[dict], latest: bool) -> list[dict]:
    if not latest:
        return records
    seen: dict[tuple[str, str, str], dict] = {}
    for record in records:
        seen[(record["dataset"], record["split"], record["variant"])] = record
    return list(seen.values())


def table(records: list[dict], commands: bool = True) -> str:
    header = ["dataset (test)", "variant", "accuracy", "macro-F1", "with fallback: acc / F1 (n)",
              "training s (wall / CPU)"] + (["command"] if commands else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in records:
        cells = [
            f"{r['dataset']} ({r['split']})", r["variant"], f"{r['accuracy']:.2f}",
            f"{r['macro_f1']:.3f}",
            f"{r['fallback_accuracy']:.2f} / {r['fallback_macro_f1']:.3f} ({r['fallbacks']})",
            f"{r['train_wall_s']:.0f} / {r['train_cpu_s']:.0f}",
        ]
        if commands:
            cells.append(f"`{r['command']}`")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--dataset", action="append", default=[])
    parser.add_argument("--grep", help="only variants containing this text")
    parser.add_argument("--all", action="store_true", help="every run, not only the latest")
    parser.add_argument("--no-commands", dest="commands", action="store_false")
    args = parser.parse_args()
    records = [json.loads(line) for line in Path(args.results).read_text(encoding="utf-8").splitlines()
               if line.strip()]
    records = [r for r in records
               if (not args.dataset or r["dataset"] in args.dataset)
               and (not args.grep or args.grep in r["variant"])]
    print(table(rows(records, not args.all), args.commands))


if __name__ == "__main__":
    main()
