"""The project's own data checks (Rasa's `data validate` does not do these).

Each check returns Problems that name file and line, in the form trainers know from
compilers: `data/nlu/ja/benefits.yml:12: [duplicate-example] ...`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.language import detect_language, fold
from trainer.project import REPO, Project
from trainer.similarity import DEFAULT_THRESHOLD, SimilarityIndex
from trainer.sources import (
    Example,
    SourceError,
    Sources,
    item_line,
    key_line,
    markdown_table,
    node_line,
    yaml_files,
)

DEFAULT_MIN_EXAMPLES = 40
MIN_LEAK_CHARS = 6
# Responses that Rasa's built-in actions utter by name.
RASA_DEFAULT_RESPONSES = {"utter_default", "utter_ask_rephrase", "utter_restart", "utter_back"}
# Where code may name a response: response="utter_x", or f"utter_x_{...}" (a prefix).
CODE_DIRS = ("actions", "components", "channels")
RESPONSE_NAME = re.compile(r"(utter_[A-Za-z0-9_]*)(\{)?")
DIAGNOSIS_ID = re.compile(r"^\|\s*`([A-Za-z0-9_]+)`")
PAYLOAD = re.compile(r"^/(?P<intent>[^{]+)(?P<entities>\{.*\})?$", re.DOTALL)


@dataclass(frozen=True)
class Problem:
    check: str
    path: Path
    line: int
    message: str

    def render(self, project: Project) -> str:
        return f"{project.rel(self.path)}:{self.line}: [{self.check}] {self.message}"


def _where(project: Project, example: Example) -> str:
    return f"{project.rel(example.entry.path)}:{example.entry.line}"


# ---------------------------------------------------------------- NLU examples

def check_example_counts(src: Sources, min_examples: int) -> Iterator[Problem]:
    counts = Counter((e.intent, e.language) for e in src.training_examples)
    for intent, (path, line) in src.intents.items():
        for language in src.project.languages:
            count = counts[intent, language]
            if count < min_examples:
                yield Problem("examples-per-intent", path, line,
                              f"intent '{intent}' has {count} examples in "
                              f"{src.project.rel(src.project.nlu_dir(language))}/ "
                              f"(at least {min_examples} needed)")


# What is left of a broken annotation once the well-formed ones are replaced by their
# text: "[ゴールド](membership" or "[金牌]{"entity": ...".
UNCLOSED_ANNOTATION = re.compile(r"\[[^\]]*\]\s*[({]|\]\(|\]\{")


def check_example_markup(src: Sources) -> Iterator[Problem]:
    """An example in the other language, or with an annotation left open (Rasa trains
    the markup as text)."""
    for example in src.training_examples:
        if UNCLOSED_ANNOTATION.search(example.text):
            yield Problem("unclosed-annotation", example.entry.path, example.entry.line,
                          f"'{example.entry.raw}' has an entity annotation that is not "
                          "closed: write [text](entity) or [text]{\"entity\": ..., \"value\": ...}")
        language = detect_language(example.text)
        if language and language != example.language:
            yield Problem("wrong-language", example.entry.path, example.entry.line,
                          f"'{example.text}' reads as {language}, not {example.language}: move it "
                          f"to {src.project.rel(src.project.nlu_dir(language))}/")


def check_conflicting_examples(src: Sources, threshold: float) -> Iterator[Problem]:
    examples = src.training_examples
    index = SimilarityIndex(((e.text, i) for i, e in enumerate(examples)), threshold)
    for i, example in enumerate(examples):
        for match in index.find(example.text):
            other = examples[match.item]
            if match.item < i and other.intent != example.intent:
                kind = "the same example" if match.score == 1.0 else \
                    f"a near-duplicate (similarity {match.score:.2f})"
                yield Problem("duplicate-example", example.entry.path, example.entry.line,
                              f"'{example.text}' (intent {example.intent}) is {kind} of "
                              f"'{other.text}' (intent {other.intent}) at "
                              f"{_where(src.project, other)}; keep it under one intent")


def _leaks(src: Sources, threshold: float, check: str, held: list[tuple[str, str]]
           ) -> Iterator[Problem]:
    """held: (text, where it is held out) pairs that must not be training examples."""
    index = SimilarityIndex(((e.text, e) for e in src.training_examples), threshold)
    for text, where in held:
        for match in index.find(text):
            kind = "appears" if match.score == 1.0 else \
                f"has a near-duplicate (similarity {match.score:.2f})"
            yield Problem(check, match.item.entry.path, match.item.entry.line,
                          f"held-out '{text}' ({where}) {kind} in the training data: remove or "
                          "reword the training example (the test set must stay unseen)")


def check_heldout_leak(src: Sources, threshold: float) -> Iterator[Problem]:
    yield from _leaks(src, threshold, "heldout-leak",
                      [(held.text, _where(src.project, held)) for held in src.heldout_examples])


def check_conversation_leak(src: Sources, threshold: float) -> Iterator[Problem]:
    """A held-out conversation message that is (nearly) a training example proves nothing.
    Button payloads are not typed text; one-word replies (はい, 好的, 金牌) are in any data
    set and any conversation, so their overlap shows nothing."""
    yield from _leaks(src, threshold, "conversation-leak", [
        (m.text, f"{src.project.rel(m.path)}:{m.line}") for m in src.conversation_messages
        if not m.text.startswith("/") and len(m.text.strip()) >= MIN_LEAK_CHARS])


# ---------------------------------------------------------------- domain usage

def code_response_names(project: Project) -> tuple[set[str], set[str]]:
    """Response names written in code and content, and f-string prefixes (utter_x_{y})."""
    names: set[str] = set()
    prefixes: set[str] = set()
    files = [p for d in CODE_DIRS if (project.root / d).is_dir()
             for p in (project.root / d).rglob("*.py")]
    if project.content.is_dir():
        files += yaml_files(project.content)
    for path in files:
        for match in RESPONSE_NAME.finditer(path.read_text(encoding="utf-8")):
            (prefixes if match.group(2) else names).add(match.group(1))
    return names, prefixes


def check_unused(src: Sources) -> Iterator[Problem]:
    used_intents = {str(step["intent"]) for step in src.story_steps if "intent" in step}
    used_actions = {str(step["action"]) for step in src.story_steps if "action" in step}
    for intent, (path, line) in src.intents.items():
        if intent not in used_intents:
            yield Problem("unused-intent", path, line,
                          f"intent '{intent}' is not used in any rule or story "
                          f"({src.project.rel(src.project.data)}/): add a rule, or remove it")

    names, prefixes = code_response_names(src.project)
    # A form asks for each required slot with utter_ask_<form>_<slot> or utter_ask_<slot>.
    form_asks = {name for _, forms in src.domain_section("forms")
                 for form, spec in forms.items()
                 for slot in (spec or {}).get("required_slots") or []
                 for name in (f"utter_ask_{slot}", f"utter_ask_{form}_{slot}")}
    used = used_actions | names | form_asks | RASA_DEFAULT_RESPONSES
    for name, (path, line, _) in src.responses.items():
        if name not in used and not any(name.startswith(p) for p in prefixes):
            yield Problem("unused-response", path, line,
                          f"response '{name}' is not used by any rule, story, form or "
                          "action: use it, or remove it")


# ---------------------------------------------------------------- languages

def _language_of_variation(variation: Any) -> str:
    for condition in variation.get("condition") or []:
        if isinstance(condition, dict) and condition.get("name") == "language":
            return str(condition.get("value"))
    return "ja"  # the unconditioned variation is the Japanese default


def _wrong_language(text: Any, language: str) -> bool:
    """True when a text is plainly in the other language (its script decides)."""
    detected = detect_language(str(text)) if isinstance(text, str) else None
    return detected is not None and detected != language


def check_response_languages(src: Sources) -> Iterator[Problem]:
    for name, (path, line, variations) in src.responses.items():
        found: dict[str, int] = {}
        for index, variation in enumerate(variations or []):
            if not isinstance(variation, dict):
                continue
            language = _language_of_variation(variation)
            found.setdefault(language, item_line(variations, index))
            if _wrong_language(variation.get("text"), language):
                yield Problem("response-languages", path, key_line(variation, "text"),
                              f"response '{name}': the {language} variation is not written "
                              f"in {language}")
        for language in src.project.languages:
            if language not in found:
                how = "no condition" if language == "ja" else \
                    f"condition: slot language == {language}"
                yield Problem("response-languages", path, line,
                              f"response '{name}' has no {language} variation ({how})")


def _localised(node: Any, path: Path, where: str, languages: tuple[str, ...]
               ) -> Iterator[Problem]:
    """Every mapping holding a language key must hold all languages, none empty."""
    if isinstance(node, dict):
        if any(language in node for language in languages):
            for language in languages:
                text = node.get(language)
                if not isinstance(text, str) or not text.strip():
                    yield Problem("content-languages", path, node_line(node),
                                  f"{where} has no {language} text")
                elif _wrong_language(text, language):
                    yield Problem("content-languages", path, key_line(node, language),
                                  f"{where}: the {language} text is not written in {language}")
            return
        for key, value in node.items():
            yield from _localised(value, path, f"{where}.{key}" if where else str(key),
                                  languages)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _localised(value, path, f"{where}[{index}]", languages)


def check_content_languages(src: Sources) -> Iterator[Problem]:
    languages = src.project.languages
    for path, data in src.content_files():
        yield from _localised(data, path, "", languages)
        if path.name != "guides.yml" or not isinstance(data, dict):
            continue
        for guide_id, guide in (data.get("guides") or {}).items():
            for index, step in enumerate((guide or {}).get("steps") or []):
                for field in ("title", "text"):
                    if not isinstance(step, dict) or field not in step:
                        yield Problem("content-languages", path,
                                      item_line(guide["steps"], index),
                                      f"guide '{guide_id}' step {index + 1} has no {field}")
        for cause_id, cause in (data.get("causes") or {}).items():
            if not isinstance(cause, dict) or "text" not in cause:
                yield Problem("content-languages", path, key_line(data["causes"], cause_id),
                              f"cause '{cause_id}' has no text")


# ---------------------------------------------------------------- entity values

def entity_values(project: Project) -> dict[str, set[str]]:
    """Canonical entity values from the Entities table of docs/dialogue-contract.md."""
    if not project.contract.exists():
        raise SourceError(project.contract, 1, "missing (its Entities table lists the "
                          "canonical entity values)")
    rows = markdown_table(project.contract.read_text(encoding="utf-8"), "Entities")
    if not rows:
        raise SourceError(project.contract, 1, "no table under '## Entities'")
    return {row[0].strip("` "): {v.strip("` ") for v in row[1].split(",") if v.strip("` ")}
            for row in rows if len(row) > 1}


def check_entity_values(src: Sources) -> Iterator[Problem]:
    project = src.project
    values = entity_values(project)
    known = set().union(*values.values()) if values else set()
    contract = project.rel(project.contract)
    synonyms: dict[str, str] = {}
    for block in src.nlu_blocks:
        if block.kind == "synonym":
            if block.name not in known:
                yield Problem("entity-values", block.path, block.line,
                              f"synonym value '{block.name}' is not an entity value in "
                              f"{contract} ({', '.join(sorted(known))})")
            for entry in block.entries:
                synonyms[entry.text.lower()] = block.name

    def canonical(value: str) -> str:
        return synonyms.get(value.lower(), value)

    for block in src.nlu_blocks:
        if block.kind != "lookup":
            continue
        if block.name not in values:
            yield Problem("entity-values", block.path, block.line,
                          f"lookup '{block.name}' is not an entity in {contract}")
            continue
        for entry in block.entries:
            if canonical(entry.text) not in values[block.name]:
                yield Problem("entity-values", entry.path, entry.line,
                              f"lookup '{block.name}' entry '{entry.text}' maps to no value of "
                              f"{block.name} ({', '.join(sorted(values[block.name]))}): add it "
                              "to a synonym")

    # The extractor finds only lookup entries in messages: a synonym entry in no lookup
    # maps a word that is never found.
    looked_up = {fold(entry.text) for block in src.nlu_blocks if block.kind == "lookup"
                 for entry in block.entries}
    for block in src.nlu_blocks:
        if block.kind == "synonym":
            for entry in block.entries:
                if fold(entry.text) not in looked_up:
                    yield Problem("entity-values", entry.path, entry.line,
                                  f"synonym '{block.name}' entry '{entry.text}' is in no lookup, "
                                  "so it is never found in a message: add it to the lookup of "
                                  "its entity")

    examples = [e.entry for e in src.training_examples + src.heldout_examples]
    for entry in examples:
        for name, surface in entry.entities:
            value = canonical(surface)
            if name not in values:
                yield Problem("entity-values", entry.path, entry.line,
                              f"annotated entity '{name}' is not in {contract} "
                              f"(system entities such as language/step/cause are never "
                              "annotated)")
            elif value not in values[name]:
                yield Problem("entity-values", entry.path, entry.line,
                              f"annotated {name} value '{value}' is not one of "
                              f"{', '.join(sorted(values[name]))}")

    for name, (path, _, variations) in src.responses.items():
        for variation in variations or []:
            for button in (variation or {}).get("buttons") or []:
                match = PAYLOAD.match(str(button.get("payload", "")))
                if not match or not match.group("entities"):
                    continue
                try:
                    given = json.loads(match.group("entities"))
                except json.JSONDecodeError:
                    continue  # Rasa's own validation reports malformed payloads
                for entity, value in given.items():
                    if entity in values and str(value) not in values[entity]:
                        yield Problem("entity-values", path, node_line(button),
                                      f"response '{name}' button sends {entity}='{value}', "
                                      f"not one of {', '.join(sorted(values[entity]))}")


# ---------------------------------------------------------------- diagnosis IDs

def catalogue_ids(project: Project) -> tuple[set[str], Path]:
    """Diagnosis IDs from the first column of the catalogue's table: the project's
    docs/diagnoses.md, else (a project without one, e.g. a test fixture) this repository's."""
    catalogue = project.root / "docs" / "diagnoses.md"
    if not catalogue.exists():
        catalogue = REPO / "docs" / "diagnoses.md"
    ids = {m.group(1) for line in catalogue.read_text(encoding="utf-8").splitlines()
           if (m := DIAGNOSIS_ID.match(line))}
    return ids, catalogue


def check_diagnosis_ids(src: Sources) -> Iterator[Problem]:
    ids, catalogue = catalogue_ids(src.project)
    used: list[tuple[str, Path, int, str]] = []
    for path, slots in src.domain_section("slots"):
        mappings = (slots.get("diagnosis") or {}).get("mappings") or []
        for index, mapping in enumerate(mappings):
            if isinstance(mapping, dict) and "value" in mapping:
                used.append((str(mapping["value"]), path, item_line(mappings, index),
                             "slot mapping of diagnosis"))
    for path, data in src.content_files():
        if not isinstance(data, dict):
            continue
        if path.name == "starts.yml":
            used += [(str(key).split("/")[0], path, key_line(data, key), "starts.yml key")
                     for key in data]
        for cause_id, cause in (data.get("causes") or {}).items():
            if isinstance(cause, dict) and "diagnosis" in cause:
                used.append((str(cause["diagnosis"]), path, key_line(cause, "diagnosis"),
                             f"cause '{cause_id}'"))
        diagnoses = data.get("diagnoses") if path.name == "labels.yml" else None
        used += [(str(key), path, key_line(diagnoses, key), "label")
                 for key in diagnoses or {}]
    for diagnosis, path, line, what in used:
        if diagnosis not in ids:
            yield Problem("diagnosis-ids", path, line,
                          f"{what}: diagnosis '{diagnosis}' is not in the catalogue "
                          f"({catalogue})")


# ---------------------------------------------------------------- all together

ANSI = re.compile(r"\x1b\[[0-9;]*m")
RASA_MESSAGE = re.compile(r"(?:UserWarning: |\bERROR\s+\S+\s+-\s+|InvalidDomain: |"
                          r"YamlValidationException: |Exception: )(?P<message>.+)")
QUOTED_NAME = re.compile(r"'([^'\s]+)'")


def rasa_problems(project: Project, output: str) -> list[str]:
    """Rasa's validation messages, each with the first file:line that holds the name it
    quotes (Rasa names the intent or action, not where it is)."""
    files = yaml_files(project.data) + yaml_files(project.domain)
    texts = {path: path.read_text(encoding="utf-8").splitlines() for path in files}
    shown = []
    for raw in ANSI.sub("", output).splitlines():
        match = RASA_MESSAGE.search(raw)
        if not match:
            continue
        message = match.group("message").strip()
        where = next((f"{project.rel(path)}:{n + 1}: " for name in QUOTED_NAME.findall(message)
                      for path, lines in texts.items()
                      for n, line in enumerate(lines) if re.search(
                          rf"(?<![\w-]){re.escape(name)}(?![\w-])", line)), "")
        shown.append(f"{where}[rasa] {message}")
    return shown or ANSI.sub("", output).splitlines()[-30:]


def run_checks(project: Project, min_examples: int = DEFAULT_MIN_EXAMPLES,
               threshold: float = DEFAULT_THRESHOLD) -> list[Problem]:
    src = Sources(project)
    checks: list[tuple[str, Callable[[], Iterator[Problem]]]] = [
        ("examples per intent", lambda: check_example_counts(src, min_examples)),
        ("examples in their language, annotations closed", lambda: check_example_markup(src)),
        ("same example under two intents", lambda: check_conflicting_examples(src, threshold)),
        ("unused intents and responses", lambda: check_unused(src)),
        ("ja and zh in every response", lambda: check_response_languages(src)),
        ("ja and zh in every guide and label", lambda: check_content_languages(src)),
        ("lookup, synonym and entity values", lambda: check_entity_values(src)),
        ("diagnosis IDs in the catalogue", lambda: check_diagnosis_ids(src)),
        ("held-out examples not in training data", lambda: check_heldout_leak(src, threshold)),
        ("held-out conversations not in training data",
         lambda: check_conversation_leak(src, threshold)),
    ]
    problems: list[Problem] = []
    for title, check in checks:
        try:
            found = list(check())
        except SourceError as error:
            found = [Problem("unreadable", error.path, error.line, error.message)]
        print(f"  {'FAIL' if found else 'ok  '} {title}"
              + (f" ({len(found)} problems)" if found else ""), flush=True)
        problems += found
    return list(dict.fromkeys(problems))  # an unreadable file is reported once
