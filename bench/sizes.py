"""How big each benchmark run is: ``tiny`` for the test suite, ``small`` to try things, ``full`` is issue 7's."""

from __future__ import annotations

from dataclasses import dataclass

MEASUREMENTS = ("ceiling", "worker", "latency", "scrape", "memory", "scaleout")


@dataclass(frozen=True)
class Size:
    name: str
    events: int  # the topic contents every worker run and the ceiling read
    span_minutes: float  # ... simulated over this long, ending about now
    memory_checkpoints: tuple[int, int]  # RSS after this many events (the second is ``events``)
    latency_seconds: float  # how long the 5,000 events/s load lasts
    scrape_queues: tuple[int, ...] = (10, 100, 1000)
    scrape_minutes: float = 60.0  # simulated history of the scrape state, ending now
    scrape_arrivals_per_minute: float = 1.0  # per queue
    scrape_count: int = 20
    latency_rate: float = 5000.0
    probe_interval: float = 0.05
    seed: int = 7

    @property
    def timeout(self) -> float:
        """Longest wait for any one step: generous, since the machine may be shared."""
        return 120.0 + self.events / 200


SIZES = {
    "tiny": Size(
        "tiny",
        events=5_000,
        span_minutes=10,
        memory_checkpoints=(1_000, 5_000),
        latency_seconds=3,
        scrape_minutes=6,
        scrape_arrivals_per_minute=0.2,
        scrape_count=3,
    ),
    "small": Size(
        "small",
        events=100_000,
        span_minutes=300,  # the first memory checkpoint comes after 30 simulated minutes: windows are full
        memory_checkpoints=(10_000, 100_000),
        latency_seconds=15,
        scrape_minutes=30,
        scrape_arrivals_per_minute=0.5,
        scrape_count=10,
    ),
    "full": Size(
        "full",
        events=1_000_000,
        span_minutes=600,  # 100k events = an hour of traffic, past the allowed lateness and the longest window
        memory_checkpoints=(100_000, 1_000_000),
        latency_seconds=60,
    ),
}
