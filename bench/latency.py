"""Event-to-metric latency under a steady offered load.

Load: simulator events produced at exactly ``rate`` events/s, each stamped with the time it is due (event
``i`` at ``start + i / rate``; a resolution's ``opened_at`` is mapped the same monotone way, so every
duration stays non-negative). Probes: every ``probe_interval`` s a ``queued`` event of a new contact on a
queue of its own, all with one key so they share a partition and are applied in the order sent: the
queue's ``callpulse_queue_waiting_contacts`` is then the number of probes applied. A thread starts a GET
of ``/metrics`` every 50 ms (back to back when a scrape takes longer); probe ``k``'s latency is from just
before it was handed to the producer to the end of the first scrape showing at least ``k`` waiting, so it
includes one scrape's duration and up to 50 ms of sampling.
"""

from __future__ import annotations

import asyncio
import bisect
import re
import threading
import time
import urllib.request
from dataclasses import dataclass, field

import orjson
from aiokafka import AIOKafkaProducer

from bench.compat import Packer
from bench.stack import BenchError
from bench.traffic import default_model, minutes_of, producer
from callpulse.simulator import SimulatedEvent
from processors.timeutil import format_ms, parse_event_time_ms

PROBE_TENANT, PROBE_QUEUE = "benchprobe", "probe"
PROBE_KEY = b"bench-probe"
_WAITING = re.compile(
    r'^callpulse_queue_waiting_contacts\{[^}]*queue="' + PROBE_QUEUE + r'"[^}]*\} (\S+)$', re.MULTILINE
)


def probe_event(name: str, at_ms: int) -> bytes:
    return orjson.dumps(
        {
            "schema_version": 1,
            "event_id": name,
            "event_time": format_ms(at_ms),
            "type": "queued",
            "tenant": PROBE_TENANT,
            "queue": PROBE_QUEUE,
            "channel": "voice",
            "contact_id": name,
        }
    )


class Poller(threading.Thread):
    """Scrapes ``/metrics`` every ``every`` s, keeping (end time, probes visible) of every scrape."""

    def __init__(self, url: str, *, every: float = 0.05) -> None:
        super().__init__(name="bench-poller", daemon=True)
        self.url = f"{url}/metrics"
        self.every = every
        self.seen: list[tuple[float, int]] = []
        self.stopping = threading.Event()

    def visible(self) -> int:
        return self.seen[-1][1] if self.seen else 0

    def run(self) -> None:
        while not self.stopping.is_set():
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url, timeout=10) as response:  # noqa: S310 - our loopback URL
                    text = response.read().decode()
            except OSError:  # the exporter is busy or restarting: the next scrape tells
                time.sleep(0.05)
                continue
            match = _WAITING.search(text)
            self.seen.append((time.perf_counter(), int(float(match.group(1))) if match else 0))
            self.stopping.wait(max(0.0, started + self.every - time.perf_counter()))


@dataclass
class Latency:
    offered_events_per_second: float
    achieved_events_per_second: float
    load_events: int
    probes: int
    scrapes: int
    p50_seconds: float
    p99_seconds: float
    max_seconds: float
    samples: list[float] = field(default_factory=list)
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # per process, during the measurement

    def as_json(self) -> dict[str, object]:
        return dict(vars(self))


def load_events(seed: int, count: int) -> list[SimulatedEvent]:
    now_ms = int(time.time() * 1000)
    model = default_model(seed, events=count, span_minutes=20, end_ms=now_ms)
    return [event for chunk in minutes_of(model, limit=count) for event in chunk]


def restamped(event: SimulatedEvent, due_ms: int, times: list[int], start_ms: int, rate: float) -> bytes:
    """The event stamped ``due_ms``; its ``opened_at`` moved by the same monotone map of simulated times."""
    body = dict(event.event, event_time=format_ms(due_ms))
    if "opened_at" in body:
        index = bisect.bisect_left(times, parse_event_time_ms(str(body["opened_at"])))
        body["opened_at"] = format_ms(min(due_ms, start_ms + int(index * 1000 / rate)))
    return orjson.dumps(body)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


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
    samples = [_first_seen(poller.seen, 1 + k, at) - at for k, at in enumerate(sent, start=1)]
    return Latency(
        plan.rate,
        achieved,
        len(events),
        len(sent),
        len(poller.seen),
        percentile(samples, 50),
        percentile(samples, 99),
        max(samples, default=0.0),
        samples,
    )


async def _paced(kafka: AIOKafkaProducer, plan: LoadPlan, events: list[SimulatedEvent], started: float) -> list[float]:
    """Send event ``i`` at ``started + i / rate`` (records packed per partition, flushed every 50 ms)."""
    packers = {stream: Packer(plan.partitions) for stream in plan.topics}
    times, start_ms = [event.time_ms for event in events], _ms()
    probes: list[float] = []
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
            probes.append(time.perf_counter())
            name = f"{plan.tag}-{len(probes)}"
            pending.append(await kafka.send(plan.topics["contacts"], key=PROBE_KEY, value=probe_event(name, _ms())))
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


def _first_seen(seen: list[tuple[float, int]], count: int, after: float) -> float:
    for at, visible in seen:
        if visible >= count and at >= after:
            return at
    raise BenchError(f"probe {count - 1} never showed on /metrics")


def _ms() -> int:
    return int(time.time() * 1000)
