"""Event-to-metric latency under a steady offered load.

Load: simulator events produced at exactly ``rate`` events/s, each stamped with the time it is due (event
``i`` at ``start + i / rate``; a resolution's ``opened_at`` is mapped the same monotone way, so every
duration stays non-negative). Probes: every ``probe_interval`` s a ``queued`` event of a new contact on a
queue of its own, all with one key so they share a partition and are applied in the order sent: the
queue's ``callpulse_queue_waiting_contacts`` is then the number of probes applied. A thread starts a GET
of ``/metrics`` every 50 ms, or twice a scrape's duration after the last one ended when scrapes are slow
(so the polling never keeps the exporter busy more than a third of the time); probe ``k``'s latency is
from just before it was handed to the producer to the end of the first scrape showing at least ``k``
waiting: an upper bound, by at most one scrape and one polling interval (both kept in the results).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer

from bench.compat import Packer
from bench.load import restamped
from bench.percentiles import percentile
from bench.probes import PROBE_KEY, Poller, latency_bounds, probe_event
from bench.stack import BenchError
from bench.traffic import producer
from callpulse.simulator import SimulatedEvent


@dataclass
class Probe:
    sent: float
    acked: float | None = None  # when the broker acknowledged it


@dataclass
class Latency:
    """Per probe: ``samples`` (upper bounds, the headline), ``lower_bounds`` (to the start of the last scrape
    that did not show it yet) and ``ack_samples`` (produce to the broker's acknowledgement)."""

    offered_events_per_second: float
    achieved_events_per_second: float
    load_events: int
    probes: int
    scrapes: int
    scrape_median_seconds: float
    poll_median_interval_seconds: float
    p50_seconds: float
    p99_seconds: float
    max_seconds: float
    p99_lower_bound_seconds: float
    p50_ack_seconds: float
    p99_ack_seconds: float
    samples: list[float] = field(default_factory=list)
    lower_bounds: list[float] = field(default_factory=list)
    ack_samples: list[float] = field(default_factory=list)
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # per process, during the measurement

    def as_json(self) -> dict[str, object]:
        return dict(vars(self))


@dataclass
class LoadPlan:
    topics: dict[str, str]
    partitions: int
    rate: float
    probe_interval: float
    tag: str
    timeout: float


async def drive(bootstrap: str, plan: LoadPlan, events: list[SimulatedEvent], poller: Poller) -> Latency:
    """Warm up with one probe, send the load and the probes on schedule, then wait for every probe."""
    kafka = producer(bootstrap, linger_ms=5)
    await kafka.start()
    try:
        await (await kafka.send(plan.topics["contacts"], key=PROBE_KEY, value=probe_event(f"{plan.tag}-0", _ms())))
        await _visible(poller, 1, plan.timeout)
        started = time.perf_counter()
        sent = await _paced(kafka, plan, events, started)
        achieved = len(events) / (time.perf_counter() - started)
        await _visible(poller, 1 + len(sent), plan.timeout)
    finally:
        await kafka.stop()
    return _latency(plan, events, achieved, sent, poller)


def _latency(
    plan: LoadPlan, events: list[SimulatedEvent], achieved: float, probes: list[Probe], poller: Poller
) -> Latency:
    bounds = [latency_bounds(poller.seen, 1 + k, probe.sent) for k, probe in enumerate(probes, start=1)]
    samples = [high for _low, high in bounds]
    lower = [low for low, _high in bounds]
    acks = [probe.acked - probe.sent for probe in probes if probe.acked is not None]
    return Latency(
        offered_events_per_second=plan.rate,
        achieved_events_per_second=achieved,
        load_events=len(events),
        probes=len(probes),
        scrapes=len(poller.seen),
        scrape_median_seconds=percentile(poller.durations, 50),
        poll_median_interval_seconds=percentile([b[0] - a[0] for a, b in itertools.pairwise(poller.seen)], 50),
        p50_seconds=percentile(samples, 50),
        p99_seconds=percentile(samples, 99),
        max_seconds=max(samples, default=0.0),
        p99_lower_bound_seconds=percentile(lower, 99),
        p50_ack_seconds=percentile(acks, 50),
        p99_ack_seconds=percentile(acks, 99),
        samples=samples,
        lower_bounds=lower,
        ack_samples=acks,
    )


async def _paced(kafka: AIOKafkaProducer, plan: LoadPlan, events: list[SimulatedEvent], started: float) -> list[Probe]:
    """Send event ``i`` at ``started + i / rate`` (records packed per partition, flushed every 50 ms)."""
    packers = {stream: Packer(plan.partitions) for stream in plan.topics}
    times, start_ms = [event.time_ms for event in events], _ms()
    probes: list[Probe] = []
    pending: list[asyncio.Future[object]] = []
    index, flushed = 0, started
    while index < len(events):
        now = time.perf_counter()
        due = min(len(events), int((now - started) * plan.rate) + 1)
        for event in events[index:due]:
            value = restamped(event, start_ms + int(index * 1000 / plan.rate), times, start_ms, plan.rate)
            for record in packers[event.stream].add(event.key.encode(), value):
                pending.append(
                    await kafka.send(
                        plan.topics[event.stream], key=record.key, value=record.value, partition=record.partition
                    )
                )
            index += 1
        if now - flushed >= 0.05 or index == len(events):
            flushed = now
            for stream, packer in packers.items():
                for record in packer.drain():
                    pending.append(
                        await kafka.send(
                            plan.topics[stream], key=record.key, value=record.value, partition=record.partition
                        )
                    )
        if now - started >= len(probes) * plan.probe_interval:
            probes.append(probe := Probe(time.perf_counter()))
            name = f"{plan.tag}-{len(probes)}"
            future = await kafka.send(plan.topics["contacts"], key=PROBE_KEY, value=probe_event(name, _ms()))
            future.add_done_callback(lambda _f, probe=probe: setattr(probe, "acked", time.perf_counter()))
            pending.append(future)
        pending = [future for future in pending if not future.done()]
        await asyncio.sleep(0.002)
    await asyncio.gather(*pending)
    return probes


async def _visible(poller: Poller, count: int, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while poller.visible() < count:
        if time.perf_counter() > deadline:
            raise BenchError(f"latency: {poller.visible()} of {count} probes visible on /metrics after {timeout:g}s")
        await asyncio.sleep(0.01)


def _ms() -> int:
    return int(time.time() * 1000)
