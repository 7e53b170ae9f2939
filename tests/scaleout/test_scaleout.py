"""Scale-out: two Rasa replicas on one PostgreSQL tracker store and one Redis lock store.

50 partners talk at the same time (each waits for the bot's reply before typing the
next message); their messages go round-robin to the two replicas, so consecutive turns
of one conversation are answered by different processes. Afterwards every conversation,
read back through the tracker API, has every turn in order, each answered, with the
right `diagnosis`, `language` and guide position, and PostgreSQL holds exactly those
events (nothing lost, nothing written twice).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from scripts.serve import Bot
from tests.conftest import API_TOKEN
from tests.scaleout.services import Postgres, Redis

pytestmark = [pytest.mark.scaleout, pytest.mark.slow]

USERS = 50
REQUEST_TIMEOUT_S = 120

# Natural messages from the diagnosis flows (Japanese and Chinese), with the state the
# conversation must end in. Buttons are sent as their payloads, as the widget does.
SCENARIOS: list[dict[str, Any]] = [
    {"name": "ja_no_benefits",
     "turns": ["技術関連の特典を開いたら「まだ特典がないように見えます」と表示されました", "/affirm",
               '/guide_next{"step": 1}'],
     "slots": {"diagnosis": "no_benefits_yet", "language": "ja", "guide": "switch_account",
               "guide_step": 1}},
    {"name": "zh_no_benefits",
     "turns": ["技术权益页面显示“看起来你还没有任何权益”", "是的，我们公司有会员", '/guide_next{"step": 1}'],
     "slots": {"diagnosis": "no_benefits_yet", "language": "zh", "guide": "switch_account",
               "guide_step": 1}},
    {"name": "ja_entitlement",
     "turns": ["うちのテクニカルサポートのインシデントって何件あるの", "ゴールドです", "クラウドです",
               "その他のコンピテンシーです"],
     "slots": {"diagnosis": "entitlement", "language": "ja"}},
    {"name": "zh_entitlement",
     "turns": ["技术支持事件我们到底有几个", "金牌", "云", "其他资格"],
     "slots": {"diagnosis": "entitlement", "language": "zh"}},
    {"name": "ja_activate",
     "turns": ["テクニカルサポートの特典をアクティブ化する方法を教えてください", '/guide_next{"step": 1}',
               "できました、次へ", "ありがとうございます"],
     "slots": {"diagnosis": "activate_benefits", "language": "ja", "guide": "view_activate",
               "guide_step": 2}},
    {"name": "zh_activate",
     "turns": ["请问怎么激活技术支持权益？", '/guide_next{"step": 1}', "完成了，下一步", "谢谢"],
     "slots": {"diagnosis": "activate_benefits", "language": "zh", "guide": "view_activate",
               "guide_step": 2}},
    {"name": "ja_remaining",
     "turns": ["インシデントがあと何件残っているか確認したいです", '/guide_next{"step": 1}'],
     "slots": {"diagnosis": "remaining_incidents", "language": "ja",
               "guide": "remaining_incidents", "guide_step": 1}},
    {"name": "zh_remaining",
     "turns": ["想查一下我们还剩几个支持事件", '/guide_next{"step": 1}'],
     "slots": {"diagnosis": "remaining_incidents", "language": "zh",
               "guide": "remaining_incidents", "guide_step": 1}},
]


def http_json(url: str, body: Any = None, timeout: float = REQUEST_TIMEOUT_S) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


class RoundRobin:
    """Hands out the replicas in turn to every request, whoever sends it."""

    def __init__(self, bots: list[Bot]) -> None:
        self._cycle = itertools.cycle(bots)
        self._lock = threading.Lock()
        self.sent: dict[str, int] = {bot.url: 0 for bot in bots}

    def next(self) -> Bot:
        with self._lock:
            bot = next(self._cycle)
            self.sent[bot.url] += 1
            return bot


def converse(router: RoundRobin, sender: str, scenario: dict[str, Any]) -> list[str]:
    """One partner: each message is sent after the previous reply arrived."""
    problems = []
    for text in scenario["turns"]:
        bot = router.next()
        replies = http_json(f"{bot.url}/webhooks/rest/webhook", {"sender": sender, "message": text})
        if not replies or not any(reply.get("text") for reply in replies):
            problems.append(f"{sender} ({scenario['name']}): no reply to {text!r} from {bot.url}")
    return problems


def tracker(bot: Bot, sender: str) -> dict[str, Any]:
    return http_json(f"{bot.url}/conversations/{sender}/tracker?token={API_TOKEN}")


def turn_problems(sender: str, scenario: dict[str, Any], events: list[dict[str, Any]]) -> list[str]:
    """Every message stored once, in order, each answered before the next one came."""
    name = f"{sender} ({scenario['name']})"
    problems = []
    user_texts = [event.get("text") for event in events if event["event"] == "user"]
    if user_texts != scenario["turns"]:
        problems.append(f"{name}: user turns {user_texts} != sent {scenario['turns']}")
    timestamps = [event["timestamp"] for event in events]
    if timestamps != sorted(timestamps):
        problems.append(f"{name}: events out of time order")
    # Split into turns at each user event: each turn is answered and ends listening.
    turns: list[list[dict[str, Any]]] = []
    for event in events:
        if event["event"] == "user":
            turns.append([])
        elif turns:
            turns[-1].append(event)
    for number, turn in enumerate(turns, start=1):
        bot_texts = [event for event in turn if event["event"] == "bot"]
        if not bot_texts:
            problems.append(f"{name}: turn {number} has no bot reply")
        if any(event.get("metadata", {}).get("utter_action") == "utter_action_failed"
               for event in bot_texts):
            problems.append(f"{name}: turn {number} answered with the action-failure apology")
        actions = [event.get("name") for event in turn if event["event"] == "action"]
        if not actions or actions[-1] != "action_listen":
            problems.append(f"{name}: turn {number} does not end listening ({actions})")
    return problems


def test_fifty_concurrent_conversations_round_robin_on_two_replicas(
        replicas: list[Bot], postgres: Postgres, redis_server: Redis) -> None:
    router = RoundRobin(replicas)
    conversations = {f"scale-{uuid.uuid4().hex[:10]}": SCENARIOS[n % len(SCENARIOS)]
                     for n in range(USERS)}
    redis_commands_before = redis_server.client().info("stats")["total_commands_processed"]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=USERS) as pool:
        futures = [pool.submit(converse, router, sender, scenario)
                   for sender, scenario in conversations.items()]
        problems = [problem for future in futures for problem in future.result()]
    elapsed = time.monotonic() - started
    turns = sum(len(scenario["turns"]) for scenario in conversations.values())
    print(f"{USERS} conversations, {turns} turns in {elapsed:.1f} s "
          f"({turns / elapsed:.1f} turns/s); requests per replica {router.sent}")
    assert not problems, "\n".join(problems[:20])
    assert all(count >= turns // 2 for count in router.sent.values()), router.sent

    # Every tracker, read from the replica that did not answer its last turn.
    stored = dict(postgres.query(
        "SELECT sender_id, count(*) FROM events WHERE sender_id LIKE 'scale-%' GROUP BY sender_id"))
    for index, (sender, scenario) in enumerate(conversations.items()):
        state = tracker(replicas[index % 2], sender)
        problems += turn_problems(sender, scenario, state["events"])
        for slot, expected in scenario["slots"].items():
            if state["slots"].get(slot) != expected:
                problems.append(f"{sender} ({scenario['name']}): {slot}="
                                f"{state['slots'].get(slot)!r}, expected {expected!r}")
        if stored.get(sender) != len(state["events"]):
            problems.append(f"{sender}: PostgreSQL holds {stored.get(sender)} events, "
                            f"the tracker {len(state['events'])}")
    assert not problems, "\n".join(problems[:20])

    # The lock store really was Redis (one lock per turn at least), and it is released.
    redis_commands = redis_server.client().info("stats")["total_commands_processed"]
    assert redis_commands - redis_commands_before >= turns
    assert not redis_server.client().keys("lock:*")


def test_two_messages_at_once_on_both_replicas_are_serialised_by_the_redis_lock(
        replicas: list[Bot]) -> None:
    """A double-click or a retry that reaches the other replica: both messages are
    processed one after the other, never interleaved in the tracker."""
    senders = [f"race-{uuid.uuid4().hex[:10]}" for _ in range(10)]
    first, second = "インシデントがあと何件残っているか確認したいです", '/guide_next{"step": 1}'
    for sender in senders:  # start each conversation so the race is on a live guide
        http_json(f"{replicas[0].url}/webhooks/rest/webhook", {"sender": sender, "message": first})

    barrier = threading.Barrier(len(senders) * 2)

    def send(bot: Bot, sender: str) -> Any:
        barrier.wait(30)
        return http_json(f"{bot.url}/webhooks/rest/webhook", {"sender": sender, "message": second})

    with ThreadPoolExecutor(max_workers=len(senders) * 2) as pool:
        futures = [pool.submit(send, bot, sender) for sender in senders for bot in replicas]
        for future in futures:
            assert future.result(), "each of the two messages gets a reply"

    problems = []
    for sender in senders:
        state = tracker(replicas[1], sender)
        problems += turn_problems(sender, {"name": "race", "turns": [first, second, second]},
                                  state["events"])
        # The second "done" is a repeat of the same step: it must not skip a step.
        if state["slots"].get("guide_step") != 1:
            problems.append(f"{sender}: guide_step={state['slots'].get('guide_step')}, expected 1")
    assert not problems, "\n".join(problems[:20])
