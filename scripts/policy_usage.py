"""Which policy wins each prediction on the held-out conversations (never in CI).

Plays tests/dialogue (or a --set subfolder) against a freshly started bot like scripts.eval_dialogue,
then reads every conversation's tracker and counts, per policy, the actions it predicted
(the `policy` of each ActionExecuted event; action_listen counted apart). A policy that
wins nothing costs a prediction per action without changing a reply.

    python -m scripts.policy_usage [--model models/x.tar.gz] [--set sealed|probe]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from scripts.serve import Bot, newest_model
from tests.support.dialogue import add_set_argument, held_out_scripts, play
from tests.support.rest import RestClient

TOKEN = "policy-usage-token"


class RecordingClient(RestClient):
    """Remembers the sender of every conversation play() starts."""

    def __init__(self, base_url: str, token: str) -> None:
        super().__init__(base_url, token)
        self.senders: list[str] = []

    def new_sender(self) -> str:  # type: ignore[override]  # an instance method here
        sender = RestClient.new_sender()
        self.senders.append(sender)
        return sender


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    add_set_argument(parser)
    args = parser.parse_args()
    model = args.model or newest_model()
    if model is None:
        raise SystemExit("no model: train one first (rasa train)")
    wins: Counter[str] = Counter()
    listens: Counter[str] = Counter()
    actions: Counter[str] = Counter()  # actions that are neither responses nor Rasa's own
    turns = 0
    bot = Bot(model=model, api_token=TOKEN).start()
    try:
        rest = RecordingClient(bot.url, TOKEN)
        for language, conversation in held_out_scripts(args.subset):
            play(rest, language, conversation)
        senders = rest.senders
        for sender in senders:
            for event in rest.tracker(sender)["events"]:
                turns += event.get("event") == "user"
                if event.get("event") != "action" or event.get("name") == "action_session_start":
                    continue
                name = str(event.get("name"))
                if not name.startswith(("utter_", "action_listen", "action_default",
                                        "action_extract_slots", "action_unlikely")):
                    actions[name] += 1
                policy = str(event.get("policy") or "none (forced by the processor)")
                (listens if event.get("name") == "action_listen" else wins)[policy] += 1
    finally:
        bot.stop()
    total = sum(wins.values()) + sum(listens.values())
    print(f"{len(senders)} conversations, {total} predicted actions\n")
    print("| policy | actions won | of which action_listen |\n|---|---|---|")
    for policy in sorted(set(wins) | set(listens), key=lambda p: -(wins[p] + listens[p])):
        print(f"| {policy} | {wins[policy] + listens[policy]} | {listens[policy]} |")
    print(f"\n{turns} user turns; predicted custom actions and forms (forms call their "
          f"validation action), {sum(actions.values()) / max(turns, 1):.2f} per turn:")
    for name, count in actions.most_common():
        print(f"  {name}: {count}")


if __name__ == "__main__":
    main()
