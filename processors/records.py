"""Kafka record values: one event (a JSON object), or a batch of events (a JSON array of event objects).

Our own producers (simulator, HTTP ingest, queue_log source) put many events of one partition into one
record, so the consumer pays its per-record cost once per batch; single-event records from third parties
stay accepted. A batch is applied whole, in array order, under its record's offset: the offset fence that
makes a record count once makes its batch count once. Each element is decoded and validated on its own, so
one bad element is dead-lettered (with its index) and the rest are applied.
"""

from __future__ import annotations

from typing import Literal

import orjson

from processors.events import (
    DEFAULT_LIMITS,
    AgentEvent,
    ContactEvent,
    Rejection,
    RejectReason,
    decode_agent_event,
    decode_contact_event,
)
from processors.limits import EventLimits

MAX_RECORD_BYTES = 8 * 1024 * 1024
"""Largest batch record; Kafka's own default limit (message.max.bytes) is about 1 MiB."""
MAX_BATCH_EVENTS = 10_000

EventStream = Literal["contacts", "agents"]
Element = tuple[int | None, bytes]  # (index in the batch or None for a single-event record, event bytes)


def is_batch(raw: bytes) -> bool:
    """Whether the record value is a JSON array (leading whitespace allowed)."""
    return raw.lstrip()[:1] == b"["


def split_record(raw: bytes) -> list[Element] | Rejection:
    """The events a record carries, as bytes each; a record that is not a valid batch is rejected whole.

    orjson stops at 1,024 levels of nesting, so a hostile batch cannot exhaust the parser's stack; each
    element then gets the event's own depth check (``limits.max_json_depth``) when it is decoded."""
    if not is_batch(raw):
        return [(None, raw)]
    if len(raw) > MAX_RECORD_BYTES:
        return Rejection(RejectReason.TOO_LARGE, f"batch record is {len(raw)} bytes, the limit is {MAX_RECORD_BYTES}")
    try:
        elements = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc):
            return Rejection(RejectReason.TOO_DEEP, f"batch record nests too deep: {exc}")
        return Rejection(RejectReason.INVALID_JSON, f"batch record is not valid JSON: {exc}")
    if not elements:
        return Rejection(RejectReason.INVALID_VALUE, "batch record holds no events")
    if len(elements) > MAX_BATCH_EVENTS:
        return Rejection(
            RejectReason.TOO_LARGE, f"batch record holds {len(elements)} events, the limit is {MAX_BATCH_EVENTS}"
        )
    return [(index, orjson.dumps(element)) for index, element in enumerate(elements)]


def batch_value(events: list[bytes]) -> bytes:
    """The record value carrying already-encoded events (each a JSON object) as one batch."""
    return b"[" + b",".join(events) + b"]"


def decode_record(
    stream: EventStream, raw: bytes, *, limits: EventLimits = DEFAULT_LIMITS, now_ms: int | None = None
) -> list[ContactEvent | AgentEvent | Rejection]:
    """Every event of a record decoded as the worker decodes it (one Rejection for a bad batch)."""
    elements = split_record(raw)
    if isinstance(elements, Rejection):
        return [elements]
    decode = decode_contact_event if stream == "contacts" else decode_agent_event
    return [decode(element, limits=limits, now_ms=now_ms) for _index, element in elements]
