"""Worker runs: ``callpulse worker`` processes from a fresh consumer group and Redis prefix on the same topics.

Progress is read from Redis (the ``stat:`` counters each batch writes with its offset), never from the
broker's offsets. Throughput counts every event from the last poll (every 50 ms) that saw none applied to
the poll that saw them all: at most one poll interval too long. CPU is counted per process from its faust
"Worker ready" line (start-up and the group join left out; a process that never got ready did no work).
With two workers the second starts once the first has applied events, so the group rebalances, while
there is work left if the contents are big enough (not so in ``--size tiny``); partitions loaded at an
offset above -1 show state moving between workers through Redis. The counters are read again once every
worker is ready and a commit interval has passed.
"""

from __future__ import annotations

import re
import statistics
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

import psutil

from bench.stack import BenchError, Child, Deployment, events_seen

READY_MARK = "Worker ready"
POLL_SECONDS = 0.05
RSS_SAMPLES = 11
"""RSS at a memory checkpoint is the median of the samples of the polls up to it (about half a second of
work): a busy worker's RSS moves ±10 % from one moment to the next with the batches in flight."""
_LOADED = re.compile(r"loaded partition (\w+:\d+) at offset (-?\d+)")


@dataclass
class Watched:
    """A worker process with its CPU reading at readiness."""

    child: Child
    process: psutil.Process
    ready_cpu: float | None = None

    def cpu(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system + times.children_user + times.children_system)

    def rss(self) -> int:
        total = int(self.process.memory_info().rss)
        for child in self.process.children(recursive=True):
            total += int(child.memory_info().rss)
        return total

    def poll(self) -> None:
        self.child.check_alive()
        if self.ready_cpu is None and READY_MARK in self.child.log_text():
            self.ready_cpu = self.cpu()

    def work_cpu(self) -> float:
        return 0.0 if self.ready_cpu is None else self.cpu() - self.ready_cpu


def watch(child: Child) -> Watched:
    return Watched(child, psutil.Process(child.process.pid))


class CpuReader(Protocol):
    def cpu(self) -> float: ...


class _Self:
    """This process, read like a watched worker (CPU only)."""

    def __init__(self) -> None:
        self.process = psutil.Process()

    def cpu(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system)


def watch_self() -> _Self:
    return _Self()


@dataclass
class WorkerRun:
    workers: int
    prefix: str
    expected_events: int
    seen_events: int = 0
    seconds: float = 0.0
    events_per_second: float = 0.0
    cpu_seconds: float = 0.0
    events_per_cpu_second: float = 0.0
    rss_bytes: dict[int, int] = field(default_factory=dict)  # checkpoint (events) -> RSS of the workers (median)
    rss_samples: dict[int, list[int]] = field(default_factory=dict)  # checkpoint -> the samples of that median
    second_started_at_events: int | None = None
    second_ready_before_done: bool | None = None  # True: the group rebalanced while work was left
    handovers: list[str] = field(default_factory=list)  # "<worker>: contacts:3@1234" loaded mid-stream
    stats: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        data = dict(vars(self))
        data["rss_bytes"] = {str(k): v for k, v in self.rss_bytes.items()}
        data["rss_samples"] = {str(k): v for k, v in self.rss_samples.items()}
        return data


class WorkerRunner:
    """Runs the worker(s) of one deployment until they have accounted for ``expected`` events."""

    def __init__(self, deployment: Deployment, *, timeout: float) -> None:
        self.deployment = deployment
        self.timeout = timeout
        self.watched: list[Watched] = []

    def run(self, expected: int, *, workers: int = 1, checkpoints: tuple[int, ...] = ()) -> WorkerRun:
        """Start the first worker on a fresh group and prefix; the second (if any) once the first has begun."""
        result = WorkerRun(workers, self.deployment.fresh_run(), expected)
        self.watched = [watch(self.deployment.start("worker"))]
        started = last_idle = time.perf_counter()
        recent_rss: deque[int] = deque(maxlen=RSS_SAMPLES)
        while True:
            for worker in self.watched:
                worker.poll()
            seen, now = events_seen(self.deployment.stats()), time.perf_counter()
            if not seen:
                last_idle = now  # the first event is applied after the last poll that saw none
            if len(self.watched) < workers and seen:
                result.second_started_at_events = seen
                self.watched.append(watch(self.deployment.start("worker")))
            if checkpoints:
                recent_rss.append(sum(worker.rss() for worker in self.watched))
            for checkpoint in checkpoints:
                if seen >= checkpoint and checkpoint not in result.rss_bytes:
                    result.rss_bytes[checkpoint] = int(statistics.median(recent_rss))
                    result.rss_samples[checkpoint] = list(recent_rss)
            if seen >= expected:
                break
            if now - started > self.timeout:
                raise BenchError(f"workers accounted for {seen} of {expected} events in {self.timeout:g}s")
            time.sleep(POLL_SECONDS)
        result.seconds = now - last_idle
        result.events_per_second = seen / result.seconds
        result.second_ready_before_done = all(w.ready_cpu is not None for w in self.watched) if workers > 1 else None
        result.cpu_seconds = sum(worker.work_cpu() for worker in self.watched)
        result.events_per_cpu_second = seen / result.cpu_seconds if result.cpu_seconds > 0 else 0.0
        if workers > 1:  # the counters must stay exact once the group has rebalanced, whenever that happened
            self.wait_all_ready()
        self.settle(result, 3.0 if workers > 1 else 1.0)
        result.handovers = self.handovers()
        return result

    def wait_all_ready(self) -> None:
        started = time.perf_counter()
        while not all(worker.ready_cpu is not None for worker in self.watched):
            for worker in self.watched:
                worker.poll()
            if time.perf_counter() - started > self.timeout:
                raise BenchError("the second worker never became ready")
            time.sleep(POLL_SECONDS)

    def wait_for(self, expected: int) -> dict[str, int]:
        """Wait until the running workers have accounted for ``expected`` events; return the final stats."""
        started = time.perf_counter()
        while events_seen(stats := self.deployment.stats()) < expected:
            for worker in self.watched:
                worker.poll()
            if time.perf_counter() - started > self.timeout:
                raise BenchError(f"workers accounted for {events_seen(stats)} of {expected} events")
            time.sleep(POLL_SECONDS)
        return stats

    def settle(self, result: WorkerRun, seconds: float = 1.0) -> None:
        """Read the counters again a little later: anything counted twice would show up as a surplus."""
        time.sleep(seconds)
        result.stats = self.deployment.stats()
        result.seen_events = events_seen(result.stats)

    def handovers(self) -> list[str]:
        moved = []
        for worker in self.watched:
            for partition, offset in _LOADED.findall(worker.child.log_text()):
                if int(offset) >= 0:
                    moved.append(f"{worker.child.name}: {partition}@{offset}")
        return moved

    def stop(self) -> None:
        self.deployment.stop_all()
        self.watched = []
