"""`train`: a full `rasa train`, or `--finetune` from the newest model when Rasa allows it.

Rasa refuses to fine-tune when labels changed (new or removed intents, entities, actions,
responses, forms, slots) or when more than the epochs changed in config.yml. The labels
are compared first, to say exactly what changed; any other refusal is caught from Rasa's
output. Both fall back to a full training with a message.
"""

from __future__ import annotations

from pathlib import Path

from trainer.project import Project, rasa_command, run_streaming


class TrainingFailed(Exception):
    pass


def _train_args(project: Project) -> list[str]:
    return ["train", "--domain", project.rel(project.domain), "--data", project.rel(project.data),
            "--config", project.rel(project.config), "--out", project.rel(project.models)]


def _new_model(project: Project, before: set[Path]) -> Path:
    after = set(project.models.glob("*.tar.gz")) - before
    if not after:
        raise TrainingFailed("Rasa finished but wrote no new model")
    return max(after, key=lambda p: p.stat().st_mtime)


def label_changes(project: Project, model: Path) -> list[str]:
    """What differs between the model's domain and the project's (empty: same labels)."""
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.shared.importers.importer import TrainingDataImporter

    old = LocalModelStorage.metadata_from_archive(model).domain
    importer = TrainingDataImporter.load_from_config(
        str(project.config), str(project.domain), [str(project.data)])
    new = importer.get_domain()
    changes = []
    for what, before, now in (
        ("intents", old.intents, new.intents),
        ("entities", old.entities, new.entities),
        ("responses", old.responses, new.responses),
        ("actions", old.user_actions, new.user_actions),
        ("forms", old.form_names, new.form_names),
        ("slots", [s.name for s in old.slots], [s.name for s in new.slots]),
    ):
        added, removed = set(now) - set(before), set(before) - set(now)
        if added:
            changes.append(f"new {what}: {', '.join(sorted(added))}")
        if removed:
            changes.append(f"removed {what}: {', '.join(sorted(removed))}")
    return changes


def train(project: Project, finetune: bool = False, epoch_fraction: float | None = None,
          skip_validation: bool = False) -> Path:
    """Trains a model into models/ and returns its path."""
    project.models.mkdir(exist_ok=True)
    extra = ["--skip-validation"] if skip_validation else []
    before = set(project.models.glob("*.tar.gz"))
    base = project.newest_model() if finetune else None
    if finetune and base is None:
        print("No model to fine-tune yet: training a full model.", flush=True)
    elif base is not None:
        print(f"Comparing the labels of {base.name} with the current data…", flush=True)
        changes = label_changes(project, base)
        if changes:
            print("Labels changed since that model (" + "; ".join(changes) + "). Rasa can "
                  "only fine-tune with the same labels: training a full model instead.",
                  flush=True)
        else:
            args = ["--finetune", str(base)]
            if epoch_fraction is not None:
                args += ["--epoch-fraction", str(epoch_fraction)]
            print(f"Fine-tuning {base.name}…", flush=True)
            code, output = run_streaming(rasa_command(*_train_args(project), *args, *extra),
                                         project)
            if code == 0 and "Cannot finetune" not in output:
                return _new_model(project, before)
            print("Rasa refused to fine-tune (see above): training a full model instead.",
                  flush=True)
    print("Training a full model…", flush=True)
    code, _ = run_streaming(rasa_command(*_train_args(project), *extra), project)
    if code != 0:
        raise TrainingFailed(f"rasa train exited with {code}")
    return _new_model(project, before)
