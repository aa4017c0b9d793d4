"""The embedded Kafka (Tansu) and Redis (Valkey) servers answer real clients and stop cleanly."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from callpulse.embedded import ManagedServer, ServerStartError, start_kafka, start_redis, wait_until

pytestmark = pytest.mark.integration


def _port_accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_kafka_produce_consume_round_trip(kafka_server: ManagedServer, unique_name: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=kafka_server.url)
    try:
        admin.create_topics([NewTopic(unique_name, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=kafka_server.url)
    try:
        producer.send(unique_name, key=b"contact-1", value=b'{"type": "queued"}').get(timeout=10)
    finally:
        producer.close()

    consumer = KafkaConsumer(bootstrap_servers=kafka_server.url, auto_offset_reset="earliest")
    received: list[tuple[bytes | None, bytes | None]] = []
    try:
        consumer.assign([TopicPartition(unique_name, 0)])

        def got_one() -> bool:
            for records in consumer.poll(timeout_ms=200).values():
                received.extend((record.key, record.value) for record in records)
            return bool(received)

        wait_until(got_one, timeout=15, what=f"a record on topic {unique_name}")
    finally:
        consumer.close()
    assert received == [(b"contact-1", b'{"type": "queued"}')]


def test_redis_set_get(redis_client: redis.Redis) -> None:
    assert redis_client.set(b"callpulse:probe", b"\x00\xffvalue") is True
    assert redis_client.get(b"callpulse:probe") == b"\x00\xffvalue"


def test_redis_client_starts_empty(redis_client: redis.Redis) -> None:
    assert redis_client.dbsize() == 0


@pytest.mark.parametrize("start", [start_kafka, start_redis], ids=["kafka", "redis"])
def test_stop_leaves_no_process(start: Callable[[], ManagedServer]) -> None:
    server = start()
    workdir = server.owned_dir
    assert server.process.poll() is None
    assert _port_accepts(server.port)
    server.stop(timeout=10)
    assert server.process.poll() is not None
    assert not _port_accepts(server.port)
    assert workdir is not None
    assert not workdir.exists()
    server.stop()  # idempotent


def test_context_manager_stops_server(tmp_path: Path) -> None:
    with start_redis(log_dir=tmp_path) as server:
        assert redis.Redis.from_url(server.url).ping() is True
    assert server.process.poll() is not None
    assert server.log_path.is_file()  # the caller's log dir is kept


def test_start_on_taken_port_reports_log_tail(kafka_server: ManagedServer, tmp_path: Path) -> None:
    with pytest.raises(ServerStartError, match=r"redis did not start: exited with code") as caught:
        start_redis(port=kafka_server.port, log_dir=tmp_path)
    assert str(tmp_path) in str(caught.value)
    assert "Address already in use" in str(caught.value)


def test_wait_until_names_what_timed_out() -> None:
    with pytest.raises(TimeoutError, match="the impossible"):
        wait_until(lambda: False, timeout=0.2, interval=0.05, what="the impossible")
