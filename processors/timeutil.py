"""Conversions between RFC 3339 text and integer epoch milliseconds (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime


class TimeFormatError(ValueError):
    """The text is not an RFC 3339 time with a UTC offset."""


def parse_event_time_ms(text: str) -> int:
    """Parse ``2026-11-23T09:00:00.250Z`` (any UTC offset) into epoch milliseconds."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise TimeFormatError(f"{text!r} is not an RFC 3339 time") from None
    if parsed.tzinfo is None or "T" not in text.upper():
        raise TimeFormatError(f"{text!r} has no UTC offset; add 'Z' or '+00:00'")
    delta = parsed - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def format_ms(ms: int) -> str:
    """Format epoch milliseconds as RFC 3339 UTC with milliseconds and 'Z'."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
