"""Support hours: when people answer in the chat, and when they next will.

A schedule is written the way a help centre states it, e.g. ``"mon-fri 08:00-20:00; sat 09:00-17:00"``, in one
time zone (``Europe/Berlin`` for the demo company). Outside it, a hand-off is kept and the customer is told when a
person follows up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bnpl_assistant.errors import ConfigError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_HOURS = "mon-fri 08:00-20:00; sat 09:00-17:00"
DEFAULT_TIMEZONE = "Europe/Berlin"
_PART = re.compile(r"^(?P<first>[a-z]{3})(-(?P<last>[a-z]{3}))?\s+(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})$")


@dataclass(frozen=True)
class SupportHours:
    """Opening hours per weekday (0 = Monday) in ``timezone``."""

    days: dict[int, tuple[time, time]]
    timezone: str = DEFAULT_TIMEZONE

    @classmethod
    def parse(cls, text: str = DEFAULT_HOURS, timezone: str = DEFAULT_TIMEZONE) -> SupportHours:
        """Read ``"mon-fri 08:00-20:00; sat 09:00-17:00"``.

        Raises:
            ConfigError: a part that is not ``day[-day] HH:MM-HH:MM``, or an unknown time zone.
        """
        days: dict[int, tuple[time, time]] = {}
        for part in (p.strip().lower() for p in text.split(";") if p.strip()):
            m = _PART.match(part)
            if not m or m["first"] not in DAYS or (m["last"] and m["last"] not in DAYS):
                raise ConfigError(f"support hours: cannot read '{part}' (expected e.g. 'mon-fri 08:00-20:00')")
            first, last = DAYS.index(m["first"]), DAYS.index(m["last"] or m["first"])
            try:
                start = time.fromisoformat(m["start"].zfill(5))
                end = time.max if m["end"] == "24:00" else time.fromisoformat(m["end"].zfill(5))
            except ValueError as exc:
                raise ConfigError(f"support hours: '{part}' has a time that is not HH:MM within a day") from exc
            for day in range(first, last + 1):
                days[day] = (start, end)
        try:
            ZoneInfo(timezone)
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"support hours: unknown time zone '{timezone}'") from exc
        return cls(days, timezone)

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.timezone))
        hours = self.days.get(local.weekday())
        return hours is not None and hours[0] <= local.time() < hours[1]

    def next_opening(self, at: datetime) -> datetime | None:
        """When people answer next (``at`` itself when open); None for a schedule with no hours at all."""
        if self.is_open(at):
            return at
        local = at.astimezone(ZoneInfo(self.timezone))
        for ahead in range(8):
            day = local.date() + timedelta(days=ahead)
            hours = self.days.get(day.weekday())
            if hours is None:
                continue
            opening = datetime.combine(day, hours[0], tzinfo=ZoneInfo(self.timezone))
            if opening > local:
                return opening
        return None
