"""`python -m trainer <command>`: the trainer loop's command line (see TRAINING.md)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from trainer.project import REPO, Project, rasa_command, run_quiet

LOOP = "validate → train → evaluate → compare → promote"


def _root_option(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument("--root", type=Path, default=default,
                        help="project directory (default: this repository)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trainer",
        description=f"The trainer loop of mpn-support-bot: {LOOP}, and the review queue.",
        epilog="Run `python -m trainer <command> --help` for each command's options.")
    _root_option(parser, REPO)
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    def command(name: str, help_text: str, description: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=description)
        _root_option(sub, argparse.SUPPRESS)  # also accepted after the command
        return sub

    validate = command(
        "validate", "check the training data (Rasa's validation + the project's checks)",
        "Runs the project's checks (examples per intent and language, the same example under "
        "two intents, unused intents/responses, ja+zh in every response and guide, entity "
        "values, diagnosis IDs, held-out examples kept out of training data), then "
        "`rasa data validate --fail-on-warning`. Every problem names file and line. "
        "Exit code 1 when anything fails.")
    validate.add_argument("--min-examples", type=int, default=40,
                          help="examples each intent needs in each language (default 40)")
    validate.add_argument("--similarity", type=float, default=0.9,
                          help="character-trigram Jaccard from which two examples count as "
                               "near-duplicates (default 0.9)")
    validate.add_argument("--skip-rasa", action="store_true",
                          help="only the project's checks (faster)")

    train = command("train", "train a model into models/",
                    "Full `rasa train` into models/. With --finetune, a quick retrain from the "
                    "newest model; when labels changed (Rasa refuses then) it says what changed "
                    "and trains a full model instead.")
    train.add_argument("--finetune", action="store_true", help="fine-tune the newest model")
    train.add_argument("--epoch-fraction", type=float,
                       help="with --finetune: fraction of the configured epochs (Rasa's "
                            "default 1.0)")
    train.add_argument("--skip-validation", action="store_true",
                       help="skip Rasa's own data validation before training (run `validate`)")

    evaluate = command(
        "evaluate", "per-language reports on the held-out sets",
        "Evaluates a model on tests/nlu/heldout_<lang>.yml: per-language intent and entity "
        "reports (precision, recall, F1 per intent), confusion matrix images, "
        "<out>/summary.md and <out>/metrics.json.")
    evaluate.add_argument("--model", help="model file (default: the newest in models/)")
    evaluate.add_argument("--out", type=Path, default=Path("results"),
                          help="report directory, relative to the root (default results/)")
    evaluate.add_argument("--cross-validation", action="store_true",
                          help="also run Rasa's NLU cross-validation (trains --folds models)")
    evaluate.add_argument("--folds", type=int, default=3, help="cross-validation folds")

    compare = command(
        "compare", "compare the evaluation with the baseline (CI runs this)",
        "Fails (exit 1) when any language's intent macro-F1 is more than 0.02 below the "
        "baseline or below the floor. When it passes, the evaluated model may be promoted.")
    compare.add_argument("--metrics", type=Path, default=Path("results/metrics.json"))
    compare.add_argument("--baseline", type=Path, default=Path("tests/nlu/baseline.json"))
    compare.add_argument("--update", action="store_true",
                         help="when it passes, store these figures as the new baseline "
                              "(creates the baseline file the first time)")

    promote = command(
        "promote", "serve a model that passed compare",
        "Writes models/PROMOTED (read by scripts/serve.py) when the model passed `compare`; "
        "otherwise keeps the model served now and exits 1.")
    promote.add_argument("--model", help="model file (default: the newest in models/)")
    promote.add_argument("--results", type=Path, default=Path("results"),
                         help="where compare wrote its records (default results/)")

    review = command("review", "the review queue of real messages",
                     "Export misunderstood messages from the tracker store, merge labelled ones.")
    actions = review.add_subparsers(dest="review_command", required=True, metavar="action")
    export = actions.add_parser(
        "export", help="export messages to review into review/<lang>.csv",
        description="Reads the tracker store and writes, per language, the user messages that "
                    "went to the fallback, had an intent confidence below --threshold, or were "
                    "followed by \"that didn't work\" (guide_failed). IDs are masked. Fill the "
                    "`label` column with the right intent, then run `review merge`.")
    _root_option(export, argparse.SUPPRESS)
    export.add_argument("--db", help="tracker store URL (default: $TRACKER_DB_URL, else "
                                     "sqlite:///rasa.db in the root), e.g. "
                                     "postgresql://user:pass@host/rasa")
    export.add_argument("--out", type=Path, default=Path("review"))
    export.add_argument("--threshold", type=float, default=0.6,
                        help="confidence below which a message is exported (default 0.6)")
    merge = actions.add_parser(
        "merge", help="add labelled rows to data/nlu/<lang>/",
        description="Adds every row whose `label` is filled to the data file that holds that "
                    "intent, skipping duplicates, near-duplicates and held-out examples.")
    _root_option(merge, argparse.SUPPRESS)
    merge.add_argument("csv", type=Path, help="e.g. review/ja.csv")
    merge.add_argument("--lang", help="language of the file (default: its name, ja or zh)")
    merge.add_argument("--similarity", type=float, default=0.9)
    _insights_parsers(command)
    return parser


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help="tracker store URL (default: $TRACKER_DB_URL, else "
                                     "sqlite:///rasa.db in the root, as the bot)")


def _insights_parsers(command: Any) -> None:
    insights = command(
        "insights", "outcomes, feedback and guide funnels from the tracker store",
        "Reads the tracker store read-only and writes <out>/insights.json and a "
        "self-contained <out>/index.html with charts. Definitions: docs/insights.md.")
    _db_option(insights)
    insights.add_argument("--since", help="conversations started from (YYYY-MM-DD or ISO "
                                          "date-time, in --tz)")
    insights.add_argument("--until", help="conversations started before (a date: up to the "
                                          "end of that day)")
    insights.add_argument("--out", type=Path, default=Path("insights"),
                          help="report directory, relative to the root (default insights/)")
    insights.add_argument("--abandon-after", type=float, default=30,
                          help="minutes without a partner message after which an unresolved "
                               "conversation counts as abandoned (default 30)")
    insights.add_argument("--now", help="the moment to judge abandonment at (default: now)")
    insights.add_argument("--tz", default="UTC", help="time zone of dates and days (default UTC)")
    prune = command(
        "prune", "delete old conversations (retention)",
        "Deletes whole conversations whose last event is older than --older-than days. "
        "Dry run unless --yes; SQLite then reclaims the space (VACUUM).")
    _db_option(prune)
    prune.add_argument("--older-than", type=float, required=True, metavar="DAYS")
    prune.add_argument("--yes", action="store_true", help="really delete")
    prune.add_argument("--now", help=argparse.SUPPRESS)  # tests: the moment to count from


def _path(project: Project, path: Path) -> Path:
    return path if path.is_absolute() else project.root / path


def run_validate(project: Project, args: argparse.Namespace) -> int:
    from trainer.checks import rasa_problems, run_checks

    print("Project checks:", flush=True)
    problems = run_checks(project, min_examples=args.min_examples, threshold=args.similarity)
    for problem in problems:
        print(problem.render(project))
    rasa_ok = True
    if not args.skip_rasa:
        print("rasa data validate --fail-on-warning (about a minute)…", flush=True)
        code, output = run_quiet(rasa_command(
            "data", "validate", "--fail-on-warning", "--domain", project.rel(project.domain),
            "--data", project.rel(project.data), "--config", project.rel(project.config)),
            project)
        rasa_ok = code == 0
        print("  ok   rasa data validate" if rasa_ok else "  FAIL rasa data validate:")
        if not rasa_ok:
            print("\n".join(rasa_problems(project, output)))
    if not problems and rasa_ok:
        print("Validation passed.")
        return 0
    print(f"Validation failed: {len(problems)} problems in the project's checks"
          + ("" if rasa_ok else ", and Rasa's validation failed") + ".")
    return 1


def run_train(project: Project, args: argparse.Namespace) -> int:
    from trainer.training import TrainingFailed, train

    try:
        model = train(project, finetune=args.finetune, epoch_fraction=args.epoch_fraction,
                      skip_validation=args.skip_validation)
    except TrainingFailed as error:
        print(f"Training failed: {error}")
        return 1
    print(f"New model: {project.rel(model)}\nNext: python -m trainer evaluate --model "
          f"{model.name}")
    return 0


def run_evaluate(project: Project, args: argparse.Namespace) -> int:
    from trainer.evaluation import cross_validate, evaluate

    model = project.resolve_model(args.model)
    out = _path(project, args.out)
    metrics = evaluate(project, model, out)
    print("Macro-F1: " + ", ".join(f"{lang} {metrics[lang]['macro_f1']:.3f}"
                                   for lang in project.languages if lang in metrics))
    if args.cross_validation and cross_validate(project, out, args.folds) != 0:
        return 1
    return 0


def run_compare(project: Project, args: argparse.Namespace) -> int:
    from trainer.evaluation import compare

    metrics = _path(project, args.metrics)
    if not metrics.exists():
        print(f"No {project.rel(metrics)}: run `python -m trainer evaluate` first.")
        return 1
    return 0 if compare(project, metrics, _path(project, args.baseline), args.update) else 1


def run_promote(project: Project, args: argparse.Namespace) -> int:
    from trainer.evaluation import promote

    return 0 if promote(project, project.resolve_model(args.model),
                        _path(project, args.results)) else 1


def run_review(project: Project, args: argparse.Namespace) -> int:
    from trainer import review

    if args.review_command == "export":
        review.export(project, args.db or review.default_db_url(project),
                      _path(project, args.out), args.threshold)
        print("Fill the `label` column (an intent name; leave empty to skip), then: "
              "python -m trainer review merge review/<lang>.csv")
        return 0
    csv_path = args.csv if args.csv.exists() else _path(project, args.csv)
    report = review.merge(project, csv_path, args.lang, args.similarity)
    print(f"Added {len(report.added)} examples:")
    for where, intent, text in report.added:
        print(f"  {where}  {intent}: {text}")
    print(f"Skipped {len(report.skipped)}:")
    for text, why in report.skipped:
        print(f"  '{text}': {why}")
    if report.added:
        print("Next: python -m trainer validate, then train and evaluate.")
    return 0


def run_insights(project: Project, args: argparse.Namespace) -> int:
    from trainer import insights, review

    options = insights.Options(
        url=args.db or review.default_db_url(project), out=_path(project, args.out),
        root=project.root, since=args.since, until=args.until, now=args.now,
        abandon_after=timedelta(minutes=args.abandon_after), tz=args.tz)
    data = insights.run(options)
    totals = data["totals"]
    print(f"{totals['conversations']} conversations: " + ", ".join(
        f"{totals[name]} {name.replace('_', ' ')}" for name in insights.OUTCOMES))
    print(f"Report: {project.rel(options.out / 'index.html')}, figures: "
          f"{project.rel(options.out / 'insights.json')}")
    return 0


def run_prune(project: Project, args: argparse.Namespace) -> int:
    from trainer import insights, prune, review

    now = insights.parse_time(args.now, insights.ZoneInfo("UTC")) if args.now else None
    cuts = prune.prune(args.db or review.default_db_url(project), project.root,
                       args.older_than, args.yes, now)
    conversations = sum(c.conversations for c in cuts)
    events = sum(c.events for c in cuts)
    verb = "Deleted" if args.yes else "Would delete"
    print(f"{verb} {conversations} conversations of {len(cuts)} senders ({events} events) "
          f"whose last event is older than {args.older_than:g} days.")
    if cuts and not args.yes:
        print("Run again with --yes to delete them.")
    return 0


COMMANDS = {"validate": run_validate, "train": run_train, "evaluate": run_evaluate,
            "compare": run_compare, "promote": run_promote, "review": run_review,
            "insights": run_insights, "prune": run_prune}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    project = Project(args.root.resolve())
    if not project.domain.exists():
        print(f"{project.root} is not a Rasa project (no domain.yml).", file=sys.stderr)
        return 2
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    started = time.monotonic()
    code = COMMANDS[args.command](project, args)
    print(f"[{args.command} finished in {time.monotonic() - started:.0f} s]", flush=True)
    return code
