"""The topics of the clauses of one message ("アクセスIDって何？あと、残りの件数は？"),
and a second opinion on a message Rasa's classifier is unsure of.

Rasa classifies a message as a whole, so a message asking two things gets one intent
with the other far below it (0.97 / 0.02). Each clause is classified here on its own by
a small classifier fit, when first needed, on the trainers' own NLU examples
(data/nlu/): character n-grams of the folded text, a logistic model — the same
features that score 0.97 on the held-out NLU sets (docs/nlu.md). Nothing is downloaded
and nothing is stored besides the data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache, lru_cache
from pathlib import Path

import yaml
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import Pipeline, make_pipeline

from components.language import fold_kana, lacks_words

NLU_DATA = Path(__file__).resolve().parent.parent / "data" / "nlu"
CONFIG = NLU_DATA.parent.parent / "config.yml"

# Where a second question starts: after a question or full stop, or at a connective
# ("あと、", "それと", "另外"…); "还有", "以及" and "同时" only where a clause starts, since
# inside one they mean "still have" or "and" ("事件也还有很多", "本地以及云").
# A clause shorter than this is a fragment, not a question.
CLAUSE_BREAK = re.compile(r"(?<=[？?。！!])\s*(?=\S)|(?=あと[、,]|それと|それから|ついでに|另外|顺便)"
                          r"|(?<=[\s，,、；;])(?=还有|以及|同时)"
                          # "Xの調べ方と、Yの出し方、両方知りたい": one sentence, two asks
                          r"|(?<=と[、,])(?=.*(?:両方|どちらも|二つとも|2つとも))"
                          # "アクティブ化する方法と、残数の確認方法を教えて", "調べ方と、", "手順と、",
                          # "TPDの意味と、"
                          r"|(?:(?<=方と[、,])|(?<=方法と[、,])|(?<=手順と[、,])|(?<=場所と[、,])|(?<=意味と[、,]))"
                          # "TPDとPremierはそれぞれ何？", "TPD 和 Premier 分别是什么？": two names, two
                          # asks (not "オンプレとクラウドはそれぞれ何件", one count for two values)
                          r"|(?<=[A-Za-z]{2}と|[A-Za-z]\sと|[A-Za-z]{2}和|[A-Za-z]\s和|[A-Za-z]\s跟|[A-Za-z]{2}跟"
                          r"|[\u4e00-\u9fff]{2}和)\s*"
                          r"(?=[A-Za-z][^。？?]*(?:それぞれ|各々|分别|分別|各是|各自))"
                          # "何件使えるのかと、TPDについても教えて", "件数を知りたいのと、TPDも"
                          r"|(?<=のかと[、,])|(?<=たいのと[、,])"
                          # "アクティブ化したいのですが、IDを毎回入れるのかも教えて": a second ask
                          r"|(?:(?<=のですが[、,])|(?<=んですが[、,])|(?<=のですけど[、,])|(?<=んですけど[、,]))"
                          r"(?=[^。？?]*も(?:教えて|知りたい|聞きたい|伺いたい|確認したい))")
# A condition ends at its comma, a clause of its own ("如果事件都用完了，还能买付费支持吗？",
# "使い切った場合って、有償のサポートは？"): it takes the reading of the clause after it.
CONDITION_CLAUSE = re.compile(r"^(?P<before>.*?)(?P<condition>(?:如果|要是|假如|万一)[^，,。？?]{1,30}?[，,]"
                              r"|[^、,。？?]{2,30}場合(?:って|は|には)?[、,])(?P<after>.{4,})$")
SHORTEST_CLAUSE = 4
# [text](entity), [text]{"entity": …}: the annotated words stay, the markup goes.
ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


def clauses(text: str) -> list[str]:
    """The clauses of a message, in order; one clause when it has no break."""
    pieces = (piece.strip(" 、,，") for sentence in CLAUSE_BREAK.split(text)
              for piece in split_condition(sentence))
    return [piece for piece in pieces if len(piece) >= SHORTEST_CLAUSE]


def split_condition(sentence: str) -> list[str]:
    found = CONDITION_CLAUSE.match(sentence)
    return [sentence] if found is None else [found["before"], found["condition"], found["after"]]


def nlu_examples() -> Iterator[tuple[str, str]]:
    """(example text, intent) of every file under data/nlu/, markup removed."""
    for path in sorted(NLU_DATA.rglob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            if "intent" not in block:
                continue
            for line in str(block.get("examples") or "").splitlines():
                example = line.strip().removeprefix("- ").strip().strip('"')
                if example:
                    yield ANNOTATION.sub(r"\1", example), block["intent"]


@cache
def clause_classifier() -> Pipeline:
    examples = list(nlu_examples())
    return fit_clause_classifier([text for text, _ in examples], [intent for _, intent in examples])


def fit_clause_classifier(texts: list[str], intents: list[str]) -> Pipeline:
    """The clause classifier fit on these examples (also trained into the model by
    components/first_clause.py, which reads the NLU data Rasa trains on)."""
    classifier = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), preprocessor=fold_kana,
                        sublinear_tf=True),
        # Logistic loss for probabilities; SGD fits in about a second where lbfgs took 30.
        SGDClassifier(loss="log_loss", alpha=1e-5, max_iter=30, tol=None, random_state=0),
    )
    return classifier.fit(texts, intents)


# A clause that says it is the main question ("それと本題なんですが、…", "主要想问的是…")
# is the message's topic, wherever it stands.
MAIN_QUESTION = re.compile(r"本題|本命の|メインの質問|一番聞きたい|正题|主要想问|最想问")

# A clause that asks something (a second question in an answer must ask: "确认了，还剩
# 很多" only tells).
QUESTION = re.compile(r"[？?]|[かの]$|ですか|ますか|教えて|知りたい|どう|どこ|どれ|何|いくつ|"
                      r"吗|呢|怎么|如何|哪|什么|多少|几|是否|能不能|可不可以|有没有")

# A clause that compares ("跟支持事件有什么区别？", "インシデントとの違いは？") asks more
# about the clause before it, whatever the words it compares with.
COMPARISON = re.compile(r"区别|區別|区分|不同|不一样|不一樣|差别|差异|一回事|一样吗|一樣嗎|"
                        r"違い|違う|違います|比べ|同じもの")
# A message that opens by pointing back at what was just said ("それって…", "这个和…").
BACK_REFERENCE = re.compile(r"^(?:じゃあ|では|で、|那么?|那)?[、,，\s]*"
                            r"(?:それ|これ|そちら|こちら|その|この|它|这个|這個|那个|那個|这|這)")


# A question whether what the partner tells is the cause the bot asks about ("…给本地产品
# 加过这份合同，是不是因为这个？", "前にオンプレで追加しました。それが原因ですか"): an answer.
ASKS_IF_IT_IS_THE_CAUSE = re.compile(
    r"因为这个|因為這個|这个原因|這個原因|跟这个有关|和这个有关|跟這個有關|和這個有關|"
    r"そのせい|このせい|それが原因|これが原因|そのためです|関係あります|関係してます|関係しています")


def compares_with_the_answer(text: str) -> bool:
    """"それってサポートインシデントとどう違うの？", "这个和支持事件有什么区别？": the message
    compares what was just answered with something else."""
    return bool(BACK_REFERENCE.search(text.strip()) and COMPARISON.search(text))

# A clause of question words, kana and generic verbs only ("どこで見れる？", "怎么查？",
# "在哪里看？") names no topic of its own: it asks about the clause before it. What is
# left once these go (残, 件数, ＩＤ, 有效期…) is the clause's own topic.
GENERIC_WORDS = re.compile(r"[\u3040-\u309f\s\W]|見|確認|調べ|探|分か|知|出来|"
                           r"哪|里|在|看|查|找|到|能|可以|要|我|们|呢|吗|吧|办|做|弄|去|"
                           r"怎么|如何|什么|时候|样|一下")


# A clause that only says where the partner saw the clause before it ("我在技术权益页面上
# 看到的", "特典のページで見かけました", "メールに書いてありました") is background, not a topic.
SOURCE = re.compile(r"(?:(看到|看见|见到)(的|了|过)?|で(見|みかけ|見かけ)(ました|た)|"
                    r"(書いて|載って|出て)(ありました|あった|いました|いた))"
                    r"(ん?です|けど|が)?[。.！!]*$")


# "What about X?" right after an answer ("クラウドの場合はどうですか？", "那云呢？", "ゴールド
# だったら？"): the message is only other values for the question just answered, between an
# opener and an elliptic ending. Values are masked as VALUE before matching.
VALUE = "\0"
# An acknowledgement may come first ("わかりました。オンプレの製品はどうですか").
_ACK = (r"(?:(?:わかりました|分かりました|了解です|了解しました|なるほど|ありがとうございます|"
        r"好的|明白了|知道了|了解了|谢谢)[。、,，.!！\s]*)?")
_OPENER = (rf"{_ACK}(?:じゃあ|じゃ|では|それでは|それなら|なら|ちなみに|もしも?|那么?|那)?[、,，\s]*"
           r"(?:如果|要是|假如)?(?:是|换成|改成)?[、,，\s]*")
_VALUES = rf"(?:{VALUE}(?:の?(?:製品|サポート)|的?(?:产品|支持))?[の・和跟与或的\s]*)+"
_CONDITION = r"(?:の場合|だったら|だと|なら|では|の方|のほう|的话|的情况)(?:は|って)?\s*"
_ASK = (r"(?:どう(?:です|でしょう|なります|ですか|でしょうか)?か?|いかが(?:です|でしょう)か|は|って|"
        r"怎么样|如何|呢|又是多少|是多少|有几个|有多少)")
ELLIPTIC_FOLLOW_UP = re.compile(
    rf"{_OPENER}{_VALUES}(?:{_CONDITION}{_ASK}?|(?:は|って)?{_ASK})[？?。!！\s]*")


def is_elliptic_follow_up(text: str, value_spans: list[tuple[int, int]]) -> bool:
    """Whether the text only asks "what about" these values (their (start, end) in it)."""
    masked, end = "", 0
    for start, stop in sorted(value_spans):
        if start < end:
            continue
        masked += text[end:start] + VALUE
        end = stop
    masked += text[end:]
    return VALUE in masked and ELLIPTIC_FOLLOW_UP.fullmatch(masked.strip()) is not None


# A clause that only sets a condition ("如果事件都用完了，还有什么付费选项？", "契約が切れた
# 場合は？") asks what the clause after it asks.
CONDITION = re.compile(r"^(?:如果|要是|假如|万一|倘若|若是)"
                       r"|(?:的话|たら|なら|場合(?:は|って|には)?|ときは|時は)[？?、,，。]*$")


def condition_spans(text: str) -> list[tuple[int, int]]:
    """Where the conditions are that a later clause asks under ("如果这些都用完了" in
    "如果这些都用完了，还有什么付费的办法？"): (start, end) of each condition clause."""
    parts = clauses(text)
    spans, at = [], 0
    for i, part in enumerate(parts):
        start = text.find(part, at)
        at = start + len(part)
        if i < len(parts) - 1 and CONDITION.search(part):
            spans.append((start, at))
    return spans


def names_no_topic(clause: str) -> bool:
    return not GENERIC_WORDS.sub("", clause)


@cache
def intent_needs() -> dict[str, tuple[str, ...]]:
    """The words some intents need (config.yml, IntentNeedsWords)."""
    pipeline = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["pipeline"]
    needs = next((c.get("needs") or {} for c in pipeline if c["name"].endswith("IntentNeedsWords")), {})
    return {intent: tuple(map(str, words)) for intent, words in needs.items()}


def lacks_needed_words(intent: str, text: str) -> bool:
    """Whether the text has none of the words the intent needs ("インシデントの数を確認
    したいです" has no word of what is left: it does not ask for the remaining incidents)."""
    return lacks_words(text, intent_needs().get(intent, ()))


def clause_probabilities(text: str, classifier: Pipeline | None = None) -> list[dict[str, float]]:
    """Each clause's intents with their probabilities, for a message of two clauses or
    more; nothing for a single clause (the message's own intent is its). An intent whose
    needed words a clause lacks is not its reading (config.yml). A condition takes
    the reading of the clause after it; a comparing clause, one that names no topic and one
    that names a source take the reading of the clause before it."""
    parts = clauses(text)
    if len(parts) < 2:
        return []
    classifier = classifier or clause_classifier()
    rows = [{intent: 0.0 if lacks_needed_words(intent, part) else probability
             for intent, probability in zip(map(str, classifier.classes_), map(float, row), strict=True)}
            for part, row in zip(parts, classifier.predict_proba(parts), strict=True)]
    for i in reversed(range(len(parts) - 1)):
        if CONDITION.search(parts[i]):
            rows[i] = rows[i + 1]
    for i, part in enumerate(parts):
        source = SOURCE.search(part) and not QUESTION.search(part)  # not "在哪能看到"
        if i and (COMPARISON.search(part) or names_no_topic(part) or source):
            rows[i] = rows[i - 1]
    return rows


def clause_intents(text: str) -> list[tuple[str, float]]:
    """The most likely intent of each clause and its probability (see clause_probabilities)."""
    return [max(row.items(), key=lambda item: item[1]) for row in clause_probabilities(text)]


@lru_cache(maxsize=64)  # action_clarify asks twice of one message
def likeliest_intent(text: str) -> tuple[str, float]:
    """The intent of a whole message by this classifier, a second opinion where Rasa's
    own classifier is unsure; and its probability."""
    classifier = clause_classifier()
    row = classifier.predict_proba([text])[0]
    return str(classifier.classes_[row.argmax()]), float(row.max())
