"""The JSON Schemas of event contract v1 (docs/schema/) accept the good events and reject the bad ones.

The decoder (processors/events.py) is held to the same cases: it accepts what the schemas accept and rejects
what they reject, except where docs/events.md says otherwise (fields on the wrong type are ignored; rules
a JSON Schema cannot state), each listed below.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from processors.events import Rejection, RejectReason, decode_agent_event, decode_contact_event

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCHEMAS = {
    "contacts": DOCS / "schema" / "contact-event-v1.json",
    "agents": DOCS / "schema" / "agent-event-v1.json",
}


def validator(stream: str) -> Draft202012Validator:
    schema = json.loads(SCHEMAS[stream].read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


CONTACT: dict[str, Any] = {
    "schema_version": 1,
    "event_id": "pbx1-0001",
    "event_time": "2026-11-23T09:00:00.250Z",
    "type": "queued",
    "tenant": "demo",
    "queue": "support",
    "channel": "voice",
    "contact_id": "call-0001",
}
AGENT: dict[str, Any] = {
    "schema_version": 1,
    "event_id": "acd1-0001",
    "event_time": "2026-11-23T09:00:00.250Z",
    "type": "available",
    "tenant": "demo",
    "queue": "support",
    "channel": "voice",
    "agent_id": "alice",
}
BASES = {"contacts": CONTACT, "agents": AGENT}
MISSING = object()


def make(stream: str, **changes: object) -> dict[str, Any]:
    """The base event of ``stream`` with fields replaced; ``MISSING`` removes a field."""
    event = dict(BASES[stream])
    for name, value in changes.items():
        if value is MISSING:
            event.pop(name, None)
        else:
            event[name] = value
    return event


GOOD: list[tuple[str, str, dict[str, Any]]] = [
    *[
        (f"contact {kind}", "contacts", make("contacts", type=kind))
        for kind in ("queued", "abandoned", "timeout", "hold_start", "hold_end", "wrapup_ended")
    ],
    *[
        (f"contact {kind} with agent", "contacts", make("contacts", type=kind, agent_id="alice"))
        for kind in ("answered", "ended", "transferred")
    ],
    (
        "transferred to a queue",
        "contacts",
        make("contacts", type="transferred", agent_id="a1", to_queue="billing"),
    ),
    *[
        (f"agent {kind}", "agents", make("agents", type=kind))
        for kind in ("available", "on_contact", "wrapup", "aux", "offline")
    ],
    ("aux with reason", "agents", make("agents", type="aux", reason="lunch")),
    *[
        (f"channel {channel}", "contacts", make("contacts", channel=channel))
        for channel in ("voice", "chat", "email", "social")
    ],
    ("+00:00 offset", "contacts", make("contacts", event_time="2026-11-23T09:00:00.250+00:00")),
    ("other offset", "contacts", make("contacts", event_time="2026-11-23T10:00:00+01:00")),
    ("no fraction", "contacts", make("contacts", event_time="2026-11-23T09:00:00Z")),
    ("microseconds", "agents", make("agents", event_time="2026-11-23T09:00:00.123456Z")),
    ("unknown extra field ignored", "contacts", make("contacts", priority=3, ivr={"path": [1, 2]})),
    ("unknown extra field on agent", "agents", make("agents", skill="french")),
    ("longest names", "contacts", make("contacts", tenant="t" * 64, queue="Q0_.-" + "q" * 59)),
    ("ids of printable ASCII", "contacts", make("contacts", event_id="!" * 128, contact_id="a/b:c@d~{}")),
    ("first_response", "contacts", make("contacts", type="first_response", channel="chat", agent_id="carol")),
    ("first_response without agent", "contacts", make("contacts", type="first_response")),
    ("resolved", "contacts", make("contacts", type="resolved", opened_at="2026-11-22T16:05:00Z")),
    (
        "resolved at the opened time",
        "contacts",
        make("contacts", type="resolved", opened_at="2026-11-23T10:00:00.250+01:00"),
    ),
    (
        "resolved with customer and agent",
        "contacts",
        make("contacts", type="resolved", opened_at="2026-11-22T16:05:00Z", customer_id="crm-4711", agent_id="d"),
    ),
    ("queued with customer", "contacts", make("contacts", customer_id="crm-4711")),
    *[
        (f"survey {name} {value}", "contacts", make("contacts", type="survey", **{name: value}))
        for name, value in (("csat", 1), ("csat", 5), ("nps", 0), ("nps", 10), ("ces", 1), ("ces", 7))
    ],
    ("survey of three scores", "contacts", make("contacts", type="survey", csat=4, nps=9, ces=2, agent_id="a")),
    *[
        (f"agent {kind} with queues", "agents", make("agents", type=kind, queues=["support", "billing"]))
        for kind in ("available", "on_contact", "wrapup", "aux", "offline")
    ],
    ("queues of one", "agents", make("agents", queues=["sales"])),
    ("queues of 32", "agents", make("agents", queues=[f"q{n}" for n in range(32)])),
    ("queues with a duplicate", "agents", make("agents", queues=["support", "support"])),
]

BAD: list[tuple[str, str, dict[str, Any] | list[Any]]] = [
    ("not an object", "contacts", [CONTACT]),
    *[(f"contact missing {name}", "contacts", make("contacts", **{name: MISSING})) for name in CONTACT],
    *[(f"agent missing {name}", "agents", make("agents", **{name: MISSING})) for name in AGENT],
    ("schema_version 2", "contacts", make("contacts", schema_version=2)),
    ("schema_version as text", "contacts", make("contacts", schema_version="1")),
    ("event_time as number", "contacts", make("contacts", event_time=1_795_000_000_000)),
    ("contact_id as number", "contacts", make("contacts", contact_id=17)),
    ("agent_id null", "contacts", make("contacts", type="answered", agent_id=None)),
    ("tenant as list", "agents", make("agents", tenant=["demo"])),
    ("unknown contact type", "contacts", make("contacts", type="ringing")),
    ("agent type on contacts", "contacts", make("contacts", type="available")),
    ("contact type on agents", "agents", make("agents", type="queued")),
    ("type in capitals", "contacts", make("contacts", type="QUEUED")),
    ("bad channel", "contacts", make("contacts", channel="fax")),
    ("channel in capitals", "agents", make("agents", channel="Voice")),
    ("naive time", "contacts", make("contacts", event_time="2026-11-23T09:00:00.250")),
    ("date only", "contacts", make("contacts", event_time="2026-11-23")),
    ("space separator", "contacts", make("contacts", event_time="2026-11-23 09:00:00Z")),
    ("no seconds", "contacts", make("contacts", event_time="2026-11-23T09:00Z")),
    ("basic format", "contacts", make("contacts", event_time="20261123T090000Z")),
    ("offset without colon", "contacts", make("contacts", event_time="2026-11-23T09:00:00+0000")),
    ("no such day", "agents", make("agents", event_time="2026-02-30T09:00:00Z")),
    ("epoch text", "agents", make("agents", event_time="1795000000000")),
    ("queue with slash", "contacts", make("contacts", queue="support/voice")),
    ("queue with space", "contacts", make("contacts", queue="support voice")),
    ("queue starting with dash", "contacts", make("contacts", queue="-support")),
    ("empty queue", "agents", make("agents", queue="")),
    ("queue of 65 chars", "contacts", make("contacts", queue="q" * 65)),
    ("non-ASCII tenant", "contacts", make("contacts", tenant="démo")),
    ("event_id with space", "contacts", make("contacts", event_id="pbx 1")),
    ("empty event_id", "contacts", make("contacts", event_id="")),
    ("event_id of 129 chars", "contacts", make("contacts", event_id="e" * 129)),
    ("non-ASCII contact_id", "contacts", make("contacts", contact_id="anruf-ü")),
    ("agent_id with tab", "agents", make("agents", agent_id="al\tice")),
    ("to_queue on ended", "contacts", make("contacts", type="ended", agent_id="a1", to_queue="billing")),
    ("to_queue with slash", "contacts", make("contacts", type="transferred", to_queue="billing/voice")),
    ("reason on available", "agents", make("agents", type="available", reason="lunch")),
    ("reason with space", "agents", make("agents", type="aux", reason="lunch break")),
    ("resolved without opened_at", "contacts", make("contacts", type="resolved")),
    ("opened_at null", "contacts", make("contacts", type="resolved", opened_at=None)),
    ("opened_at naive", "contacts", make("contacts", type="resolved", opened_at="2026-11-22T16:05:00")),
    ("opened_at as number", "contacts", make("contacts", type="resolved", opened_at=1_795_000_000_000)),
    ("opened_at on queued", "contacts", make("contacts", opened_at="2026-11-22T16:05:00Z")),
    ("survey without a score", "contacts", make("contacts", type="survey")),
    ("survey with only a null score", "contacts", make("contacts", type="survey", csat=None)),
    *[
        (f"survey {name} {value!r}", "contacts", make("contacts", type="survey", **{name: value}))
        for name, value in (
            ("csat", 0),
            ("csat", 6),
            ("nps", -1),
            ("nps", 11),
            ("ces", 0),
            ("ces", 8),
            ("csat", "4"),
            ("csat", True),
            ("nps", 9.5),
            ("ces", [3]),
        )
    ],
    ("csat on answered", "contacts", make("contacts", type="answered", csat=5)),
    ("nps on resolved", "contacts", make("contacts", type="resolved", opened_at="2026-11-22T16:05:00Z", nps=9)),
    ("customer_id on answered", "contacts", make("contacts", type="answered", customer_id="crm-4711")),
    ("customer_id on survey", "contacts", make("contacts", type="survey", csat=4, customer_id="crm-4711")),
    ("customer_id with space", "contacts", make("contacts", customer_id="crm 4711")),
    ("queues empty", "agents", make("agents", queues=[])),
    ("queues of 33", "agents", make("agents", queues=[f"q{n}" for n in range(33)])),
    ("queues with a slash", "agents", make("agents", queues=["support/voice"])),
    ("queues as a string", "agents", make("agents", queues="support")),
    ("queues of numbers", "agents", make("agents", queues=[1])),
    ("queues null", "agents", make("agents", queues=None)),
]

# Where the decoder and the schemas knowingly differ (docs/events.md sections 3 and 7).
IGNORED_BY_THE_DECODER = {  # invalid under the schemas, accepted by callpulse, which ignores the field
    "agent_id null",
    "to_queue on ended",
    "reason on available",
    "opened_at on queued",
    "csat on answered",
    "nps on resolved",
    "customer_id on answered",
    "customer_id on survey",
    "queues null",
}
BEYOND_THE_SCHEMAS: list[tuple[str, str, dict[str, Any], RejectReason]] = [  # valid JSON Schema, rejected
    (
        "resolved before it was opened",
        "contacts",
        make("contacts", type="resolved", opened_at="2026-11-23T09:00:00.251Z"),
        RejectReason.NEGATIVE_DURATION,
    ),
    ("score written 4.0", "contacts", make("contacts", type="survey", csat=4.0), RejectReason.WRONG_TYPE),
    ("schema_version written 1.0", "contacts", make("contacts", schema_version=1.0), RejectReason.UNSUPPORTED_VERSION),
    # the limits of docs/events.md 7.1, at their defaults
    ("event before 2000", "agents", make("agents", event_time="1999-12-31T23:59:59Z"), RejectReason.TOO_OLD),
    (
        "opened before 2000",
        "contacts",
        make("contacts", type="resolved", opened_at="1970-01-01T00:00:00Z"),
        RejectReason.TOO_OLD,
    ),
    (
        "extra field 33 levels deep",
        "contacts",
        make("contacts", x_deep=json.loads("[" * 32 + "0" + "]" * 32)),
        RejectReason.TOO_DEEP,
    ),
]
DECODERS = {"contacts": decode_contact_event, "agents": decode_agent_event}


@pytest.mark.parametrize("stream", sorted(SCHEMAS))
def test_schema_is_valid_draft_2020_12(stream: str) -> None:
    schema = json.loads(SCHEMAS[stream].read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    for example in schema["examples"]:
        validator(stream).validate(example)


@pytest.mark.parametrize(("stream", "event"), [(s, e) for _, s, e in GOOD], ids=[name for name, _, _ in GOOD])
def test_good_events_are_accepted(stream: str, event: dict[str, Any]) -> None:
    errors = [error.message for error in validator(stream).iter_errors(event)]
    assert errors == []


@pytest.mark.parametrize(("stream", "event"), [(s, e) for _, s, e in BAD], ids=[name for name, _, _ in BAD])
def test_bad_events_are_rejected(stream: str, event: dict[str, Any] | list[Any]) -> None:
    assert not validator(stream).is_valid(event)


def test_every_required_field_is_tested_missing() -> None:
    for stream, schema_path in SCHEMAS.items():
        required = json.loads(schema_path.read_text(encoding="utf-8"))["required"]
        assert sorted(required) == sorted(BASES[stream])


def _documented_examples() -> list[tuple[str, dict[str, Any]]]:
    text = (DOCS / "events.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", text, flags=re.DOTALL)
    examples = []
    for block in blocks:
        document = json.loads(block)
        if isinstance(document, dict) and "schema_version" in document:
            examples.append(("contacts" if "contact_id" in document else "agents", document))
    return examples


def test_docs_show_a_valid_example_of_every_type() -> None:
    examples = _documented_examples()
    for stream, event in examples:
        errors = [error.message for error in validator(stream).iter_errors(event)]
        assert errors == [], (event, errors)
    for stream, path in SCHEMAS.items():
        schema = json.loads(path.read_text(encoding="utf-8"))
        documented = {event["type"] for s, event in examples if s == stream}
        assert documented == set(schema["properties"]["type"]["enum"])


@pytest.mark.parametrize(("stream", "event"), [(s, e) for _, s, e in GOOD], ids=[name for name, _, _ in GOOD])
def test_the_decoder_accepts_the_good_events(stream: str, event: dict[str, Any]) -> None:
    decoded = DECODERS[stream](json.dumps(event).encode())
    assert not isinstance(decoded, Rejection), str(decoded)


@pytest.mark.parametrize(("name", "stream", "event"), BAD, ids=[name for name, _, _ in BAD])
def test_the_decoder_rejects_the_bad_events(name: str, stream: str, event: dict[str, Any] | list[Any]) -> None:
    decoded = DECODERS[stream](json.dumps(event).encode())
    assert isinstance(decoded, Rejection) is (name not in IGNORED_BY_THE_DECODER), str(decoded)


@pytest.mark.parametrize(
    ("stream", "event", "code"),
    [(s, e, c) for _, s, e, c in BEYOND_THE_SCHEMAS],
    ids=[name for name, *_ in BEYOND_THE_SCHEMAS],
)
def test_rules_the_schemas_cannot_state(stream: str, event: dict[str, Any], code: RejectReason) -> None:
    assert validator(stream).is_valid(event)
    decoded = DECODERS[stream](json.dumps(event).encode())
    assert isinstance(decoded, Rejection)
    assert decoded.code is code


def test_ignored_cases_are_bad_cases() -> None:
    assert IGNORED_BY_THE_DECODER.issubset(name for name, _, _ in BAD)
