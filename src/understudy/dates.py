"""Dates and times given by users or files, parsed defensively into UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from .errors import UsageError

STAMP = "%Y-%m-%dT%H:%M:%SZ"
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_when(value: str) -> datetime | None:
    """An ISO date or time as an aware UTC datetime; None when it is not one.

    A time without a zone is taken as UTC. A time UTC cannot hold (year 1 east of
    Greenwich, year 9999 west of it) is not one either, rather than an OverflowError.
    """
    text = value.strip()
    if not text or len(text) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def utc_stamp(value: str) -> str | None:
    """`value` as 'YYYY-MM-DDTHH:MM:SSZ' in UTC, or None when it is not a date or time."""
    when = parse_when(value)
    return when.strftime(STAMP) if when else None


def option_date(value: str | None, option: str) -> str | None:
    """A --since/--until value checked: a date stays YYYY-MM-DD, a time becomes UTC.

    Raises:
        UsageError: naming `option`, when the value is neither.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    when = parse_when(text)
    if when is None:
        raise UsageError(
            f"'{value[:60]}' is not a date: give {option} as YYYY-MM-DD or an ISO time such "
            "as 2024-05-01T09:30:00Z (in UTC, years 0001-9999)"
        )
    return text if _DATE_ONLY.match(text) else when.strftime(STAMP)
