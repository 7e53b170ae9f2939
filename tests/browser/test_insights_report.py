"""The insights report (index.html of `python -m trainer insights`) opened from disk in
headless Chromium: every chart rendered, the figures those of insights.json, no request
leaves the page. Screenshot: artifacts/screenshots/insights-report.png."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Browser

from scripts.serve import Bot
from tests.browser.conftest import API_TOKEN
from tests.insights import support
from tests.support.rest import RestClient
from trainer.cli import main

CHARTS = ("per-diagnosis", "rates", "funnels", "trend")


def test_report_shows_the_json_figures_offline(browser: Browser, bot: Bot, tmp_path: Path,
                                               screenshot_dir: Path) -> None:
    support.play(RestClient(bot.url, API_TOKEN), support.load())
    store = f"sqlite:///{bot.log_dir / 'trackers.db'}"
    assert main(["insights", "--db", store, "--out", str(tmp_path), "--now",
                 support.FAR_FUTURE]) == 0
    data = json.loads((tmp_path / "insights.json").read_text(encoding="utf-8"))
    report = (tmp_path / "index.html").as_uri()

    page = browser.new_page(viewport={"width": 1200, "height": 900})
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url)
            if request.url != report else None)
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.goto(report)
    page.wait_for_load_state("networkidle")

    for chart in CHARTS:
        figure = page.locator(f'figure[data-chart="{chart}"] svg')
        assert figure.count() == 1, f"chart {chart} missing"
        box = figure.bounding_box()
        assert box and box["width"] > 200 and box["height"] > 100, f"chart {chart} not drawn"
        assert figure.locator("path").count() > 20, f"chart {chart} is empty"

    for name, value in data["totals"].items():
        shown = page.locator(f'[data-total="{name}"] b').inner_text()
        assert shown == (f"{value:g}" if isinstance(value, float) else str(value)), name
    for kind, rows in (("diagnosis", data["by_diagnosis"]), ("language", data["by_language"])):
        for key, row in rows.items():
            for field, value in row.items():
                cell = page.locator(f'tr[data-{kind}="{key}"] td[data-field="{field}"]')
                expected = f"{value:g}" if isinstance(value, float) else str(value)
                assert cell.inner_text() == expected, f"{kind} {key} {field}"
    for guide, funnel in data["funnels"].items():
        row = page.locator(f'tr[data-guide="{guide}"]')
        assert row.locator('td[data-field="finished"]').inner_text() == str(funnel["finished"])
        for step in funnel["steps"]:
            assert row.locator(f'td[data-step="{step["step"]}"]').inner_text() \
                == f'{step["reached"]} ({step["abandoned_here"]})'
    for message in data["misunderstood_messages"]:
        assert page.get_by_text(message["text"], exact=True).count() >= 1

    page.screenshot(path=str(screenshot_dir / "insights-report.png"), full_page=True)
    page.close()
    assert requests == [], f"the report made requests: {requests}"
    assert not failed
