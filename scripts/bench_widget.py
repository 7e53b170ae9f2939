"""Measure the web chat widget: bundle size and time to first reply in a real browser.

    .venv/bin/python scripts/bench_widget.py [--runs 7] [--model models/x.tar.gz | --url URL]

Starts the bot (action server + Rasa, as scripts/serve.py does) unless --url points at a
running one, then, in Debian's headless Chromium, for each run: opens the widget page in
a fresh profile (a new conversation), sends one message and times Enter → first bot
bubble on screen. One warm-up run is not counted. Not part of CI.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from scripts.serve import Bot, served_model  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
BUNDLE = ["widget.js", "widget.css"]  # what an embedding page loads
PAGE = ["index.html", "page.css"]  # what the stand-alone page adds

# Runs in the page: Enter in the widget's textarea, resolve when a bot reply is rendered.
TIME_REPLY = """text => new Promise(resolve => {
    const root = document.querySelector("#mpn-chat").shadowRoot;
    const log = root.querySelector(".mpn-log");
    const box = root.querySelector("textarea");
    let t0 = 0;
    const seen = new MutationObserver(() => {
        if (log.querySelector(".mpn-bot:not(.mpn-welcome)")) {
            seen.disconnect();
            resolve(performance.now() - t0);
        }
    });
    seen.observe(log, {childList: true, subtree: true});
    box.value = text;
    t0 = performance.now();
    box.dispatchEvent(new KeyboardEvent("keydown", {key: "Enter", bubbles: true}));
})"""


def sizes() -> None:
    web = ROOT / "web"
    total_raw = total_gz = 0
    for name in BUNDLE + PAGE:
        data = (web / name).read_bytes()
        raw, gz = len(data), len(gzip.compress(data, 9))
        if name in BUNDLE:
            total_raw, total_gz = total_raw + raw, total_gz + gz
        print(f"  {name:<12} {raw:>7,} B  {gz:>6,} B gzip")
    print(f"  widget bundle (widget.js + widget.css): {total_raw:,} B, {total_gz:,} B gzip")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--model", type=Path, help="default: the served (or newest) model")
    parser.add_argument("--url", help="use a running Rasa server (base URL) instead")
    parser.add_argument("--message", default="技術サポート特典を有効にする方法を教えてください")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    print("Bundle size:")
    sizes()

    bot = None
    url = args.url
    if url is None:
        model = args.model or served_model()
        if model is None:
            sys.exit("no model in models/: train one or pass --model/--url")
        print(f"Starting the bot with {model.name}…", flush=True)
        bot = Bot(model=model)
        bot.cors = bot.url
        bot.start()
        url = bot.url
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS)
            loads, replies = [], []
            for run in range(args.runs + 1):
                context = browser.new_context(locale="ja-JP")
                page = context.new_page()
                page.goto(f"{url.rstrip('/')}/webhooks/web/")
                page.locator("textarea.mpn-input").wait_for()
                load_ms = page.evaluate(
                    "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd")
                reply_ms = page.evaluate(TIME_REPLY, args.message)
                context.close()
                if run == 0:
                    print(f"  warm-up: first reply {reply_ms:.0f} ms (not counted)")
                    continue
                loads.append(load_ms)
                replies.append(reply_ms)
                print(f"  run {run}: page ready {load_ms:.0f} ms, first reply {reply_ms:.0f} ms")
            browser.close()
        print(f"Time to first reply (Enter → bot bubble), median of {len(replies)}: "
              f"{statistics.median(replies):.0f} ms (min {min(replies):.0f}, "
              f"max {max(replies):.0f})")
        print(f"Page DOMContentLoaded, median: {statistics.median(loads):.0f} ms")
    finally:
        if bot is not None:
            bot.stop()


if __name__ == "__main__":
    main()
