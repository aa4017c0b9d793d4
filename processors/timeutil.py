"""Conversions between RFC 3339 text and integer epoch milliseconds (UTC)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")


class TimeFormatError(ValueError):
    """The text is not an RFC 3339 time with a UTC offset."""


def parse_event_time_ms(text: str) -> int:
    """Parse ``2026-11-23T09:00:00.250Z`` (any UTC offset) into epoch milliseconds."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?", text):
            raise TimeFormatError(f"{text!r} has no UTC offset; add 'Z' or '+00:00'")
        raise TimeFormatError(f"{text[:40]!r} is not an RFC 3339 time like 2026-11-23T09:00:00.250Z")
    fraction = (match.group(1) or "")[:7]  # the dot and at most microseconds
    offset = "+00:00" if match.group(2) == "Z" else match.group(2)
    try:
        if text.isascii():  # the usual case: the second is parsed once for all its events, the digits added
            return _second_ms(text[:19] + offset) + int(fraction[1:4].ljust(3, "0"))
        return _iso_ms(text[:19] + fraction + offset)  # (fromisoformat refuses the other digits \d matches)
    except ValueError:
        raise TimeFormatError(f"{text!r} is not a valid date and time") from None


def _iso_ms(text: str) -> int:
    delta = datetime.fromisoformat(text) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


_second_ms = lru_cache(maxsize=4096)(_iso_ms)  # the seconds events are stamped with (a ValueError is not kept)


def format_ms(ms: int) -> str:
    """Format epoch milliseconds as RFC 3339 UTC with milliseconds and 'Z'."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
