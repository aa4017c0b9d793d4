"""The dead-letter envelope: the rejected record, where it came from and why (pure; sending is the app's)."""

from __future__ import annotations

import orjson

from processors.batch import DeadLetter

MAX_PAYLOAD_BYTES = 16 * 1024


def envelope(dead_letter: DeadLetter, *, topic: str, partition: int, rejected_at_ms: int) -> bytes:
    """JSON for the dead-letter topic; the payload is kept as text (invalid UTF-8 replaced), truncated."""
    payload = dead_letter.raw[:MAX_PAYLOAD_BYTES]
    batch = {} if dead_letter.index is None else {"index": dead_letter.index}
    return orjson.dumps(
        {
            **batch,
            "reason": dead_letter.rejection.code.value,
            "detail": dead_letter.rejection.detail,
            "topic": topic,
            "partition": partition,
            "offset": dead_letter.offset,
            "rejected_at_ms": rejected_at_ms,
            "payload": payload.decode("utf-8", errors="replace"),
            "payload_truncated": len(dead_letter.raw) > MAX_PAYLOAD_BYTES,
        }
    )


def headers(dead_letter: DeadLetter) -> list[tuple[str, bytes]]:
    """Kafka headers, so consumers can route on the reason without parsing the body."""
    return [("callpulse-reason", dead_letter.rejection.code.value.encode())]
