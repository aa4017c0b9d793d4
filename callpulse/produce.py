"""Producing events to Kafka: the simulator's sender (aiokafka, acks from all in-sync replicas)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time

import orjson
from aiokafka import AIOKafkaProducer

from callpulse.kafka_security import KafkaSecurity
from callpulse.settings import Settings
from callpulse.simulator import DEFAULT_PROFILE, SimulatedEvent, TrafficModel, run_simulation, shaped

log = logging.getLogger(__name__)


async def simulate_to_kafka(
    settings: Settings,
    *,
    scale: float,
    day_curve: bool = False,
    seed: int,
    speed: float,
    warm_start_seconds: int,
    duration: float | None,
) -> int:
    """Run the simulator until SIGINT/SIGTERM or ``duration`` seconds, then close the simulated center;
    return the number of events sent."""
    topics = {"contacts": settings.contacts_topic, "agents": settings.agents_topic}
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

    async def send(event: SimulatedEvent) -> None:
        pending.append(
            await producer.send(topics[event.stream], key=event.key.encode(), value=orjson.dumps(event.event))
        )
        if len(pending) >= 1000:
            await asyncio.gather(*pending)
            pending.clear()

    model = TrafficModel.warm_started(
        seed, int(time.time() * 1000), warm_start_seconds, shaped(DEFAULT_PROFILE, scale=scale, day_curve=day_curve)
    )
    try:
        sent = await run_simulation(send, clock=time.time, model=model, speed=speed, stop=stop)
        closing = model.close(model.now_ms)  # callers hang up, agents log off: nothing is left open
        for event in closing:
            await send(event)
        sent += len(closing)
        await asyncio.gather(*pending)
    finally:
        with contextlib.suppress(Exception):
            await producer.stop()
    log.info("simulator stopped after %d events", sent)
    return sent
