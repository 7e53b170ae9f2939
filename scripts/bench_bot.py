"""Benchmark the running assistant the way partners use it, side by side with stock Rasa
(never run in CI).

One run serves, in turn and under the same load generator, the stock `rasa init` bot
(scripts/bench_stock.py: built and trained in a temp dir, one trivial custom action per
turn, Rasa's SQLTrackerStore on SQLite) and this bot, and prints one table with both and
the ratios: time from start to ready, NLU parse latency (POST /model/parse, API on), turn
latency over the REST channel including the action server (one user), throughput at
1/10/50 concurrent users with p50/p95, CPU per turn and the RSS of the Rasa and action
server processes. This bot is served with one Sanic worker and with two (SANIC_WORKERS=2
needs the Redis lock store: a throw-away redis-server is started when Debian's
redis-server is installed). The conversation mix is natural multi-turn conversations
(ja/zh here, English for the stock bot) plus one long session of 30 turns. These machines
are shared and noisy: compare the ratios, not the absolute times. Optionally the
training time (--train, minutes).

    nice -n 19 .venv/bin/python -m scripts.bench_bot [--model PATH] [--train] [--workers 1,2]
        [--users 1,10,50] [--seconds 30] [--profile DIR] [--stock-model PATH | --no-stock]
        [--variant 'NAME:VAR=VALUE;VAR=VALUE' ...] [--before-model PATH [--before-env ...]]

--variant serves this bot once more (one worker) with extra environment variables, e.g.
`--variant 'tf1:TF_INTRA_OP_PARALLELISM_THREADS=1;TF_INTER_OP_PARALLELISM_THREADS=1'`, to
measure a setting's effect in the same run.
--profile runs `py-spy record` (not part of the lock; install it separately, e.g. into a
throw-away venv) on the Rasa process during the 10-user run and writes a flame graph."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.bench_stock import STOCK_CONVERSATIONS, StockBot, build_project, train_stock
from scripts.serve import ROOT, Bot, newest_model

TOKEN = f"bench-{uuid.uuid4().hex[:12]}"

# Natural multi-turn conversations from the diagnosis flows, alternating languages.
CONVERSATIONS: list[list[str]] = [
    ["技術関連の特典を開いたら「まだ特典がないように見えます」と表示されました",
     "はい、メンバーシップはあります", "できました、次へ"],
    ["技术支持事件我们到底有几个", "金牌", "云", "其他资格"],
    ["テクニカルサポートの特典をアクティブ化する方法を教えてください", "できました、次へ", "次へ",
     "ありがとうございます"],
    ["请问怎么激活技术支持权益？", "完成了，下一步", "谢谢"],
    ["うちのテクニカルサポートのインシデントって何件あるの", "ゴールドです", "クラウドです",
     "その他のコンピテンシーです"],
    ["想查一下我们还剩几个支持事件", "好的，下一步", "谢谢"],
    ["Azure portal で「このアクセス ID は既にアカウントに関連付けられています」ってエラーが出ます",
     "契約は期限切れです"],
    ["权益页面是空的，什么都没有显示", "是的，我们公司有会员", "完成了"],
]
LONG_SESSION_TURNS = 30


def with_long_session(conversations: list[list[str]]) -> list[list[str]]:
    """The conversations plus one long session of LONG_SESSION_TURNS turns (one sender that
    asks about one thing after another): the SQL tracker store loads and replays a whole
    session on every turn, so its cost grows with the session."""
    texts = [text for conversation in conversations for text in conversation]
    long = [texts[i % len(texts)] for i in range(LONG_SESSION_TURNS)]
    return [*conversations, long]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def tree_rss_mb(pid: int) -> float:
    """RSS of a process and all its descendants (Sanic workers are child processes)."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,rss="], capture_output=True, text=True).stdout
    rows = [tuple(int(x) for x in line.split()) for line in out.splitlines() if line.strip()]
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for p, parent, kb in rows:
        children.setdefault(parent, []).append(p)
        rss[p] = kb
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        total += rss.get(current, 0)
        stack.extend(children.get(current, []))
    return total / 1024


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its descendants (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        if line.strip():
            child, parent = (int(x) for x in line.split())
            children.setdefault(parent, []).append(child)
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
        stack.extend(children.get(current, []))
    return total


@dataclass
class Result:
    label: str
    figures: dict[str, str] = field(default_factory=dict)
    numbers: dict[str, float] = field(default_factory=dict)  # for the ratios to stock


async def post_json(session: Any, url: str, body: dict[str, Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    async with session.post(url, json=body) as response:
        if response.status != 200:
            raise RuntimeError(f"{url}: HTTP {response.status}")
        payload = await response.json()
    return (time.perf_counter() - started) * 1000, payload


async def parse_latency(url: str, rounds: int, texts: list[str]) -> list[float]:
    import aiohttp

    timings = []
    async with aiohttp.ClientSession() as session:
        for index in range(rounds):
            ms, _ = await post_json(session, f"{url}/model/parse?token={TOKEN}",
                                    {"text": texts[index % len(texts)]})
            timings.append(ms)
    return timings


async def conversations(url: str, users: int, seconds: float | None, max_turns: int | None,
                        mix: list[list[str]], warmup_s: float = 3.0
                        ) -> tuple[list[float], float, int]:
    """`users` partners, each running conversations back to back (waiting for each
    reply). Returns (turn latencies in ms after warm-up, measured seconds, empty replies)."""
    import aiohttp

    timings: list[float] = []
    empty = 0
    started = time.monotonic()
    measure_from = started + warmup_s
    stop_at = measure_from + seconds if seconds else None
    turns_done = 0

    async def partner(number: int, session: aiohttp.ClientSession) -> None:
        nonlocal empty, turns_done
        conversation_index = number
        while True:
            sender = f"bench-{uuid.uuid4().hex[:12]}"
            for text in mix[conversation_index % len(mix)]:
                if stop_at and time.monotonic() >= stop_at:
                    return
                if max_turns is not None and turns_done >= max_turns:
                    return
                ms, replies = await post_json(session, f"{url}/webhooks/rest/webhook",
                                              {"sender": sender, "message": text})
                turns_done += 1
                if time.monotonic() >= measure_from or max_turns is not None:
                    timings.append(ms)
                    if not replies:
                        empty += 1
            conversation_index += users

    connector = aiohttp.TCPConnector(limit=users + 5)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(partner(n, session) for n in range(users)))
    measured = (time.monotonic() - (started if max_turns is not None else measure_from))
    return timings, measured, empty


def model_load_seconds(model: Path) -> tuple[float, float]:
    """(import time of rasa's agent, Agent.load time) in a fresh interpreter."""
    code = (
        "import time, sys; t=time.perf_counter()\n"
        "import components, channels\n"
        "from rasa.core.agent import Agent\n"
        "i=time.perf_counter()-t; t=time.perf_counter()\n"
        f"Agent.load({str(model)!r})\n"
        "print(f'{i:.2f} {time.perf_counter()-t:.2f}')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    return float(out[-2]), float(out[-1])


def train_seconds() -> float:
    out = Path(tempfile.mkdtemp(prefix="bench-train-"))
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "rasa", "train", "--domain", "domain.yml", "--data", "data",
                    "--config", "config.yml", "--out", str(out)], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"})
    elapsed = time.monotonic() - started
    shutil.rmtree(out, ignore_errors=True)
    return elapsed


def run_one(model: Path, workers: int, users_levels: list[int], seconds: float,
            profile_dir: Path | None, stock: bool = False, env: dict[str, str] | None = None,
            label: str | None = None) -> Result:
    """Serves one bot (this one, or with `stock` the stock `rasa init` bot) and measures it.
    `env` adds environment variables to both servers (to measure one setting's effect)."""
    result = Result(label or ("stock `rasa init`" if stock else
                              f"this bot, {workers} Sanic worker{'s' if workers > 1 else ''}"))
    env = {"SANIC_WORKERS": str(workers), "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    mix = with_long_session(STOCK_CONVERSATIONS if stock else CONVERSATIONS)
    texts = [text for conversation in mix[:-1] for text in conversation]
    redis = None
    if workers > 1:
        from tests.scaleout.services import Redis

        if shutil.which("redis-server") is None:
            print("SANIC_WORKERS>1 needs REDIS_URL; redis-server not installed: skipped")
            result.figures["note"] = "skipped (no redis-server)"
            return result
        redis = Redis().start()
        env["REDIS_URL"] = redis.url
    bot: Bot | StockBot = (StockBot(model=model, env=env, api_token=TOKEN) if stock
                           else Bot(model=model, env=env, api_token=TOKEN))
    try:
        bot.start_actions()
        started = time.monotonic()
        bot.start_rasa()
        ready = time.monotonic() - started
        result.numbers["ready"] = ready
        result.figures["start → ready (s)"] = f"{ready:.1f}"
        url = bot.url
        asyncio.run(conversations(url, 2, None, 16, mix, warmup_s=0))  # warm-up: first-call costs

        parse = asyncio.run(parse_latency(url, 100, texts))
        result.figures["NLU parse p50 / p95 (ms)"] = (f"{statistics.median(parse):.0f} / "
                                                     f"{percentile(parse, 95):.0f}")
        one, _, empty = asyncio.run(conversations(url, 1, None, 100, mix, warmup_s=0))
        result.numbers["1 user p50"] = statistics.median(one)
        result.numbers["1 user p95"] = percentile(one, 95)
        result.figures["turn, 1 user, p50 / p95 (ms)"] = (f"{statistics.median(one):.0f} / "
                                                         f"{percentile(one, 95):.0f}")
        for users in users_levels:
            py_spy = None
            if profile_dir and users == 10 and bot._rasa is not None:
                profile_dir.mkdir(parents=True, exist_ok=True)
                svg = profile_dir / f"rasa-{'stock' if stock else workers}w-10users.svg"
                py_spy = subprocess.Popen(
                    [shutil.which("py-spy") or "py-spy", "record", "--pid", str(bot._rasa.pid),
                     "--subprocesses", "--duration", str(int(seconds)), "--rate", "50",
                     "--output", str(svg), "--nonblocking"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            cpu_before = tree_cpu_seconds(bot._rasa.pid) if bot._rasa else 0.0
            actions_before = tree_cpu_seconds(bot._actions.pid) if bot._actions else 0.0
            timings, measured, empty_replies = asyncio.run(
                conversations(url, users, seconds, None, mix, warmup_s=0))
            if py_spy is not None:
                py_spy.wait(60)
            empty += empty_replies
            result.numbers[f"{users} users turns/s"] = len(timings) / measured
            result.numbers[f"{users} users p95"] = percentile(timings, 95)
            result.figures[f"{users} users: turns/s, p50 / p95 (ms)"] = (
                f"{len(timings) / measured:.1f}, {statistics.median(timings):.0f} / "
                f"{percentile(timings, 95):.0f}")
            if bot._rasa and bot._actions and timings:
                rasa_ms = (tree_cpu_seconds(bot._rasa.pid) - cpu_before) * 1000 / len(timings)
                actions_ms = ((tree_cpu_seconds(bot._actions.pid) - actions_before) * 1000
                              / len(timings))
                result.numbers[f"{users} users CPU/turn"] = rasa_ms + actions_ms
                result.figures[f"{users} users: CPU per turn, Rasa / actions (ms)"] = (
                    f"{rasa_ms:.0f} / {actions_ms:.0f}")
        if bot._rasa is not None and bot._actions is not None:
            result.numbers["RSS"] = tree_rss_mb(bot._rasa.pid)
            result.figures["RSS Rasa / actions (MB)"] = (f"{tree_rss_mb(bot._rasa.pid):.0f} / "
                                                        f"{tree_rss_mb(bot._actions.pid):.0f}")
        result.figures["turns without a reply"] = str(empty)
        result.figures["machine load average, 1 min, at the end"] = f"{os.getloadavg()[0]:.1f}"
    finally:
        bot.stop()
        if redis is not None:
            redis.stop()
    return result


# Ratios printed against the stock bot: (number key, label, True when higher is better).
RATIOS = [("ready", "start → ready", False), ("1 user p95", "1 user p95", False),
          ("10 users turns/s", "10 users turns/s", True), ("10 users p95", "10 users p95", False),
          ("10 users CPU/turn", "10 users CPU per turn (Rasa + actions)", False),
          ("RSS", "RSS of the Rasa process", False)]


def stock_model(path: Path | None) -> Path:
    """The stock bot's model: `path`, or the template trained now in a temp dir (minutes)."""
    if path is not None:
        return path
    directory = build_project(Path(tempfile.mkdtemp(prefix="bench-stock-build-")))
    print(f"training the stock `rasa init` bot in {directory} …", flush=True)
    started = time.monotonic()
    model = train_stock(directory)
    print(f"stock model {model} (reuse with --stock-model), trained in "
          f"{time.monotonic() - started:.0f} s", flush=True)
    return model


def print_table(results: list[Result]) -> None:
    keys = list(dict.fromkeys(k for r in results for k in r.figures))
    print()
    print("| measure | " + " | ".join(r.label for r in results) + " |")
    print("|---|" + "---|" * len(results))
    for key in keys:
        print(f"| {key} | " + " | ".join(r.figures.get(key, "–") for r in results) + " |")
    stock = next((r for r in results if r.label.startswith("stock")), None)
    others = [r for r in results if r is not stock and r.numbers]
    if stock is None or not others:
        return
    print("\nratio to stock (this bot ÷ stock; < 1 is better except turns/s):")
    print("| ratio | " + " | ".join(r.label for r in others) + " |")
    print("|---|" + "---|" * len(others))
    for key, name, _higher_better in RATIOS:
        if key not in stock.numbers:
            continue
        cells = [f"{r.numbers[key] / stock.numbers[key]:.2f}" if stock.numbers[key] and key in r.numbers
                 else "–" for r in others]
        print(f"| {name} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--train", action="store_true", help="also time `rasa train` (minutes)")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--users", default="1,10,50")
    parser.add_argument("--seconds", type=float, default=30.0, help="per concurrency level")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy flame graphs here")
    parser.add_argument("--stock-model", type=Path, default=None,
                        help="the stock bot's model from an earlier run (else trained now)")
    parser.add_argument("--no-stock", action="store_true", help="only this bot")
    parser.add_argument("--before-model", type=Path, default=None,
                        help="also serve this model (1 worker) first, e.g. the one before a "
                             "change; --before-env adds environment variables to it")
    parser.add_argument("--before-env", default="", metavar="VAR=VALUE;...")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:VAR=VALUE;...",
                        help="also serve this bot (1 worker) with these environment variables")
    args = parser.parse_args()
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

    model = args.model or newest_model()
    if model is None:
        raise SystemExit("no model in models/: train one first (scripts/start --train)")
    print(f"model {model.name}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
          flush=True)
    general: dict[str, str] = {}
    if args.train:
        general["training (s)"] = f"{train_seconds():.0f}"
    imports, load = model_load_seconds(model)
    general["import rasa + components (s)"] = f"{imports:.1f}"
    general["model load, Agent.load (s)"] = f"{load:.1f}"
    for key, value in general.items():
        print(f"{key:38} {value}", flush=True)

    users = [int(u) for u in args.users.split(",")]
    results = []
    if not args.no_stock:
        results.append(run_one(stock_model(args.stock_model), 1, users, args.seconds,
                               args.profile, stock=True))
    if args.before_model is not None:
        env = dict(pair.split("=", 1) for pair in args.before_env.split(";") if pair)
        results.append(run_one(args.before_model, 1, users, args.seconds, args.profile, env=env,
                               label=f"before: {args.before_model.name}, 1 worker"
                                     + (f", {args.before_env}" if env else "")))
    results += [run_one(model, int(w), users, args.seconds, args.profile)
                for w in args.workers.split(",")]
    for variant in args.variant:
        name, _, assignments = variant.partition(":")
        env = dict(pair.split("=", 1) for pair in assignments.split(";") if pair)
        results.append(run_one(model, 1, users, args.seconds, args.profile, env=env,
                               label=f"this bot, 1 worker, {name}"))
    print_table(results)
    print(f"\nload average after the run: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
