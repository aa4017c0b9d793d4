"""Fuzzing the event decoder: whatever the bytes, it never raises; it accepts an event that round-trips
exactly, or rejects with a known reason and a one-line detail.

Inputs: arbitrary bytes, arbitrary JSON trees, valid events with fields dropped or replaced by hostile values
(wrong types, huge integers, NaN/Infinity tokens, -0, control characters, quotes, huge strings), invalid
UTF-8 spliced in, deep nesting. Example counts stay moderate: the whole file runs in seconds.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors.events import (
    AgentEvent,
    ContactEvent,
    ContactEventType,
    Rejection,
    RejectReason,
    decode_agent_event,
    decode_contact_event,
)
from processors.limits import EventLimits
from processors.timeutil import format_ms, parse_event_time_ms

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DEFAULT = EventLimits()
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
IDENT = re.compile(r"[\x21-\x7e]{1,128}")
T_0900 = 1_795_424_400_000  # 2026-11-23T09:00:00Z
DECODERS = {"contacts": decode_contact_event, "agents": decode_agent_event}
COMMON: dict[str, Any] = {
    "schema_version": 1,
    "event_id": "pbx1-7-1",
    "event_time": "2026-11-23T09:00:00.250Z",
    "tenant": "demo",
    "queue": "support",
    "channel": "voice",
}
VALID: list[tuple[str, dict[str, Any]]] = [
    *[
        ("contacts", COMMON | {"type": kind.value, "contact_id": "call-7", "agent_id": "alice"})
        for kind in ContactEventType
        if kind not in {ContactEventType.RESOLVED, ContactEventType.SURVEY}  # need their own fields: below
    ],
    ("contacts", COMMON | {"type": "transferred", "contact_id": "c", "to_queue": "billing"}),
    ("contacts", COMMON | {"type": "resolved", "contact_id": "c", "opened_at": "2026-11-22T08:00:00Z"}),
    ("contacts", COMMON | {"type": "survey", "contact_id": "c", "csat": 4, "nps": 9, "ces": 2}),
    ("contacts", COMMON | {"type": "queued", "contact_id": "c", "customer_id": "crm-1"}),
    ("agents", COMMON | {"type": "aux", "agent_id": "alice", "reason": "lunch", "queues": ["support", "sales"]}),
    *[("agents", COMMON | {"type": state, "agent_id": "a"}) for state in ("available", "on_contact", "offline")],
]
FIELDS = sorted({name for _, event in VALID for name in event} | {"queues", "reason", "x_vendor"})

SPECIAL_STRINGS = [
    "",
    " ",
    "\n",
    "sup\nport",
    'a"b',
    "a\\b",
    "\x00",
    "\x7f",
    "\u202e",
    "\ud7ff",
    "\U0001f600",
    "é",
    "a/b",
    "{}",
    "NaN",
    "-0",
    "2026-11-23T09:00:00Z",
    "1970-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999999Z",
    "2026-11-23T09:00:00+23:59",
    "2026-02-29T00:00:00Z",
]
SPECIAL_NUMBERS = [0, -0.0, 1, -1, 1.0, 4.0, 2**53 + 1, 2**63, 2**64, -(2**63) - 1, 10**30, 1e308, 5e-324]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # NaN and Infinity: json.dumps writes them as tokens, which are not JSON
    st.text(max_size=40),
    st.sampled_from(SPECIAL_STRINGS),
    st.sampled_from(SPECIAL_NUMBERS),
)
json_trees = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
hostile = st.one_of(
    json_trees,
    st.text(min_size=60, max_size=300),
    st.builds(lambda char, n: char * n, st.sampled_from(["q", "\n", '"', "\\", "é"]), st.integers(60, 70_000)),
    st.builds(lambda n: "q" * n, st.integers(56, 136)),  # around the name and id limits
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,70}", fullmatch=True),
    st.from_regex(r"[\x00-\x7f]{1,130}", fullmatch=True),
)
RAW_TOKENS = [
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"-0",
    b"-0.0",
    b"1e999",
    b"-1e999",
    b"18446744073709551616",
    b"1" * 400,
    b"true",
    b"null",
    b"[]",
    b"{}",
    b'"\\ud800"',
    b'"\\u0000"',
    b'"\\"\\\\"',
    b"[" * 40 + b"]" * 40,
]
INVALID_UTF8 = [b"\xff", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\xfe\xff"]


def to_json(event: ContactEvent | AgentEvent) -> bytes:
    """The contract-v1 document of a decoded event."""
    document: dict[str, Any] = {
        "schema_version": 1,
        "event_id": event.event_id,
        "event_time": format_ms(event.time_ms),
        "tenant": event.where.tenant,
        "queue": event.where.queue,
        "channel": event.where.channel.value,
    }
    if isinstance(event, AgentEvent):
        document |= {"type": event.state.value, "agent_id": event.agent_id}
        optional = {"reason": event.reason, "queues": list(event.queues) or None}
    else:
        document |= {"type": event.type.value, "contact_id": event.contact_id}
        survey = event.survey
        optional = {
            "agent_id": event.agent_id,
            "to_queue": event.to_queue,
            "opened_at": None if event.opened_ms is None else format_ms(event.opened_ms),
            "customer_id": event.customer_id,
            **({"csat": survey.csat, "nps": survey.nps, "ces": survey.ces} if survey else {}),
        }
    return orjson.dumps(document | {name: value for name, value in optional.items() if value is not None})


def judge(stream: str, raw: bytes, *, limits: EventLimits = DEFAULT, now_ms: int | None = None) -> Any:
    """Decode ``raw`` and check the outcome against the contract; return it."""
    result = DECODERS[stream](raw, limits=limits, now_ms=now_ms)
    if isinstance(result, Rejection):
        assert result.code in set(RejectReason)
        assert result.detail.strip(), result
        assert "\n" not in result.detail and "\r" not in result.detail, result  # one log line
        return result
    assert isinstance(result, ContactEvent if stream == "contacts" else AgentEvent)
    document = orjson.loads(raw)
    assert result.event_id == document["event_id"]
    assert result.time_ms == parse_event_time_ms(document["event_time"])
    assert (result.where.tenant, result.where.queue, result.where.channel.value) == (
        document["tenant"],
        document["queue"],
        document["channel"],
    )
    for name in (result.where.tenant, result.where.queue, *getattr(result, "queues", ())):
        assert NAME.fullmatch(name) and len(name) <= limits.max_name_length, name
    ids = [result.event_id, getattr(result, "agent_id", None), getattr(result, "contact_id", None)]
    for ident in filter(None, ids):
        assert IDENT.fullmatch(ident) and len(ident) <= limits.max_id_length, ident
    assert result.time_ms >= limits.min_time_ms
    assert now_ms is None or result.time_ms <= now_ms + limits.max_future_ms
    again = DECODERS[stream](to_json(result), limits=limits, now_ms=now_ms)
    assert again == result, (again, result)
    return result


def test_the_bases_are_valid() -> None:
    for stream, event in VALID:
        assert not isinstance(judge(stream, json.dumps(event).encode()), Rejection), event


@FUZZ
@given(raw=st.binary(max_size=600), stream=st.sampled_from(sorted(DECODERS)))
def test_arbitrary_bytes(raw: bytes, stream: str) -> None:
    judge(stream, raw)


@FUZZ
@given(tree=json_trees, stream=st.sampled_from(sorted(DECODERS)))
def test_arbitrary_json(tree: Any, stream: str) -> None:
    assert isinstance(judge(stream, json.dumps(tree).encode()), Rejection)  # no event without schema_version


Mutation = tuple[str, str, Any]
mutations = st.lists(
    st.tuples(st.sampled_from(["drop", "set", "add"]), st.sampled_from(FIELDS), hostile),
    min_size=1,
    max_size=3,
)


@FUZZ
@given(base=st.sampled_from(VALID), changes=mutations, now_ms=st.none() | st.just(T_0900))
def test_valid_events_mutated(base: tuple[str, dict[str, Any]], changes: list[Mutation], now_ms: int | None) -> None:
    stream, event = base
    document = dict(event)
    for action, name, value in changes:
        if action == "drop":
            document.pop(name, None)
        elif action == "set":
            document[name] = value
        else:
            document[f"x_{name}"] = value
    judge(stream, json.dumps(document).encode(), now_ms=now_ms)


@FUZZ
@given(base=st.sampled_from(VALID), name=st.sampled_from(FIELDS), token=st.sampled_from(RAW_TOKENS))
def test_raw_tokens_in_place_of_a_value(base: tuple[str, dict[str, Any]], name: str, token: bytes) -> None:
    stream, event = base
    raw = json.dumps(event | {name: "\x00"}).encode().replace(b'"\\u0000"', token)
    result = judge(stream, raw)
    if token in {b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b'"\\ud800"'}:
        assert isinstance(result, Rejection) and result.code is RejectReason.INVALID_JSON


@FUZZ
@given(
    base=st.sampled_from(VALID),
    position=st.integers(0, 10_000),
    junk=st.sampled_from(INVALID_UTF8) | st.binary(min_size=1, max_size=4),
)
def test_bytes_spliced_into_a_valid_event(base: tuple[str, dict[str, Any]], position: int, junk: bytes) -> None:
    stream, event = base
    raw = json.dumps(event, ensure_ascii=False).encode()
    at = position % (len(raw) + 1)
    result = judge(stream, raw[:at] + junk + raw[at:])
    if junk in INVALID_UTF8:
        assert isinstance(result, Rejection)


@settings(max_examples=40, deadline=None)
@given(
    levels=st.integers(1, 70_000),
    opener=st.sampled_from([b"[", b'{"a":', b'[{"a":']),
    closed=st.booleans(),
    stream=st.sampled_from(sorted(DECODERS)),
)
def test_deep_nesting(levels: int, opener: bytes, closed: bool, stream: str) -> None:
    closer = {b"[": b"]", b'{"a":': b"}", b'[{"a":': b"}]"}[opener]
    raw = opener * levels + (b"0" + closer * levels if closed else b"")
    result = judge(stream, raw)
    assert isinstance(result, Rejection)
    big = judge(stream, raw, limits=EventLimits(max_event_bytes=1 << 20))
    deep = levels * (2 if opener == b'[{"a":' else 1) > DEFAULT.max_json_depth
    assert not deep or big.code is RejectReason.TOO_DEEP, big


ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
names = st.builds(str.__add__, st.sampled_from(ALNUM), st.text(alphabet=ALNUM + "_.-", max_size=63))
idents = st.text(alphabet="".join(map(chr, range(0x21, 0x7F))), min_size=1, max_size=128)
times = st.integers(DEFAULT.min_time_ms, 253_402_300_799_999)


@st.composite
def valid_contacts(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(ContactEventType))
    time_ms = draw(times)
    document = COMMON | {
        "event_id": draw(idents),
        "event_time": format_ms(time_ms),
        "type": kind.value,
        "tenant": draw(names),
        "queue": draw(names),
        "channel": draw(st.sampled_from(["voice", "chat", "email", "social"])),
        "contact_id": draw(idents),
    }
    if draw(st.booleans()):
        document["agent_id"] = draw(idents)
    if kind is ContactEventType.TRANSFERRED and draw(st.booleans()):
        document["to_queue"] = draw(names)
    if kind is ContactEventType.RESOLVED:
        document["opened_at"] = format_ms(draw(st.integers(DEFAULT.min_time_ms, time_ms)))
    if kind is ContactEventType.SURVEY:
        document["csat"] = draw(st.integers(1, 5))
        document |= draw(st.fixed_dictionaries({}, optional={"nps": st.integers(0, 10), "ces": st.integers(1, 7)}))
    if kind in {ContactEventType.QUEUED, ContactEventType.RESOLVED} and draw(st.booleans()):
        document["customer_id"] = draw(idents)
    return document


@FUZZ
@given(document=valid_contacts())
def test_valid_contact_events_are_accepted_and_round_trip(document: dict[str, Any]) -> None:
    assert isinstance(judge("contacts", orjson.dumps(document)), ContactEvent)


@FUZZ
@given(
    state=st.sampled_from(["available", "on_contact", "wrapup", "aux", "offline"]),
    agent_id=idents,
    queues=st.none() | st.lists(names, min_size=1, max_size=6),
    reason=st.none() | names,
    time_ms=times,
)
def test_valid_agent_events_are_accepted_and_round_trip(
    state: str, agent_id: str, queues: list[str] | None, reason: str | None, time_ms: int
) -> None:
    document = COMMON | {"type": state, "agent_id": agent_id, "event_time": format_ms(time_ms)}
    document |= {name: value for name, value in (("queues", queues), ("reason", reason)) if value is not None}
    assert isinstance(judge("agents", orjson.dumps(document)), AgentEvent)


NAME_FIELDS, ID_FIELDS = (
    {"tenant", "queue", "to_queue", "reason"},
    {"event_id", "contact_id", "agent_id", "customer_id"},
)
PLACES = [(stream, event, name) for stream, event in VALID for name in event if name in NAME_FIELDS | ID_FIELDS]
near_limits = st.one_of(
    st.text(alphabet=ALNUM + "_.-" + ' "\\\n\r\t\x00\x7f/=,{}é\u2028', max_size=140),
    st.builds(lambda char, n: char * n, st.sampled_from(["q", "-", "!"]), st.integers(0, 140)),
)


@FUZZ
@given(place=st.sampled_from(PLACES), value=near_limits)
def test_a_name_or_id_is_accepted_exactly_when_it_fits_its_pattern(
    place: tuple[str, dict[str, Any], str], value: str
) -> None:
    stream, event, name = place
    pattern, longest = (NAME, DEFAULT.max_name_length) if name in NAME_FIELDS else (IDENT, DEFAULT.max_id_length)
    result = judge(stream, json.dumps(event | {name: value}).encode())
    fits = bool(pattern.fullmatch(value)) and len(value) <= longest
    assert not isinstance(result, Rejection) if fits else result.code is RejectReason.INVALID_VALUE, (value, result)
