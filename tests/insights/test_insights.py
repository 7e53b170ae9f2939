"""`python -m trainer insights` on a real SQLite tracker store filled by real
conversations over REST: insights.json counts exactly what was played."""

from __future__ import annotations

import json
import warnings
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.insights import support
from tests.insights.conftest import PlayedStore
from trainer import insights_report
from trainer.cli import main
from trainer.insights import open_engine


def run_insights(store: PlayedStore, out: Path, *options: str) -> dict:
    assert main(["insights", "--db", store.url, "--out", str(out), *options]) == 0
    return json.loads((out / "insights.json").read_text(encoding="utf-8"))


def test_counts_exactly_what_was_played(played_sqlite: PlayedStore, tmp_path: Path) -> None:
    data = run_insights(played_sqlite, tmp_path, "--now", support.FAR_FUTURE)
    assert support.comparable(data) == support.expected(support.load())
    assert (tmp_path / "index.html").stat().st_size > 10_000


def test_recent_conversations_are_open_not_abandoned(played_sqlite: PlayedStore,
                                                     tmp_path: Path) -> None:
    now = datetime.now(timezone.utc).isoformat()
    data = run_insights(played_sqlite, tmp_path, "--now", now, "--abandon-after", "60")
    abandoned = sum(c["expect"]["outcome"] == "abandoned" for c in support.load())
    assert (data["totals"]["abandoned"], data["totals"]["open"]) == (0, abandoned)


def test_date_range_and_time_zone(played_sqlite: PlayedStore, tmp_path: Path) -> None:
    today = datetime.now(timezone.utc).date()
    later = run_insights(played_sqlite, tmp_path / "later", "--since", "2099-01-01")
    assert later["totals"]["conversations"] == 0
    until_today = run_insights(played_sqlite, tmp_path / "today", "--until", today.isoformat(),
                               "--tz", "UTC")
    assert until_today["totals"]["conversations"] == len(support.load())
    assert [d["date"] for d in until_today["per_day"]] == [today.isoformat()]


def test_the_store_is_opened_read_only(played_sqlite: PlayedStore, tmp_path: Path) -> None:
    assert played_sqlite.path is not None
    before = played_sqlite.path.stat().st_mtime_ns, played_sqlite.path.read_bytes()
    run_insights(played_sqlite, tmp_path, "--now", support.FAR_FUTURE)
    assert (played_sqlite.path.stat().st_mtime_ns, played_sqlite.path.read_bytes()) == before
    engine = open_engine(played_sqlite.url, Path("."))
    with pytest.raises(sa.exc.OperationalError, match="readonly"), engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE written (id INTEGER)")
    engine.dispose()


def test_no_store_no_file_created(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="No tracker store"):
        main(["insights", "--db", f"sqlite:///{tmp_path / 'missing.db'}", "--out", str(tmp_path)])
    assert not (tmp_path / "missing.db").exists()


def test_charts_draw_every_japanese_and_chinese_label() -> None:
    """The chart font has every glyph of the situations' labels in both languages (a
    missing one is matplotlib's "Glyph … missing" warning, which the renderer raises)."""
    import yaml

    plt = insights_report._pyplot()
    labels = yaml.safe_load((support.ROOT / "actions" / "content" / "labels.yml")
                            .read_text(encoding="utf-8"))["diagnoses"]
    texts = [label[lang] for label in labels.values() for lang in ("ja", "zh")]
    fig, ax = plt.subplots()
    ax.barh(texts, range(len(texts)))
    ax.set_title("日本語 / 中文")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "<svg" in insights_report.svg(fig)


def test_fonts_installed_after_matplotlibs_cache_are_found(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A font cache built before fonts-noto-cjk was installed does not fail the report."""
    import copy

    from matplotlib import font_manager

    stale = copy.copy(font_manager.fontManager)
    stale.ttflist = [font for font in stale.ttflist if "CJK" not in font.name]
    monkeypatch.setattr(font_manager, "fontManager", stale)
    monkeypatch.setattr(font_manager, "findfont", stale.findfont)
    insights_report._pyplot()
    assert any(font.name == insights_report.CJK_FONT for font in stale.ttflist)


def test_a_missing_glyph_fails_the_report() -> None:
    plt = insights_report._pyplot()
    fig, ax = plt.subplots()
    ax.set_title("\U0001F600")  # an emoji: not in Noto Sans CJK
    with pytest.raises(insights_report.MissingGlyph, match="missing from current font"):
        insights_report.svg(fig)
