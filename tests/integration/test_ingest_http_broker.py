"""HTTP ingest against the real broker: `callpulse ingest-http` as a process, real requests, real topics.

What a 202 acknowledged is stored and counted by the worker; a refused request (400/413/415) leaves nothing
on the topic; a broker that goes away gives 503 and an unhealthy /health; SIGTERM stops it cleanly. Topics
are read from the beginning until idle, never by end offsets (Tansu 0.6.0 reports them wrongly for batches).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer

from callpulse.batching import partition_for
from callpulse.embedded import free_port, start_kafka, wait_until
from fixtures.pipeline import Pipeline, log_of
from fixtures.script import Script
from processors.records import split_record

pytestmark = pytest.mark.integration

JSON = "application/json"


def request(url: str, body: bytes | None = None, content_type: str = JSON) -> tuple[int, Any]:
    """(status, JSON body) of a POST (with ``body``) or GET."""
    headers = {"Content-Type": content_type} if body is not None else {}
    outgoing = urllib.request.Request(url, data=body, headers=headers, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(outgoing, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _health(url: str) -> int:
    try:
        return request(f"{url}/health")[0]
    except OSError:
        return 0


def start_ingest(pipeline: Pipeline, *args: str, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = pipeline.start("ingest-http", "--port", str(port), *args, **env)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _health(url) == 200 or process.poll() is not None, 60, 0.1, "the ingest server's /health")
    assert process.poll() is None, log_of(process)
    return process, url


def stop(process: subprocess.Popen[bytes]) -> str:
    """SIGTERM, expect a clean exit, return the log."""
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0, log_of(process)
    return log_of(process)


def read_topic(bootstrap: str, topic: str, *, at_least: int, idle_seconds: float = 2.0) -> list[tuple[int, bytes]]:
    """Every (partition, event) of ``topic`` from the beginning, batch records opened: once ``at_least`` came,
    until nothing new for a while."""
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None, enable_auto_commit=False
    )
    records: list[tuple[int, bytes]] = []
    deadline = time.monotonic() + 60
    last_new = time.monotonic()
    try:
        while time.monotonic() < deadline:
            batches = consumer.poll(timeout_ms=200)
            for batch in batches.values():
                for message in batch:
                    elements = split_record(message.value)
                    assert isinstance(elements, list), elements
                    records += [(message.partition, element) for _index, element in elements]
                last_new = time.monotonic()
            if len(records) >= at_least and time.monotonic() - last_new >= idle_seconds:
                break
    finally:
        consumer.close()
    return records


def test_acknowledged_events_are_all_counted_by_the_worker(pipeline: Pipeline) -> None:
    worker = pipeline.start_worker()
    ingest, url = start_ingest(pipeline)
    script = Script(int(time.time() * 1000) - 120_000)
    script.agent(0, "available", "a1")
    for n in range(10):
        script.contact(n, "queued", f"c{n}")
        script.contact(n + 8, "answered", f"c{n}", agent_id="a1")
    script.agent(30, "aux", "a1", reason="lunch")
    contacts = [event for stream, _key, event in script.events if stream == "contacts"]
    agents = [event for stream, _key, event in script.events if stream == "agents"]

    started = time.monotonic()
    assert request(f"{url}/v1/contact-events", orjson.dumps(contacts[:-1])) == (202, {"accepted": 19})
    assert request(f"{url}/v1/contact-events", orjson.dumps(contacts[-1])) == (202, {"accepted": 1})  # one event
    assert request(f"{url}/v1/agent-events", orjson.dumps(agents)) == (202, {"accepted": 2})
    acknowledged = time.monotonic() - started

    pipeline.wait_for_records(22, watch=[worker, ingest])
    stats = pipeline.stats()
    assert stats.get("contacts:applied") == 20, stats
    assert stats.get("agents:applied") == 2, stats
    assert not [key for key in stats if ":dead_letter:" in key], stats
    assert acknowledged < 10, f"3 requests took {acknowledged:.1f} s"
    assert "Kafka producer flushed" in stop(ingest)


def test_refused_requests_send_nothing_to_the_topic(pipeline: Pipeline) -> None:
    ingest, url = start_ingest(pipeline, "--max-body-bytes", "20000", "--max-batch-events", "10")
    script = Script(int(time.time() * 1000) - 60_000)
    for n in range(6):
        script.contact(n, "queued", f"c{n}")
    good = [event for _stream, _key, event in script.events]
    endpoint = f"{url}/v1/contact-events"

    one_bad = [*good[:2], good[2] | {"queue": 5}, *good[3:]]
    status, body = request(endpoint, orjson.dumps(one_bad))
    assert (status, body["error"]) == (400, "invalid_events"), body
    assert body["errors"] == [{"index": 2, "reason": "wrong_type", "detail": "field 'queue' must be a string, got int"}]

    agent_event = good[0] | {"type": "available", "agent_id": "a1"}
    status, body = request(endpoint, orjson.dumps([good[0], agent_event]))
    assert (status, [(error["index"], error["reason"]) for error in body["errors"]]) == (
        400,
        [(1, "unknown_event_type")],
    )
    refusals = [
        (orjson.dumps(good)[:-5], JSON, 400, "invalid_json"),
        (b"[]", JSON, 400, "empty_batch"),
        (orjson.dumps([event | {"x_pad": "x" * 4000} for event in good]), JSON, 413, "body_too_large"),
        (orjson.dumps(good + good), JSON, 413, "too_many_events"),
        (orjson.dumps(good), "text/plain", 415, "unsupported_media_type"),
        (orjson.dumps(good), "application/json; charset=latin-1", 415, "unsupported_media_type"),
    ]
    for raw, content_type, expected_status, error in refusals:
        status, body = request(endpoint, raw, content_type)
        assert (status, body["error"]) == (expected_status, error), body
        assert body["detail"]

    assert request(endpoint, orjson.dumps(good)) == (202, {"accepted": 6})
    stored = read_topic(pipeline.kafka.url, pipeline.contacts_topic, at_least=6)
    assert sorted(value for _partition, value in stored) == sorted(orjson.dumps(event) for event in good)
    for partition, value in stored:  # each event in the partition its key hashes to, as if sent alone
        assert partition == partition_for(orjson.loads(value)["contact_id"].encode(), pipeline.partitions)
    assert ingest.poll() is None, log_of(ingest)


def test_a_broker_that_goes_away_gives_503_and_health_says_so(pipeline: Pipeline, tmp_path: Path) -> None:
    event = {
        "schema_version": 1,
        "event_id": "e-1",
        "event_time": "2026-11-23T09:00:00Z",
        "type": "queued",
        "tenant": "acme",
        "queue": "support",
        "channel": "voice",
        "contact_id": "c-1",
    }
    with start_kafka(log_dir=tmp_path / "kafka") as broker:
        ingest, url = start_ingest(pipeline, "--send-timeout", "2", CALLPULSE_KAFKA_BOOTSTRAP=broker.url)
        assert request(f"{url}/v1/contact-events", orjson.dumps(event)) == (202, {"accepted": 1})
        broker.stop()
        started = time.monotonic()
        status, body = request(f"{url}/v1/contact-events", orjson.dumps(event | {"event_id": "e-2"}))
        waited = time.monotonic() - started
        assert status == 503, body
        assert body["error"] in {"kafka_timeout", "kafka_unavailable"}
        assert "resend" in body["detail"]
        assert waited < 10, f"the 503 took {waited:.1f} s with --send-timeout 2"
        status, body = request(f"{url}/health")
        assert (status, body["status"]) == (503, "unavailable"), body
        stop(ingest)


def test_it_refuses_to_start_without_kafka(pipeline: Pipeline) -> None:
    process = pipeline.start(
        "ingest-http", "--port", str(free_port()), CALLPULSE_KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}"
    )
    assert process.wait(60) == 2, log_of(process)
    assert "cannot reach Kafka" in log_of(process)
