"""HTTP ingest, the Kafka side: one aiokafka producer (acks from all in-sync replicas) shared by requests.

``publish`` returns only once Kafka acknowledged every record, or raises ``PublishError`` saying why not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError

from callpulse.batching import BatchPacker
from callpulse.ingest_http_checks import Record

log = logging.getLogger(__name__)


class Idempotence(StrEnum):
    """``auto``: idempotent when the broker grants a producer id (Tansu 0.6.0 does not), else plain."""

    AUTO = "auto"
    ON = "on"
    OFF = "off"


class PublishError(Exception):
    """Kafka did not acknowledge every record: ``code`` is ``kafka_unavailable`` or ``kafka_timeout``."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def _failure(future: asyncio.Future[Any]) -> BaseException | None:
    """Why a finished send failed (None: stored). Reading it also stops asyncio logging 'never retrieved'."""
    return asyncio.CancelledError("the send was cancelled") if future.cancelled() else future.exception()


class KafkaPublisher:
    """Creates its producer in ``start`` (inside the event loop); safe to ``stop`` when never started."""

    def __init__(
        self,
        bootstrap: str,
        *,
        idempotence: Idempotence,
        timeout_seconds: float,
        linger_ms: int = 5,
        client_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.client_kwargs = client_kwargs or {}  # SASL/TLS: KafkaSecurity.client_kwargs
        self.idempotence = idempotence
        self.timeout_seconds = timeout_seconds
        self.linger_ms = linger_ms
        self.idempotent = False
        self._producer: Any = None

    def _new_producer(self, *, idempotent: bool) -> Any:
        return AIOKafkaProducer(
            bootstrap_servers=self.bootstrap.split(","),
            acks="all",
            enable_idempotence=idempotent,
            linger_ms=self.linger_ms,
            request_timeout_ms=max(1000, int(self.timeout_seconds * 1000)),
            **self.client_kwargs,
        )

    async def start(self) -> None:
        """Connect; raise ``KafkaError`` when the broker does not answer (or refuses ``--idempotence on``)."""
        if self.idempotence is not Idempotence.OFF:
            producer = self._new_producer(idempotent=True)
            try:
                await producer.start()
            except KafkaError as exc:
                await producer.stop()
                if self.idempotence is Idempotence.ON or isinstance(exc, KafkaConnectionError):
                    raise
                log.warning(
                    "Kafka at %s grants no idempotent producer (%r); producing without idempotence: a retried "
                    "send may write an event twice, which the worker drops by event_id",
                    self.bootstrap,
                    exc,
                )
            else:
                self._producer, self.idempotent = producer, True
                return
        producer = self._new_producer(idempotent=False)
        try:
            await producer.start()
        except KafkaError:
            await producer.stop()
            raise
        self._producer = producer

    async def stop(self) -> None:
        """Flush what is pending (up to the send timeout) and close."""
        producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            async with asyncio.timeout(self.timeout_seconds):
                await producer.flush()
        except (KafkaError, TimeoutError) as exc:
            log.warning("could not flush every pending event before stopping: %r", exc)
        else:
            log.info("Kafka producer flushed")
        await producer.stop()
        log.info("Kafka producer stopped")

    async def publish(self, topic: str, records: Sequence[Record]) -> None:
        """Produce ``records`` (packed into batch records, one per partition, order kept within each) and
        wait for every acknowledgement, within the send timeout."""
        if not records:
            return
        producer = self._producer
        if producer is None:
            raise PublishError("kafka_unavailable", "the Kafka producer is not running (starting or stopping)")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_seconds
        futures: list[asyncio.Future[Any]] = []
        try:
            async with asyncio.timeout_at(deadline):  # send() waits for topic metadata when Kafka is away
                packer = BatchPacker(len(await producer.partitions_for(topic)))  # one record per partition
                packed = [out for record in records for out in packer.add(record.key, record.value)]
                for out in [*packed, *packer.drain()]:
                    futures.append(await producer.send(topic, value=out.value, key=out.key, partition=out.partition))
        except (TimeoutError, KafkaTimeoutError):
            raise self._timeout(topic, len(records)) from None
        except KafkaError as exc:
            raise PublishError("kafka_unavailable", f"Kafka at {self.bootstrap} refused the events: {exc!r}") from None
        finally:
            for future in futures:
                future.add_done_callback(_failure)
        done, pending = await asyncio.wait(futures, timeout=max(0.0, deadline - loop.time()))
        if pending:
            raise self._timeout(topic, len(pending))
        failures = [error for future in done if (error := _failure(future)) is not None]
        if failures:
            raise PublishError(
                "kafka_unavailable",
                f"Kafka at {self.bootstrap} did not store {len(failures)} of {len(records)} events: {failures[0]!r}",
            )

    def _timeout(self, topic: str, count: int) -> PublishError:
        return PublishError(
            "kafka_timeout",
            f"Kafka at {self.bootstrap} did not acknowledge {count} events on {topic} "
            f"within {self.timeout_seconds:g} s",
        )

    async def trouble(self) -> str | None:
        """None when the producer runs and the broker answers a metadata request, else why not."""
        producer = self._producer
        if producer is None:
            return "the Kafka producer is not running (starting or stopping)"
        try:
            async with asyncio.timeout(min(self.timeout_seconds, 5.0)):
                await producer.client.fetch_all_metadata()
        except (KafkaError, TimeoutError) as exc:
            return f"Kafka at {self.bootstrap} does not answer metadata requests: {exc!r}"
        return None
