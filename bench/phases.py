"""The benchmark's steps, in order, on one embedded stack; each adds its measurements to ``Bench.results``.

1. Produce the topic contents (seeded simulator, ending about now) and count them ourselves.
2. Ceiling: plain aiokafka + the worker's decoder over those contents.
3. Run 1: one worker, fresh group and prefix: throughput, CPU, RSS at the memory checkpoints; then the
   ceiling once more (the ratio uses the mean of the two).
4. Latency: with that worker caught up, an exporter and the paced load with probes on the same topics.
5. Run 2: one worker, and run 3: two workers (the second joining once the first has begun), each from a
   fresh group over everything produced in 1 and 4; events per worker CPU-second of 3 against 2, and run
   3's counters and figures must equal run 1's.
6. Memory: a worker of its own gets the first memory checkpoint's events, then the rest; its RSS is read at
   rest after each (bench/memory.py).
7. Scrape: N-queue states applied with the worker's code, one exporter each, timed GETs.
"""

from __future__ import annotations

import asyncio
import gc
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from bench import figures
from bench.ceiling import measure_ceiling
from bench.latency import LoadPlan, drive
from bench.load import load_events
from bench.memory import measure_memory
from bench.probes import Poller
from bench.scrape import populate, summarize, time_scrapes
from bench.sizes import Size
from bench.stack import Deployment, Stack, wait_healthy
from bench.traffic import Produced, default_model, minutes_of, now_ms, produce_minutes
from bench.workers import CpuReader, Watched, WorkerRunner, watch, watch_self
from streams.topics import ensure_topics


@dataclass
class Bench:
    stack: Stack
    size: Size
    only: set[str]
    console: Console
    measurements: dict[str, Any] = field(default_factory=dict)

    def wants(self, *names: str) -> bool:
        return bool(self.only.intersection(names))

    def say(self, message: str) -> None:
        self.console.log(message)


def produce_contents(bench: Bench) -> tuple[Deployment, Produced]:
    size = bench.size
    deployment = bench.stack.deployment("bulk")
    ensure_topics(bench.stack.kafka.url, list(deployment.topics.values()), partitions=deployment.partitions)
    model = default_model(size.seed, events=size.events, span_minutes=size.span_minutes, end_ms=now_ms())
    step = max(1, size.events // 10)
    marks = iter(range(step, size.events + step, step))
    mark = [next(marks)]

    def progress(sent: int) -> None:
        if sent >= mark[0]:
            bench.say(f"produced {sent:,} of {size.events:,} events")
            mark[0] = next(marks, size.events + 1)

    bench.say(f"producing {size.events:,} simulated events to {deployment.name}")
    produced = asyncio.run(
        produce_minutes(
            bench.stack.kafka.url,
            deployment.topics,
            deployment.partitions,
            minutes_of(model, limit=size.events),
            progress,
        )
    )
    bench.measurements["contents"] = produced.as_json()
    return deployment, produced


def ceiling(bench: Bench, deployment: Deployment, produced: Produced, *, key: str = "ceiling") -> None:
    """Measured twice when the worker is measured too: before run 1 (``ceiling``) and after (``ceiling_after``).
    The ratio uses their mean, so a machine that slows down or speeds up during the run sways it less."""
    bench.say("ceiling: aiokafka consume + decode")
    result = asyncio.run(
        measure_ceiling(
            bench.stack.kafka.url,
            deployment.topics,
            deployment.partitions,
            produced.total_events,
            bench.size.timeout,
        )
    )
    bench.measurements[key] = result.as_json()
    bench.say(f"ceiling: {result.events_per_second:,.0f} events/s")


def worker_runs(bench: Bench, deployment: Deployment, produced: Produced) -> None:
    runner = WorkerRunner(deployment, timeout=bench.size.timeout)
    expected = produced.total_events
    try:
        bench.say("run 1: one worker from a fresh group")
        first = runner.run(expected, workers=1, checkpoints=bench.size.memory_checkpoints)
        bench.measurements["worker"] = first.as_json()
        bench.say(f"run 1: {first.events_per_second:,.0f} events/s, {first.cpu_seconds:.1f} CPU s")
        if bench.wants("ceiling", "worker"):  # the worker is caught up and idle
            ceiling(bench, deployment, produced, key="ceiling_after")
        if bench.wants("latency"):
            expected += latency(bench, deployment, runner.watched[0])
        final = Final(expected, runner.wait_for(expected), figures.figures(bench.stack.redis(), first.prefix))
    finally:
        runner.stop()
    if bench.wants("scaleout"):
        scaleout(bench, runner, final)


def memory(bench: Bench) -> None:
    """RSS at rest after the memory checkpoints, with a worker of its own (bench/memory.py)."""
    bench.measurements["memory"] = measure_memory(bench.stack, bench.size, bench.say).as_json()


def latency(bench: Bench, deployment: Deployment, worker: Watched) -> int:
    """Measure with the running worker; return how many events it added to the topics.

    The CPU seconds each process used during the measurement are kept too: on a small machine the load
    generator and the scraping compete with the worker."""
    size = bench.size
    events = load_events(size.seed + 1, int(size.latency_rate * size.latency_seconds))
    gc.collect()
    gc.freeze()  # the load events (and all else until now) stay out of this process's collections: no pauses
    exporter, url = deployment.spawn_exporter()
    wait_healthy(exporter, url)
    processes: dict[str, CpuReader] = {"bench": watch_self(), "worker": worker, "exporter": watch(exporter)}
    before = {name: process.cpu() for name, process in processes.items()}
    poller = Poller(url)
    poller.start()
    plan = LoadPlan(
        deployment.topics,
        deployment.partitions,
        size.latency_rate,
        size.probe_interval,
        deployment.prefix,
        size.timeout,
    )
    bench.say(
        f"latency: {len(events):,} events at {size.latency_rate:,.0f}/s with a probe every {size.probe_interval}s"
    )
    try:
        result = asyncio.run(drive(bench.stack.kafka.url, plan, events, poller))
    finally:
        poller.stopping.set()
        poller.join(15)
    result.cpu_seconds = {name: process.cpu() - before[name] for name, process in processes.items()}
    bench.measurements["latency"] = result.as_json()
    bench.say(f"latency: p50 {result.p50_seconds:.3f}s p99 {result.p99_seconds:.3f}s")
    return len(events) + result.probes + 1


@dataclass
class Final:
    """What run 1 ended with, once it had applied everything produced (contents, latency load, probes)."""

    events: int
    stats: dict[str, int]
    state: dict[str, int]


def scaleout(bench: Bench, runner: WorkerRunner, final: Final) -> None:
    """One worker, then two, each from a fresh group over the same contents (run 1's bulk load plus the
    latency load, whose small records cost more per event than the bulk's: run 1 alone would not compare)."""
    bench.say("run 2: one worker over everything run 3 reads")
    try:
        single = runner.run(final.events, workers=1)
    finally:
        runner.stop()
    bench.say(f"run 2: {single.events_per_second:,.0f} events/s, {single.events_per_cpu_second:,.0f} per CPU-second")
    bench.say("run 3: two workers, the second joining once the first has begun")
    try:
        second = runner.run(final.events, workers=2)
        second_state = figures.figures(bench.stack.redis(), second.prefix)
    finally:
        runner.stop()
    bench.measurements["scaleout"] = {
        "one_worker": single.as_json(),
        "two_workers": second.as_json(),
        "expected_events": final.events,
        "one_worker_final_stats": final.stats,
        "counts_exact": final.stats == second.stats and second.seen_events == final.events,
        "figures_compared": len(final.state),
        "figures_identical": final.state == second_state,
        "figures_digest": {"one_worker": figures.digest(final.state), "two_workers": figures.digest(second_state)},
        "differences": figures.differences(final.state, second_state),
    }
    bench.say(f"run 3: {second.events_per_second:,.0f} events/s, handovers {len(second.handovers)}")


def scrape(bench: Bench) -> None:
    size, stack = bench.size, bench.stack
    states = []
    for queues in size.scrape_queues:
        deployment = stack.deployment(f"scrape{queues}")
        bench.say(f"scrape: applying {size.scrape_minutes:g} min of traffic of {queues} queues")
        applied = asyncio.run(
            populate(
                stack.redis_server.url,
                deployment.prefix,
                queues=queues,
                minutes=size.scrape_minutes,
                arrivals_per_minute=size.scrape_arrivals_per_minute,
                partitions=deployment.partitions,
            )
        )
        states.append((queues, deployment, applied))
    exporters = [(deployment, *deployment.spawn_exporter()) for _q, deployment, _a in states]
    results = []
    try:
        for (queues, _deployment, (events, dead)), (_d, child, url) in zip(states, exporters, strict=True):
            wait_healthy(child, url)
            seconds, body = time_scrapes(url, size.scrape_count)
            results.append(summarize(queues, events, dead, seconds, body).as_json())
            bench.say(f"scrape: {queues} queues, median {results[-1]['median_ms']:.1f} ms")
    finally:
        for deployment, _child, _url in exporters:
            deployment.stop_all()
    bench.measurements["scrape"] = results
