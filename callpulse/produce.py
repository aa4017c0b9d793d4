"""Producing events to Kafka: the simulator's sender (aiokafka, acks from all in-sync replicas).

Events are packed into batch records per partition (``callpulse.batching``) and flushed every
``FLUSH_SECONDS``, so the worker pays its per-record cost once per batch."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time

import orjson
from aiokafka import AIOKafkaProducer

from callpulse.batching import BatchPacker, PackedRecord
from callpulse.kafka_security import KafkaSecurity
from callpulse.settings import Settings
from callpulse.simulator import DEFAULT_PROFILE, SimulatedEvent, Stream, TrafficModel, run_simulation, shaped

log = logging.getLogger(__name__)
FLUSH_SECONDS = 0.05


async def simulate_to_kafka(
    settings: Settings,
    *,
    scale: float,
    day_curve: bool = False,
    seed: int,
    speed: float,
    warm_start_seconds: int,
    duration: float | None,
    batch_events: int = 500,
) -> int:
    """Run the simulator until SIGINT/SIGTERM or ``duration`` seconds, then close the simulated center;
    return the number of events sent."""
    topics: dict[Stream, str] = {"contacts": settings.contacts_topic, "agents": settings.agents_topic}
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        linger_ms=5,
        **KafkaSecurity.from_settings(settings).client_kwargs(),
    )
    await producer.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)
    pending: list[asyncio.Future[object]] = []
    packers = {
        stream: BatchPacker(len(await producer.partitions_for(topic)), max_events=batch_events)
        for stream, topic in topics.items()
    }

    async def ship(stream: Stream, records: list[PackedRecord]) -> None:
        for record in records:
            pending.append(
                await producer.send(topics[stream], key=record.key, value=record.value, partition=record.partition)
            )
        if len(pending) >= 100:
            await asyncio.gather(*pending)
            pending.clear()

    async def send(event: SimulatedEvent) -> None:
        await ship(event.stream, packers[event.stream].add(event.key.encode(), orjson.dumps(event.event)))

    async def flush() -> None:
        for stream, packer in packers.items():
            await ship(stream, packer.drain())

    async def flush_every_while() -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            await flush()

    model = TrafficModel.warm_started(
        seed, int(time.time() * 1000), warm_start_seconds, shaped(DEFAULT_PROFILE, scale=scale, day_curve=day_curve)
    )
    flusher = asyncio.create_task(flush_every_while())
    try:
        sent = await run_simulation(send, clock=time.time, model=model, speed=speed, stop=stop)
        closing = model.close(model.now_ms)  # callers hang up, agents log off: nothing is left open
        for event in closing:
            await send(event)
        sent += len(closing)
        flusher.cancel()
        await flush()
        await asyncio.gather(*pending)
    finally:
        flusher.cancel()
        with contextlib.suppress(Exception):
            await producer.stop()
    log.info("simulator stopped after %d events", sent)
    return sent
