"""Settings of the hand-off to a person, from environment variables (channels/settings.py's
style). Read by the Rasa server (channels/handoff.py) and by the action server
(actions/handoff.py): give both processes the same values.

Nothing set: hand-off is what it always was (a summary and Microsoft's support addresses
for the partner), nothing is posted anywhere. See docs/channels.md "Hand-off to a person".
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from channels.settings import _float, _get, _list

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOURS = re.compile(r"([0-9]{1,2}):([0-9]{2})\s*-\s*([0-9]{1,2}):([0-9]{2})")


def _days(text: str) -> frozenset[int]:
    """`mon-fri`, `mon,wed,fri`, `mon-fri,sun` → weekday numbers (Monday 0)."""
    days: set[int] = set()
    for part in (p.strip().lower() for p in text.split(",") if p.strip()):
        first, _, last = part.partition("-")
        start, end = DAYS.index(first[:3]), DAYS.index((last or first)[:3])
        days.update(range(start, end + 1) if start <= end else [*range(start, 7),
                                                                 *range(0, end + 1)])
    return frozenset(days)


@dataclass(frozen=True)
class HandoffSettings:
    """A Slack staff channel (the Slack app of channels/slack.py posts there) and/or a
    generic webhook for ticket systems."""

    slack_channel: str = ""  # staff channel id (C…); empty: no staff channel
    staff_ids: frozenset[str] = frozenset()  # Slack user ids who may take; empty: anyone there
    timeout_s: float = 300.0  # nobody took it within this: the partner gets the summary
    office_hours: tuple[dt.time, dt.time] | None = None  # None: always staffed
    office_days: frozenset[int] = frozenset(range(5))
    timezone: str = "UTC"
    check_interval_s: float = 5.0  # how often a replica looks for due deadlines / webhooks
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_max_attempts: int = 8
    webhook_backoff_s: float = 2.0  # first retry after this, doubling, at most 10 min
    webhook_timeout_s: float = 10.0
    last_messages: int = 5  # partner messages quoted in the staff post

    @property
    def staffed(self) -> bool:
        """A staff channel exists: the partner waits for a person instead of the addresses."""
        return bool(self.slack_channel)

    @property
    def enabled(self) -> bool:
        return self.staffed or bool(self.webhook_url)

    def may_take(self, staff_id: str) -> bool:
        return not self.staff_ids or staff_id in self.staff_ids

    def open_at(self, when: dt.datetime) -> bool:
        """Within office hours (in `timezone`) at `when` (an aware datetime)."""
        if self.office_hours is None:
            return True
        local = when.astimezone(ZoneInfo(self.timezone))
        start, end = self.office_hours
        return local.weekday() in self.office_days and start <= local.time() < end

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> HandoffSettings:
        # The staff channel needs the Slack app (its token and signing secret) too.
        slack_on = bool(_get(env, "SLACK_BOT_TOKEN") and _get(env, "SLACK_SIGNING_SECRET"))
        hours = HOURS.fullmatch(_get(env, "HANDOFF_OFFICE_HOURS"))
        timezone = _get(env, "HANDOFF_TIMEZONE", "UTC")
        try:  # an unknown zone fails at start-up, not at the first hand-off
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"HANDOFF_TIMEZONE={timezone!r} is not an IANA time zone") from e
        return cls(
            slack_channel=_get(env, "HANDOFF_SLACK_CHANNEL") if slack_on else "",
            staff_ids=_list(env, "HANDOFF_STAFF_IDS"),
            timeout_s=_float(env, "HANDOFF_TIMEOUT_SECONDS", 300.0),
            office_hours=((dt.time(int(hours[1]), int(hours[2])),
                           dt.time(int(hours[3]) % 24, int(hours[4])) if hours[3] != "24"
                           else dt.time.max) if hours else None),
            office_days=_days(_get(env, "HANDOFF_OFFICE_DAYS", "mon-fri")),
            timezone=timezone,
            check_interval_s=_float(env, "HANDOFF_CHECK_INTERVAL_SECONDS", 5.0),
            webhook_url=_get(env, "HANDOFF_WEBHOOK_URL"),
            webhook_secret=_get(env, "HANDOFF_WEBHOOK_SECRET"),
            webhook_max_attempts=int(_float(env, "HANDOFF_WEBHOOK_MAX_ATTEMPTS", 8)),
            webhook_backoff_s=_float(env, "HANDOFF_WEBHOOK_BACKOFF_SECONDS", 2.0),
            webhook_timeout_s=_float(env, "HANDOFF_WEBHOOK_TIMEOUT_SECONDS", 10.0),
        )
