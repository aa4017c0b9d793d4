"""HTTP ingest with bearer tokens and body signatures, over real HTTP (aiohttp's test server).

The publisher is never started, so a request that gets past authentication and validation answers 503: that
is how these tests see "let in" without Kafka; 202 over real Kafka is in tests/integration/test_secure_pipeline.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from callpulse.embedded import free_port
from callpulse.ingest_http import make_app
from callpulse.ingest_http_auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, IngestAuth, sign
from callpulse.ingest_http_checks import Limits, Stream
from callpulse.ingest_http_kafka import Idempotence, KafkaPublisher
from callpulse.settings import Settings

TOKEN = "tok-9d1f"
SECRET = "hmac-key-55a"
AUTH = IngestAuth.from_settings(Settings(ingest_tokens=TOKEN, ingest_hmac_secret=SECRET))  # type: ignore[arg-type]
EVENT = orjson.dumps(
    {
        "schema_version": 1,
        "event_id": "pbx1-1",
        "event_time": "2026-11-23T09:00:00Z",
        "type": "queued",
        "tenant": "demo",
        "queue": "support",
        "channel": "voice",
        "contact_id": "call-1",
    }
)


async def _post(headers: dict[str, str], body: bytes = EVENT, path: str = "/v1/contact-events") -> tuple[int, Any]:
    publisher = KafkaPublisher(f"127.0.0.1:{free_port()}", idempotence=Idempotence.OFF, timeout_seconds=1)
    app = make_app(publisher, {Stream.CONTACTS: "c", Stream.AGENTS: "a"}, Limits(), AUTH)
    async with TestClient(TestServer(app)) as client:
        method = "GET" if path == "/health" else "POST"
        response = await client.request(
            method, path, data=body, headers={"Content-Type": "application/json", **headers}
        )
        if response.status == 401:
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        return response.status, await response.json()


def post(headers: dict[str, str], body: bytes = EVENT, path: str = "/v1/contact-events") -> tuple[int, Any]:
    return asyncio.run(_post(headers, body, path))


def signed(body: bytes = EVENT, *, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    stamp = int(time.time()) if at is None else at
    return {TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: sign(secret, stamp, body)}


BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize(
    ("make_headers", "error"),
    [
        pytest.param(lambda: {}, "missing_token", id="no token"),
        pytest.param(lambda: {"Authorization": "Bearer nope", **signed()}, "invalid_token", id="wrong token"),
        pytest.param(lambda: BEARER, "missing_signature", id="no signature"),
        pytest.param(lambda: {**BEARER, **signed(secret="other")}, "invalid_signature", id="bad signature"),
        pytest.param(lambda: {**BEARER, **signed(b"{}")}, "invalid_signature", id="signature of another body"),
        pytest.param(lambda: {**BEARER, **signed(at=int(time.time()) - 3600)}, "stale_signature", id="replayed"),
    ],
)
def test_unauthenticated_or_unsigned_requests_get_401(make_headers: Callable[[], dict[str, str]], error: str) -> None:
    status, body = post(make_headers())  # signed now: the suite may run long after collection
    assert (status, body["error"]) == (401, error)
    assert body["detail"]


def test_a_known_token_and_a_good_signature_get_past_authentication() -> None:
    status, body = post({**BEARER, **signed()})
    assert status == 503 and body["error"] == "kafka_unavailable"  # authenticated and valid; Kafka is absent


def test_invalid_events_are_checked_after_authentication() -> None:
    assert post({}, b"[]")[0] == 401
    assert post({**BEARER, **signed(b"[]")}, b"[]")[1]["error"] == "empty_batch"


def test_health_stays_open() -> None:
    assert post({}, b"", "/health")[0] == 503  # no token needed; unhealthy only because Kafka is absent
