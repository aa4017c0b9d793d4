"""Producing events to Kafka: the simulator's sender (aiokafka, acks from all in-sync replicas)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import time

import orjson
from aiokafka import AIOKafkaProducer

from callpulse.settings import Settings
from callpulse.simulator import DEFAULT_PROFILE, SimulatedEvent, TrafficModel, TrafficProfile, run_simulation

log = logging.getLogger(__name__)


def profile_with_rate(rate: float | None) -> TrafficProfile:
    """The default profile, every queue at ``rate`` arrivals per minute when given."""
    if rate is None:
        return DEFAULT_PROFILE
    queues = tuple(dataclasses.replace(queue, arrivals_per_minute=rate) for queue in DEFAULT_PROFILE.queues)
    return dataclasses.replace(DEFAULT_PROFILE, queues=queues)


async def simulate_to_kafka(
    settings: Settings, *, rate: float | None, seed: int, speed: float, warm_start_seconds: int, duration: float | None
) -> int:
    """Run the simulator until SIGINT/SIGTERM or ``duration`` seconds; return the number of events sent."""
    topics = {"contacts": settings.contacts_topic, "agents": settings.agents_topic}
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5)
    await producer.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)
    pending: list[asyncio.Future[object]] = []

    async def send(event: SimulatedEvent) -> None:
        pending.append(
            await producer.send(topics[event.stream], key=event.key.encode(), value=orjson.dumps(event.event))
        )
        if len(pending) >= 1000:
            await asyncio.gather(*pending)
            pending.clear()

    model = TrafficModel.warm_started(seed, int(time.time() * 1000), warm_start_seconds, profile_with_rate(rate))
    try:
        sent = await run_simulation(send, clock=time.time, model=model, speed=speed, stop=stop)
        await asyncio.gather(*pending)
    finally:
        with contextlib.suppress(Exception):
            await producer.stop()
    log.info("simulator stopped after %d events", sent)
    return sent
