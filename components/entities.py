"""Entities from the lookup tables, matched as partners type them, with negations resolved.

Rasa's RegexEntityExtractor matches the raw text, so ｺﾞｰﾙﾄﾞ, ＧＯＬＤ or ごーるど never
match the lookup entry ゴールド. This extractor matches the lookup entries on a folded
copy of the text (width, case, hiragana → katakana, half-width sound marks combined;
offsets are mapped back to the original text) and gives each entity its canonical value
through the synonyms of the training data.

A message also says what it is *not* ("ゴールドではなくシルバー", "不是银牌是金牌",
"我们的能力不属于云那一类"). Rasa's slot filling keeps the last value of an entity, which
would store the negated one, so negated values are removed here; for a fact with two
possible values a negated value means the other one. When a message names both support
kinds ("オンプレとクラウドはそれぞれ何件") or both competency kinds, they become the one
value `both`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import dump_obj_as_json_to_file, read_json_file

from components.language import fold_kana as fold
from components.language import fold_kana_with_spans
from components.negation import BOTH_VALUES, NO_ROLE, OTHER_VALUE, is_negated


@dataclass(frozen=True)
class Lookup:
    entity: str
    pattern: str


def build_lookups(tables: list[dict[str, Any]], entities: set[str]) -> list[Lookup]:
    """One alternation per entity (its ja and zh tables merged); longer entries first so
    the longest one matches."""
    elements: dict[str, set[str]] = {}
    for table in tables:
        if table["name"] in entities:
            elements.setdefault(table["name"], set()).update(
                fold(str(e).strip()) for e in table["elements"] if str(e).strip())
    return [Lookup(name, "|".join(re.escape(e) for e in sorted(values, key=lambda e: (-len(e), e))))
            for name, values in sorted(elements.items()) if values]


def find_entities(text: str, lookups: list[Lookup], synonyms: dict[str, str]) -> list[dict[str, Any]]:
    """Lookup matches with canonical values; a match inside a longer one of another entity
    is dropped (クラウド inside クラウド コンピテンシー is the competency, not a support kind)."""
    folded, spans = fold_kana_with_spans(text)
    found: list[dict[str, Any]] = []
    for lookup in lookups:
        for match in re.finditer(lookup.pattern, folded):
            start, end = spans[match.start()][0], spans[match.end() - 1][1]
            found.append({"entity": lookup.entity, "start": start, "end": end,
                          "value": synonyms.get(match.group(), text[start:end])})
    return [e for e in found if not any(
        o is not e and o["start"] <= e["start"] and e["end"] <= o["end"]
        and o["end"] - o["start"] > e["end"] - e["start"] for o in found)]


# "コンピテンシーもクラウドのじゃなかった", "我们的资格不属于云", "资格跟云没关系": "cloud"
# said of the competency, not of the support. Between the competency word and クラウド/云 stand only
# particles or a copula (not "コンピテンシーがあるのでクラウドの…", which is the support).
COMPETENCY_SUBJECT = re.compile(
    r"(コンピテンシー|コンピテンシ|competency|資格|资格|能力)\s*"
    r"(は|も|が|って|の種類[はも]?|也?不?是|并不是|都是|不?属于|并不属于|不?算是?|跟|和|与|與)?\s*$",
    re.IGNORECASE)
# "クラウド系のコンピテンシーは持っていない": the competency word right after クラウド.
# "云相关的资格我们一个都没拿到": the same in Chinese.
COMPETENCY_AFTER = re.compile(r"^\s*(系|系統|関連|分野|相关|相關|类|類|方面)?\s*(の|的)?\s*"
                              r"(コンピテンシー|コンピテンシ|competency|资格|資格|能力)", re.IGNORECASE)


def competency_subjects(text: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A support kind `cloud` whose subject is the competency becomes competency_kind cloud."""
    return [{**entity, "entity": "competency_kind"}
            if entity["entity"] == "support_kind" and entity["value"] == "cloud"
            and (COMPETENCY_SUBJECT.search(text[max(0, entity["start"] - 16):entity["start"]])
                 or COMPETENCY_AFTER.match(text[entity["end"]:]))
            else entity for entity in entities]


def entities_in(text: str, lookups: list[Lookup], synonyms: dict[str, str]) -> list[dict[str, Any]]:
    """The message's entities: lookup matches, the competency's "cloud", the error's own
    words left out, negations resolved."""
    found = competency_subjects(text, find_entities(text, lookups, synonyms))
    return resolve_negations(text, without_error_text(text, found))


# The access-ID error itself says the ID "已经关联过一个帐户" (is associated with an
# account): those words tell the error, not that the partner linked the contract before.
ERROR_TEXT_AFTER = re.compile(r"^\s*(到|至|与|與|给|給)?\s*"
                              r"(一个|一個|某个|某個|另一个|另一個|其他|别的|別的)?"
                              r"\s*(帐户|账户|账号|帳戶|帳號|帐号|アカウント)")


def without_error_text(text: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drops a `linked` contract case that is the error message's own words."""
    return [entity for entity in entities
            if not (entity["entity"] == "contract_state" and entity["value"] == "linked"
                    and ERROR_TEXT_AFTER.match(text[entity["end"]:]))]


# Words that join two values of a list ("セキュリティやCloud Platformは持っていない",
# "オンプレでもクラウドでもない", "不是云资格和其他资格"): a negation of the list negates each of them.
COORDINATOR = re.compile(r"^\s*(や|と|とか|か|でも|も|、|,|/|／|及び|および|和|与|與|及|或者|或)\s*$")


def negated_entities(text: str, entities: list[dict[str, Any]]) -> list[bool]:
    """Whether each entity is negated, by its own words or as a member of a negated list."""
    negated = [is_negated(text, e, [o for o in entities if o is not e]) for e in entities]
    changed = True
    while changed:
        changed = False
        for i, entity in enumerate(entities):
            for j, other in enumerate(entities):
                between = text[min(entity["end"], other["end"]):max(entity["start"], other["start"])]
                if (negated[j] and not negated[i] and other["entity"] == entity["entity"]
                        and COORDINATOR.match(between)):
                    negated[i] = changed = True
    return negated


def resolve_negations(text: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drops negated values; a negated two-valued fact becomes its other value, unless the
    message also names a value of it that is not negated, or denies another value too."""
    resolved = []
    negated = negated_entities(text, entities)
    for entity, denied in zip(entities, negated, strict=True):
        if not denied:
            resolved.append(entity)
            continue
        name, value = entity["entity"], entity["value"]
        same = [(o["value"], d) for o, d in zip(entities, negated, strict=True)
                if o is not entity and o["entity"] == name]
        affirmed = {v for v, d in same if not d or v != value}
        # `negated` tells the actions that the value was inferred, not named: "クラウドじゃない"
        # to the competency question describes the competency, "オンプレの話" changes the topic.
        if value in OTHER_VALUE.get(name, {}) and not affirmed:
            resolved.append({**entity, "value": OTHER_VALUE[name][value], "negated": True})
        elif name == NO_ROLE[0] and value != NO_ROLE[1] and not affirmed:
            resolved.append({**entity, "value": NO_ROLE[1], "negated": True})
    for name in MERGED_WHEN_BOTH:
        resolved = merge_both(resolved, name)
    return resolved


# Facts asked "for each" ("オンプレとクラウドはそれぞれ何件", "云资格和其他资格分别几个"):
# a message naming both values means both, not the last one named.
MERGED_WHEN_BOTH = ("support_kind", "competency_kind")


def merge_both(entities: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    kinds = [e for e in entities if e["entity"] == name]
    if {e["value"] for e in kinds} != set(OTHER_VALUE[name]):
        return entities
    first = min(kinds, key=lambda e: e["start"])
    both = {**first, "end": max(e["end"] for e in kinds), "value": BOTH_VALUES, "negated": False}
    return [e for e in entities if e["entity"] != name] + [both]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class FoldedLookupEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Lookup-table entities on folded text, canonical values, negations resolved."""

    FILE_NAME = "folded_lookups.json"

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"max_chars": 2000}

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 lookups: list[Lookup] | None = None, synonyms: dict[str, str] | None = None) -> None:
        self._max_chars = config["max_chars"]
        self._storage = model_storage
        self._resource = resource
        self.lookups = lookups or []
        self.synonyms = synonyms or {}

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> FoldedLookupEntityExtractor:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        self.lookups = build_lookups(training_data.lookup_tables, training_data.entities)
        self.synonyms = {fold(surface): canonical
                         for surface, canonical in training_data.entity_synonyms.items()}
        for canonical in set(self.synonyms.values()):  # "gold" typed as such
            self.synonyms.setdefault(fold(canonical), canonical)
        with self._storage.write_to(self._resource) as directory:
            dump_obj_as_json_to_file(directory / self.FILE_NAME, {
                "lookups": [[lookup.entity, lookup.pattern] for lookup in self.lookups],
                "synonyms": self.synonyms,
            })
        return self._resource

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> FoldedLookupEntityExtractor:
        with model_storage.read_from(resource) as directory:
            stored = read_json_file(directory / cls.FILE_NAME)
        lookups = [Lookup(entity, pattern) for entity, pattern in stored["lookups"]]
        return cls(config, model_storage, resource, lookups, stored["synonyms"])

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = (message.get(TEXT) or "")[: self._max_chars]
            entities = self.add_extractor_name(entities_in(text, self.lookups, self.synonyms))
            message.set(ENTITIES, [*message.get(ENTITIES, []), *entities], add_to_output=True)
        return messages
