"""Kafka over TLS from the settings: every client kind callpulse uses (kafka-python admin for the preflight and
topic creation, the aiokafka producer of the HTTP ingest, a kafka-python consumer as the recompute reads), on a
broker reachable only through TLS. SASL cannot be tested here: Tansu 0.6.0 keeps no SCRAM credentials (see
tests/fixtures/secure_servers.py); its mapping is unit-tested in tests/unit/test_security.py."""

from __future__ import annotations

import asyncio

import pytest

from callpulse import preflight
from callpulse.ingest_http_checks import Record
from callpulse.ingest_http_kafka import Idempotence, KafkaPublisher
from callpulse.kafka_security import KafkaSecurity
from callpulse.recompute_sources import read_kafka
from callpulse.settings import Settings
from fixtures.secure_servers import TlsKafka
from fixtures.tls import TlsFiles
from streams.topics import ensure_topics

pytestmark = pytest.mark.integration


def _security(tls_kafka: TlsKafka, ca: str) -> KafkaSecurity:
    settings = Settings(kafka_bootstrap=tls_kafka.bootstrap, kafka_security_protocol="SSL", kafka_ssl_ca_file=ca)
    return KafkaSecurity.from_settings(settings)


def test_produce_and_read_back_over_tls(tls_kafka: TlsKafka, unique_name: str) -> None:
    kwargs = _security(tls_kafka, str(tls_kafka.ca_file)).client_kwargs()
    preflight.check_kafka(tls_kafka.bootstrap, **kwargs)
    topic = f"{unique_name}.contacts"
    assert ensure_topics(tls_kafka.bootstrap, [topic], partitions=1, **kwargs) == [topic]

    async def publish() -> None:
        publisher = KafkaPublisher(
            tls_kafka.bootstrap, idempotence=Idempotence.OFF, timeout_seconds=20, client_kwargs=kwargs
        )
        await publisher.start()
        try:
            await publisher.publish(topic, [Record(key=b"call-1", value=b'{"n": 1}')])
        finally:
            await publisher.stop()

    asyncio.run(publish())
    batches = list(
        read_kafka(tls_kafka.bootstrap, {"contacts": topic, "agents": topic}, batch_size=10, idle_seconds=2,
                   client_kwargs=kwargs)
    )  # fmt: skip
    assert [(key, value) for batch in batches for _offset, key, value in batch.records][:1] == [
        (b"call-1", b'{"n": 1}')
    ]


def test_a_broker_our_ca_did_not_sign_is_refused(tls_kafka: TlsKafka, tls_files: TlsFiles) -> None:
    kwargs = _security(tls_kafka, str(tls_files.other_ca)).client_kwargs()
    with pytest.raises(preflight.Unreachable, match="CALLPULSE_KAFKA_SECURITY_PROTOCOL"):
        preflight.check_kafka(tls_kafka.bootstrap, timeout_seconds=3, **kwargs)


def test_plaintext_to_a_tls_listener_is_refused(tls_kafka: TlsKafka) -> None:
    with pytest.raises(preflight.Unreachable):
        preflight.check_kafka(tls_kafka.bootstrap, timeout_seconds=3)
