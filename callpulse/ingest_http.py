"""HTTP ingest: contract-v1 events from any platform's webhook, validated like the worker does, to Kafka.

``POST /v1/contact-events`` and ``POST /v1/agent-events`` take one event object or a JSON array of them.
All or nothing: one invalid event refuses the request (400, every bad element listed) and nothing is sent;
otherwise every event is produced (key = contact_id / agent_id) and the answer, 202 ``{"accepted": n}``,
comes only once Kafka acknowledged them all (else 503). ``GET /health``: 200 when the producer runs and the
broker answers metadata. The API is described in docs/openapi.yaml; the checks are in ``ingest_http_checks``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace

from aiohttp import web
from aiokafka.errors import KafkaError

from callpulse import preflight
from callpulse.ingest_http_auth import IngestAuth
from callpulse.ingest_http_checks import (
    Limits,
    Reply,
    Stream,
    accepted,
    body_too_large,
    check_headers,
    health,
    parse_body,
    problem,
    unavailable,
    validate_events,
)
from callpulse.ingest_http_kafka import Idempotence, KafkaPublisher, PublishError
from callpulse.settings import Settings

log = logging.getLogger(__name__)

CONTACT_EVENTS = "/v1/contact-events"
AGENT_EVENTS = "/v1/agent-events"
HEALTH = "/health"
DEFAULT_PORT = 9467
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Route:
    """One operation of the API and every status it can answer (docs/openapi.yaml lists the same)."""

    method: str
    path: str
    statuses: frozenset[int]


_EVENT_STATUSES = frozenset({202, 400, 401, 413, 415, 503})
ROUTES = (
    Route("POST", CONTACT_EVENTS, _EVENT_STATUSES),
    Route("POST", AGENT_EVENTS, _EVENT_STATUSES),
    Route("GET", HEALTH, frozenset({200, 503})),
)


@dataclass(frozen=True, slots=True)
class IngestOptions:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    limits: Limits = field(default_factory=Limits)
    send_timeout_seconds: float = 10.0
    idempotence: Idempotence = Idempotence.AUTO
    auth: IngestAuth = field(default_factory=IngestAuth)
    tls: ssl.SSLContext | None = None


@dataclass(frozen=True, slots=True)
class _Ingest:
    publisher: KafkaPublisher
    topics: Mapping[Stream, str]
    limits: Limits
    auth: IngestAuth = field(default_factory=IngestAuth)


_INGEST = web.AppKey("callpulse_ingest", _Ingest)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _respond(reply: Reply) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="callpulse"'} if reply.status == 401 else None
    return web.Response(status=reply.status, body=reply.encode(), content_type="application/json", headers=headers)


async def _read_body(request: web.Request, limits: Limits) -> bytes | Reply:
    """The (decompressed) body, or a refusal once it passes the limit or cannot be decompressed."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > limits.max_body_bytes:
                return body_too_large(limits, None)  # a chunked or compressed body declares no (true) length
            chunks.append(chunk)
    except web.RequestPayloadError as exc:
        return problem(400, "invalid_json", "the body cannot be read: " + " ".join(str(exc).split()))
    return b"".join(chunks)


async def _take_events(request: web.Request, ingest: _Ingest, stream: Stream) -> Reply:
    limits = ingest.limits
    refusal = check_headers(request.headers.get("Content-Type"), request.content_length, limits)
    if refusal is not None:
        return refusal
    body = await _read_body(request, limits)
    if isinstance(body, Reply):
        return body
    refusal = ingest.auth.check_signature(request.headers, body, time.time())
    if refusal is not None:
        return refusal
    events = parse_body(body, limits)
    if isinstance(events, Reply):
        return events
    records = validate_events(events, stream)
    if isinstance(records, Reply):
        return records
    try:
        await ingest.publisher.publish(ingest.topics[stream], records)
    except PublishError as exc:
        log.warning("%d %s events not acknowledged: %s", len(records), stream.value, exc)
        return unavailable(exc.code, exc.detail)
    return accepted(len(records))


def _events_handler(stream: Stream) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        ingest = request.app[_INGEST]
        reply = ingest.auth.check_token(request.headers.get("Authorization"))
        if reply is None:
            reply = await _take_events(request, ingest, stream)
        if 400 <= reply.status < 500:  # 503s are logged where Kafka failed
            log.info("refused %s %s: %d %s", request.method, request.path, reply.status, reply.body.get("error"))
        return _respond(reply)

    return handle


async def _health(request: web.Request) -> web.StreamResponse:
    return _respond(health(await request.app[_INGEST].publisher.trouble()))


def make_app(
    publisher: KafkaPublisher, topics: Mapping[Stream, str], limits: Limits, auth: IngestAuth | None = None
) -> web.Application:
    """The aiohttp application; stopping it (on_cleanup) flushes and stops ``publisher``. ``/health`` is open."""
    app = web.Application(client_max_size=limits.max_body_bytes)
    app[_INGEST] = _Ingest(publisher, dict(topics), limits, auth or IngestAuth())
    handlers: dict[str, Handler] = {
        CONTACT_EVENTS: _events_handler(Stream.CONTACTS),
        AGENT_EVENTS: _events_handler(Stream.AGENTS),
        HEALTH: _health,
    }
    for route in ROUTES:
        app.router.add_route(route.method, route.path, handlers[route.path])

    async def stop_publisher(_app: web.Application) -> None:
        await publisher.stop()

    app.on_cleanup.append(stop_publisher)
    return app


async def serve(options: IngestOptions, publisher: KafkaPublisher, topics: Mapping[Stream, str]) -> None:
    """Start the producer, serve until SIGINT/SIGTERM, then finish requests in flight and flush the producer."""
    await publisher.start()
    runner = web.AppRunner(
        make_app(publisher, topics, options.limits, options.auth), shutdown_timeout=options.send_timeout_seconds + 1
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await runner.setup()
    try:
        await web.TCPSite(runner, options.host, options.port, ssl_context=options.tls).start()
        host, port = runner.addresses[0][:2]
        log.info(
            "ingest serving %s://%s:%d (POST %s, POST %s, GET %s; %s); producer idempotent: %s",
            "http" if options.tls is None else "https",
            host,
            port,
            CONTACT_EVENTS,
            AGENT_EVENTS,
            HEALTH,
            options.auth.describe(),
            publisher.idempotent,
        )
        await stop.wait()
        log.info("ingest stopping: finishing the requests in flight, then flushing the producer")
    finally:
        await runner.cleanup()


def run_ingest_http(settings: Settings, options: IngestOptions) -> int:
    """The ``callpulse ingest-http`` command: 0 after a clean stop, 2 when it cannot start."""
    from callpulse.kafka_security import KafkaSecurity
    from exporters.access import server_tls_context

    security = KafkaSecurity.from_settings(settings).client_kwargs()
    try:
        preflight.check_kafka(settings.kafka_bootstrap, **security)
    except preflight.Unreachable as exc:
        log.error("%s", exc)
        return 2
    from streams.topics import ensure_topics

    topics = {Stream.CONTACTS: settings.contacts_topic, Stream.AGENTS: settings.agents_topic}
    ensure_topics(settings.kafka_bootstrap, list(topics.values()), partitions=settings.topic_partitions, **security)
    publisher = KafkaPublisher(
        settings.kafka_bootstrap,
        idempotence=options.idempotence,
        timeout_seconds=options.send_timeout_seconds,
        client_kwargs=security,
    )
    tls = None
    if settings.ingest_tls_cert_file:
        tls = server_tls_context(settings.ingest_tls_cert_file, settings.ingest_tls_key_file)
    options = replace(options, auth=IngestAuth.from_settings(settings), tls=tls)
    try:
        asyncio.run(serve(options, publisher, topics))
    except KafkaError as exc:
        log.error(
            "cannot start the Kafka producer at %s: %r. Check CALLPULSE_KAFKA_BOOTSTRAP, or use --idempotence auto "
            "when the broker grants no producer id.",
            settings.kafka_bootstrap,
            exc,
        )
        return 2
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s. Choose another --host or --port.", options.host, options.port, exc)
        return 2
    log.info("ingest stopped")
    return 0
