"""The KPI window's start, as people write it: a date, a time, or a duration back from now."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

DURATION = re.compile(r"^(\d+)\s*(m|min|h|d|w)$")
UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}
DEFAULT_SINCE = "30d"


class BadSince(ValueError):
    pass


def parse_since(text: str | None, now: datetime) -> datetime:
    """'7d', '24h', '90m', '2w', '2026-11-01' (midnight UTC) or an ISO time ('...T12:00+01:00').
    Raises BadSince with what is accepted."""
    text = (text or DEFAULT_SINCE).strip()
    if m := DURATION.match(text.lower()):
        return now - timedelta(**{UNITS[m.group(2)]: int(m.group(1))})
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        at = datetime.fromisoformat(text)
    except ValueError:
        raise BadSince(
            f"--since {text!r} is neither a duration (90m, 24h, 7d, 2w) nor a date (2026-11-01)"
            " or time (2026-11-01T12:00:00+00:00)"
        ) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
