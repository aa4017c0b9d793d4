"""The dead-letter envelope: the rejected record, where it came from and why (pure; sending is the app's)."""

from __future__ import annotations

import re

import orjson

from processors.batch import DeadLetter

MAX_PAYLOAD_BYTES = 16 * 1024
REDACTED = "[redacted]"
# the contract's personal fields, as a JSON member whose string value may be cut short by the truncation
_PERSONAL = re.compile(r'("customer_id"\s*:\s*)"(?:[^"\\]|\\.)*(?:"|$)')


def redact(text: str) -> str:
    """``text`` with the value of every ``customer_id`` member replaced, even in broken or truncated JSON."""
    return _PERSONAL.sub(lambda match: f'{match.group(1)}"{REDACTED}"', text)


def envelope(
    dead_letter: DeadLetter, *, topic: str, partition: int, rejected_at_ms: int, personal_data: bool = False
) -> bytes:
    """JSON for the dead-letter topic; the payload is kept as text (invalid UTF-8 replaced), truncated, and
    with customer ids redacted unless ``personal_data`` (CALLPULSE_DEAD_LETTER_PERSONAL_DATA)."""
    payload = dead_letter.raw[:MAX_PAYLOAD_BYTES]
    batch = {} if dead_letter.index is None else {"index": dead_letter.index}
    text = payload.decode("utf-8", errors="replace")
    return orjson.dumps(
        {
            **batch,
            "reason": dead_letter.rejection.code.value,
            "detail": dead_letter.rejection.detail,
            "topic": topic,
            "partition": partition,
            "offset": dead_letter.offset,
            "rejected_at_ms": rejected_at_ms,
            "payload": text if personal_data else redact(text),
            "payload_truncated": len(dead_letter.raw) > MAX_PAYLOAD_BYTES,
        }
    )


def headers(dead_letter: DeadLetter) -> list[tuple[str, bytes]]:
    """Kafka headers, so consumers can route on the reason without parsing the body."""
    return [("callpulse-reason", dead_letter.rejection.code.value.encode())]
