"""`evaluate`, `compare` and `promote`.

evaluate: the model on each held-out set (tests/nlu/heldout_<lang>.yml) with Rasa's NLU
evaluation, which writes per language intent_report.json (precision/recall/F1 per intent),
the confusion matrix and confidence histogram images, intent_errors.json and entity
reports; then results/summary.md and results/metrics.json.

Macro-F1 is the mean F1 over the intents of the held-out set. Rasa's own "macro avg" also
averages labels that were only predicted (nlu_fallback, with F1 0), which would move the
figure whenever the fallback fires on anything; here a fallback simply counts as a miss.

compare: metrics.json against tests/nlu/baseline.json ({floor, ja, zh}); on success it
writes results/<model>.passed, which `promote` requires before it points models/PROMOTED
(the model scripts/serve.py serves) at that model.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from trainer.project import Project, rasa_command, run_streaming

TOLERANCE = 0.02
DEFAULT_FLOOR = 0.90
PROMOTED = "PROMOTED"


AVERAGES = ("micro avg", "macro avg", "weighted avg")


def _tested(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The report's rows for labels that have examples in the test set."""
    return [(k, v) for k, v in report.items()
            if isinstance(v, dict) and v.get("support", 0) > 0 and k not in AVERAGES]


def _macro(report: dict[str, Any]) -> tuple[float, int]:
    """Mean F1 over the labels with examples in the test set, and their number."""
    scores = [row["f1-score"] for _, row in _tested(report)]
    return (sum(scores) / len(scores) if scores else 0.0), len(scores)


def _entity_metrics(entity_evaluation: dict[str, Any] | None) -> dict[str, Any]:
    """Scores per annotated entity type, from the extractor that does best on it.

    Rasa scores every extractor against every annotated entity, so an extractor that
    never produces a type (LanguageEntityExtractor and `membership`) would read as 0.
    """
    best: dict[str, dict[str, Any]] = {}
    for extractor, result in (entity_evaluation or {}).items():
        for entity, row in _tested(result.get("report") or {}):
            if entity == "no_entity":
                continue
            if entity not in best or row["f1-score"] > best[entity]["f1-score"]:
                best[entity] = {"extractor": extractor, "support": row["support"],
                                **{m: round(row[m], 4) for m in
                                   ("precision", "recall", "f1-score")}}
    return dict(sorted(best.items()))


async def _evaluate_languages(project: Project, model: Path, out: Path) -> dict[str, Any]:
    from rasa.core.agent import Agent
    from rasa.nlu.test import run_evaluation

    print(f"Loading {model.name}…", flush=True)
    agent = Agent.load(model_path=str(model))
    metrics: dict[str, Any] = {}
    for language in project.languages:
        heldout = project.heldout(language)
        if not heldout.exists():
            print(f"No held-out set for {language} ({project.rel(heldout)}): skipped.")
            continue
        started = time.monotonic()
        print(f"Evaluating {language} on {project.rel(heldout)}…", flush=True)
        result = await run_evaluation(
            str(heldout), agent.processor, output_directory=str(out / language),
            errors=True, disable_plotting=False, report_as_dict=True,
            domain_path=str(project.domain))
        intents = result["intent_evaluation"] or {}
        report = intents.get("report") or {}
        macro, labels = _macro(report)
        metrics[language] = {
            "macro_f1": round(macro, 4),
            "accuracy": round(float(intents.get("accuracy") or 0.0), 4),
            "examples": sum(row["support"] for _, row in _tested(report)),
            "intents": labels,
            "entities": _entity_metrics(result.get("entity_evaluation")),
        }
        print(f"  {language}: macro-F1 {metrics[language]['macro_f1']:.3f}, "
              f"accuracy {metrics[language]['accuracy']:.3f}"
              f" ({time.monotonic() - started:.0f} s)", flush=True)
    return metrics


def evaluate(project: Project, model: Path, out: Path) -> dict[str, Any]:
    """Evaluates per language, writes out/metrics.json and out/summary.md."""
    out.mkdir(parents=True, exist_ok=True)
    cwd = os.getcwd()
    os.chdir(project.root)  # the model's components may read project-relative paths
    try:
        languages = asyncio.run(_evaluate_languages(project, model, out))
    finally:
        os.chdir(cwd)
    metrics = {"model": model.name, **languages}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
    (out / "summary.md").write_text(summary(project, metrics, out), encoding="utf-8")
    print(f"Reports in {project.rel(out)}/ (summary.md, metrics.json, <lang>/…)")
    return metrics


def summary(project: Project, metrics: dict[str, Any], out: Path) -> str:
    """A short Markdown report: the figures, then the weakest intents and their confusions."""
    baseline = read_json(project.baseline) if project.baseline.exists() else {}
    lines = [f"# NLU evaluation of `{metrics['model']}`", "",
             "| language | macro-F1 | accuracy | examples | baseline | floor |",
             "|---|---|---|---|---|---|"]
    for language in project.languages:
        if language not in metrics:
            continue
        m = metrics[language]
        base = baseline.get(language)
        lines.append(f"| {language} | {m['macro_f1']:.3f} | {m['accuracy']:.3f} | "
                     f"{m['examples']} | {'' if base is None else f'{base:.3f}'} | "
                     f"{baseline.get('floor', DEFAULT_FLOOR):.2f} |")
    for language in project.languages:
        if language not in metrics:
            continue
        report_path = out / language / "intent_report.json"
        report = read_json(report_path) if report_path.exists() else {}
        lines += ["", f"## {language}", "",
                  f"Images: `{language}/intent_confusion_matrix.png`, "
                  f"`{language}/intent_histogram.png`. Misclassified examples: "
                  f"`{language}/intent_errors.json`.", "",
                  "| intent | precision | recall | F1 | examples | confused with |",
                  "|---|---|---|---|---|---|"]
        for intent, row in sorted(_tested(report), key=lambda kv: (kv[1]["f1-score"], kv[0])):
            confused = ", ".join(f"{k} ({n})" for k, n in (row.get("confused_with") or {}).items())
            lines.append(f"| {intent} | {row['precision']:.2f} | {row['recall']:.2f} | "
                         f"{row['f1-score']:.2f} | {row['support']} | {confused} |")
        entities = metrics[language]["entities"]
        if entities:
            lines += ["", "| entity | precision | recall | F1 | examples | extractor |",
                      "|---|---|---|---|---|---|"]
            lines += [f"| {name} | {e['precision']:.2f} | {e['recall']:.2f} | "
                      f"{e['f1-score']:.2f} | {e['support']} | {e['extractor']} |"
                      for name, e in entities.items()]
    return "\n".join(lines) + "\n"


def cross_validate(project: Project, out: Path, folds: int) -> int:
    """Rasa's NLU cross-validation on all training data (both languages together); its
    test-fold macro-F1 is added to summary.md."""
    print(f"Cross-validation with {folds} folds: trains {folds} models, this takes a while…",
          flush=True)
    directory = out / "cross-validation"
    code, _ = run_streaming(rasa_command(
        "test", "nlu", "--nlu", project.rel(project.data), "--config", project.rel(project.config),
        "--domain", project.rel(project.domain), "--cross-validation", "--folds", str(folds),
        "--out", str(directory)), project)
    report_path = directory / "intent_report.json"
    if code == 0 and report_path.exists():
        macro, labels = _macro(read_json(report_path))
        line = (f"Cross-validation ({folds} folds, all training data, both languages): "
                f"macro-F1 {macro:.3f} over {labels} intents; reports in `cross-validation/`.")
        with (out / "summary.md").open("a", encoding="utf-8") as summary_file:
            summary_file.write(f"\n{line}\n")
        print(line)
    return code


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def passed_record(results: Path, model_name: str) -> Path:
    return results / f"{model_name.removesuffix('.tar.gz')}.passed"


def compare(project: Project, metrics_path: Path, baseline_path: Path, update: bool,
            tolerance: float = TOLERANCE) -> bool:
    """True when every language is within `tolerance` of the baseline and above the floor.
    Writes the .passed record; with `update`, a passing evaluation becomes the baseline."""
    metrics = read_json(metrics_path)
    record = passed_record(metrics_path.parent, metrics["model"])
    record.unlink(missing_ok=True)
    if baseline_path.exists():
        baseline = read_json(baseline_path)
    elif update:
        baseline = {"floor": DEFAULT_FLOOR}
        print(f"No baseline yet: {project.rel(baseline_path)} will be created.")
    else:
        print(f"No baseline at {project.rel(baseline_path)}: run `compare --update` once to "
              "create it from this evaluation.")
        return False
    floor = float(baseline.get("floor", DEFAULT_FLOOR))
    ok = True
    print(f"Model {metrics['model']} (floor {floor:.2f}, allowed drop {tolerance:.2f}):")
    for language in project.languages:
        if language not in metrics:
            print(f"  {language}: not evaluated  FAIL")
            ok = False
            continue
        now = float(metrics[language]["macro_f1"])
        before = baseline.get(language)
        verdict = "ok"
        if now < floor:
            verdict = f"FAIL: below the floor {floor:.2f}"
        elif before is not None and now < float(before) - tolerance:
            verdict = f"FAIL: {float(before) - now:.3f} below the baseline"
        ok = ok and verdict == "ok"
        shown = "none" if before is None else f"{float(before):.3f}"
        print(f"  {language}: macro-F1 {now:.3f} (baseline {shown})  {verdict}")
    if not ok:
        print("Not accepted: this model must not be promoted.")
        return False
    record.write_text(json.dumps({"metrics": metrics, "baseline": baseline}, indent=2,
                                 ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"Accepted: {project.rel(record)} written; `promote` may serve this model.")
    if update:
        new = {"floor": floor, **{lang: metrics[lang]["macro_f1"] for lang in project.languages}}
        baseline_path.parent.mkdir(parents=True, exist_ok=True)
        baseline_path.write_text(json.dumps(new, indent=2) + "\n", encoding="utf-8")
        print(f"Baseline updated: {project.rel(baseline_path)}")
    return True


def promote(project: Project, model: Path, results: Path) -> bool:
    """Points models/PROMOTED at the model if its evaluation passed `compare`."""
    pointer = project.models / PROMOTED
    current = pointer.read_text(encoding="utf-8").strip() if pointer.exists() else None
    record = passed_record(results, model.name)
    if not record.exists():
        print(f"{model.name} has not passed `compare` (no {project.rel(record)}): not promoted. "
              f"The served model stays {current or 'the newest model (nothing promoted yet)'}.")
        return False
    if model.parent.resolve() != project.models.resolve():
        print(f"{model} is not in {project.rel(project.models)}/: copy it there first.")
        return False
    pointer.write_text(model.name + "\n", encoding="utf-8")
    print(f"Promoted {model.name} (was {current or 'nothing'}). Restart the bot to serve it.")
    return True
