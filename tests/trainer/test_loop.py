"""The loop on the fixture: evaluate → compare → promote a good model; then a worse one
(trained through `train --finetune`, which must fall back to a full training because a
label was added) fails `compare`, and `promote` keeps serving the good one."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.trainer.conftest import Trained, copy_fixture, run_trainer
from trainer.cli import main
from trainer.project import Project
from trainer.training import label_changes


@dataclass(frozen=True)
class Accepted:
    project: Project
    model: Path
    metrics: dict
    output: str


def cli(project: Project, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """The CLI in this process (saves loading Rasa again for each step)."""
    code = main(["--root", str(project.root), *args])
    output = capsys.readouterr().out
    print(output)
    return code, output


@pytest.fixture(scope="module")
def accepted(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Accepted:
    """The trained fixture model evaluated, compared (creating the baseline) and promoted."""
    project = trained.project
    done = run_trainer(project, "evaluate", "--model", trained.model.name)
    assert done.returncode == 0, done.stdout + done.stderr
    metrics = json.loads((project.root / "results" / "metrics.json").read_text())
    # The fixture is tiny: a lower floor than the real project's 0.90.
    project.baseline.write_text(json.dumps({"floor": 0.6}))
    compared = run_trainer(project, "compare", "--update")
    promoted = run_trainer(project, "promote")
    assert compared.returncode == 0 and promoted.returncode == 0, compared.stdout + promoted.stdout
    return Accepted(project, trained.model, metrics, done.stdout + compared.stdout + promoted.stdout)


def test_evaluate_writes_per_language_reports(accepted: Accepted) -> None:
    results = accepted.project.root / "results"
    for language in ("ja", "zh"):
        m = accepted.metrics[language]
        assert 0.6 <= m["macro_f1"] <= 1 and 0.6 <= m["accuracy"] <= 1
        assert m["examples"] == 24 and m["intents"] == 6
        assert m["entities"]["membership"]["extractor"] == "RegexEntityExtractor"
        report = json.loads((results / language / "intent_report.json").read_text())
        assert {"precision", "recall", "f1-score"} <= set(report["greet"])
        assert (results / language / "intent_confusion_matrix.png").stat().st_size > 0
    assert accepted.metrics["model"] == accepted.model.name
    summary = (results / "summary.md").read_text()
    assert "| ja |" in summary and "| zh |" in summary and "| ask_entitlement |" in summary
    assert f"Macro-F1: ja {accepted.metrics['ja']['macro_f1']:.3f}" in accepted.output


def test_compare_creates_the_baseline_and_promote_serves_the_model(accepted: Accepted) -> None:
    baseline = json.loads(accepted.project.baseline.read_text())
    assert baseline == {"floor": 0.6, "ja": accepted.metrics["ja"]["macro_f1"],
                        "zh": accepted.metrics["zh"]["macro_f1"]}
    promoted = accepted.project.models / "PROMOTED"
    assert promoted.read_text().strip() == accepted.model.name


def test_same_labels_allow_finetuning(trained: Trained) -> None:
    assert label_changes(trained.project, trained.model) == []


def test_worse_model_fails_compare_and_promote_keeps_the_old_one(
        accepted: Accepted, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(accepted.project.root, tmp_path / "worse")
    project = Project(tmp_path / "worse")
    # Worse Japanese data: two intents' examples swapped.
    path = project.nlu_dir("ja") / "benefits.yml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("- intent: ask_activate_benefits", "- intent: SWAP") \
        .replace("- intent: report_not_authorized", "- intent: ask_activate_benefits") \
        .replace("- intent: SWAP", "- intent: report_not_authorized")
    path.write_text(text, encoding="utf-8")
    # And a new intent, so Rasa cannot fine-tune the previous model.
    domain = project.domain
    domain.write_text(domain.read_text().replace("  - out_of_scope\n",
                                                 "  - out_of_scope\n  - thank\n"))
    for language, examples in (("ja", ["ありがとう", "どうもありがとうございます", "助かりました"]),
                               ("zh", ["谢谢", "非常感谢", "多谢帮忙"])):
        with (project.nlu_dir(language) / "conversation.yml").open("a") as handle:
            handle.write("\n- intent: thank\n  examples: |\n"
                         + "".join(f"    - {e}\n" for e in examples))
    with (project.data / "rules.yml").open("a") as handle:
        handle.write("  - rule: thank\n    steps: [{intent: thank}, {action: utter_greet}]\n")

    done = run_trainer(project, "train", "--finetune", "--skip-validation")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Labels changed since that model (new intents: thank)" in done.stdout
    assert "training a full model instead" in done.stdout
    worse = project.newest_model()
    assert worse is not None and worse.name != accepted.model.name

    code, output = cli(project, capsys, "evaluate", "--model", worse.name)
    assert code == 0
    metrics = json.loads((project.root / "results" / "metrics.json").read_text())
    assert metrics["model"] == worse.name
    assert metrics["ja"]["macro_f1"] < accepted.metrics["ja"]["macro_f1"] - 0.02

    code, output = cli(project, capsys, "compare")
    assert code == 1
    assert "ja: macro-F1" in output and "below the baseline" in output
    baseline = json.loads(project.baseline.read_text())
    assert baseline["ja"] == accepted.metrics["ja"]["macro_f1"]  # unchanged

    code, output = cli(project, capsys, "promote")  # the newest model: the worse one
    assert code == 1 and "has not passed `compare`" in output
    assert (project.models / "PROMOTED").read_text().strip() == accepted.model.name

    # The record of the good model still lets it be promoted again.
    code, _ = cli(project, capsys, "promote", "--model", accepted.model.name)
    assert code == 0


@pytest.mark.parametrize(("ja", "baseline", "passes", "says"), [
    (0.87, {"floor": 0.8, "ja": 0.88, "zh": 0.95}, True, "ok"),
    (0.85, {"floor": 0.8, "ja": 0.88, "zh": 0.95}, False, "0.030 below the baseline"),
    (0.85, {"floor": 0.9, "ja": 0.85, "zh": 0.95}, False, "below the floor 0.90"),
])
def test_compare_thresholds(ja: float, baseline: dict, passes: bool, says: str,
                            tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = copy_fixture(tmp_path / "project")
    metrics = project.root / "results" / "metrics.json"
    metrics.parent.mkdir()
    metrics.write_text(json.dumps({"model": "m.tar.gz", "ja": {"macro_f1": ja},
                                   "zh": {"macro_f1": 0.96}}))
    project.baseline.write_text(json.dumps(baseline))
    code, output = cli(project, capsys, "compare", "--update")
    assert (code == 0) == passes and says in output
    assert (project.root / "results" / "m.passed").exists() == passes
    stored = json.loads(project.baseline.read_text())
    assert stored["ja"] == (ja if passes else baseline["ja"])


def test_compare_without_baseline_asks_for_update(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    project = copy_fixture(tmp_path / "project")
    (project.root / "results").mkdir()
    (project.root / "results" / "metrics.json").write_text(json.dumps(
        {"model": "m.tar.gz", "ja": {"macro_f1": 0.95}, "zh": {"macro_f1": 0.96}}))
    code, output = cli(project, capsys, "compare")
    assert code == 1 and "run `compare --update` once" in output
    code, output = cli(project, capsys, "compare", "--update")
    assert code == 0
    assert json.loads(project.baseline.read_text()) == {"floor": 0.9, "ja": 0.95, "zh": 0.96}
