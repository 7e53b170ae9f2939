"""Plays the held-out conversation set against a freshly started bot and prints the pass
rate per language and per kind, then every failed conversation.

    python -m scripts.eval_dialogue [--model models/x.tar.gz] [--set sealed|probe] [--quiet]

Without --set it plays the development part (tests/dialogue/*.yml, also in CI); --set NAME plays
the subfolder tests/dialogue/NAME/: sealed (reported figures only: never tune on it) or probe
(fresh conversations for finding failures, not in CI).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from scripts.serve import Bot, newest_model
from tests.support.dialogue import add_set_argument, held_out_scripts, pass_rates, play, report
from tests.support.rest import RestClient

TOKEN = "eval-token"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    add_set_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no failure details")
    parser.add_argument("--json", type=Path, help="also write the rates to this file")
    args = parser.parse_args()
    model = args.model or newest_model()
    if model is None:
        raise SystemExit("no model: train one first (rasa train)")
    bot = Bot(model=model, api_token=TOKEN).start()
    try:
        rest = RestClient(bot.url, TOKEN)
        results = [play(rest, language, conversation)
                   for language, conversation in held_out_scripts(args.subset)]
    finally:
        bot.stop()
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(pass_rates(results), indent=2), encoding="utf-8")
    if not args.quiet:
        for result in results:
            if not result.passed:
                print(f"\n{result.language}/{result.name} {result.kinds}:\n  "
                      + "\n  ".join(result.problems))


if __name__ == "__main__":
    main()
