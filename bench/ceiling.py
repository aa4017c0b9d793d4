"""The ceiling: how fast plain aiokafka can fetch the topics and decode every record with the worker's decoder.

No consumer group: the consumer is assigned every partition of both topics and starts at the beginning.
It stops when it has decoded as many events as we produced (our own count, never the broker's offsets).
The rate counts from the fetch that brought the first records to the last record decoded. The garbage
collector is set as the worker sets its own (``callpulse.gc_tuning``), so both run on the same runtime.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.compat import decoder_name, record_decoder
from bench.stack import BenchError
from callpulse.gc_tuning import tune_gc
from callpulse.settings import load_settings
from processors.events import Rejection


@dataclass
class Ceiling:
    events: int
    records: int
    rejected: int
    seconds: float
    events_per_second: float
    decoder: str
    gc_gen0_threshold: int = 0  # the worker's setting, used here too (0: Python's defaults)

    def as_json(self) -> dict[str, object]:
        return dict(vars(self))


async def measure_ceiling(
    bootstrap: str, topics: dict[str, str], partitions: int, expected_events: int, timeout: float
) -> Ceiling:
    """Consume and decode until ``expected_events`` events are decoded; raise BenchError after ``timeout`` s."""
    with _worker_gc() as gen0_threshold:
        ceiling = await _consume(bootstrap, topics, partitions, expected_events, timeout)
    ceiling.gc_gen0_threshold = gen0_threshold
    return ceiling


async def _consume(
    bootstrap: str, topics: dict[str, str], partitions: int, expected_events: int, timeout: float
) -> Ceiling:
    decode = record_decoder()
    streams = {topic: stream for stream, topic in topics.items()}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for topic in topics.values() for p in range(partitions)])
        await consumer.seek_to_beginning()
        events = records = rejected = 0
        started = time.perf_counter()
        first_at: float | None = None
        while events < expected_events:
            called = time.perf_counter()
            if called - started > timeout:
                raise BenchError(f"ceiling: decoded {events} of {expected_events} events in {timeout:g}s")
            batches = await consumer.getmany(timeout_ms=500, max_records=20_000)
            if batches and first_at is None:
                first_at = called  # the fetch that brought the first records counts
            for tp, messages in batches.items():
                for message in messages:
                    decoded = decode(streams[tp.topic], message.value)
                    records += 1
                    events += len(decoded)
                    rejected += sum(1 for item in decoded if isinstance(item, Rejection))
        seconds = time.perf_counter() - (first_at or started)
    finally:
        await consumer.stop()
    return Ceiling(events, records, rejected, seconds, events / seconds, decoder_name())


@contextmanager
def _worker_gc() -> Iterator[int]:
    """The collector as the worker sets it (from the same ``CALLPULSE_*`` settings), undone afterwards."""
    threshold = load_settings().gc_gen0_threshold
    saved = gc.get_threshold()
    tune_gc(threshold)
    try:
        yield threshold
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)
