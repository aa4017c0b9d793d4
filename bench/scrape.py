"""Scrape time of ``/metrics`` for N queues.

State is populated without Kafka but with the worker's own code: the simulator's events for a profile of
N queues (the last ``minutes`` up to now, so every window has figures) are packed into records per
partition exactly as our producers pack them, and applied with ``streams.applier.BatchApplier`` and
``streams.store.PartitionStore`` (what the worker runs for each batch), a simulated minute per batch.
Then a real ``callpulse exporter`` serves that prefix and is scraped: one warm-up GET, then ``count`` timed.
"""

from __future__ import annotations

import gzip
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass

import orjson
from redis.asyncio import Redis

from bench.compat import OutRecord, Packer, partition_for
from bench.percentiles import percentile
from bench.traffic import minutes_of, queues_profile
from callpulse import wiring
from callpulse.settings import load_settings
from callpulse.simulator import SimulatedEvent, TrafficModel
from processors.batch import DeadLetter
from processors.partition import Record
from streams.applier import BatchApplier
from streams.redis_keys import Stream
from streams.store import PartitionStore, bucket_ttl_seconds


@dataclass
class ScrapeTime:
    queues: int
    events: int
    dead_letters: int
    scrapes: int
    median_ms: float
    p95_ms: float
    body_bytes: int
    series: int

    def as_json(self) -> dict[str, object]:
        return dict(vars(self))


async def populate(
    redis_url: str, prefix: str, *, queues: int, minutes: float, arrivals_per_minute: float, partitions: int
) -> tuple[int, int]:
    """Apply ``minutes`` of simulated traffic of ``queues`` queues up to now; return (events, dead letters)."""
    settings = load_settings(redis_url=redis_url, redis_prefix=prefix)
    policy = wiring.kpi_policy(settings)
    client = Redis.from_url(redis_url)
    store = PartitionStore(client, prefix=prefix, bucket_ttl_seconds=bucket_ttl_seconds(max(settings.windows), policy))
    dead: list[DeadLetter] = []

    async def keep_dead_letters(_stream: Stream, _partition: int, letters: list[DeadLetter]) -> None:
        dead.extend(letters)

    applier = BatchApplier(store, policy, keep_dead_letters)
    now_ms = int(time.time() * 1000)
    profile = queues_profile(queues, arrivals_per_minute=arrivals_per_minute)
    model = TrafficModel(11, now_ms - round(minutes * 60_000), profile)
    offsets: Counter[tuple[str, int]] = Counter()
    events = 0
    try:
        for chunk in minutes_of(model, limit=10**9, until_ms=now_ms):
            events += len(chunk)
            for stream, batches in _records(chunk, partitions, offsets).items():
                await applier.apply(stream, batches)
    finally:
        await client.aclose()
    return events, len(dead)


def _records(
    chunk: list[SimulatedEvent], partitions: int, offsets: Counter[tuple[str, int]]
) -> dict[Stream, dict[int, list[Record]]]:
    """The chunk as the worker would receive it: records per stream and partition, with their offsets."""
    packers: dict[Stream, Packer] = {"contacts": Packer(partitions), "agents": Packer(partitions)}
    out: list[tuple[Stream, OutRecord]] = []
    for event in chunk:
        added = packers[event.stream].add(event.key.encode(), orjson.dumps(event.event))
        out += [(event.stream, record) for record in added]
    out += [(stream, record) for stream, packer in packers.items() for record in packer.drain()]
    batches: dict[Stream, dict[int, list[Record]]] = {}
    for stream, record in out:
        partition = record.partition if record.partition is not None else partition_for(record.key, partitions)
        offset = offsets[(stream, partition)]
        offsets[(stream, partition)] += 1
        batches.setdefault(stream, {}).setdefault(partition, []).append((offset, record.key, record.value))
    return batches


def time_scrapes(url: str, count: int) -> tuple[list[float], bytes]:
    """One warm-up GET of ``/metrics``, then ``count`` timed ones, each asking for gzip as Prometheus does
    (the time ends when the compressed body is in); return their seconds and the last body, decompressed."""
    body = _get(f"{url}/metrics")
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        body = _get(f"{url}/metrics")
        seconds.append(time.perf_counter() - started)
    return seconds, gzip.decompress(body)


def _get(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})  # noqa: S310 - our own loopback URL
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        return bytes(response.read())


def summarize(queues: int, events: int, dead: int, seconds: list[float], body: bytes) -> ScrapeTime:
    lines = [line for line in body.splitlines() if line and not line.startswith(b"#")]
    return ScrapeTime(
        queues,
        events,
        dead,
        len(seconds),
        percentile(seconds, 50) * 1000,
        percentile(seconds, 95) * 1000,
        len(body),
        len(lines),
    )
