"""Third-party intent data (BENCHMARK_DATA, read-only) and the project's own sets.

Every loader returns a `Benchmark`: training and test examples as (text, intent) pairs,
the language (given to the model as the channel's language hint), and the published
reference figures to print beside ours.

Formats (checked by hand, see docs/nlu.md):
- CAIS: `ch.<split>` is one character per line ("<char> <BIOES tag>", the character may be
  a space), sentences separated by blank lines; `ch.<split>.intent` holds one intent per
  line in the same order. Text = the characters joined.
- SMP2017-ECDT task 1: `<split>/<split>_<label>.txt`, one query per line (some files
  have a BOM, all have CRLF line ends).
- xSID 0.7: CoNLL-style blocks with `# text = …` and `# intent = …` comment lines. The
  Japanese text (and part of the Chinese) is space-separated into words: spaces are removed
  except between two non-CJK characters ("Halo: Ghosts of Onyx" keeps its spaces,
  "8 月 2 1 日" becomes "8月21日").
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
# The third-party data sets are not redistributed with the project (their sources, commits
# and licences: docs/nlu.md, "Benchmark data"): MPN_BENCHMARK_DATA names the directory that
# holds cais/, smp2017-ecdt-task1/ and xsid-0.7/; by default a read-only copy beside the
# checkout.
BENCHMARK_DATA = Path(os.environ.get("MPN_BENCHMARK_DATA")
                      or PROJECT.parent / "shared" / "benchmarks")

Example = tuple[str, str]  # (text, intent)


@dataclass
class Benchmark:
    name: str
    split: str
    language: str  # "ja" or "zh"
    train: list[Example] = field(default_factory=list)
    test: list[Example] = field(default_factory=list)
    # Rasa NLU files/directories to train on as they are (the project's own data);
    # when empty, `train` is converted to YAML.
    train_paths: list[Path] = field(default_factory=list)
    train_description: str = ""
    test_description: str = ""
    # Slot values of the training split (slot type → values), offered as lookup tables
    # (RegexFeaturizer features) with --lookups; never taken from the test split.
    lookups: dict[str, set[str]] = field(default_factory=dict)
    # (label, accuracy %, macro-F1 or None, note)
    references: list[tuple[str, float | None, float | None, str]] = field(default_factory=list)

    def majority(self) -> tuple[str, float]:
        """The training set's most frequent intent and its accuracy on the test set (%)."""
        labels = [intent for _, intent in self.train] or [intent for _, intent in self.test]
        top = Counter(labels).most_common(1)[0][0]
        return top, 100.0 * sum(intent == top for _, intent in self.test) / len(self.test)


# ---------------------------------------------------------------- CAIS

CAIS_REFERENCES = [
    ("CM-Net (Liu et al., EMNLP 2019), test", 94.56, None, "published"),
    ("plain Rasa (issue 7: jieba/script tokenizer, DIET 100 ep.), test", 94.86, 0.58,
     "measured on this machine, 35 min training"),
    ("goal (issue 7), test", 96.0, 0.80, "training <= 10 min on 2 cores"),
]


def _spans(tokens: list[str], tags: list[str], joiner) -> list[tuple[str, str]]:
    """(slot, value) pairs from BIO/BIOES tags."""
    spans, current, slot = [], [], None
    for token, tag in [*zip(tokens, tags, strict=True), ("", "O")]:
        prefix, _, name = tag.partition("-")
        if current and (prefix in ("O", "B", "S") or name != slot):
            spans.append((slot, joiner(current).strip()))
            current, slot = [], None
        if prefix in ("B", "S") or (prefix in ("I", "E") and not current):
            current, slot = [token], name
        elif prefix in ("I", "E"):
            current.append(token)
        if prefix in ("E", "S") and current:
            spans.append((slot, joiner(current).strip()))
            current, slot = [], None
    return spans


def _add_lookups(lookups: dict[str, set[str]], spans: list[tuple[str, str]]) -> None:
    for slot, value in spans:
        if len(value) >= 2:
            lookups.setdefault(slot.replace("/", "__"), set()).add(value)


def _cais(split: str, lookups: dict[str, set[str]] | None = None) -> list[Example]:
    directory = BENCHMARK_DATA / "cais"
    blocks = [b for b in (directory / f"ch.{split}").read_text(encoding="utf-8").split("\n\n")
              if b.strip()]
    intents = [line.strip() for line in
               (directory / f"ch.{split}.intent").read_text(encoding="utf-8").splitlines()
               if line.strip()]
    if len(blocks) != len(intents):
        raise ValueError(f"CAIS {split}: {len(blocks)} sentences but {len(intents)} intents")
    examples = []
    for block, intent in zip(blocks, intents, strict=True):
        pairs = [line.rsplit(" ", 1) for line in block.split("\n") if line]
        characters = [pair[0] for pair in pairs]
        examples.append(("".join(characters).strip(), intent))
        if lookups is not None:
            _add_lookups(lookups, _spans(characters, [pair[1] for pair in pairs], "".join))
    return examples


def cais(split: str) -> Benchmark:
    if split not in ("valid", "test"):
        raise ValueError("CAIS splits: valid (tuning) or test (report once)")
    lookups: dict[str, set[str]] = {}
    return Benchmark(
        "cais", split, "zh", train=_cais("train", lookups), test=_cais(split), lookups=lookups,
        train_description="ch.train", test_description=f"ch.{split}",
        references=CAIS_REFERENCES if split == "test" else [],
    )


# ---------------------------------------------------------------- SMP2017-ECDT task 1

SMP_REFERENCES = [
    ("ST-UIC (Xie et al., 2018: chars + POS + semantic tags), test", None, 0.945,
     "published F1; training split as in the paper, not checked"),
]


def _smp(split: str) -> list[Example]:
    directory = BENCHMARK_DATA / "smp2017-ecdt-task1" / split
    examples = []
    for path in sorted(directory.glob(f"{split}_*.txt")):
        label = path.stem[len(split) + 1:]
        for line in path.read_text(encoding="utf-8-sig").splitlines():
            if line.strip():
                examples.append((line.strip(), label))
    return examples


def smp2017(split: str) -> Benchmark:
    if split not in ("test", "develop"):
        raise ValueError("SMP2017 splits: test (train -> test) or develop (train -> develop)")
    return Benchmark(
        "smp2017", split, "zh", train=_smp("train"), test=_smp(split),
        train_description="train", test_description=split,
        references=SMP_REFERENCES if split == "test" else [],
    )


# ---------------------------------------------------------------- xSID 0.7

_CJK = re.compile(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


def join_words(text: str) -> str:
    """Remove the word-separating spaces of xSID's Japanese/Chinese text."""
    parts = text.split()
    out = parts[0] if parts else ""
    for part in parts[1:]:
        left, right = out[-1], part[0]
        keep = not (_CJK.match(left) or _CJK.match(right)) and not (left.isdigit() and right.isdigit())
        out += (" " if keep else "") + part
    return out


def _xsid(language: str, split: str, lookups: dict[str, set[str]] | None = None) -> list[Example]:
    path = BENCHMARK_DATA / "xsid-0.7" / f"{language}.{split}.conll"
    examples = []
    text = intent = None
    tokens: list[str] = []
    tags: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if line.startswith("# text = "):
            text = line[len("# text = "):]
        elif line.startswith("# intent = "):
            intent = line[len("# intent = "):].strip()
        elif line.strip() and not line.startswith("#"):
            columns = line.split("\t")
            tokens.append(columns[1])
            tags.append(columns[-1].strip())
        elif not line.strip():
            if text is not None and intent is not None:
                examples.append((join_words(text), intent))
                if lookups is not None:
                    _add_lookups(lookups, _spans(tokens, tags, lambda parts: join_words(" ".join(parts))))
            text = intent = None
            tokens, tags = [], []
    return examples


XSID_REFERENCES = {
    "ja": [("plain Rasa (issue 7), valid -> test", 91.7, 0.70, "measured on this machine"),
           ("goal (issue 7)", 95.0, None, "")],
    "zh": [("plain Rasa (issue 7), valid -> test", 87.0, 0.76, "measured on this machine"),
           ("goal (issue 7)", 92.0, None, "")],
}


def xsid(language: str, split: str) -> Benchmark:
    if split != "test":
        raise ValueError("xSID split: test (train on valid, test on test)")
    lookups: dict[str, set[str]] = {}
    return Benchmark(
        f"xsid-{language}", split, language, lookups=lookups,
        train=_xsid(language, "valid", lookups), test=_xsid(language, "test"),
        train_description=f"{language}.valid", test_description=f"{language}.test",
        references=XSID_REFERENCES[language],
    )


# ---------------------------------------------------------------- the project's own data

def heldout(language: str) -> list[Example]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(PROJECT / "tests" / "nlu" / f"heldout_{language}.yml"))
    return [(m.get("text"), m.get("intent")) for m in data.intent_examples]


OWN_REFERENCES = [("goal (issue 7)", None, 0.95, "macro-F1 per language")]


def own(language: str, per_language: bool) -> Benchmark:
    """Train on data/nlu (both languages, or only `language`), test on its held-out set."""
    nlu = PROJECT / "data" / "nlu"
    lookups = PROJECT / "data" / "lookups"
    if per_language:
        paths = [nlu / language, lookups / f"{language}.yml"]
        name, description = f"own-{language}", f"data/nlu/{language} + data/lookups/{language}.yml"
    else:
        paths = [nlu, *sorted(lookups.glob("*.yml"))]
        name, description = "own", "data/nlu + data/lookups"
    from rasa.shared.nlu.training_data.loading import load_data

    train = [(m.get("text"), m.get("intent"))
             for path in paths
             for m in load_data(str(path)).intent_examples]
    return Benchmark(
        name, f"heldout_{language}", language, train=train, test=heldout(language),
        train_paths=paths, train_description=description,
        test_description=f"tests/nlu/heldout_{language}.yml", references=OWN_REFERENCES,
    )


DATASETS = ("cais", "smp2017", "xsid-ja", "xsid-zh", "own", "own-ja", "own-zh")
DEFAULT_SPLIT = {"cais": "valid", "smp2017": "test", "xsid-ja": "test", "xsid-zh": "test"}


def load(dataset: str, split: str | None) -> list[Benchmark]:
    """The benchmark(s) of a dataset: `own` is one model tested on both held-out sets."""
    split = split or DEFAULT_SPLIT.get(dataset)
    if dataset == "cais":
        return [cais(split)]
    if dataset == "smp2017":
        return [smp2017(split)]
    if dataset in ("xsid-ja", "xsid-zh"):
        return [xsid(dataset[-2:], split)]
    if dataset == "own":
        return [own("ja", False), own("zh", False)]
    if dataset in ("own-ja", "own-zh"):
        return [own(dataset[-2:], True)]
    raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
