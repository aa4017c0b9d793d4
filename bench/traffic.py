"""Simulated traffic for the benchmark: seeded, fast-forwarded to end near now, and produced with aiokafka.

Events are encoded and sent a simulated minute at a time, so a million events never sit in memory. The
same seed, size and start time give the same events.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import orjson
from aiokafka import AIOKafkaProducer

from bench.compat import OutRecord, Packer
from callpulse.simulator import (
    DEFAULT_PROFILE,
    Channel,
    QueueProfile,
    SimulatedEvent,
    TrafficModel,
    TrafficProfile,
    shaped,
)

EVENTS_PER_MINUTE_PER_SCALE = 34.0
"""Events the default profile emits per simulated minute at scale 1 (measured: 33.8 at scale 50 and 200)."""
CHUNK_MS = 60_000
CHANNELS: tuple[Channel, ...] = ("voice", "chat", "email", "social")


@dataclass
class Produced:
    """What was sent, counted by us (Tansu's end offsets are wrong for batches; never ask the broker)."""

    events: Counter[str] = field(default_factory=Counter)  # stream -> events
    records: Counter[str] = field(default_factory=Counter)  # stream -> Kafka records
    first_ms: int = 0
    last_ms: int = 0

    @property
    def total_events(self) -> int:
        return sum(self.events.values())

    def as_json(self) -> dict[str, object]:
        return {
            "events": dict(self.events),
            "records": dict(self.records),
            "total_events": self.total_events,
            "first_event_ms": self.first_ms,
            "last_event_ms": self.last_ms,
        }


def now_ms() -> int:
    return int(time.time() * 1000)


def default_model(seed: int, *, events: int, span_minutes: float, end_ms: int) -> TrafficModel:
    """A model of the default contact center scaled to emit about ``events`` in ``span_minutes`` ending ``end_ms``."""
    scale = 1.1 * events / (EVENTS_PER_MINUTE_PER_SCALE * span_minutes)
    return TrafficModel(seed, end_ms - round(span_minutes * 60_000), shaped(DEFAULT_PROFILE, scale=scale))


def queues_profile(queues: int, *, arrivals_per_minute: float) -> TrafficProfile:
    """``queues`` independent queues (names q0000.., channels in turn), each with agents for its traffic."""
    agents = max(2, math.ceil(arrivals_per_minute * 3 * 1.3) + 1)  # ~3 min per contact, 77 % busy at most
    profile = [
        QueueProfile(f"q{n:04d}", CHANNELS[n % len(CHANNELS)], arrivals_per_minute=arrivals_per_minute, agents=agents)
        for n in range(queues)
    ]
    return TrafficProfile(tenant="bench", queues=tuple(profile))


def minutes_of(model: TrafficModel, *, limit: int, until_ms: int | None = None) -> Iterator[list[SimulatedEvent]]:
    """The model's events a simulated minute at a time: exactly ``limit`` events, or fewer at ``until_ms``."""
    left = limit
    while left > 0 and (until_ms is None or model.now_ms < until_ms):
        end = model.now_ms + CHUNK_MS if until_ms is None else min(until_ms, model.now_ms + CHUNK_MS)
        chunk = model.advance_to(end)[:left]
        left -= len(chunk)
        if chunk:
            yield chunk


def producer(bootstrap: str, *, linger_ms: int = 10) -> AIOKafkaProducer:
    """A fast producer Tansu accepts: acks from all replicas, no idempotence, big batches and requests."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=linger_ms,
        max_batch_size=1024 * 1024,
        max_request_size=16 * 1024 * 1024,
    )


async def produce_minutes(
    bootstrap: str,
    topics: dict[str, str],
    partitions: int,
    chunks: Iterable[list[SimulatedEvent]],
    progress: Callable[[int], None] | None = None,
) -> Produced:
    """Encode and send every event (batched records when the checkout can), wait for every acknowledgement."""
    produced = Produced()
    packers = {stream: Packer(partitions) for stream in topics}
    kafka = producer(bootstrap)
    await kafka.start()
    try:
        pending: list[asyncio.Future[object]] = []
        for chunk in chunks:
            produced.first_ms = produced.first_ms or chunk[0].time_ms
            produced.last_ms = chunk[-1].time_ms
            for event in chunk:
                for record in packers[event.stream].add(event.key.encode(), orjson.dumps(event.event)):
                    pending.append(await _send(kafka, topics[event.stream], record, produced, event.stream))
            for stream, packer in packers.items():
                for record in packer.drain():
                    pending.append(await _send(kafka, topics[stream], record, produced, stream))
            if len(pending) > 2000:
                await asyncio.gather(*pending)
                pending.clear()
            if progress is not None:
                progress(produced.total_events)
        await asyncio.gather(*pending)
    finally:
        await kafka.stop()
    return produced


async def _send(
    kafka: AIOKafkaProducer, topic: str, record: OutRecord, produced: Produced, stream: str
) -> asyncio.Future[object]:
    produced.events[stream] += record.events
    produced.records[stream] += 1
    future: asyncio.Future[object] = await kafka.send(
        topic, key=record.key, value=record.value, partition=record.partition
    )
    return future
