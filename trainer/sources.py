"""The project's YAML files read with line numbers, so every problem can name file:line.

ruamel.yaml's round-trip loader keeps each node's position; an example inside an
`examples: |` block sits on the line after the `examples:` key plus its index in the
block (checked against the file's text, with a search as the fallback).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from trainer.project import Project

# Rasa's annotation syntax, [text](entity:value) | [text]{"entity": ..} | [text][{..}, {..}],
# as in rasa.shared.nlu.training_data.entities_parser (importing that pulls in TensorFlow).
ENTITY_REGEX = re.compile(
    r"\[(?P<entity_text>[^\]]+?)\](\((?P<entity>[^:)]+?)(?:\:(?P<value>[^)]+))?\)"
    r"|\{(?P<entity_dict>[^}]+?)\}|\[(?P<list_entity_dicts>.*?)\])"
)
SINGLE_ENTITY_DICT = re.compile(r"{(?P<entity_dict>[^}]+?)\}")


def replace_entities(text: str) -> str:
    """The example as a user would type it: annotations replaced by their text."""
    return ENTITY_REGEX.sub(lambda m: m.group("entity_text"), text)


class SourceError(Exception):
    """A file that cannot be read or lacks what the trainer needs from it."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line, self.message = path, line, message


def load_yaml(path: Path) -> Any:
    try:
        return YAML(typ="rt").load(path.read_text(encoding="utf-8"))
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise SourceError(path, mark.line + 1 if mark else 1,
                          f"invalid YAML: {error.problem or error}") from None
    except OSError as error:
        raise SourceError(path, 1, f"cannot read: {error}") from None


def key_line(node: Any, key: Any) -> int:
    """1-based line of `key` in a mapping (of the mapping itself when unknown)."""
    if isinstance(node, CommentedMap):
        try:
            return node.lc.key(key)[0] + 1
        except (KeyError, TypeError):
            return node.lc.line + 1
    return 1


def item_line(seq: Any, index: int) -> int:
    """1-based line of the index-th item of a sequence."""
    if isinstance(seq, CommentedSeq):
        try:
            return seq.lc.item(index)[0] + 1
        except (KeyError, TypeError):
            return seq.lc.line + 1
    return 1


def node_line(node: Any) -> int:
    return node.lc.line + 1 if isinstance(node, CommentedMap | CommentedSeq) else 1


@dataclass(frozen=True)
class Entry:
    """One `- ...` line of an `examples: |` block."""

    raw: str  # as written, with entity annotations
    path: Path
    line: int

    @cached_property
    def text(self) -> str:
        """The plain text a user would type (annotations removed)."""
        return replace_entities(self.raw)

    @cached_property
    def entities(self) -> list[tuple[str, str]]:
        """(entity, value) of each annotation; the value defaults to the annotated text.
        (Rasa's own parser validates a JSON schema per annotation: 30 ms each.)"""
        found = []
        for match in ENTITY_REGEX.finditer(self.raw):
            text = match.group("entity_text")
            if match.group("entity"):
                found.append((match.group("entity"), match.group("value") or text))
                continue
            dicts = [match.group("entity_dict")] if match.group("entity_dict") else \
                SINGLE_ENTITY_DICT.findall(match.group("list_entity_dicts") or "")
            for body in dicts:
                try:
                    spec = json.loads("{" + body + "}")
                except json.JSONDecodeError:
                    continue  # malformed: Rasa's own validation reports it
                if isinstance(spec, dict) and "entity" in spec:
                    found.append((str(spec["entity"]), str(spec.get("value", text))))
        return found


@dataclass(frozen=True)
class Block:
    """One item of an `nlu:` list: an intent, a synonym, a lookup or a regex."""

    kind: str  # intent | synonym | lookup | regex
    name: str
    path: Path
    line: int  # of the `- intent: name` line
    entries: tuple[Entry, ...]


def _entries(item: CommentedMap, path: Path, lines: list[str]) -> Iterator[Entry]:
    examples = item.get("examples")
    if not isinstance(examples, str):
        return
    first = key_line(item, "examples") + 1  # block content starts on the next line
    search_from = first - 1
    for offset, raw_line in enumerate(examples.split("\n")):
        stripped = raw_line.strip()
        if not stripped.startswith("- "):
            continue
        raw = stripped[2:].strip()
        line = first + offset
        if not (0 < line <= len(lines) and lines[line - 1].strip() == stripped):
            # Unusual layout (e.g. a quoted string): find the line by its text.
            line = next((n + 1 for n in range(search_from, len(lines))
                         if lines[n].strip() == stripped), first)
        search_from = line
        yield Entry(raw=raw, path=path, line=line)


def read_nlu_file(path: Path, data: Any = None) -> list[Block]:
    data = load_yaml(path) if data is None else data
    if not isinstance(data, dict) or not isinstance(data.get("nlu"), list):
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    for index, item in enumerate(data["nlu"]):
        if not isinstance(item, CommentedMap):
            continue
        kind = next((k for k in ("intent", "synonym", "lookup", "regex") if k in item), None)
        if kind is None:
            continue
        blocks.append(Block(kind=kind, name=str(item[kind]), path=path,
                            line=item_line(data["nlu"], index),
                            entries=tuple(_entries(item, path, lines))))
    return blocks


def _user_messages(node: Any) -> Iterator[str]:
    """Every `user:` text of a conversation file, and every `ask:` message, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "user" and isinstance(value, str):
                yield value
            elif key == "ask" and isinstance(value, list):
                yield from (item for item in value if isinstance(item, str))
            else:
                yield from _user_messages(value)
    elif isinstance(node, list):
        for item in node:
            yield from _user_messages(item)


def yaml_files(directory: Path) -> list[Path]:
    if directory.is_file():
        return [directory]
    return sorted(p for p in directory.rglob("*") if p.suffix in (".yml", ".yaml"))


@dataclass(frozen=True)
class Example:
    intent: str
    language: str  # ja | zh, from the directory it is in
    entry: Entry

    @property
    def text(self) -> str:
        return self.entry.text


class Sources:
    """Everything the checks and the review merge read, loaded once."""

    def __init__(self, project: Project) -> None:
        self.project = project

    @cached_property
    def domain_files(self) -> list[tuple[Path, Any]]:
        return [(p, load_yaml(p)) for p in yaml_files(self.project.domain)]

    def domain_section(self, key: str) -> Iterator[tuple[Path, Any]]:
        for path, data in self.domain_files:
            if isinstance(data, dict) and data.get(key) is not None:
                yield path, data[key]

    @cached_property
    def intents(self) -> dict[str, tuple[Path, int]]:
        """Domain intents → where they are declared."""
        found: dict[str, tuple[Path, int]] = {}
        for path, intents in self.domain_section("intents"):
            for index, intent in enumerate(intents):
                name = next(iter(intent)) if isinstance(intent, dict) else str(intent)
                found.setdefault(name, (path, item_line(intents, index)))
        return found

    @cached_property
    def responses(self) -> dict[str, tuple[Path, int, Any]]:
        found: dict[str, tuple[Path, int, Any]] = {}
        for path, responses in self.domain_section("responses"):
            for name, variations in responses.items():
                found.setdefault(str(name), (path, key_line(responses, name), variations))
        return found

    @cached_property
    def data_files(self) -> list[tuple[Path, Any]]:
        return [(p, load_yaml(p)) for p in yaml_files(self.project.data)]

    @cached_property
    def nlu_blocks(self) -> list[Block]:
        return [block for path, data in self.data_files
                for block in read_nlu_file(path, data)]

    def _language_of(self, path: Path) -> str | None:
        for language in self.project.languages:
            if self.project.nlu_dir(language) in path.parents:
                return language
        return None

    @cached_property
    def training_examples(self) -> list[Example]:
        """Intent examples under data/nlu/<lang>/ (other NLU files have no language)."""
        return [Example(block.name, language, entry)
                for block in self.nlu_blocks if block.kind == "intent"
                and (language := self._language_of(block.path))
                for entry in block.entries]

    @cached_property
    def heldout_examples(self) -> list[Example]:
        examples = []
        for language in self.project.languages:
            path = self.project.heldout(language)
            if path.exists():
                examples += [Example(block.name, language, entry)
                             for block in read_nlu_file(path)
                             if block.kind == "intent" for entry in block.entries]
        return examples

    @cached_property
    def conversation_messages(self) -> list[Entry]:
        """The partner messages of the held-out conversations and pending-question replies."""
        messages = []
        for path in self.project.heldout_conversations:
            lines = path.read_text(encoding="utf-8").splitlines()
            for text in _user_messages(load_yaml(path)):
                line = next((n for n, content in enumerate(lines, start=1) if text in content), 1)
                messages.append(Entry(raw=text, path=path, line=line))
        return messages

    @cached_property
    def story_steps(self) -> list[dict[str, Any]]:
        """Every step (a mapping) of every rule and story, `or:` alternatives included."""
        steps: list[dict[str, Any]] = []

        def walk(items: Any) -> None:
            for step in items or []:
                if isinstance(step, dict):
                    steps.append(step)
                    walk(step.get("or"))

        for _, data in self.data_files:
            if isinstance(data, dict):
                for key in ("rules", "stories"):
                    for flow in data.get(key) or []:
                        if isinstance(flow, dict):
                            walk(flow.get("steps"))
                            walk(flow.get("condition"))
        return steps

    def content_files(self) -> list[tuple[Path, Any]]:
        return [(p, load_yaml(p)) for p in yaml_files(self.project.content)] \
            if self.project.content.exists() else []


TABLE_ROW = re.compile(r"^\|(.+)\|\s*$")


def markdown_table(text: str, heading: str) -> list[list[str]]:
    """Rows (cells stripped) of the first table after a Markdown heading starting with
    `heading`; the header and separator rows are left out."""
    rows: list[list[str]] = []
    in_section = False
    for line in text.splitlines():
        if line.startswith("#"):
            if rows:
                break
            in_section = line.lstrip("#").strip().startswith(heading)
            continue
        match = TABLE_ROW.match(line.strip())
        if in_section and match:
            rows.append([cell.strip() for cell in match.group(1).split("|")])
        elif rows:
            break
    return [row for row in rows[1:] if not set(row[0]) <= set("-: ")]
