"""The Prometheus collector: reads Redis at every scrape and turns the snapshot into metric families.

No metric state lives in the process between scrapes; when Redis cannot be read, only
``callpulse_exporter_redis_up 0`` is served, never stale KPI values. While the worker rebuilds lost state
from Kafka, ``callpulse_rebuilding 1`` and the pipeline metrics are served, but no KPI (they would be partial).
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
from exporters.exposition import MetricWriter, gzip_member
from exporters.health_state import rebuilding_partitions
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

        self._lock = threading.Lock()  # scrapes may come in parallel; the caches are not thread-safe
        self._windowed = WindowedWriter()
        self._metrics = MetricWriter()
        self._reader = self._new_reader()

    def _new_reader(self) -> IncrementalReader:
        return IncrementalReader(
            prefix=self.prefix,
            windows=list(self.view.windows),
            calendar=self.view.calendar,
            per_agent=self.view.per_agent,
        )

    def _read(self, started: float) -> tuple[Snapshot, bool]:
        """The snapshot at ``started`` (re-reading only what changed since the last scrape), and whether a
        partition was being rebuilt meanwhile (then the cache is dropped: the next scrape reads in full)."""
        try:
            rebuilding_before = rebuilding_partitions(self.redis, self.prefix)
            snapshot = self._reader.read(self.redis, int(started * 1000))
            rebuilding = rebuilding_before + rebuilding_partitions(self.redis, self.prefix) > 0
        except RedisError:
            self._reader = self._new_reader()  # a scrape that failed halfway leaves no half-updated cache
            raise
        if rebuilding:
            self._reader = self._new_reader()
        return snapshot, rebuilding

    def render(self, *, openmetrics: bool = False, gzip: bool = False) -> list[bytes]:
        """The exposition text (Prometheus 0.0.4, or OpenMetrics 1.0.0) in chunks: the samples of
        ``collect()``, the large windowed families written directly (exporters/windowed_text.py). With
        ``gzip``, each chunk is a gzip member (their concatenation is one gzip stream); a windowed family that
        did not change since the last scrape keeps its compressed bytes."""
        with self._lock:
            started = self.clock()
            up, read = self._read_or_down(started)
            windowed: list[bytes] = []
            if read is None:
                head, tail = self._metrics.write([up], openmetrics=openmetrics), ""
            else:
                snapshot, rebuilding = read
                head, tail = self._metrics.write([up, self._rebuilding(rebuilding)], openmetrics=openmetrics), ""
                if not rebuilding:
                    windowed = self._windowed.write(snapshot, self.view, openmetrics=openmetrics, gzip=gzip)
                    qids = sorted(snapshot.queues)
                    samples = [
                        *queue_metrics.live_samples(snapshot, self.view, qids=qids),
                        *staffing_metrics.staffing_samples(snapshot, self.view, qids=qids),
                    ]
                    tail = self._metrics.write_samples(samples, openmetrics=openmetrics)
                families = [*self._families(snapshot, rebuilding, live=False), self._duration(started)]
                tail += self._metrics.write(families, openmetrics=openmetrics)
            tail += "# EOF\n" if openmetrics else ""
            if gzip:
                return [gzip_member(head.encode()), *windowed, gzip_member(tail.encode())]
            return [head.encode(), *windowed, tail.encode()]

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            metrics = list(self._collect())
        yield from metrics

    def _collect(self) -> Iterator[Metric]:
        started = self.clock()
        up, read = self._read_or_down(started)
        yield up
        if read is None:
            return
        snapshot, rebuilding = read
        yield self._rebuilding(rebuilding)
        if not rebuilding:
            yield from queue_metrics.windowed(snapshot, self.view)
        yield from self._families(snapshot, rebuilding)
        yield self._duration(started)

    def _read_or_down(self, started: float) -> tuple[Metric, tuple[Snapshot, bool] | None]:
        """``callpulse_exporter_redis_up`` and what ``_read`` gave, or None when Redis could not be read."""
        up = family(catalog.REDIS_UP)
        try:
            read = self._read(started)
        except RedisError as exc:
            log.warning("scrape could not read Redis: %s", exc)
            up.add_metric([], 0)
            return up, None
        up.add_metric([], 1)
        return up, read

    def _families(self, snapshot: Snapshot, rebuilding: bool, *, live: bool = True) -> Iterator[Metric]:
        """Every family after the windowed ones but the scrape duration (the live queue and staffing gauges
        unless ``live`` is False); only the pipeline's while rebuilding."""
        if not rebuilding:
            if live:
                yield from queue_metrics.live(snapshot, self.view)
                yield from staffing_metrics.staffing_families(snapshot, self.view)
            yield from agent_metrics.per_agent(snapshot, self.view)
        yield from self._pipeline_metrics(snapshot)

    @staticmethod
    def _rebuilding(rebuilding: bool) -> Metric:
        rebuilding_family = family(catalog.REBUILDING)
        rebuilding_family.add_metric([], int(rebuilding))
        return rebuilding_family

    def _duration(self, started: float) -> Metric:
        duration = family(catalog.SCRAPE_DURATION)
        duration.add_metric([], max(self.clock() - started, 0.0))
        return duration

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
