"""The Prometheus collector: reads Redis at every scrape and turns the snapshot into metric families.

No metric state lives in the process between scrapes; when Redis cannot be read, only
``callpulse_exporter_redis_up 0`` is served, never stale KPI values. While the worker rebuilds lost state
from Kafka, ``callpulse_rebuilding 1`` and the pipeline metrics are served, but no KPI (they would be partial).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client.core import Metric
from prometheus_client.registry import Collector
from redis import Redis
from redis.exceptions import RedisError

from exporters import agent_metrics, catalog, queue_metrics, staffing_metrics
from exporters.health_state import rebuilding_partitions
from exporters.reader import Snapshot, read_snapshot
from exporters.view import KpiView, family
from streams.redis_keys import STREAMS

log = logging.getLogger(__name__)


class CallpulseCollector(Collector):
    """Serves callpulse's figures from Redis; ``clock`` returns epoch seconds."""

    def __init__(self, redis: Redis, *, prefix: str, view: KpiView, clock: Callable[[], float]) -> None:
        self.redis = redis
        self.prefix = prefix
        self.view = view
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        started = self.clock()
        up = family(catalog.REDIS_UP)
        try:
            rebuilding_before = rebuilding_partitions(self.redis, self.prefix)
            snapshot = read_snapshot(
                self.redis,
                prefix=self.prefix,
                now_ms=int(started * 1000),
                windows=list(self.view.windows),
                calendar=self.view.calendar,
                per_agent=self.view.per_agent,
            )
            rebuilding = rebuilding_before + rebuilding_partitions(self.redis, self.prefix) > 0
        except RedisError as exc:
            log.warning("scrape could not read Redis: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        rebuilding_family = family(catalog.REBUILDING)
        rebuilding_family.add_metric([], int(rebuilding))
        yield rebuilding_family
        if not rebuilding:
            yield from queue_metrics.windowed(snapshot, self.view)
            yield from queue_metrics.live(snapshot, self.view)
            yield from staffing_metrics.staffing_families(snapshot, self.view)
            yield from agent_metrics.per_agent(snapshot, self.view)
        yield from self._pipeline_metrics(snapshot)
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
