"""HTTP ingest: the pure checks and replies, the OpenAPI document, and the server's answers over real HTTP.

The checks (``callpulse.ingest_http_checks``) are pure and tested directly. The server is run with aiohttp's
test client and a Kafka publisher that was never started, which answers like one that is stopping: every
refusal (400/413/415) is reached without Kafka, and a valid request gets 503. Every answer seen here is
checked against docs/openapi.yaml; 202 over real Kafka is in tests/integration/test_ingest_http_broker.py.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import orjson
import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from callpulse.cli import main
from callpulse.embedded import free_port
from callpulse.ingest_http import DEFAULT_PORT, ROUTES, IngestOptions, make_app
from callpulse.ingest_http_checks import (
    MAX_NESTING,
    Limits,
    Record,
    Reply,
    Stream,
    accepted,
    body_too_large,
    check_headers,
    health,
    nesting,
    parse_body,
    unavailable,
    validate_events,
)
from callpulse.ingest_http_kafka import Idempotence, KafkaPublisher
from processors.events import MAX_EVENT_BYTES, RejectReason

DOCS = Path(__file__).resolve().parents[2] / "docs"
OPENAPI_PATH = DOCS / "openapi.yaml"
OPENAPI: dict[str, Any] = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
OPENAPI_URI = OPENAPI_PATH.as_uri()
TOPICS = {Stream.CONTACTS: "t.contacts", Stream.AGENTS: "t.agents"}
PATHS = {Stream.CONTACTS: "/v1/contact-events", Stream.AGENTS: "/v1/agent-events"}
JSON = {"Content-Type": "application/json"}


def contact(n: int = 1, **changes: Any) -> dict[str, Any]:
    event = {
        "schema_version": 1,
        "event_id": f"pbx1-{n}",
        "event_time": "2026-11-23T09:00:00.250Z",
        "type": "queued",
        "tenant": "demo",
        "queue": "support",
        "channel": "voice",
        "contact_id": f"call-{n}",
    }
    return event | changes


def agent(n: int = 1, **changes: Any) -> dict[str, Any]:
    event = {
        "schema_version": 1,
        "event_id": f"acd1-{n}",
        "event_time": "2026-11-23T09:00:00Z",
        "type": "available",
        "tenant": "demo",
        "queue": "support",
        "channel": "voice",
        "agent_id": f"agent-{n}",
    }
    return event | changes


def without(event: dict[str, Any], field: str) -> dict[str, Any]:
    return {name: value for name, value in event.items() if name != field}


# ---------------------------------------------------------------------------------------------------- checks


@pytest.mark.parametrize(
    ("content_type", "length", "status"),
    [
        ("application/json", 10, None),
        ("application/json; charset=utf-8", 10, None),
        ('Application/JSON; Charset="UTF-8"', None, None),
        ("application/json", 100, None),  # exactly the limit
        ("application/json", 101, 413),
        ("text/plain", 10, 415),
        ("application/x-www-form-urlencoded", 10, 415),
        ("application/json; charset=latin-1", 10, 415),
        (None, 10, 415),
        ("text/plain", 10_000, 415),  # the type is checked first
    ],
)
def test_check_headers(content_type: str | None, length: int | None, status: int | None) -> None:
    reply = check_headers(content_type, length, Limits(max_body_bytes=100))
    assert (reply and reply.status) == status
    if reply is not None:
        assert reply.body["error"] == {413: "body_too_large", 415: "unsupported_media_type"}[status]
        assert reply.body["detail"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"a": 1}', [{"a": 1}]),  # one event
        (b'[{"a": 1}, {"b": 2}]', [{"a": 1}, {"b": 2}]),  # a batch
        (b'"text"', ["text"]),  # one (bad) event: the decoder says not_an_object
        (b"[1, 2, 3]", [1, 2, 3]),  # exactly the batch limit
        (b"[1, 2, 3, 4]", "too_many_events"),
        (b"[]", "empty_batch"),
        (b'{"a": ', "invalid_json"),
        (b"", "invalid_json"),
        (b'{"a": NaN}', "invalid_json"),
        (b'{"a": "\xff"}', "invalid_json"),  # not UTF-8
        (b"[" * 20_000 + b"]" * 20_000, "invalid_json"),  # deeper than MAX_NESTING: refused before parsing
    ],
)
def test_parse_body(body: bytes, expected: list[Any] | str) -> None:
    parsed = parse_body(body, Limits(max_batch_events=3))
    if isinstance(expected, str):
        assert isinstance(parsed, Reply)
        assert (parsed.status, parsed.body["error"]) == (413 if expected == "too_many_events" else 400, expected)
    else:
        assert parsed == expected


@pytest.mark.parametrize(
    ("body", "depth"),
    [(b"{}", 1), (b'[{"a": [1, {"b": []}]}]', 5), (b'{"a": "[[[{{{", "b": "\\"[["}', 1), (b'"[[["', 0)],
)
def test_nesting_ignores_brackets_in_strings(body: bytes, depth: int) -> None:
    assert nesting(body) == depth


def test_wide_batches_parse_without_the_nesting_scan_refusing_them() -> None:
    body = orjson.dumps([agent(n, queues=["support", "sales"]) for n in range(MAX_NESTING)])
    parsed = parse_body(body, Limits(max_batch_events=MAX_NESTING))
    assert isinstance(parsed, list)
    assert len(parsed) == MAX_NESTING


def test_good_events_become_records_keyed_by_id_in_order() -> None:
    events = [contact(3), contact(1, type="answered", agent_id="alice"), contact(2)]
    records = validate_events(events, Stream.CONTACTS)
    assert records == [
        Record(f"call-{n}".encode(), orjson.dumps(event)) for n, event in zip([3, 1, 2], events, strict=True)
    ]
    assert validate_events([agent(7)], Stream.AGENTS) == [Record(b"agent-7", orjson.dumps(agent(7)))]


def test_one_bad_event_refuses_the_request_listing_every_bad_element() -> None:
    events = [contact(0), contact(1, queue=5), contact(2), without(contact(3), "contact_id")]
    reply = validate_events(events, Stream.CONTACTS)
    assert isinstance(reply, Reply)
    assert reply.status == 400
    assert reply.body["error"] == "invalid_events"
    assert "2 of 4" in reply.body["detail"]
    assert reply.body["errors"] == [
        {"index": 1, "reason": "wrong_type", "detail": "field 'queue' must be a string, got int"},
        {"index": 3, "reason": "missing_field", "detail": "field 'contact_id' is required"},
    ]


@pytest.mark.parametrize(
    ("stream", "event", "reason"),
    [
        (Stream.CONTACTS, agent(), "unknown_event_type"),  # an agent event on the contacts endpoint
        (Stream.AGENTS, contact(), "unknown_event_type"),
        (Stream.CONTACTS, [contact()], "not_an_object"),  # a nested array is one (bad) element
        (Stream.CONTACTS, None, "not_an_object"),
        (Stream.CONTACTS, contact(schema_version=1.0), "unsupported_version"),
        (Stream.CONTACTS, contact(schema_version="1"), "unsupported_version"),
        (Stream.CONTACTS, contact(event_time="2026-11-23T09:00:00"), "invalid_value"),
        (Stream.CONTACTS, contact(channel="fax"), "invalid_value"),
        (Stream.CONTACTS, contact(type="survey", csat=4.0), "wrong_type"),
        (Stream.CONTACTS, contact(type="survey"), "missing_field"),
        (Stream.CONTACTS, contact(type="resolved", opened_at="2026-11-23T10:00:00Z"), "negative_duration"),
        (Stream.AGENTS, agent(queues=[]), "invalid_value"),
        (Stream.CONTACTS, contact(x_pad="x" * MAX_EVENT_BYTES), "too_large"),
        (Stream.CONTACTS, {"deep": orjson.loads(b"[" * 300 + b"]" * 300)}, "invalid_json"),  # orjson writes 254
    ],
)
def test_each_event_is_judged_by_the_workers_decoder(stream: Stream, event: Any, reason: str) -> None:
    reply = validate_events([contact(0) if stream is Stream.CONTACTS else agent(0), event], stream)
    assert isinstance(reply, Reply)
    [error] = reply.body["errors"]
    assert (error["index"], error["reason"]) == (1, reason)
    assert error["detail"]


def test_unknown_fields_are_kept_in_the_produced_bytes() -> None:
    event = contact(1, x_pbx_trunk="t-7")
    [record] = validate_events([event], Stream.CONTACTS)
    assert orjson.loads(record.value) == event


# --------------------------------------------------------------------------------------------------- OpenAPI


def _registry() -> Registry:
    resources = [(OPENAPI_URI, Resource.from_contents(OPENAPI, default_specification=DRAFT202012))]
    for path in sorted((DOCS / "schema").glob("*.json")):
        resources.append((path.as_uri(), Resource.from_contents(orjson.loads(path.read_bytes()))))
    return Registry().with_resources(resources).crawl()


REGISTRY = _registry()


def _validator(pointer: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"$ref": f"{OPENAPI_URI}#{pointer}"}, registry=REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = REGISTRY.resolver(OPENAPI_URI).lookup(node["$ref"]).contents
    return node


def _operations() -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in OPENAPI["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete", "head", "options"}
    }


def _escape(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")


def assert_documented(method: str, path: str, status: int, body: Any) -> None:
    """The answer's status is one the document lists for the operation, and its body fits that schema."""
    responses = _operations()[(method, path)]["responses"]
    assert str(status) in responses, f"{method} {path} answered {status}, which is not documented"
    response = responses[str(status)]
    if "$ref" in response:
        pointer = urlparse(response["$ref"]).fragment
    else:
        pointer = f"/paths/{_escape(path)}/{method.lower()}/responses/{status}"
    errors = [error.message for error in _validator(f"{pointer}/content/application~1json/schema").iter_errors(body)]
    assert not errors, f"{method} {path} {status} {body}: {errors}"


def test_the_openapi_document_is_valid_openapi_3_1() -> None:
    assert OPENAPI["openapi"].startswith("3.1")
    validate_openapi(OPENAPI, base_uri=OPENAPI_URI)


def test_the_documented_operations_are_the_servers_routes_with_the_same_statuses() -> None:
    app = make_app(KafkaPublisher("127.0.0.1:1", idempotence=Idempotence.OFF, timeout_seconds=1), TOPICS, Limits())
    served = {(route.method, route.resource.canonical) for route in app.router.routes() if route.resource}
    documented = _operations()
    assert served == set(documented)
    assert {(route.method, route.path) for route in ROUTES} == served
    for route in ROUTES:
        assert {int(status) for status in documented[(route.method, route.path)]["responses"]} == route.statuses


def test_the_request_schemas_are_the_contract_schemas() -> None:
    for stream, make in ((Stream.CONTACTS, contact), (Stream.AGENTS, agent)):
        pointer = f"/paths/{_escape(PATHS[stream])}/post/requestBody/content/application~1json"
        body = _validator(f"{pointer}/schema")
        assert body.is_valid(make(1))
        assert body.is_valid([make(n) for n in range(Limits().max_batch_events)])
        assert not body.is_valid([make(n) for n in range(Limits().max_batch_events + 1)])
        assert not body.is_valid([])
        assert not body.is_valid([make(1), make(2, channel="fax")])
        assert not body.is_valid(contact() if stream is Stream.AGENTS else agent())
        content = _resolve(OPENAPI["paths"][PATHS[stream]]["post"]["requestBody"])["content"]["application/json"]
        for example in content["examples"].values():
            assert body.is_valid(example["value"])
            assert isinstance(validate_events(parse_body(orjson.dumps(example["value"]), Limits()), stream), list)


def test_the_documented_reasons_are_those_the_decoder_gives_without_state() -> None:
    reasons = _resolve(OPENAPI["components"]["schemas"]["EventError"])["properties"]["reason"]["enum"]
    stateful = {RejectReason.CONFLICTING_EVENT, RejectReason.LATE_EVENT}  # the worker's, with the partition's state
    assert set(reasons) == {reason.value for reason in RejectReason} - stateful


def test_the_documented_defaults_are_the_servers() -> None:
    assert urlparse(OPENAPI["servers"][0]["url"]).port == DEFAULT_PORT
    assert f"default {Limits().max_batch_events}" in OPENAPI["info"]["description"]
    assert "default 1 MiB" in OPENAPI["info"]["description"]
    assert Limits().max_body_bytes == 1024 * 1024


def _replies() -> Iterable[tuple[str, object]]:
    limits = Limits(max_body_bytes=10, max_batch_events=1)
    for path in PATHS.values():
        yield path, accepted(3)
        yield path, check_headers("text/plain", None, limits)
        yield path, check_headers(JSON["Content-Type"], 11, limits)
        yield path, body_too_large(limits, None)
        yield path, parse_body(b"[1, 2]", limits)
        yield path, parse_body(b"[]", limits)
        yield path, parse_body(b"{", limits)
        yield path, validate_events([contact(), agent(), None], Stream.CONTACTS)
        yield path, unavailable("kafka_timeout", "no answer")
        yield path, unavailable("kafka_unavailable", "refused")
    yield "/health", health(None)
    yield "/health", health("Kafka does not answer")


@pytest.mark.parametrize(("path", "reply"), list(_replies()), ids=lambda value: getattr(value, "status", value))
def test_every_reply_is_documented(path: str, reply: object) -> None:
    assert isinstance(reply, Reply)
    method = "GET" if path == "/health" else "POST"
    assert_documented(method, path, reply.status, orjson.loads(reply.encode()))


# ------------------------------------------------------------------------------------------------------ HTTP


async def _ask(
    method: str, path: str, *, limits: Limits | None = None, data: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    # never started: it answers like a publisher that is stopping (nothing listens on the port)
    publisher = KafkaPublisher(f"127.0.0.1:{free_port()}", idempotence=Idempotence.OFF, timeout_seconds=1)
    async with TestClient(TestServer(make_app(publisher, TOPICS, limits or Limits()))) as client:
        response = await client.request(
            method, path, data=data, headers=headers, skip_auto_headers=[] if headers else ["Content-Type"]
        )
        assert response.content_type == "application/json"
        return response.status, await response.json()


def ask(method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    status, body = asyncio.run(_ask(method, path, **kwargs))
    assert_documented(method, path, status, body)
    return status, body


@pytest.mark.parametrize("stream", list(Stream))
@pytest.mark.parametrize(
    ("body", "headers", "status", "error"),
    [
        pytest.param(b'[{"schema_version": 1,', JSON, 400, "invalid_json", id="bad JSON"),
        pytest.param(b"[]", JSON, 400, "empty_batch", id="empty batch"),
        pytest.param(orjson.dumps([contact(1), agent(1), 7]), JSON, 400, "invalid_events", id="one bad event"),
        pytest.param(b"[" + b" " * 5000 + b"]", JSON, 413, "body_too_large", id="too large"),
        pytest.param(orjson.dumps([contact(n) for n in range(6)]), JSON, 413, "too_many_events", id="too many"),
        pytest.param(
            b"a=1", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type", id="form"
        ),
        pytest.param(orjson.dumps(contact()), None, 415, "unsupported_media_type", id="no content type"),
    ],
)
def test_refusals_over_http(
    stream: Stream, body: bytes, headers: dict[str, str] | None, status: int, error: str
) -> None:
    answer = ask(
        "POST", PATHS[stream], limits=Limits(max_body_bytes=4000, max_batch_events=5), data=body, headers=headers
    )
    assert answer[0] == status, answer
    assert answer[1]["error"] == error
    assert answer[1]["detail"]
    if error == "invalid_events":
        assert {item["index"] for item in answer[1]["errors"]} == {0, 1, 2} - {0 if stream is Stream.CONTACTS else 1}


def test_a_chunked_body_over_the_limit_is_refused_while_reading() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"["
        for _ in range(10):
            yield b" " * 200
        yield b"]"

    status, body = ask("POST", PATHS[Stream.CONTACTS], limits=Limits(max_body_bytes=1000), data=chunks(), headers=JSON)
    assert (status, body["error"]) == (413, "body_too_large")


def test_a_compressed_body_is_limited_by_its_decompressed_size() -> None:
    small = gzip.compress(b"[" + b" " * 5000 + b"]")
    assert len(small) < 1000
    status, body = ask(
        "POST",
        PATHS[Stream.CONTACTS],
        limits=Limits(max_body_bytes=1000),
        data=small,
        headers=JSON | {"Content-Encoding": "gzip"},
    )
    assert (status, body["error"]) == (413, "body_too_large")
    status, body = ask(
        "POST",
        PATHS[Stream.CONTACTS],
        data=gzip.compress(orjson.dumps([7])),
        headers=JSON | {"Content-Encoding": "gzip"},
    )
    assert (status, body["errors"][0]["reason"]) == (400, "not_an_object")
    status, body = ask("POST", PATHS[Stream.CONTACTS], data=b"not gzip", headers=JSON | {"Content-Encoding": "gzip"})
    assert (status, body["error"]) == (400, "invalid_json")
    assert "cannot be read" in body["detail"]


@pytest.mark.parametrize("stream", list(Stream))
def test_valid_events_are_refused_with_503_when_the_producer_is_not_running(stream: Stream) -> None:
    event = contact() if stream is Stream.CONTACTS else agent()
    for body in (event, [event, event]):
        status, answer = ask("POST", PATHS[stream], data=orjson.dumps(body), headers=JSON)
        assert (status, answer["error"]) == (503, "kafka_unavailable")
        assert "not running" in answer["detail"]
        assert "resend" in answer["detail"]


def test_health_is_503_when_the_producer_is_not_running() -> None:
    status, body = ask("GET", "/health")
    assert status == 503
    assert body["status"] == "unavailable"
    assert "not running" in body["kafka"]


def test_the_command_defaults_are_the_servers() -> None:
    defaults = {param.name: param.default for param in main.commands["ingest-http"].params}
    options = IngestOptions()
    assert defaults["port"] == options.port == DEFAULT_PORT
    assert defaults["host"] == options.host
    assert defaults["max_body_bytes"] == options.limits.max_body_bytes
    assert defaults["max_batch_events"] == options.limits.max_batch_events
    assert defaults["send_timeout"] == options.send_timeout_seconds
    assert defaults["idempotence"] == options.idempotence.value


def test_the_command_has_help_with_examples() -> None:
    result = CliRunner().invoke(main, ["ingest-http", "--help"])
    assert result.exit_code == 0, result.output
    assert "Examples" in result.output
    for option in ("--port", "--max-body-bytes", "--max-batch-events", "--send-timeout", "--idempotence"):
        assert option in result.output
