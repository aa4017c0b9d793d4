"""HTTP ingest, the pure part: what a request must look like, and the reply for each outcome.

No I/O here. The server (``callpulse.ingest_http``) calls these in order: ``check_headers`` (415, 413),
``parse_body`` (400 invalid_json / empty_batch, 413 too_many_events), ``validate_events`` (400
invalid_events, all-or-nothing), then produces and answers ``accepted`` (202) or ``unavailable`` (503).
Every event is judged by the worker's own decoder (``processors.events``) on the exact bytes that will be
produced, so an event accepted here is never dead-lettered for its form.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from processors.events import (
    MAX_EVENT_BYTES,
    AgentEvent,
    ContactEvent,
    Rejection,
    RejectReason,
    decode_agent_event,
    decode_contact_event,
)

JSON_MEDIA_TYPE = "application/json"
MAX_NESTING = 10_000  # orjson parses far deeper, but very deep input exhausts the C stack: refuse it first

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKET = bytes(byte for byte in range(256) if byte not in b"[]{}")


@dataclass(frozen=True, slots=True)
class Limits:
    """How much one request may carry."""

    max_body_bytes: int = 1024 * 1024
    max_batch_events: int = 500

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1 or self.max_batch_events < 1:
            raise ValueError(f"limits must be at least 1, got {self}")


class Stream(StrEnum):
    """The two endpoints' event kinds, named like the topics they go to."""

    CONTACTS = "contacts"
    AGENTS = "agents"


@dataclass(frozen=True, slots=True)
class Record:
    """One Kafka record: key = contact_id / agent_id, value = the validated event's bytes."""

    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer: status and JSON body."""

    status: int
    body: Mapping[str, Any]

    def encode(self) -> bytes:
        return orjson.dumps(self.body)


def problem(status: int, error: str, detail: str, **extra: Any) -> Reply:
    """The body of every refusal: ``{"error": code, "detail": sentence, ...}``."""
    return Reply(status, {"error": error, "detail": detail, **extra})


def accepted(count: int) -> Reply:
    return Reply(202, {"accepted": count})


def unavailable(error: str, detail: str) -> Reply:
    """Kafka did not acknowledge every event (``kafka_unavailable`` or ``kafka_timeout``)."""
    return problem(503, error, detail + "; resending the whole request is safe (duplicate event ids are dropped)")


def health(trouble: str | None) -> Reply:
    if trouble is None:
        return Reply(200, {"status": "ok", "kafka": "up"})
    return Reply(503, {"status": "unavailable", "kafka": trouble})


def body_too_large(limits: Limits, size: int | None) -> Reply:
    """413: ``size`` is the declared length, None when the (decompressed) body ran over while being read."""
    seen = f"is {size} bytes" if size is not None else "is larger"
    return problem(
        413, "body_too_large", f"the body {seen}; the limit is {limits.max_body_bytes} bytes: send smaller batches"
    )


def check_headers(content_type: str | None, content_length: int | None, limits: Limits) -> Reply | None:
    """415 unless the body is declared ``application/json`` (UTF-8); 413 when Content-Length is over the limit."""
    media_type, _, parameters = (content_type or "").partition(";")
    charset = "utf-8"
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    if media_type.strip().lower() != JSON_MEDIA_TYPE or charset not in {"utf-8", "utf8"}:
        return problem(
            415,
            "unsupported_media_type",
            f"Content-Type is {content_type!r}; send {JSON_MEDIA_TYPE} (UTF-8): one event object or an array of them",
        )
    if content_length is not None and content_length > limits.max_body_bytes:
        return body_too_large(limits, content_length)
    return None


def nesting(body: bytes) -> int:
    """How deep arrays and objects nest in ``body`` (JSON text), not counting brackets inside strings."""
    level = deepest = 0
    for byte in _STRING.sub(b"", body).translate(None, _NOT_BRACKET):
        level += 1 if byte in b"[{" else -1
        deepest = max(deepest, level)
    return deepest


def parse_body(body: bytes, limits: Limits) -> list[Any] | Reply:
    """The request's events: a JSON array is a batch; anything else is one event (judged by the decoder)."""
    if body.count(b"[") + body.count(b"{") > MAX_NESTING and nesting(body) > MAX_NESTING:
        return problem(400, "invalid_json", f"the body nests arrays and objects deeper than {MAX_NESTING} levels")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return problem(400, "invalid_json", f"the body is not valid UTF-8 JSON: {exc}")
    if not isinstance(document, list):
        return [document]
    if not document:
        return problem(400, "empty_batch", "the array holds no event; send at least one")
    if len(document) > limits.max_batch_events:
        return problem(
            413,
            "too_many_events",
            f"the batch holds {len(document)} events; the limit is {limits.max_batch_events}: split it",
        )
    return document


def _contact_key(raw: bytes) -> str | Rejection:
    decoded = decode_contact_event(raw, max_bytes=MAX_EVENT_BYTES)
    return decoded.contact_id if isinstance(decoded, ContactEvent) else decoded


def _agent_key(raw: bytes) -> str | Rejection:
    decoded = decode_agent_event(raw, max_bytes=MAX_EVENT_BYTES)
    return decoded.agent_id if isinstance(decoded, AgentEvent) else decoded


_KEY_OF: dict[Stream, Callable[[bytes], str | Rejection]] = {Stream.CONTACTS: _contact_key, Stream.AGENTS: _agent_key}


def validate_events(elements: Sequence[Any], stream: Stream) -> list[Record] | Reply:
    """Every element re-encoded and decoded as the worker will; one bad element refuses the whole request."""
    records: list[Record] = []
    errors: list[dict[str, Any]] = []
    for index, element in enumerate(elements):
        outcome: str | Rejection
        try:
            raw = orjson.dumps(element)
        except orjson.JSONEncodeError as exc:  # nested deeper than orjson writes (254 levels)
            outcome = Rejection(RejectReason.INVALID_JSON, f"the event cannot be re-encoded: {exc}")
        else:
            outcome = _KEY_OF[stream](raw)
        if isinstance(outcome, Rejection):
            errors.append({"index": index, "reason": outcome.code.value, "detail": outcome.detail})
        else:
            records.append(Record(outcome.encode(), raw))
    if errors:
        return problem(
            400,
            "invalid_events",
            f"{len(errors)} of {len(elements)} events are invalid; none was sent: fix them and resend the request",
            errors=errors,
        )
    return records
