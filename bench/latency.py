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
import bisect
import itertools
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
    """Scrapes ``/metrics`` every ``every`` s (less often when scrapes are slow), keeping (end time, probes
    visible) and the duration of every scrape."""

    def __init__(self, url: str, *, every: float = 0.05) -> None:
        super().__init__(name="bench-poller", daemon=True)
        self.url = f"{url}/metrics"
        self.every = every
        self.durations: list[float] = []
        self.seen: list[tuple[float, float, int]] = []  # (started, ended, probes visible) of each scrape
        self.stopping = threading.Event()

    def visible(self) -> int:
        return self.seen[-1][2] if self.seen else 0

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
            ended = time.perf_counter()
            self.seen.append((started, ended, int(float(match.group(1))) if match else 0))
            self.durations.append(ended - started)
            self.stopping.wait(max(started + self.every - ended, 2 * (ended - started)))


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
    return _latency(plan, events, achieved, sent, poller)


def _latency(
    plan: LoadPlan, events: list[SimulatedEvent], achieved: float, probes: list[Probe], poller: Poller
) -> Latency:
    bounds = [_bounds(poller.seen, 1 + k, probe.sent) for k, probe in enumerate(probes, start=1)]
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


def _bounds(seen: list[tuple[float, float, int]], count: int, sent: float) -> tuple[float, float]:
    """(lower, upper) bound of the probe's latency: from ``sent`` to the start of the last scrape that did not
    show it (its value was read after that start) and to the end of the first scrape that did."""
    last_without = sent
    for started, ended, visible in seen:
        if visible >= count and ended >= sent:
            return max(0.0, last_without - sent), ended - sent
        if visible < count:
            last_without = max(last_without, started)
    raise BenchError(f"probe {count - 1} never showed on /metrics")


def _ms() -> int:
    return int(time.time() * 1000)
