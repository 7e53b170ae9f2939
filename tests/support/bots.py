"""Serving a bot for the length of a test fixture."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from scripts.serve import Bot


@contextmanager
def served(bot: Bot, rasa_only: bool = False) -> Iterator[Bot]:
    """Starts the bot (or only its Rasa server), shows its logs when it fails to start,
    and always stops it."""
    try:
        bot.start_rasa() if rasa_only else bot.start()
    except Exception:
        print(bot.logs())
        bot.stop()
        raise
    try:
        yield bot
    finally:
        bot.stop()
