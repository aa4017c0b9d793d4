"""Event contract v1: decoding and validation of contact and agent events (see docs/events.md).

``decode_contact_event`` and ``decode_agent_event`` return either a frozen event or a ``Rejection`` that
says precisely what was wrong; they never raise on bad input. What one event may carry (size, nesting, string
lengths, names, times) is an ``EventLimits`` (processors/limits.py); the defaults are the contract's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import lru_cache
from typing import Any, TypeVar

import orjson

from processors.limits import EventLimits, nesting_depth, too_long_string
from processors.timeutil import TimeFormatError, format_ms, parse_event_time_ms

SCHEMA_VERSION = 1
DEFAULT_LIMITS = EventLimits()
MAX_EVENT_BYTES = DEFAULT_LIMITS.max_event_bytes

_E = TypeVar("_E", bound=StrEnum)


@dataclass(frozen=True, slots=True)
class _Kind:
    """A kind of string field: its characters (any length) and which limit caps its length."""

    pattern: re.Pattern[str]
    rule: str
    limit: str  # the EventLimits field


_NAME = _Kind(
    re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*"),
    "names are ASCII letters, digits, '_', '.' and '-', starting with a letter or digit",
    "max_name_length",
)
_IDENT = _Kind(re.compile(r"[\x21-\x7e]+"), "ids are printable ASCII characters without spaces", "max_id_length")


class RejectReason(StrEnum):
    """Why an event went to the dead-letter topic; the ``reason`` label of the dead-letter counter."""

    TOO_LARGE = "too_large"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    UNSUPPORTED_VERSION = "unsupported_version"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    INVALID_VALUE = "invalid_value"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    NEGATIVE_DURATION = "negative_duration"
    CONFLICTING_EVENT = "conflicting_event"
    LATE_EVENT = "late_event"
    TOO_DEEP = "too_deep"
    STRING_TOO_LONG = "string_too_long"
    TOO_OLD = "too_old"
    FUTURE_EVENT = "future_event"


@dataclass(frozen=True, slots=True)
class Rejection:
    """An event that cannot be applied, with a machine code and a sentence for people."""

    code: RejectReason
    detail: str

    def __str__(self) -> str:
        return f"{self.code.value}: {self.detail}"


class Channel(StrEnum):
    VOICE = "voice"
    CHAT = "chat"
    EMAIL = "email"
    SOCIAL = "social"


class ContactEventType(StrEnum):
    QUEUED = "queued"
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    TIMEOUT = "timeout"
    HOLD_START = "hold_start"
    HOLD_END = "hold_end"
    TRANSFERRED = "transferred"
    ENDED = "ended"
    WRAPUP_ENDED = "wrapup_ended"
    FIRST_RESPONSE = "first_response"  # an agent's first reply (chat, email, social)
    RESOLVED = "resolved"  # the customer's issue is solved; carries opened_at
    SURVEY = "survey"  # a post-contact survey answer: csat 1-5, nps 0-10, ces 1-7


class AgentState(StrEnum):
    AVAILABLE = "available"
    ON_CONTACT = "on_contact"
    WRAPUP = "wrapup"
    AUX = "aux"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class QueueRef:
    """The labels a figure is reported under."""

    tenant: str
    queue: str
    channel: Channel
    # ``tenant/queue/channel``: names cannot hold '/', so this splits back unambiguously. Made once: every
    # event's leg key, figure key and waiting set is named by it.
    qid: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # a StrEnum formats as its value (.value is slow); set through object: the dataclass is frozen
        object.__setattr__(self, "qid", f"{self.tenant}/{self.queue}/{self.channel}")

    @classmethod
    def from_qid(cls, qid: str) -> QueueRef:
        tenant, queue, channel = qid.split("/")
        return cls(tenant, queue, Channel(channel))


@dataclass(frozen=True, slots=True)
class Survey:
    """Answers of one survey; each score is optional but at least one is given."""

    csat: int | None = None
    nps: int | None = None
    ces: int | None = None


SURVEY_SCALES = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}


@dataclass(frozen=True, slots=True)
class ContactEvent:
    event_id: str
    time_ms: int
    type: ContactEventType
    where: QueueRef
    contact_id: str
    agent_id: str | None = None
    to_queue: str | None = None
    opened_ms: int | None = None  # resolved: when the contact was opened
    survey: Survey | None = None
    customer_id: str | None = None  # queued and resolved: who the customer is (hashed before it is kept)


@dataclass(frozen=True, slots=True)
class AgentEvent:
    event_id: str
    time_ms: int
    state: AgentState
    where: QueueRef
    agent_id: str
    reason: str | None = None
    queues: tuple[str, ...] = ()  # the queues the agent serves (membership); empty means just ``where.queue``

    @property
    def member_qids(self) -> tuple[str, ...]:
        return _qids(self.where.tenant, self.where.channel, self.queues or (self.where.queue,))


@lru_cache(maxsize=4096)  # an agent's membership comes again with each of its events
def _qids(tenant: str, channel: Channel, names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{tenant}/{name}/{channel}" for name in names)  # QueueRef.qid of each


class _Invalid(Exception):
    def __init__(self, rejection: Rejection) -> None:
        super().__init__(str(rejection))
        self.rejection = rejection


def _load(raw: bytes, limits: EventLimits) -> dict[str, Any]:
    if len(raw) > limits.max_event_bytes:
        raise _Invalid(
            Rejection(RejectReason.TOO_LARGE, f"event is {len(raw)} bytes, the limit is {limits.max_event_bytes}")
        )
    depth = limits.max_json_depth
    if raw.count(b"[") + raw.count(b"{") > depth and nesting_depth(raw, stop_after=depth) > depth:
        # checked before parsing: a parser recursing into thousands of levels can exhaust the C stack
        raise _Invalid(Rejection(RejectReason.TOO_DEEP, f"arrays and objects nest deeper than {depth} levels"))
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _Invalid(Rejection(RejectReason.INVALID_JSON, f"not valid JSON: {exc}")) from None
    if len(raw) > limits.max_string_length:  # else no string can be longer: a character takes a byte at least
        long = too_long_string(document, longer_than=limits.max_string_length)
        if long is not None:
            raise _Invalid(
                Rejection(
                    RejectReason.STRING_TOO_LONG,
                    f"a string of {len(long)} characters ({long[:24]!r}...); the limit is {limits.max_string_length}",
                )
            )
    if not isinstance(document, dict):
        raise _Invalid(Rejection(RejectReason.NOT_AN_OBJECT, f"expected a JSON object, got {type(document).__name__}"))
    version = document.get("schema_version")
    if version is None:
        raise _Invalid(Rejection(RejectReason.MISSING_FIELD, "field 'schema_version' is required"))
    if type(version) is not int or version != SCHEMA_VERSION:
        raise _Invalid(
            Rejection(RejectReason.UNSUPPORTED_VERSION, f"schema_version {version!r} is not supported (expected 1)")
        )
    return document


def _string(
    document: dict[str, Any], field: str, kind: _Kind, limits: EventLimits, *, required: bool = True
) -> str | None:
    value = document.get(field)
    if value is None:
        if required:
            raise _Invalid(Rejection(RejectReason.MISSING_FIELD, f"field {field!r} is required"))
        return None
    if not isinstance(value, str):
        raise _Invalid(
            Rejection(RejectReason.WRONG_TYPE, f"field {field!r} must be a string, got {type(value).__name__}")
        )
    _check(field, value, kind, limits)
    return value


def _check(field: str, value: str, kind: _Kind, limits: EventLimits) -> None:
    longest = getattr(limits, kind.limit)
    if len(value) > longest:
        raise _Invalid(
            Rejection(
                RejectReason.INVALID_VALUE,
                f"field {field!r} is {len(value)} characters long ({value[:24]!r}...); the limit is {longest}",
            )
        )
    if not kind.pattern.fullmatch(value):
        raise _Invalid(
            Rejection(RejectReason.INVALID_VALUE, f"field {field!r} has a bad value {value[:80]!r}: {kind.rule}")
        )


def _required(document: dict[str, Any], field: str, kind: _Kind, limits: EventLimits) -> str:
    value = _string(document, field, kind, limits)
    assert value is not None
    return value


def _time(document: dict[str, Any], field: str, limits: EventLimits) -> int:
    time_text = document.get(field)
    if time_text is None:
        raise _Invalid(Rejection(RejectReason.MISSING_FIELD, f"field {field!r} is required"))
    if not isinstance(time_text, str):
        raise _Invalid(Rejection(RejectReason.WRONG_TYPE, f"field {field!r} must be an RFC 3339 string"))
    try:
        time_ms = parse_event_time_ms(time_text)
    except TimeFormatError as exc:
        raise _Invalid(Rejection(RejectReason.INVALID_VALUE, f"field {field!r}: {exc}")) from None
    if time_ms < limits.min_time_ms:
        raise _Invalid(
            Rejection(
                RejectReason.TOO_OLD,
                f"field {field!r} is {time_text[:40]!r}, before the earliest time accepted, "
                f"{format_ms(limits.min_time_ms)}: is the producer's clock set?",
            )
        )
    return time_ms


def _not_future(time_ms: int, now_ms: int | None, limits: EventLimits) -> None:
    if now_ms is not None and time_ms > now_ms + limits.max_future_ms:
        ahead, limit = (time_ms - now_ms) / 1000, limits.max_future_ms / 1000
        raise _Invalid(
            Rejection(
                RejectReason.FUTURE_EVENT,
                f"event_time is {ahead:.3f} s ahead of the reader's clock; the limit is {limit:g} s: "
                "is the producer's clock right?",
            )
        )


def _survey(document: dict[str, Any]) -> Survey:
    scores: dict[str, int] = {}
    for name, (low, high) in SURVEY_SCALES.items():
        value = document.get(name)
        if value is None:
            continue
        if type(value) is not int:
            raise _Invalid(Rejection(RejectReason.WRONG_TYPE, f"field {name!r} must be an integer"))
        if not low <= value <= high:
            raise _Invalid(Rejection(RejectReason.INVALID_VALUE, f"field {name!r} must be {low}-{high}, got {value}"))
        scores[name] = value
    if not scores:
        raise _Invalid(Rejection(RejectReason.MISSING_FIELD, "a survey needs at least one of csat, nps, ces"))
    return Survey(**scores)


def _queues(document: dict[str, Any], limits: EventLimits) -> tuple[str, ...]:
    value = document.get("queues")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise _Invalid(Rejection(RejectReason.WRONG_TYPE, "field 'queues' must be a list of queue names"))
    if not 1 <= len(value) <= limits.max_queues:
        raise _Invalid(
            Rejection(
                RejectReason.INVALID_VALUE,
                f"field 'queues' must hold 1-{limits.max_queues} valid queue names, got {len(value)}",
            )
        )
    for index, name in enumerate(value):
        _check(f"queues[{index}]", name, _NAME, limits)
    return tuple(dict.fromkeys(value))


def _common(document: dict[str, Any], limits: EventLimits, now_ms: int | None) -> tuple[str, int, QueueRef]:
    event_id = _required(document, "event_id", _IDENT, limits)
    time_ms = _time(document, "event_time", limits)
    _not_future(time_ms, now_ms, limits)
    tenant = _required(document, "tenant", _NAME, limits)
    queue = _required(document, "queue", _NAME, limits)
    channel_text = document.get("channel")
    if channel_text is None:
        raise _Invalid(Rejection(RejectReason.MISSING_FIELD, "field 'channel' is required"))
    if not isinstance(channel_text, str):
        raise _Invalid(Rejection(RejectReason.WRONG_TYPE, "field 'channel' must be a string"))
    try:
        channel: Channel = _member(Channel, channel_text)
    except ValueError:
        raise _Invalid(
            Rejection(
                RejectReason.INVALID_VALUE,
                f"channel {str(channel_text)[:40]!r} is not one of voice, chat, email, social",
            )
        ) from None
    return event_id, time_ms, _queue_ref(tenant, queue, channel)


@lru_cache(maxsize=4096)  # a contact center has a few hundred queues; each event names one
def _queue_ref(tenant: str, queue: str, channel: Channel) -> QueueRef:
    """One shared (immutable) ``QueueRef`` per queue, its ``qid`` made once."""
    return QueueRef(tenant, queue, channel)


@lru_cache(maxsize=64)  # the few valid values of a few enums (a bad value raises, so it is not kept)
def _member(kind: type[_E], value: str) -> _E:
    """``kind(value)``, without the cost of an Enum call for every event."""
    return kind(value)


def _event_type(document: dict[str, Any], kind: type[_E], topic: str) -> _E:
    value = document.get("type")
    if value is None:
        raise _Invalid(Rejection(RejectReason.MISSING_FIELD, "field 'type' is required"))
    if not isinstance(value, str):
        raise _Invalid(Rejection(RejectReason.WRONG_TYPE, "field 'type' must be a string"))
    try:
        found: _E = _member(kind, value)
    except ValueError:
        known = ", ".join(member.value for member in kind)
        raise _Invalid(
            Rejection(RejectReason.UNKNOWN_EVENT_TYPE, f"type {value[:40]!r} is not a {topic} event type ({known})")
        ) from None
    return found


_CUSTOMER = frozenset({ContactEventType.QUEUED, ContactEventType.RESOLVED})


def _limits(limits: EventLimits, max_bytes: int | None) -> EventLimits:
    if max_bytes is None or max_bytes == limits.max_event_bytes:
        return limits
    return replace(limits, max_event_bytes=max_bytes)


def decode_contact_event(
    raw: bytes,
    *,
    max_bytes: int | None = None,
    limits: EventLimits = DEFAULT_LIMITS,
    now_ms: int | None = None,
) -> ContactEvent | Rejection:
    """Decode and validate one record of the contacts topic.

    ``now_ms`` is the reader's clock (epoch ms): given, an ``event_time`` more than ``limits.max_future_ms``
    after it is a ``future_event``; None skips that check. ``max_bytes`` (kept for older callers) overrides
    ``limits.max_event_bytes``.
    """
    limits = _limits(limits, max_bytes)
    try:
        document = _load(raw, limits)
        event_type = _event_type(document, ContactEventType, "contact")
        event_id, time_ms, where = _common(document, limits, now_ms)
        transferred = event_type is ContactEventType.TRANSFERRED
        to_queue = _string(document, "to_queue", _NAME, limits, required=False) if transferred else None
        opened_ms = None
        if event_type is ContactEventType.RESOLVED:
            opened_ms = _time(document, "opened_at", limits)
            if opened_ms > time_ms:
                raise _Invalid(Rejection(RejectReason.NEGATIVE_DURATION, "opened_at is after the resolution time"))
        survey = _survey(document) if event_type is ContactEventType.SURVEY else None
        return ContactEvent(
            event_id=event_id,
            time_ms=time_ms,
            type=event_type,
            where=where,
            contact_id=_required(document, "contact_id", _IDENT, limits),
            agent_id=_string(document, "agent_id", _IDENT, limits, required=False),
            to_queue=to_queue,
            opened_ms=opened_ms,
            survey=survey,
            customer_id=_string(document, "customer_id", _IDENT, limits, required=False)
            if event_type in _CUSTOMER
            else None,
        )
    except _Invalid as invalid:
        return invalid.rejection


def decode_agent_event(
    raw: bytes,
    *,
    max_bytes: int | None = None,
    limits: EventLimits = DEFAULT_LIMITS,
    now_ms: int | None = None,
) -> AgentEvent | Rejection:
    """Decode and validate one record of the agents topic (``max_bytes``, ``limits``, ``now_ms``: as for
    :func:`decode_contact_event`)."""
    limits = _limits(limits, max_bytes)
    try:
        document = _load(raw, limits)
        state = _event_type(document, AgentState, "agent")
        event_id, time_ms, where = _common(document, limits, now_ms)
        reason = _string(document, "reason", _NAME, limits, required=False) if state is AgentState.AUX else None
        return AgentEvent(
            event_id=event_id,
            time_ms=time_ms,
            state=state,
            where=where,
            agent_id=_required(document, "agent_id", _IDENT, limits),
            reason=(reason or "unspecified") if state is AgentState.AUX else None,
            queues=_queues(document, limits),
        )
    except _Invalid as invalid:
        return invalid.rejection
