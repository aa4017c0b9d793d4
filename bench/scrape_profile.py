"""Time the exporter's scrape work for N queues: rendering a synthetic snapshot, and reading Redis.

    python3 bench/scrape_profile.py render --queues 10 100 1000
    python3 bench/scrape_profile.py redis --queues 10 100 1000   # starts an embedded Valkey

Prints milliseconds per step (best of ``--repeat``). Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from collections.abc import Callable

from exporters.reader import Snapshot
from exporters.view import KpiView
from processors.figures import Figure, MaxFigure, state_figure
from processors.formulas import ServiceLevelVariant
from processors.windows import WindowSpec

MINUTE = 60_000
NOW = 29_000_000 * MINUTE + 30_000
WINDOWS = tuple(WindowSpec(minutes * MINUTE, MINUTE) for minutes in (5, 15, 60))
VIEW = KpiView(
    windows=WINDOWS,
    service_level_variant=ServiceLevelVariant.ABANDONS_AGAINST,
    offered_includes_timeouts=True,
    service_level_seconds={"voice": 20.0, "chat": 60.0, "email": 3600.0, "social": 900.0},
)
CHANNELS = ("voice", "chat", "email", "social")
STATES = ("available", "on_contact", "wrapup", "aux")


def qids(queues: int) -> list[str]:
    return [f"tenant{index % 7}/queue{index}/{CHANNELS[index % 4]}" for index in range(queues)]


def synthetic_snapshot(queues: int, seed: int = 1) -> Snapshot:
    """Every figure of every (queue, window) non-zero, agents in every state, contacts waiting."""
    rng = random.Random(seed)
    snapshot = Snapshot(now_ms=NOW)
    for qid in qids(queues):
        for label in VIEW.window_labels:
            totals = {figure.value: rng.randint(1, 10_000) for figure in Figure}
            totals.update({state_figure(state): rng.randint(1, 10_000_000) for state in STATES})
            totals[MaxFigure.WAIT_MAX_MS.value] = rng.randint(1, 600_000)
            snapshot.totals[(qid, label)] = totals
        snapshot.waiting[qid] = (rng.randint(0, 20), NOW - rng.randint(0, 600_000))
        for state in STATES:
            snapshot.agents[(qid, state)] = rng.randint(0, 9)
    snapshot.agents = Counter(snapshot.agents)
    return snapshot


def best_ms(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def render(queues: int, repeat: int) -> None:
    """Old: prometheus_client families + generate_latest. New: the collector's direct writers (cold, then a
    scrape where nothing changed, then one where every value changed)."""
    from prometheus_client import generate_latest
    from prometheus_client.core import Metric

    from exporters import queue_metrics, staffing_metrics
    from exporters.exposition import MetricWriter
    from exporters.windowed_text import WindowedWriter

    snapshot, changed = synthetic_snapshot(queues), synthetic_snapshot(queues, seed=2)

    def families(snapshot: Snapshot = snapshot) -> list[Metric]:
        return [
            *queue_metrics.windowed(snapshot, VIEW),
            *queue_metrics.live(snapshot, VIEW),
            *staffing_metrics.staffing_families(snapshot, VIEW),
        ]

    class _Registry:
        def collect(self) -> list[Metric]:
            return families()

    windowed, metrics = WindowedWriter(), MetricWriter()

    def new(snapshot: Snapshot) -> None:
        windowed.write(snapshot, VIEW, openmetrics=False)
        rest = [*queue_metrics.live(snapshot, VIEW), *staffing_metrics.staffing_families(snapshot, VIEW)]
        metrics.write(rest, openmetrics=False)

    old_ms = best_ms(lambda: generate_latest(_Registry()), 1)  # type: ignore[arg-type]
    cold_ms = best_ms(lambda: new(snapshot), 1)
    same_ms = best_ms(lambda: new(snapshot), repeat)
    all_ms = best_ms(lambda: (new(changed), new(snapshot)), repeat) / 2
    print(
        f"{queues:>5} queues: prometheus_client {old_ms:8.1f} ms | direct: first {cold_ms:7.1f} ms, "
        f"nothing changed {same_ms:6.1f} ms, every value changed {all_ms:7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["render"])
    parser.add_argument("--queues", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for queues in args.queues:
        render(queues, args.repeat)


if __name__ == "__main__":
    main()
