"""The Faust app: topics, the two agents, the Redis store and dead-letter sending. Thin wiring only."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, tzinfo
from typing import Any

import faust
from faust.types import TP
from redis.asyncio import Redis

from processors.batch import DeadLetter
from processors.figures import KpiPolicy
from streams import dead_letter
from streams.applier import BatchApplier, group_by_partition
from streams.fetch_wait import use_fetch_wait
from streams.idle import IdleNotice
from streams.recovery import Recovery
from streams.recovery_kafka import FaustConsumer
from streams.redis_keys import Stream
from streams.store import PartitionStore, bucket_ttl_seconds

log = logging.getLogger(__name__)
RECOVERY_CHECK_SECONDS = 2.0
IDLE_CHECK_SECONDS = 0.5


def create_app(
    *,
    app_id: str,
    broker_url: str,
    redis_url: str,
    redis_prefix: str,
    contacts_topic: str,
    agents_topic: str,
    dead_letter_topic: str,
    customers_topic: str,
    topic_partitions: int,
    policy: KpiPolicy,
    longest_window_seconds: int,
    batch_max_records: int,
    batch_within_seconds: float,
    batch_max_bytes: int,
    broker_session_timeout_seconds: float,
    broker_rebalance_timeout_seconds: float,
    fetch_max_wait_seconds: float = 0.1,
    interval_ms: int = 900_000,
    interval_retention_days: int = 7,
    zone: tzinfo = UTC,
    broker_credentials: Any = None,
    redis_options: dict[str, Any] | None = None,
    dead_letter_personal_data: bool = False,
    on_idle: Callable[[], object] | None = None,
) -> faust.App:
    """Build the worker app; nothing connects until the Faust worker starts it.

    ``broker_credentials``: Faust SASL/SSL credentials; ``redis_options``: Redis AUTH/TLS keyword arguments;
    ``on_idle``: called once each time the worker goes quiet (no batch for ``IDLE_CHECK_SECONDS``)."""
    app = faust.App(
        app_id,
        broker=broker_url,
        store="memory://",
        value_serializer="raw",
        key_serializer="raw",
        topic_partitions=topic_partitions,
        web_enabled=False,
        datadir=os.path.join(tempfile.gettempdir(), f"callpulse-{app_id}-{os.getpid()}"),
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=broker_session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, broker_session_timeout_seconds / 3),
        broker_rebalance_timeout=broker_rebalance_timeout_seconds,
        producer_acks=-1,
        # records fetched ahead per agent: one batch (Faust's 4,096 could hold 40M events of batch records)
        stream_buffer_maxsize=max(batch_max_records, 64),
        broker_credentials=broker_credentials,
    )
    topics: dict[Stream, Any] = {
        "contacts": app.topic(contacts_topic, key_type=bytes, value_type=bytes, partitions=topic_partitions),
        "agents": app.topic(agents_topic, key_type=bytes, value_type=bytes, partitions=topic_partitions),
        "customers": app.topic(customers_topic, key_type=bytes, value_type=bytes, partitions=topic_partitions),
    }
    dead_topic = app.topic(dead_letter_topic, key_type=bytes, value_type=bytes, partitions=topic_partitions)
    bucket_ttl = bucket_ttl_seconds(longest_window_seconds, policy)
    store = PartitionStore(
        # a hung Redis must not stall the worker forever: calls time out and the applier retries them
        Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=30, **(redis_options or {})),
        prefix=redis_prefix,
        bucket_ttl_seconds=bucket_ttl,
        interval_ms=interval_ms,
        interval_ttl_seconds=interval_retention_days * 86_400,
        zone=zone,
    )

    async def send_dead_letters(stream: Stream, partition: int, letters: list[DeadLetter]) -> None:
        now_ms = int(time.time() * 1000)
        pending = [
            await dead_topic.send(
                key=letter.key,
                value=dead_letter.envelope(
                    letter,
                    topic=topics[stream].get_topic_name(),
                    partition=partition,
                    rejected_at_ms=now_ms,
                    personal_data=dead_letter_personal_data,
                ),
                headers=dead_letter.headers(letter),
            )
            for letter in letters
        ]
        for future in pending:
            await future  # the broker acknowledged it

    async def send_forwards(records: list[tuple[bytes, bytes]]) -> None:
        pending = [await topics["customers"].send(key=key, value=value) for key, value in records]
        for future in pending:
            await future

    consumer = FaustConsumer(app, {stream: topic.get_topic_name() for stream, topic in topics.items()})
    recovery = Recovery(store.redis, prefix=redis_prefix, consumer=consumer)
    app.timer(RECOVERY_CHECK_SECONDS)(recovery.check)
    applier = BatchApplier(
        store, policy, send_dead_letters, send_forwards=send_forwards, recovery=recovery, max_bytes=batch_max_bytes
    )
    streams_by_topic = {topic.get_topic_name(): stream for stream, topic in topics.items()}
    if on_idle is not None:
        idle = IdleNotice(on_idle)

        async def check_idle() -> None:
            idle.check(applier.batches_applied)

        app.timer(IDLE_CHECK_SECONDS)(check_idle)

    def make_agent(stream: Stream) -> Any:
        async def consume(events_stream: faust.StreamT[bytes]) -> None:
            assert isinstance(events_stream, faust.Stream)  # StreamT does not declare take_events
            async for events in events_stream.take_events(batch_max_records, within=batch_within_seconds):
                await applier.apply(stream, group_by_partition(events))
                # the batch's records (up to ``batch_max_records`` of up to 1 MiB each) are not kept while the
                # next batch is awaited: an idle worker held its last batch, ~15 MB in the benchmark
                del events

        consume.__name__ = f"apply_{stream}"
        return app.agent(topics[stream], name=f"callpulse.apply_{stream}")(consume)

    app.callpulse_agents = [make_agent(stream) for stream in topics]  # type: ignore[attr-defined]
    use_fetch_wait(app, fetch_max_wait_seconds)

    async def on_revoked(sender: faust.App, revoked: set[TP], **_: Any) -> None:
        for tp in revoked:
            stream = streams_by_topic.get(tp.topic)
            if stream is not None:
                applier.forget(stream, tp.partition)
                recovery.forget(stream, tp.partition)

    app.on_partitions_revoked.connect(on_revoked)  # type: ignore[arg-type]

    return app
