"""How much one event may carry: the limits the decoder enforces before and after parsing (docs/events.md 7.1).

Pure: no clock. "Too far in the future" needs the time of reading, which the caller passes to the decoder
(``now_ms``); everything else here is a property of the bytes alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

CONTRACT_MAX_NAME = 64  # tenant, queue, to_queue, reason, queues[]: the contract's pattern allows no more
CONTRACT_MAX_ID = 128  # event_id, contact_id, agent_id, customer_id
CONTRACT_MAX_QUEUES = 32
YEAR_2000_MS = 946_684_800_000  # 2000-01-01T00:00:00Z

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = bytes(byte for byte in range(256) if byte not in b"[]{}")


@dataclass(frozen=True, slots=True)
class EventLimits:
    """The decoder's limits; the defaults are the contract's. Names, ids and memberships can only be narrowed."""

    max_event_bytes: int = 64 * 1024
    max_json_depth: int = 32  # arrays and objects inside each other; a contract-v1 event needs 2
    max_string_length: int = 64 * 1024  # any string, known field or not, and any object key; default: no limit
    max_name_length: int = CONTRACT_MAX_NAME
    max_id_length: int = CONTRACT_MAX_ID
    max_queues: int = CONTRACT_MAX_QUEUES
    min_time_ms: int = YEAR_2000_MS  # event_time and opened_at before this are rejected (too_old)
    max_future_ms: int = 300_000  # event_time after the reader's clock plus this is rejected (future_event)

    def __post_init__(self) -> None:
        bounds = {
            "max_event_bytes": (1, 64 * 1024 * 1024),
            "max_json_depth": (2, 1000),
            "max_string_length": (CONTRACT_MAX_ID, 64 * 1024 * 1024),
            "max_name_length": (1, CONTRACT_MAX_NAME),
            "max_id_length": (1, CONTRACT_MAX_ID),
            "max_queues": (1, CONTRACT_MAX_QUEUES),
            "min_time_ms": (0, 253_402_300_799_999),  # 1970 .. the end of year 9999
            "max_future_ms": (0, 366 * 86_400_000),
        }
        for name, (low, high) in bounds.items():
            value = getattr(self, name)
            if type(value) is not int or not low <= value <= high:
                raise ValueError(f"event limit {name} must be an integer {low}-{high}, got {value!r}")


def nesting_depth(raw: bytes, *, stop_after: int) -> int:
    """How deep arrays and objects nest in ``raw`` (JSON text, strings skipped), counted up to ``stop_after + 1``.

    Called before parsing, so that no parser recurses into a hostile document; cheap when ``raw`` holds few
    brackets, which the caller checks first (``raw.count``).
    """
    level = deepest = 0
    for byte in _STRING.sub(b"", raw).translate(None, _NOT_BRACKET):
        level += 1 if byte in b"[{" else -1
        if level > deepest:
            deepest = level
            if deepest > stop_after:
                break
    return deepest


def too_long_string(document: Any, *, longer_than: int) -> str | None:
    """The first string (value or object key) of ``document`` longer than ``longer_than``; iterative, no recursion."""
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if len(value) > longer_than:
                return value
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return None
