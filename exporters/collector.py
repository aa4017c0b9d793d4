"""The Prometheus collector: reads Redis at every scrape and turns the snapshot into metric families.

No metric state lives in the process between scrapes; when Redis cannot be read, only
``callpulse_exporter_redis_up 0`` is served, never stale KPI values.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client.core import Metric
from prometheus_client.registry import Collector
from redis import Redis
from redis.exceptions import RedisError

from exporters import agent_metrics, catalog, queue_metrics, staffing_metrics
from exporters.exposition import MetricWriter
from exporters.incremental import IncrementalReader
from exporters.reader import Snapshot
from exporters.view import KpiView, family
from exporters.windowed_text import WindowedWriter
from streams.redis_keys import STREAMS

log = logging.getLogger(__name__)


class CallpulseCollector(Collector):
    """Serves callpulse's figures from Redis; ``clock`` returns epoch seconds."""

    def __init__(self, redis: Redis, *, prefix: str, view: KpiView, clock: Callable[[], float]) -> None:
        self.redis = redis
        self.prefix = prefix
        self.view = view
        self.clock = clock
        self._lock = threading.Lock()  # scrapes may come in parallel; the writers' caches are not thread-safe
        self._windowed = WindowedWriter()
        self._metrics = MetricWriter()
        self._reader = IncrementalReader(
            prefix=prefix, windows=list(view.windows), calendar=view.calendar, per_agent=view.per_agent
        )

    def _read(self, started: float) -> Snapshot:
        """The snapshot at ``started``, re-reading only what changed in Redis since the last scrape."""
        try:
            return self._reader.read(self.redis, int(started * 1000))
        except RedisError:
            self._reader = IncrementalReader(  # a scrape that failed halfway leaves no half-updated cache
                prefix=self.prefix,
                windows=list(self.view.windows),
                calendar=self.view.calendar,
                per_agent=self.view.per_agent,
            )
            raise

    def render(self, *, openmetrics: bool = False) -> list[bytes]:
        """The exposition text (Prometheus 0.0.4, or OpenMetrics 1.0.0), in chunks: the samples of
        ``collect()`` with the large windowed families written directly (exporters/windowed_text.py)."""
        with self._lock:
            started = self.clock()
            up = family(catalog.REDIS_UP)
            try:
                snapshot = self._read(started)
            except RedisError as exc:
                log.warning("scrape could not read Redis: %s", exc)
                up.add_metric([], 0)
                return [self._metrics.write([up], openmetrics=openmetrics).encode(), *_eof(openmetrics)]
            up.add_metric([], 1)
            chunks = [self._metrics.write([up], openmetrics=openmetrics).encode()]
            chunks += self._windowed.write(snapshot, self.view, openmetrics=openmetrics)
            rest = [*self._families(snapshot)]
            duration = family(catalog.SCRAPE_DURATION)
            duration.add_metric([], max(self.clock() - started, 0.0))
            chunks.append(self._metrics.write([*rest, duration], openmetrics=openmetrics).encode())
            return [*chunks, *_eof(openmetrics)]

    def _families(self, snapshot: Snapshot) -> Iterator[Metric]:
        """Every family but the windowed ones, Redis up and the scrape duration."""
        yield from queue_metrics.live(snapshot, self.view)
        yield from staffing_metrics.staffing_families(snapshot, self.view)
        yield from agent_metrics.per_agent(snapshot, self.view)
        yield from self._pipeline_metrics(snapshot)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            metrics = list(self._collect())
        yield from metrics

    def _collect(self) -> Iterator[Metric]:
        started = self.clock()
        up = family(catalog.REDIS_UP)
        try:
            snapshot = self._read(started)
        except RedisError as exc:
            log.warning("scrape could not read Redis: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from queue_metrics.windowed(snapshot, self.view)
        yield from self._families(snapshot)
        duration = family(catalog.SCRAPE_DURATION)
        duration.add_metric([], max(self.clock() - started, 0.0))
        yield duration

    def _pipeline_metrics(self, snapshot: Snapshot) -> Iterator[Metric]:
        applied = family(catalog.EVENTS_APPLIED)
        duplicate = family(catalog.EVENTS_DUPLICATE)
        dead = family(catalog.EVENTS_DEAD_LETTER)
        late = family(catalog.EVENTS_LATE)
        stale = family(catalog.CONTACTS_STALE)
        watermark = family(catalog.STREAM_WATERMARK)
        partitions = family(catalog.STREAM_PARTITIONS)
        for stream in STREAMS:
            stats: Counter[str] = snapshot.stats.get(stream, Counter())
            applied.add_metric([stream], stats.get("applied", 0))
            duplicate.add_metric([stream], stats.get("duplicate", 0))
            late.add_metric([stream], stats.get("dead_letter:late_event", 0))
            stale.add_metric([stream], stats.get("stale_evicted", 0))
            for name, count in sorted(stats.items()):
                if name.startswith("dead_letter:"):
                    dead.add_metric([stream, name.removeprefix("dead_letter:")], count)
            partitions.add_metric([stream], snapshot.partitions.get(stream, 0))
            if stream in snapshot.watermark_ms:
                watermark.add_metric([stream], snapshot.watermark_ms[stream] / 1000)
        yield from (applied, duplicate, dead, late, stale, watermark, partitions)


def _eof(openmetrics: bool) -> list[bytes]:
    return [b"# EOF\n"] if openmetrics else []
