"""The JSON Schemas of event contract v1 (docs/schema/) accept the good events and reject the bad ones."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

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
]


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
