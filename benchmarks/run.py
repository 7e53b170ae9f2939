"""Train an NLU pipeline on a benchmark and print accuracy and macro-F1 beside the references.

    nice -n 19 python -m benchmarks.run <dataset[:split],...> [--config config.yml]
        [--split SPLIT] [--variants FILE] [--inprocess] [--classifier logreg]
        [--set 'Component[#n].key=value' ...] [--drop Component[#n]]
        [--add 'yaml component' ...] [--label NAME] [--results FILE] [--keep]

Datasets (several: comma-separated, each optionally `name:split`): cais (split valid =
tuning, default; test = report once), smp2017 (train → test, or develop), xsid-ja / xsid-zh
(valid → test), own (one model on data/nlu, tested on both held-out sets), own-ja / own-zh
(one model per language). Never run in CI: it needs the third-party data sets
(MPN_BENCHMARK_DATA, docs/nlu.md "Benchmark data") and minutes of CPU.

The data are converted to Rasa NLU YAML in a temporary directory, the pipeline (the NLU
part of --config, default the project's config.yml, plus any --set/--drop/--add/
--classifier changes) is trained with `rasa train nlu` in a subprocess (its wall time and
CPU time are the training time), and the model is loaded here to classify the test set
in batches with the language hint a channel would give (`metadata.language`).

Metrics, over the test set:
- accuracy and macro-F1 of the classifier's top intent (the FallbackClassifier's
  nlu_fallback skipped): comparable to published figures, which never reject;
- macro-F1 is the mean F1 over the intents that occur in the test set (as
  trainer/evaluation.py computes it), so a test intent unseen in training scores 0;
- "with fallback": accuracy and macro-F1 when nlu_fallback counts as a miss, and how many
  messages went to fallback: what a user of the bot would see.

Each run is appended as one JSON line to --results (default benchmarks/results.jsonl);
`python -m benchmarks.report` renders them as a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks.datasets import DATASETS, DEFAULT_SPLIT, PROJECT, Benchmark, load

RESULTS = PROJECT / "benchmarks" / "results.jsonl"
FALLBACK = "nlu_fallback"
CLASSIFIERS = {
    "diet": None,  # the config's own
    # max_iter 1000: with the default 100, lbfgs stops before converging on most of these sets
    # (ConvergenceWarning), and the early stop acts as a regulariser that favours small
    # feature sets.
    "logreg": {"name": "LogisticRegressionClassifier", "max_iter": 1000},
}


# ---------------------------------------------------------------- pipeline

def _find(pipeline: list[dict[str, Any]], selector: str) -> int:
    """Index of the component `Name` or `Name#n` (n-th of that name, from 1); Name may be the
    last part of a dotted class path."""
    name, _, nth = selector.partition("#")
    hits = [i for i, c in enumerate(pipeline)
            if c["name"] == name or c["name"].rsplit(".", 1)[-1] == name]
    index = int(nth or 1) - 1
    if not hits or index >= len(hits):
        raise SystemExit(f"no component {selector!r} in the pipeline")
    return hits[index]


def build_config(args: argparse.Namespace) -> dict[str, Any]:
    config = yaml.safe_load(Path(args.config).read_text(encoding="utf-8"))
    pipeline = copy.deepcopy(config["pipeline"])
    replacement = CLASSIFIERS[args.classifier]
    if replacement:
        pipeline[_find(pipeline, "DIETClassifier")] = dict(replacement)
    for selector in args.drop:
        del pipeline[_find(pipeline, selector)]
    for spec in args.set:
        target, _, value = spec.partition("=")
        selector, _, key = target.rpartition(".")
        pipeline[_find(pipeline, selector)][key] = yaml.safe_load(value)
    for spec in args.add:
        # "After=Name[#n] {yaml}" or just "{yaml}" (inserted before the classifier)
        anchor = None
        if spec.startswith("after="):
            anchor, _, spec = spec[len("after="):].partition(" ")
        component = yaml.safe_load(spec)
        if anchor:
            pipeline.insert(_find(pipeline, anchor) + 1, component)
        else:
            classifier = "DIETClassifier" if args.classifier == "diet" else replacement["name"]
            pipeline.insert(_find(pipeline, classifier), component)
    return {
        "recipe": config.get("recipe", "default.v1"),
        "language": config.get("language", "en"),
        "assistant_id": "benchmark",
        "pipeline": pipeline,
        "policies": [],
    }


# ---------------------------------------------------------------- data

def _safe_intent(intent: str) -> str:
    """Rasa reads "a/b" as a retrieval intent; spaces are not allowed either."""
    return intent.replace("/", "__").replace(" ", "_")


def write_training_data(benchmark: Benchmark, directory: Path, lookups: bool = False) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    if benchmark.train_paths:
        for path in benchmark.train_paths:
            target = directory / path.relative_to(PROJECT).as_posix().replace("/", "__")
            os.symlink(path, target)
        return directory
    by_intent: dict[str, list[str]] = {}
    for text, intent in benchmark.train:
        by_intent.setdefault(_safe_intent(intent), []).append(text)
    nlu = [{"intent": intent, "examples": "".join(f"- {text}\n" for text in texts)}
           for intent, texts in by_intent.items()]
    if lookups:
        nlu += [{"lookup": name, "examples": "".join(f"- {value}\n" for value in sorted(values))}
                for name, values in sorted(benchmark.lookups.items())]
    # Block scalars keep the texts literal; nothing in the data looks like "[..](..)".
    yaml.SafeDumper.add_representer(
        str, lambda dumper, data: dumper.represent_scalar(
            "tag:yaml.org,2002:str", data, style="|" if "\n" in data else None))
    (directory / "nlu.yml").write_text(
        yaml.safe_dump({"version": "3.1", "nlu": nlu}, allow_unicode=True, sort_keys=False),
        encoding="utf-8")
    return directory


# ---------------------------------------------------------------- training and prediction

def train(config_path: Path, data: Path, workdir: Path, inprocess: bool) -> tuple[Path, float, float]:
    """Train with a fresh, private Rasa cache (so no run reuses another's featurizers and the
    project's .rasa/cache is left alone); return the model, wall and CPU seconds."""
    out, log = workdir / "models", workdir / "train.log"
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", RASA_CACHE_DIRECTORY=str(workdir / "cache"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT), os.environ.get("PYTHONPATH")])))
    who = resource.RUSAGE_SELF if inprocess else resource.RUSAGE_CHILDREN
    before = resource.getrusage(who)
    started = time.monotonic()
    if inprocess:
        from rasa.model_training import train_nlu

        saved = os.environ.get("RASA_CACHE_DIRECTORY")
        os.environ["RASA_CACHE_DIRECTORY"] = env["RASA_CACHE_DIRECTORY"]
        try:
            train_nlu(config=str(config_path), nlu_data=str(data), output=str(out),
                      fixed_model_name="benchmark")
        finally:
            if saved is None:
                os.environ.pop("RASA_CACHE_DIRECTORY", None)
            else:
                os.environ["RASA_CACHE_DIRECTORY"] = saved
        returncode = 0
    else:
        command = [sys.executable, "-m", "rasa", "train", "nlu", "--config", str(config_path),
                   "--nlu", str(data), "--out", str(out), "--fixed-model-name", "benchmark"]
        with log.open("w") as handle:
            returncode = subprocess.run(command, cwd=PROJECT, env=env, stdout=handle,
                                        stderr=subprocess.STDOUT).returncode
    wall = time.monotonic() - started
    after = resource.getrusage(who)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    model = out / "benchmark.tar.gz"
    if returncode or not model.exists():
        if log.exists():
            sys.stderr.write(log.read_text(errors="replace")[-4000:])
        raise SystemExit(f"training failed ({returncode}); log: {log}")
    return model, wall, cpu


def load_agent(model: Path) -> Any:
    from rasa.core.agent import Agent

    return Agent.load(model_path=str(model))


def predict(agent: Any, texts: list[str], language: str, hint: bool) -> list[dict[str, Any]]:
    from rasa.core.channels import UserMessage
    from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY

    processor = agent.processor
    target = processor.model_metadata.nlu_target
    tracker = DialogueStateTracker.from_events("benchmark", [])
    metadata = {"language": language} if hint else None
    predictions = []
    for start in range(0, len(texts), 256):
        messages = [UserMessage(text, metadata=metadata) for text in texts[start:start + 256]]
        results = processor.graph_runner.run(
            inputs={PLACEHOLDER_MESSAGE: messages, PLACEHOLDER_TRACKER: tracker}, targets=[target])
        for parsed in results[target]:
            intent = (parsed.get(INTENT) or {}).get("name")
            ranking = parsed.get(INTENT_RANKING_KEY) or []
            top = next((r for r in ranking if r.get("name") != FALLBACK), None)
            predictions.append({
                "intent": intent,
                "top": top["name"] if top else intent,
                "confidence": round(float(top["confidence"]), 4) if top else None,
            })
    return predictions


# ---------------------------------------------------------------- metrics

def scores(gold: list[str], predicted: list[str | None]) -> dict[str, Any]:
    """Accuracy and the mean F1 over the intents present in `gold`."""
    labels = sorted(set(gold))
    per_label = {}
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(g != label and p == label for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, predicted, strict=True))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = {"f1": round(f1, 4), "support": tp + fn}
    accuracy = sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)
    return {"accuracy": accuracy, "macro_f1": sum(v["f1"] for v in per_label.values()) / len(labels),
            "per_intent": per_label}


def evaluate(benchmark: Benchmark, agent: Any, hint: bool) -> dict[str, Any]:
    texts = [text for text, _ in benchmark.test]
    gold = [_safe_intent(intent) for _, intent in benchmark.test]
    started = time.monotonic()
    predictions = predict(agent, texts, benchmark.language, hint)
    elapsed = time.monotonic() - started
    top = scores(gold, [p["top"] for p in predictions])
    served = scores(gold, [p["intent"] for p in predictions])
    errors = [{"text": t, "gold": g, "predicted": p["top"], "confidence": p["confidence"]}
              for t, g, p in zip(texts, gold, predictions, strict=True) if p["top"] != g]
    return {
        "accuracy": round(100 * top["accuracy"], 2),
        "macro_f1": round(top["macro_f1"], 4),
        "fallback_accuracy": round(100 * served["accuracy"], 2),
        "fallback_macro_f1": round(served["macro_f1"], 4),
        "fallbacks": sum(p["intent"] == FALLBACK for p in predictions),
        "per_intent": top["per_intent"],
        "errors": errors,
        "predict_s": round(elapsed, 1),
    }


# ---------------------------------------------------------------- main

def print_result(benchmark: Benchmark, result: dict[str, Any], record: dict[str, Any]) -> None:
    majority_label, majority = benchmark.majority()
    print()
    print(f"== {benchmark.name}: train {benchmark.train_description} "
          f"({record['n_train']} examples, {record['n_intents_train']} intents) → "
          f"test {benchmark.test_description} ({len(benchmark.test)} examples)")
    print(f"   variant: {record['variant']}")
    print(f"   training: {record['train_wall_s']:.0f} s wall, {record['train_cpu_s']:.0f} s CPU "
          f"(load average {record['load_before']:.1f} → {record['load_after']:.1f}); "
          f"prediction {result['predict_s']:.0f} s")
    print(f"   {'':62} {'accuracy':>9} {'macro-F1':>9}")
    print(f"   {'this pipeline (top intent)':62} {result['accuracy']:9.2f} {result['macro_f1']:9.3f}")
    print(f"   {'this pipeline, nlu_fallback counted as a miss':62} "
          f"{result['fallback_accuracy']:9.2f} {result['fallback_macro_f1']:9.3f}"
          f"   ({result['fallbacks']} to fallback)")
    print(f"   {'majority class (' + majority_label + ')':62} {majority:9.2f}")
    for label, accuracy, macro, note in benchmark.references:
        print(f"   {label[:62]:62} {accuracy if accuracy is not None else '':>9} "
              f"{macro if macro is not None else '':>9}   {note}")
    weak = sorted(result["per_intent"].items(), key=lambda kv: kv[1]["f1"])[:5]
    print("   weakest intents: " + ", ".join(f"{k} {v['f1']:.2f} (n={v['support']})" for k, v in weak))


def describe_variant(variant: dict[str, Any]) -> str:
    config = variant.get("config") or str(PROJECT / "config.yml")
    parts = [] if Path(config).resolve() == (PROJECT / "config.yml") else [Path(config).name]
    if variant.get("classifier", "diet") != "diet":
        parts.append(variant["classifier"])
    if variant.get("lookups"):
        parts.append("training-set slot values as lookup tables")
    parts += ([f"drop {d}" for d in variant.get("drop", [])] + list(variant.get("set", []))
              + [f"add {a}" for a in variant.get("add", [])])
    return "; ".join(parts) or "config.yml"


def single_command(dataset: str, split: str, variant: dict[str, Any]) -> str:
    """The one-variant command line that reproduces a run."""
    words = ["python -m benchmarks.run", f"{dataset}:{split}" if split else dataset]
    config = variant.get("config")
    if config and Path(config).resolve() != PROJECT / "config.yml":
        words += ["--config", shlex.quote(str(Path(config).resolve().relative_to(PROJECT))
                                          if Path(config).resolve().is_relative_to(PROJECT) else config)]
    if variant.get("classifier", "diet") != "diet":
        words += ["--classifier", variant["classifier"]]
    for option in ("drop", "set", "add"):
        words += [w for value in variant.get(option, []) for w in (f"--{option}", shlex.quote(value))]
    if variant.get("lookups"):
        words.append("--lookups")
    return " ".join(words)


def run_one(dataset: str, split: str | None, variant: dict[str, Any], args: argparse.Namespace,
            command: str) -> None:
    benchmarks = load(dataset, split)
    if dataset == "cais" and benchmarks[0].split == "test":
        print("CAIS test: report this once, after tuning on ch.valid.")
    label = variant.get("label") or describe_variant(variant)
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{dataset}-"))
    config = build_config(argparse.Namespace(
        config=variant.get("config") or str(PROJECT / "config.yml"),
        classifier=variant.get("classifier", "diet"), set=variant.get("set", []),
        drop=variant.get("drop", []), add=variant.get("add", [])))
    config_path = workdir / "config.yml"
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    data = write_training_data(benchmarks[0], workdir / "data", bool(variant.get("lookups")))
    print(f"\nTraining [{label}] on {dataset} (work dir {workdir})…", flush=True)
    load_before = os.getloadavg()[0]
    model, wall, cpu = train(config_path, data, workdir, args.inprocess)
    load_after = os.getloadavg()[0]
    agent = load_agent(model)
    for benchmark in benchmarks:
        result = evaluate(benchmark, agent, args.hint)
        record = {
            "time": time.strftime("%Y-%m-%d %H:%M:%S"),
            "dataset": benchmark.name, "split": benchmark.split, "language": benchmark.language,
            "variant": label,
            "command": single_command(dataset, split or DEFAULT_SPLIT.get(dataset), variant),
            "invocation": command, "pipeline": config["pipeline"],
            "n_train": len(benchmark.train), "n_test": len(benchmark.test),
            "n_intents_train": len({i for _, i in benchmark.train}),
            "train_wall_s": round(wall, 1), "train_cpu_s": round(cpu, 1),
            "training": "in-process" if args.inprocess else "rasa train nlu",
            "load_before": round(load_before, 2), "load_after": round(load_after, 2),
            "hint": args.hint, **result,
        }
        print_result(benchmark, result, record)
        with open(args.results, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    if args.keep:
        print(f"Kept {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", help=f"one of {', '.join(DATASETS)}, or several joined by "
                        "commas, each optionally with its split: cais:valid,smp2017:develop")
    parser.add_argument("--config", default=str(PROJECT / "config.yml"))
    parser.add_argument("--split", help="cais: valid|test; smp2017: test|develop; xsid: test")
    parser.add_argument("--classifier", choices=sorted(CLASSIFIERS), default="diet",
                        help="logreg replaces DIETClassifier (cheap screening)")
    parser.add_argument("--set", action="append", default=[], metavar="COMPONENT[#n].KEY=VALUE")
    parser.add_argument("--drop", action="append", default=[], metavar="COMPONENT[#n]")
    parser.add_argument("--add", action="append", default=[], metavar="[after=COMPONENT[#n] ]YAML")
    parser.add_argument("--lookups", action="store_true",
                        help="cais/xsid: the training split's slot values (2+ characters) as lookup "
                        "tables, i.e. features for RegexFeaturizer")
    parser.add_argument("--label", help="name of the variant in the results table")
    parser.add_argument("--variants", help="YAML list of variants ({label, config, classifier, set, "
                        "drop, add, lookups}; config paths relative to the project) to run one after "
                        "the other instead of the flags above")
    parser.add_argument("--inprocess", action="store_true",
                        help="train inside this process (rasa.model_training.train_nlu) to save "
                        "the start-up of `rasa train nlu`: for screening many variants")
    parser.add_argument("--no-hint", dest="hint", action="store_false",
                        help="do not pass the dataset's language as metadata.language")
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    args = parser.parse_args(argv)
    args.config = str(Path(args.config).resolve())
    args.variants = args.variants and str(Path(args.variants).resolve())
    args.results = str(Path(args.results).resolve())

    logging.basicConfig(level=logging.WARNING)
    os.environ["RASA_TELEMETRY_ENABLED"] = "false"
    os.chdir(PROJECT)  # relative paths in the config (jieba user dictionary)
    # "cais:valid,smp2017:develop": a split per dataset; --split is the default for all
    datasets = [(item.partition(":")[0], item.partition(":")[2] or args.split)
                for item in args.dataset.split(",")]
    for dataset, _ in datasets:
        if dataset not in DATASETS:
            parser.error(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    if args.variants:
        variants = yaml.safe_load(Path(args.variants).read_text(encoding="utf-8"))
    else:
        variants = [{"label": args.label, "config": args.config, "classifier": args.classifier,
                     "set": args.set, "drop": args.drop, "add": args.add, "lookups": args.lookups}]
    command = "python -m benchmarks.run " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    for variant in variants:
        for dataset, split in datasets:
            run_one(dataset, split, variant, args, command)


if __name__ == "__main__":
    asyncio.set_event_loop(asyncio.new_event_loop())
    main()
