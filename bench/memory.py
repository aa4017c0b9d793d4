"""Memory at rest: the worker's RSS once it has caught up with the first checkpoint's events, and again once
it has caught up with all of them.

Run 1 also reads RSS at the checkpoints, but while the worker works through a full topic: those readings
hold whatever records, decoded events and write plans are in flight at that moment, and the first one comes
a few seconds after start-up. Here a fresh worker on its own topics gets the first checkpoint's events,
catches up and idles; its RSS is read (the median of ``RSS_SAMPLES`` polls); then the rest of the events are
produced and it is read again once the worker has caught up. State bounded by windows, not by history,
shows as the same RSS at rest after 100k events as after 1M.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from bench.sizes import Size
from bench.stack import Stack
from bench.traffic import default_model, minutes_of, now_ms, produce_minutes
from bench.workers import POLL_SECONDS, RSS_SAMPLES, Watched, WorkerRunner
from callpulse.simulator_model import SimulatedEvent
from streams.topics import ensure_topics

QUIET_SECONDS = 2.0
"""How long the worker idles after catching up before its RSS is read (it gives freed heap pages back once it
has been idle for half a second: ``CALLPULSE_MALLOC_TRIM_WHEN_IDLE``)."""


@dataclass
class MemoryRun:
    checkpoints: list[int] = field(default_factory=list)  # events produced (and applied) at each reading
    rss_bytes: list[int] = field(default_factory=list)  # median of ``rss_samples`` at each checkpoint
    rss_samples: list[list[int]] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "rss_bytes": {str(k): v for k, v in zip(self.checkpoints, self.rss_bytes, strict=True)},
            "rss_samples": {str(k): v for k, v in zip(self.checkpoints, self.rss_samples, strict=True)},
        }


def until(minutes: Iterator[list[SimulatedEvent]], events: int) -> Iterator[list[SimulatedEvent]]:
    """The next minutes of ``minutes`` up to the one that brings the count to ``events`` (the rest stays)."""
    count = 0
    for minute in minutes:
        yield minute
        count += len(minute)
        if count >= events:
            return


def rss_at_rest(worker: Watched) -> list[int]:
    """RSS samples of an idle worker, one per poll interval."""
    time.sleep(QUIET_SECONDS)
    samples = []
    for _ in range(RSS_SAMPLES):
        worker.poll()
        samples.append(worker.rss())
        time.sleep(POLL_SECONDS)
    return samples


def measure_memory(stack: Stack, size: Size, say: Callable[[str], None]) -> MemoryRun:
    deployment = stack.deployment("memory")
    ensure_topics(stack.kafka.url, list(deployment.topics.values()), partitions=deployment.partitions)
    model = default_model(size.seed, events=size.events, span_minutes=size.span_minutes, end_ms=now_ms())
    minutes = iter(minutes_of(model, limit=size.events))
    runner = WorkerRunner(deployment, timeout=size.timeout)
    result, produced = MemoryRun(), 0
    try:
        for checkpoint in size.memory_checkpoints:
            batch = until(minutes, checkpoint - produced)
            sent = asyncio.run(produce_minutes(stack.kafka.url, deployment.topics, deployment.partitions, batch))
            produced += sent.total_events
            if not runner.watched:
                runner.run(produced)
            runner.wait_for(produced)
            samples = rss_at_rest(runner.watched[0])
            result.checkpoints.append(produced)
            result.rss_samples.append(samples)
            result.rss_bytes.append(int(statistics.median(samples)))
            say(f"memory: {result.rss_bytes[-1] / 2**20:.0f} MB at rest after {produced:,} events")
    finally:
        runner.stop()
    return result
