"""The whole pipeline with security on: Kafka only over TLS (the worker's Faust app, the ingest's producer,
topic creation), Redis with an ACL user, the exporter over HTTPS with basic auth, the ingest over HTTPS with a
bearer token and signed bodies; every secret read from a ``*_FILE``, the processes logging at DEBUG.

It checks what the operator must be able to rely on: a signed event with a customer id is counted; /metrics
refuses a scrape without the password; no secret appears in any process's log; the customer id appears
nowhere outside Kafka's input topic (not on /metrics, in a log, or in the dead-letter payload).
"""

from __future__ import annotations

import base64
import json
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from callpulse.embedded import free_port, wait_until
from callpulse.ingest_http_auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from callpulse.kafka_security import KafkaSecurity
from callpulse.recompute_sources import read_kafka
from callpulse.settings import Settings
from fixtures.pipeline import Pipeline, log_of
from fixtures.script import Script
from fixtures.secure_servers import SecureRedis, TlsKafka
from fixtures.tls import TlsFiles

pytestmark = pytest.mark.integration

SECRETS = {
    "REDIS_PASSWORD": None,  # the ACL user's, from the fixture
    "EXPORTER_AUTH_PASSWORD": "exporter-pass-Zq81",
    "INGEST_TOKENS": "ingest-token-Xk27",
    "INGEST_HMAC_SECRET": "hmac-secret-Wp55",
    "CUSTOMER_ID_SALT": "customer-salt-Vn09",
}
CUSTOMER = "+33612345678"


@dataclass
class _CredentialedRedis:
    url: str  # what the test itself reads stats with; the processes get the user and password separately


def _request(url: str, context: ssl.SSLContext, body: bytes | None = None, **headers: str) -> tuple[int, Any]:
    method = "POST" if body is not None else "GET"
    outgoing = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(outgoing, timeout=30, context=context) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def _post_signed(url: str, context: ssl.SSLContext, event: dict[str, Any]) -> int:
    body = orjson.dumps(event)
    stamp = int(time.time())
    status, answer = _request(
        url,
        context,
        body,
        **{
            "Content-Type": "application/json",
            "Authorization": f"Bearer {SECRETS['INGEST_TOKENS']}",
            TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: sign(str(SECRETS["INGEST_HMAC_SECRET"]), stamp, body),
        },
    )
    assert status == 202, answer
    return status


def test_a_secured_deployment_counts_events_and_leaks_neither_secrets_nor_customer_ids(
    tls_kafka: TlsKafka, secure_redis: SecureRedis, tls_files: TlsFiles, unique_name: str, tmp_path: Path
) -> None:
    secrets = {**SECRETS, "REDIS_PASSWORD": secure_redis.password}
    env = {
        "CALLPULSE_REDIS_URL": secure_redis.url,
        "CALLPULSE_REDIS_USERNAME": secure_redis.username,
        "CALLPULSE_KAFKA_SECURITY_PROTOCOL": "SSL",
        "CALLPULSE_KAFKA_SSL_CA_FILE": str(tls_files.ca),
        "CALLPULSE_EXPORTER_AUTH_USERNAME": "prometheus",
        "CALLPULSE_EXPORTER_TLS_CERT_FILE": str(tls_files.server_cert),
        "CALLPULSE_EXPORTER_TLS_KEY_FILE": str(tls_files.server_key),
        "CALLPULSE_INGEST_TLS_CERT_FILE": str(tls_files.server_cert),
        "CALLPULSE_INGEST_TLS_KEY_FILE": str(tls_files.server_key),
        "CALLPULSE_LOG_LEVEL": "DEBUG",
    }
    for name, value in secrets.items():
        path = tmp_path / name.lower()
        path.write_text(f"{value}\n")
        env[f"CALLPULSE_{name}_FILE"] = str(path)
    credentialed = _CredentialedRedis(
        f"redis://{secure_redis.username}:{secure_redis.password}@127.0.0.1:{secure_redis.port}/0"
    )
    pipeline = Pipeline(unique_name, tls_kafka, credentialed, tmp_path, partitions=2, extra_env=env)  # type: ignore[arg-type]
    trusted = tls_files.client_context()
    try:
        worker = pipeline.start_worker()
        exporter_port, ingest_port = free_port(), free_port()
        exporter = pipeline.start("exporter", CALLPULSE_EXPORTER_PORT=str(exporter_port))
        ingest = pipeline.start("ingest-http", "--port", str(ingest_port))
        exporter_url, ingest_url = f"https://127.0.0.1:{exporter_port}", f"https://127.0.0.1:{ingest_port}"
        for process, url in ((exporter, exporter_url), (ingest, ingest_url)):
            wait_until(
                lambda p=process, u=url: _request(f"{u}/health", trusted)[0] == 200 or p.poll() is not None,
                60,
                0.1,
                f"{url}/health",
            )
            assert process.poll() is None, log_of(process)

        script = Script(int(time.time() * 1000) - 30_000)
        script.contact(0, "queued", "call-1", customer_id=CUSTOMER)
        script.contact(1, "queued", "call-1", customer_id=CUSTOMER)  # same contact queued twice: dead-lettered
        for _stream, _key, event in script.events:
            _post_signed(f"{ingest_url}/v1/contact-events", trusted, event)
        pipeline.wait_for_records(2, watch=[worker])

        assert _request(f"{exporter_url}/metrics", trusted)[0] == 401
        wrong = "Basic " + base64.b64encode(b"prometheus:nope").decode()
        assert _request(f"{exporter_url}/metrics", trusted, Authorization=wrong)[0] == 401
        good = "Basic " + base64.b64encode(f"prometheus:{secrets['EXPORTER_AUTH_PASSWORD']}".encode()).decode()
        status, metrics = _request(f"{exporter_url}/metrics", trusted, Authorization=good)
        assert status == 200
        assert b'callpulse_queue_waiting_contacts{channel="voice",queue="support",tenant="acme"} 1.0' in metrics

        security = KafkaSecurity.from_settings(
            Settings(kafka_security_protocol="SSL", kafka_ssl_ca_file=str(tls_files.ca))
        )
        letters = [
            json.loads(value)
            for batch in read_kafka(
                tls_kafka.bootstrap,
                {"contacts": pipeline.dead_letter_topic},
                batch_size=10,
                idle_seconds=2,
                client_kwargs=security.client_kwargs(),
            )
            for _offset, _key, value in batch.records
        ]
        assert [letter["reason"] for letter in letters] == ["conflicting_event"]
        assert CUSTOMER not in letters[0]["payload"] and "[redacted]" in letters[0]["payload"]
        assert CUSTOMER.encode() not in metrics
    finally:
        pipeline.stop_all()

    logs = {path.name: path.read_text(errors="replace") for path in tmp_path.glob("*.log")}
    assert {name.split("-")[0] for name in logs} >= {"worker", "exporter", "ingest"}
    assert "DEBUG" in logs[next(name for name in logs if name.startswith("worker"))]
    for name, text in logs.items():
        for secret in secrets.values():
            assert str(secret) not in text, f"a secret is in {name}"
        assert CUSTOMER not in text, f"the customer id is in {name}"
