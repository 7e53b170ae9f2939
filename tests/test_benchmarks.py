"""The benchmark converters and metrics (benchmarks/), on small files in each source format.

The benchmark runs themselves train for minutes and need the third-party data sets
(MPN_BENCHMARK_DATA, docs/nlu.md "Benchmark data"), so they
never run in CI; what can silently corrupt their figures — reading the formats, joining
xSID's spaced Japanese, macro-F1, applying --set/--drop/--classifier — is checked here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from benchmarks import datasets
from benchmarks.run import build_config, scores


@pytest.fixture
def shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(datasets, "BENCHMARK_DATA", tmp_path)
    return tmp_path


def test_cais_joins_characters_keeps_inner_spaces_and_collects_slot_values(shared: Path) -> None:
    cais = shared / "cais"
    cais.mkdir()
    train = ("我 O\n要 O\n听 O\n吴 B-singer\n雨 I-singer\n霏 E-singer\n\n"
             "放 O\n首 O\nA S-song\n  O\nB B-song\n\n")
    (cais / "ch.train").write_text(train, encoding="utf-8")
    (cais / "ch.train.intent").write_text("PlayMusic\nPlayMusic\n", encoding="utf-8")
    (cais / "ch.test").write_text("天 O\n气 O\n\n", encoding="utf-8")
    (cais / "ch.test.intent").write_text("GetWeather\n", encoding="utf-8")

    benchmark = datasets.cais("test")

    assert benchmark.train == [("我要听吴雨霏", "PlayMusic"), ("放首A B", "PlayMusic")]
    assert benchmark.test == [("天气", "GetWeather")]
    assert benchmark.lookups == {"singer": {"吴雨霏"}}  # one-character values are dropped
    assert benchmark.majority() == ("PlayMusic", 0.0)


def test_cais_refuses_sentence_and_intent_counts_that_differ(shared: Path) -> None:
    cais = shared / "cais"
    cais.mkdir()
    for split in ("train", "valid"):
        (cais / f"ch.{split}").write_text("天 O\n\n气 O\n\n", encoding="utf-8")
        (cais / f"ch.{split}.intent").write_text("GetWeather\n", encoding="utf-8")
    with pytest.raises(ValueError, match="2 sentences but 1 intents"):
        datasets.cais("valid")


def test_smp2017_reads_labels_from_file_names_despite_bom_and_crlf(shared: Path) -> None:
    for split in ("train", "test"):
        directory = shared / "smp2017-ecdt-task1" / split
        directory.mkdir(parents=True)
        (directory / f"{split}_weather.txt").write_bytes("\ufeff明天下雨吗\r\n\r\n北京天气\r\n".encode())
        (directory / f"{split}_chat.txt").write_bytes("你好\r\n".encode())

    benchmark = datasets.smp2017("test")

    assert sorted(benchmark.train) == [("你好", "chat"), ("北京天气", "weather"), ("明天下雨吗", "weather")]
    with pytest.raises(ValueError):
        datasets.smp2017("valid")


@pytest.mark.parametrize(("spaced", "joined"), [
    ("今日 は 雨 が 降り ます か ？", "今日は雨が降りますか？"),
    ("8 月 2 1 日 に アラーム", "8月21日にアラーム"),
    ("Halo : Ghosts of Onyx を 読む", "Halo : Ghosts of Onyxを読む"),
    ("", ""),
])
def test_xsid_spaces_are_removed_except_between_two_latin_words(spaced: str, joined: str) -> None:
    assert datasets.join_words(spaced) == joined


def test_xsid_reads_conll_blocks_trains_on_valid_and_tests_on_test(shared: Path) -> None:
    directory = shared / "xsid-0.7"
    directory.mkdir()
    block = ("# id = 1\n# text-en = rain today?\n# text = 今日 は 雨 ？\n# intent = weather/find\n"
             "1\t今\tweather/find\tB-datetime\n2\t日\tweather/find\tI-datetime\n"
             "3\tは\tweather/find\tO\n4\t雨\tweather/find\tB-weather/attribute\n5\t？\tweather/find\tO\n")
    (directory / "ja.valid.conll").write_text(block + "\n", encoding="utf-8")
    test = block.replace("weather/find", "alarm/set_alarm")
    (directory / "ja.test.conll").write_text(test, encoding="utf-8")

    benchmark = datasets.xsid("ja", "test")

    assert benchmark.train == [("今日は雨？", "weather/find")]
    assert benchmark.test == [("今日は雨？", "alarm/set_alarm")]  # last block without a blank line
    assert benchmark.lookups == {"datetime": {"今日"}}


def test_macro_f1_counts_an_intent_never_predicted_as_zero() -> None:
    result = scores(["a", "a", "b", "c"], ["a", "a", "b", "a"])
    assert result["accuracy"] == 0.75
    assert result["per_intent"]["c"] == {"f1": 0.0, "support": 1}
    assert result["per_intent"]["a"]["f1"] == pytest.approx(0.8)
    assert result["macro_f1"] == pytest.approx((0.8 + 1.0 + 0.0) / 3)


def test_macro_f1_treats_a_fallback_prediction_as_a_miss() -> None:
    assert scores(["a", "b"], ["a", None])["macro_f1"] == pytest.approx((1.0 + 0.0) / 2)


def _args(**overrides: object) -> argparse.Namespace:
    defaults = {"config": "config.yml", "classifier": "diet", "drop": [], "set": [], "add": []}
    return argparse.Namespace(**{**defaults, **overrides})


def test_the_benchmark_trains_the_projects_own_nlu_pipeline_without_policies() -> None:
    config = build_config(_args())
    names = [component["name"].rsplit(".", 1)[-1] for component in config["pipeline"]]
    assert names[0] == "LanguageAwareTokenizer" and "DIETClassifier" in names
    assert config["policies"] == []


def test_set_drop_and_classifier_change_only_the_named_components() -> None:
    base = build_config(_args())["pipeline"]
    changed = build_config(_args(
        classifier="logreg",
        set=["CountVectorsFeaturizer#2.max_ngram=4", "LanguageAwareTokenizer.sudachi_split_mode=A"],
        drop=["RegexFeaturizer"],
    ))["pipeline"]

    names = [component["name"].rsplit(".", 1)[-1] for component in changed]
    assert "DIETClassifier" not in names and "RegexFeaturizer" not in names
    assert "LogisticRegressionClassifier" in names
    vectorizers = [c for c in changed if c["name"] == "CountVectorsFeaturizer"]
    assert vectorizers[0] == next(c for c in base if c["name"] == "CountVectorsFeaturizer")
    assert vectorizers[1]["max_ngram"] == 4
    assert changed[0]["sudachi_split_mode"] == "A"
    assert len(changed) == len(base) - 1


def test_an_unknown_component_is_an_error_not_a_silent_no_op() -> None:
    with pytest.raises(SystemExit, match="no component"):
        build_config(_args(set=["CountVectorsFeaturizer#3.max_ngram=4"]))


def test_the_stock_bot_calls_its_custom_action_once_per_user_turn() -> None:
    from scripts.bench_stock import ACTION, with_action_after_replies

    steps = [{"intent": "greet"}, {"action": "utter_greet"}, {"intent": "sad"},
             {"action": "utter_cheer_up"}, {"action": "utter_did_that_help"}]
    assert with_action_after_replies(steps) == [
        {"intent": "greet"}, {"action": "utter_greet"}, {"action": ACTION}, {"intent": "sad"},
        {"action": "utter_cheer_up"}, {"action": "utter_did_that_help"}, {"action": ACTION}]


def test_the_benchmark_mix_ends_with_one_long_session() -> None:
    from scripts.bench_bot import CONVERSATIONS, LONG_SESSION_TURNS, with_long_session

    mix = with_long_session(CONVERSATIONS)
    assert mix[:-1] == CONVERSATIONS and len(mix[-1]) == LONG_SESSION_TURNS == 30
