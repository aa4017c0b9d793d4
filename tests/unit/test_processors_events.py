"""Decoding contract-v1 records: every way a record can be bad gives its precise reason, good ones decode exactly.

docs/events.md section 7 is the table these cases follow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from processors.events import (
    MAX_EVENT_BYTES,
    AgentEvent,
    AgentState,
    Channel,
    ContactEvent,
    ContactEventType,
    QueueRef,
    Rejection,
    RejectReason,
    Survey,
    decode_agent_event,
    decode_contact_event,
)

R = RejectReason
T_0900 = 1_795_424_400_000  # 2026-11-23T09:00:00Z

CONTACT: dict[str, Any] = {
    "schema_version": 1,
    "event_id": "pbx1-7-1",
    "event_time": "2026-11-23T09:00:00.250Z",
    "type": "queued",
    "tenant": "demo",
    "queue": "support",
    "channel": "voice",
    "contact_id": "call-7",
}
AGENT: dict[str, Any] = {
    "schema_version": 1,
    "event_id": "acd1-alice-41",
    "event_time": "2026-11-23T09:00:00.250Z",
    "type": "available",
    "tenant": "demo",
    "queue": "support",
    "channel": "voice",
    "agent_id": "alice",
}
BASES = {"contacts": CONTACT, "agents": AGENT}
DECODERS = {"contacts": decode_contact_event, "agents": decode_agent_event}
MISSING = object()


def make(stream: str, **changes: Any) -> bytes:
    """The base event of ``stream`` with fields replaced (``MISSING`` removes one), as JSON bytes."""
    document = dict(BASES[stream])
    for name, value in changes.items():
        if value is MISSING:
            del document[name]
        else:
            document[name] = value
    return json.dumps(document).encode()


def decode(stream: str, raw: bytes) -> Any:
    return DECODERS[stream](raw)


def reject_case(name: str, stream: str, raw: bytes, code: RejectReason, mentions: str = "") -> Any:
    return pytest.param(stream, raw, code, mentions, id=name)


# ----------------------------------------------------------------------------------------------- rejections

MISSING_CASES = [
    *[
        reject_case(
            f"{stream} missing {field}", stream, make(stream, **{field: MISSING}), R.MISSING_FIELD, f"'{field}'"
        )
        for stream, base in BASES.items()
        for field in base
    ],
    *[
        reject_case(f"{stream} {field} null", stream, make(stream, **{field: None}), R.MISSING_FIELD, f"'{field}'")
        for stream, base in BASES.items()
        for field in base
    ],
]

WRONG_TYPE_CASES = [
    reject_case("event_id as number", "contacts", make("contacts", event_id=17), R.WRONG_TYPE, "'event_id'"),
    reject_case(
        "event_time as number", "contacts", make("contacts", event_time=1_795_424_400_000), R.WRONG_TYPE, "event_time"
    ),
    reject_case("type as number", "contacts", make("contacts", type=3), R.WRONG_TYPE, "'type'"),
    reject_case("tenant as list", "agents", make("agents", tenant=["demo"]), R.WRONG_TYPE, "'tenant'"),
    reject_case("queue as object", "contacts", make("contacts", queue={"name": "support"}), R.WRONG_TYPE, "'queue'"),
    reject_case("contact_id as number", "contacts", make("contacts", contact_id=17), R.WRONG_TYPE, "'contact_id'"),
    reject_case(
        "agent_id as number on a contact", "contacts", make("contacts", agent_id=17), R.WRONG_TYPE, "'agent_id'"
    ),
    reject_case("agent_id as boolean", "agents", make("agents", agent_id=True), R.WRONG_TYPE, "'agent_id'"),
    reject_case(
        "to_queue as number", "contacts", make("contacts", type="transferred", to_queue=3), R.WRONG_TYPE, "'to_queue'"
    ),
    reject_case("reason as number", "agents", make("agents", type="aux", reason=3), R.WRONG_TYPE, "'reason'"),
]

VERSION_CASES = [
    reject_case("schema_version 2", "contacts", make("contacts", schema_version=2), R.UNSUPPORTED_VERSION),
    reject_case("schema_version 0", "agents", make("agents", schema_version=0), R.UNSUPPORTED_VERSION),
    reject_case("schema_version as text", "contacts", make("contacts", schema_version="1"), R.UNSUPPORTED_VERSION),
    reject_case("schema_version 1.0", "contacts", make("contacts", schema_version=1.0), R.UNSUPPORTED_VERSION),
    reject_case("schema_version true", "agents", make("agents", schema_version=True), R.UNSUPPORTED_VERSION),
]

TYPE_CASES = [
    reject_case("unknown contact type", "contacts", make("contacts", type="ringing"), R.UNKNOWN_EVENT_TYPE, "ringing"),
    reject_case("agent type on contacts", "contacts", make("contacts", type="available"), R.UNKNOWN_EVENT_TYPE),
    reject_case("contact type on agents", "agents", make("agents", type="queued"), R.UNKNOWN_EVENT_TYPE, "queued"),
    reject_case("type in capitals", "contacts", make("contacts", type="QUEUED"), R.UNKNOWN_EVENT_TYPE),
    reject_case("empty type", "agents", make("agents", type=""), R.UNKNOWN_EVENT_TYPE),
]

BYTES_CASES = [
    reject_case("truncated JSON", "contacts", make("contacts")[:-7], R.INVALID_JSON),
    reject_case("empty record", "contacts", b"", R.INVALID_JSON),
    reject_case("not UTF-8", "agents", b'{"schema_version": 1, "event_id": "\xff"}', R.INVALID_JSON),
    reject_case("trailing garbage", "contacts", make("contacts") + b"}", R.INVALID_JSON),
    reject_case("array", "contacts", json.dumps([CONTACT]).encode(), R.NOT_AN_OBJECT),
    reject_case("string", "agents", b'"available"', R.NOT_AN_OBJECT),
    reject_case("number", "contacts", b"1", R.NOT_AN_OBJECT),
    reject_case("null", "agents", b"null", R.NOT_AN_OBJECT),
    reject_case(
        "one byte over 64 KiB",
        "contacts",
        make("contacts", x_pad="p" * (MAX_EVENT_BYTES - len(make("contacts", x_pad="")) + 1)),
        R.TOO_LARGE,
        str(MAX_EVENT_BYTES),
    ),
]

VALUE_CASES = [
    reject_case(
        "naive time", "contacts", make("contacts", event_time="2026-11-23T09:00:00.250"), R.INVALID_VALUE, "offset"
    ),
    reject_case("naive time, no fraction", "agents", make("agents", event_time="2026-11-23T09:00:00"), R.INVALID_VALUE),
    reject_case("date only", "contacts", make("contacts", event_time="2026-11-23"), R.INVALID_VALUE),
    reject_case("space separator", "contacts", make("contacts", event_time="2026-11-23 09:00:00Z"), R.INVALID_VALUE),
    reject_case("no seconds", "contacts", make("contacts", event_time="2026-11-23T09:00Z"), R.INVALID_VALUE),
    reject_case("basic format", "contacts", make("contacts", event_time="20261123T090000Z"), R.INVALID_VALUE),
    reject_case(
        "offset without colon", "agents", make("agents", event_time="2026-11-23T09:00:00+0000"), R.INVALID_VALUE
    ),
    reject_case("ISO week date", "contacts", make("contacts", event_time="2026-W48-1T09:00:00Z"), R.INVALID_VALUE),
    reject_case("comma fraction", "contacts", make("contacts", event_time="2026-11-23T09:00:00,5Z"), R.INVALID_VALUE),
    reject_case("empty fraction", "contacts", make("contacts", event_time="2026-11-23T09:00:00.Z"), R.INVALID_VALUE),
    reject_case("lower-case t and z", "contacts", make("contacts", event_time="2026-11-23t09:00:00z"), R.INVALID_VALUE),
    reject_case("no such day", "agents", make("agents", event_time="2026-02-30T09:00:00Z"), R.INVALID_VALUE),
    reject_case("hour 24", "agents", make("agents", event_time="2026-11-23T24:00:00Z"), R.INVALID_VALUE),
    reject_case("leap second", "contacts", make("contacts", event_time="2026-12-31T23:59:60Z"), R.INVALID_VALUE),
    reject_case("epoch text", "agents", make("agents", event_time="1795424400000"), R.INVALID_VALUE),
    reject_case("event_id with space", "contacts", make("contacts", event_id="pbx 1"), R.INVALID_VALUE, "'event_id'"),
    reject_case("empty event_id", "contacts", make("contacts", event_id=""), R.INVALID_VALUE, "'event_id'"),
    reject_case("event_id of 129 chars", "contacts", make("contacts", event_id="e" * 129), R.INVALID_VALUE),
    reject_case("non-ASCII contact_id", "contacts", make("contacts", contact_id="anruf-ü"), R.INVALID_VALUE),
    reject_case("agent_id with tab", "agents", make("agents", agent_id="al\tice"), R.INVALID_VALUE, "'agent_id'"),
    reject_case("queue with slash", "contacts", make("contacts", queue="support/voice"), R.INVALID_VALUE, "'queue'"),
    reject_case("queue starting with dash", "contacts", make("contacts", queue="-support"), R.INVALID_VALUE),
    reject_case("queue of 65 chars", "contacts", make("contacts", queue="q" * 65), R.INVALID_VALUE),
    reject_case("non-ASCII tenant", "contacts", make("contacts", tenant="démo"), R.INVALID_VALUE, "'tenant'"),
    reject_case("channel fax", "contacts", make("contacts", channel="fax"), R.INVALID_VALUE, "fax"),
    reject_case("channel in capitals", "agents", make("agents", channel="Voice"), R.INVALID_VALUE),
    reject_case(
        "to_queue with slash", "contacts", make("contacts", type="transferred", to_queue="a/b"), R.INVALID_VALUE
    ),
    reject_case("reason with space", "agents", make("agents", type="aux", reason="lunch break"), R.INVALID_VALUE),
]

RESOLVED = {"type": "resolved", "opened_at": "2026-11-23T08:00:00Z"}
NEW_FIELD_CASES = [
    reject_case(
        "resolved without opened_at", "contacts", make("contacts", type="resolved"), R.MISSING_FIELD, "opened_at"
    ),
    reject_case(
        "opened_at null", "contacts", make("contacts", type="resolved", opened_at=None), R.MISSING_FIELD, "opened_at"
    ),
    reject_case(
        "opened_at as number",
        "contacts",
        make("contacts", type="resolved", opened_at=1_795_424_400_000),
        R.WRONG_TYPE,
        "opened_at",
    ),
    reject_case(
        "opened_at naive",
        "contacts",
        make("contacts", type="resolved", opened_at="2026-11-23T08:00:00"),
        R.INVALID_VALUE,
        "opened_at",
    ),
    #   event_time 09:00:00.250, opened 1 ms later
    reject_case(
        "opened_at after the resolution",
        "contacts",
        make("contacts", type="resolved", opened_at="2026-11-23T09:00:00.251Z"),
        R.NEGATIVE_DURATION,
        "opened_at",
    ),
    reject_case("survey without a score", "contacts", make("contacts", type="survey"), R.MISSING_FIELD, "csat"),
    reject_case(
        "survey of null scores", "contacts", make("contacts", type="survey", csat=None, nps=None), R.MISSING_FIELD
    ),
    *[
        reject_case(
            f"survey {name} {value}",
            "contacts",
            make("contacts", type="survey", **{name: value}),
            R.INVALID_VALUE,
            name,
        )
        for name, value in (("csat", 0), ("csat", 6), ("nps", -1), ("nps", 11), ("ces", 0), ("ces", 8))
    ],
    *[
        reject_case(
            f"survey {name} as {label}",
            "contacts",
            make("contacts", type="survey", **{name: value}),
            R.WRONG_TYPE,
            name,
        )
        for name, value, label in (("csat", "4", "text"), ("nps", 9.0, "9.0"), ("ces", True, "boolean"))
    ],
    reject_case(
        "one bad score among good ones",
        "contacts",
        make("contacts", type="survey", csat=4, nps=12, ces=2),
        R.INVALID_VALUE,
        "nps",
    ),
    reject_case("queues as a string", "agents", make("agents", queues="support"), R.WRONG_TYPE, "queues"),
    reject_case("queues of numbers", "agents", make("agents", queues=[1, 2]), R.WRONG_TYPE, "queues"),
    reject_case("queues as an object", "agents", make("agents", queues={"support": 1}), R.WRONG_TYPE, "queues"),
    reject_case("queues empty", "agents", make("agents", queues=[]), R.INVALID_VALUE, "queues"),
    reject_case(
        "queues of 33", "agents", make("agents", queues=[f"q{n}" for n in range(33)]), R.INVALID_VALUE, "queues"
    ),
    reject_case("queues with a slash", "agents", make("agents", queues=["support/voice"]), R.INVALID_VALUE, "queues"),
    reject_case(
        "customer_id with space", "contacts", make("contacts", customer_id="crm 4711"), R.INVALID_VALUE, "customer_id"
    ),
]


@pytest.mark.parametrize(
    ("stream", "raw", "code", "mentions"),
    MISSING_CASES + WRONG_TYPE_CASES + VERSION_CASES + TYPE_CASES + BYTES_CASES + VALUE_CASES + NEW_FIELD_CASES,
)
def test_rejection(stream: str, raw: bytes, code: RejectReason, mentions: str) -> None:
    result = decode(stream, raw)
    assert isinstance(result, Rejection), result
    assert result.code is code, str(result)
    assert mentions in result.detail
    assert str(result).startswith(f"{code.value}: ")


def test_every_required_field_of_the_schemas_is_tested_missing() -> None:
    schemas = Path(__file__).resolve().parents[2] / "docs" / "schema"
    names = {case.id for case in MISSING_CASES}
    for stream, file in (("contacts", "contact-event-v1.json"), ("agents", "agent-event-v1.json")):
        required = json.loads((schemas / file).read_text(encoding="utf-8"))["required"]
        assert {f"{stream} missing {field}" for field in required} <= names


def test_exactly_64_kib_is_accepted() -> None:
    raw = make("contacts", x_pad="p" * (MAX_EVENT_BYTES - len(make("contacts", x_pad=""))))
    assert len(raw) == MAX_EVENT_BYTES
    assert isinstance(decode_contact_event(raw), ContactEvent)


def test_decoders_never_raise_on_arbitrary_bytes() -> None:
    for raw in [b"\x00", b"{", b"{}", b"[]", b'{"schema_version": null}', b"\xef\xbb\xbf{}", b"1e999"]:
        assert isinstance(decode_contact_event(raw), Rejection)
        assert isinstance(decode_agent_event(raw), Rejection)


# -------------------------------------------------------------------------------------------------- good ones

SUPPORT = QueueRef("demo", "support", Channel.VOICE)
CT = ContactEventType


def contact(kind: ContactEventType, **fields: Any) -> ContactEvent:
    return ContactEvent(
        event_id="pbx1-7-1", time_ms=T_0900 + 250, type=kind, where=SUPPORT, contact_id="call-7", **fields
    )


GOOD_CONTACTS = [
    *[
        pytest.param(make("contacts", type=kind.value), contact(kind), id=kind.value)
        for kind in CT
        if kind not in {CT.RESOLVED, CT.SURVEY}
    ],
    pytest.param(
        make("contacts", type="resolved", opened_at="2026-11-23T08:00:00Z"),
        contact(CT.RESOLVED, opened_ms=T_0900 - 3_600_000),
        id="resolved",
    ),
    pytest.param(
        make("contacts", type="survey", csat=4, nps=9, ces=2),
        contact(CT.SURVEY, survey=Survey(csat=4, nps=9, ces=2)),
        id="survey",
    ),
    pytest.param(
        make("contacts", type="survey", nps=0), contact(CT.SURVEY, survey=Survey(nps=0)), id="survey, nps only"
    ),
    pytest.param(
        make("contacts", type="survey", csat=5, ces=7, nps=None),
        contact(CT.SURVEY, survey=Survey(csat=5, ces=7)),
        id="survey, a null score is absent",
    ),
    pytest.param(
        make("contacts", type="resolved", opened_at="2026-11-23T10:00:00.250+01:00"),
        contact(CT.RESOLVED, opened_ms=T_0900 + 250),
        id="resolved at the opened time",
    ),
    pytest.param(
        make("contacts", type="first_response", agent_id="carol"),
        contact(CT.FIRST_RESPONSE, agent_id="carol"),
        id="first_response with agent",
    ),
    pytest.param(
        make("contacts", type="queued", opened_at="bad", csat=99, to_queue=3),
        contact(CT.QUEUED),
        id="fields of other types ignored",
    ),
    pytest.param(
        make("contacts", type="answered", agent_id="alice"), contact(CT.ANSWERED, agent_id="alice"), id="with agent"
    ),
    pytest.param(
        make("contacts", type="transferred", agent_id="alice", to_queue="billing"),
        contact(CT.TRANSFERRED, agent_id="alice", to_queue="billing"),
        id="transferred to a queue",
    ),
    pytest.param(make("contacts", type="ended", to_queue="billing"), contact(CT.ENDED), id="to_queue ignored on ended"),
    pytest.param(make("contacts", priority=3, ivr={"path": [1, 2]}), contact(CT.QUEUED), id="unknown fields ignored"),
    pytest.param(make("contacts", event_time="2026-11-23T10:00:00.250+01:00"), contact(CT.QUEUED), id="+01:00 offset"),
    pytest.param(
        make("contacts", event_time="2026-11-23T08:30:00.250-00:30"), contact(CT.QUEUED), id="negative offset"
    ),
    pytest.param(make("contacts", event_time="2026-11-23T09:00:00.250+00:00"), contact(CT.QUEUED), id="+00:00 offset"),
    pytest.param(
        make("contacts", event_time="2026-11-23T09:00:00.250999999Z"), contact(CT.QUEUED), id="nanoseconds truncated"
    ),
    pytest.param(make("contacts", event_time="2026-11-23T09:00:00.25Z"), contact(CT.QUEUED), id="two fraction digits"),
    pytest.param(
        make("contacts", channel="chat", tenant="t" * 64, queue="Q0_.-" + "q" * 59),
        ContactEvent(
            event_id="pbx1-7-1",
            time_ms=T_0900 + 250,
            type=CT.QUEUED,
            where=QueueRef("t" * 64, "Q0_.-" + "q" * 59, Channel.CHAT),
            contact_id="call-7",
        ),
        id="longest names, chat",
    ),
    pytest.param(
        make("contacts", event_id="!" * 128, contact_id="a/b:c@d~{}"),
        ContactEvent(event_id="!" * 128, time_ms=T_0900 + 250, type=CT.QUEUED, where=SUPPORT, contact_id="a/b:c@d~{}"),
        id="ids of printable ASCII",
    ),
]


@pytest.mark.parametrize(("raw", "expected"), GOOD_CONTACTS)
def test_good_contact_events_decode_exactly(raw: bytes, expected: ContactEvent) -> None:
    assert decode_contact_event(raw) == expected


def agent(state: AgentState, **fields: Any) -> AgentEvent:
    return AgentEvent(
        event_id="acd1-alice-41", time_ms=T_0900 + 250, state=state, where=SUPPORT, agent_id="alice", **fields
    )


GOOD_AGENTS = [
    pytest.param(make("agents", type="available"), agent(AgentState.AVAILABLE), id="available"),
    pytest.param(make("agents", type="on_contact"), agent(AgentState.ON_CONTACT), id="on_contact"),
    pytest.param(make("agents", type="wrapup"), agent(AgentState.WRAPUP), id="wrapup"),
    pytest.param(make("agents", type="offline"), agent(AgentState.OFFLINE), id="offline"),
    pytest.param(make("agents", type="aux", reason="lunch"), agent(AgentState.AUX, reason="lunch"), id="aux"),
    pytest.param(make("agents", type="aux"), agent(AgentState.AUX, reason="unspecified"), id="aux without reason"),
    pytest.param(
        make("agents", type="available", reason="lunch"), agent(AgentState.AVAILABLE), id="reason ignored off aux"
    ),
    pytest.param(make("agents", channel="social", skill="fr"), None, id="social, extra field"),
    pytest.param(
        make("agents", queues=["support", "sales", "support"]),
        agent(AgentState.AVAILABLE, queues=("support", "sales")),
        id="queues, duplicates dropped",
    ),
    pytest.param(make("agents", queues=None), agent(AgentState.AVAILABLE), id="queues null is absent"),
    pytest.param(
        make("agents", type="offline", queues=[f"q{n}" for n in range(32)]),
        agent(AgentState.OFFLINE, queues=tuple(f"q{n}" for n in range(32))),
        id="queues of 32 on offline",
    ),
]


@pytest.mark.parametrize(("raw", "expected"), GOOD_AGENTS)
def test_good_agent_events_decode_exactly(raw: bytes, expected: AgentEvent | None) -> None:
    decoded = decode_agent_event(raw)
    if expected is None:
        expected = AgentEvent(
            event_id="acd1-alice-41",
            time_ms=T_0900 + 250,
            state=AgentState.AVAILABLE,
            where=QueueRef("demo", "support", Channel.SOCIAL),
            agent_id="alice",
        )
    assert decoded == expected


def test_member_qids() -> None:
    #   the event's tenant and channel; the listed queues only (its own queue is not added); none: its own queue
    listed = decode_agent_event(make("agents", channel="chat", queues=["sales", "billing"]))
    plain = decode_agent_event(make("agents"))
    assert isinstance(listed, AgentEvent) and isinstance(plain, AgentEvent)
    assert listed.member_qids == ("demo/sales/chat", "demo/billing/chat")
    assert plain.member_qids == ("demo/support/voice",)


def test_qid_round_trips() -> None:
    where = QueueRef("demo", "support.en", Channel.EMAIL)
    assert where.qid == "demo/support.en/email"
    assert QueueRef.from_qid(where.qid) == where


# ------------------------------------------------------------------------- fixed bugs, kept as regressions


@pytest.mark.parametrize("channel", [5, ["voice"], True], ids=["number", "list", "boolean"])
def test_channel_of_the_wrong_type_is_wrong_type(channel: Any) -> None:
    result = decode_contact_event(make("contacts", channel=channel))
    assert isinstance(result, Rejection)
    assert result.code is R.WRONG_TYPE


@pytest.mark.parametrize(
    ("stream", "raw"),
    [
        ("contacts", make("contacts", type="ended", to_queue=3)),
        ("contacts", make("contacts", type="queued", to_queue="billing/voice")),
        ("agents", make("agents", type="available", reason="lunch break")),
        ("agents", make("agents", type="offline", reason=7)),
        ("contacts", make("contacts", type="answered", opened_at=7)),
        ("contacts", make("contacts", type="resolved", opened_at="2026-11-23T08:00:00Z", csat="great")),
        ("contacts", make("contacts", type="survey", csat=4, opened_at="2026-11-24T00:00:00Z")),
        ("contacts", make("contacts", type="ended", customer_id=["x"])),
    ],
    ids=[
        "to_queue number on ended",
        "to_queue bad on queued",
        "reason bad on available",
        "reason number on offline",
        "opened_at number on answered",
        "csat text on resolved",
        "opened_at after the survey",
        "customer_id list on ended",
    ],
)
def test_misplaced_optional_field_is_ignored_whatever_its_value(stream: str, raw: bytes) -> None:
    result = decode(stream, raw)
    assert not isinstance(result, Rejection), str(result)
