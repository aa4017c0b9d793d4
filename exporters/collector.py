"""The Prometheus collector: reads Redis at every scrape and turns the snapshot into metric families.

No metric state lives in the process between scrapes; when Redis cannot be read, only
``callpulse_exporter_redis_up 0`` is served, never stale KPI values.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis import Redis
from redis.exceptions import RedisError

from exporters import catalog
from exporters.catalog import MetricSpec
from exporters.reader import Snapshot, read_snapshot
from processors import formulas
from processors.figures import Figure
from processors.formulas import ServiceLevelVariant
from processors.windows import WindowSpec
from streams.redis_keys import STREAMS

log = logging.getLogger(__name__)

_COUNTS = {
    catalog.QUEUE_ANSWERED: Figure.ANSWERED,
    catalog.QUEUE_ABANDONED: Figure.ABANDONED,
    catalog.QUEUE_SHORT_ABANDONED: Figure.SHORT_ABANDONED,
    catalog.QUEUE_TIMED_OUT: Figure.TIMED_OUT,
    catalog.QUEUE_HANDLED: Figure.HANDLED,
    catalog.QUEUE_TRANSFERRED: Figure.TRANSFERRED,
}
_HANDLE_PARTS = {
    catalog.QUEUE_AHT: Figure.HANDLE_MS,
    catalog.QUEUE_TALK: Figure.TALK_MS,
    catalog.QUEUE_HOLD: Figure.HOLD_MS,
    catalog.QUEUE_WRAPUP: Figure.WRAPUP_MS,
}


@dataclass(frozen=True)
class KpiView:
    """How raw figures become KPIs at scrape: the choices an operator configures."""

    windows: tuple[WindowSpec, ...]
    service_level_variant: ServiceLevelVariant
    offered_includes_timeouts: bool
    service_level_seconds: Mapping[str, float]


def _family(spec: MetricSpec) -> GaugeMetricFamily | CounterMetricFamily:
    if spec.kind == "counter":
        return CounterMetricFamily(spec.name.removesuffix("_total"), spec.help, labels=spec.labels)
    return GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)


class CallpulseCollector(Collector):
    """Serves callpulse's figures from Redis; ``clock`` returns epoch seconds."""

    def __init__(self, redis: Redis, *, prefix: str, view: KpiView, clock: Callable[[], float]) -> None:
        self.redis = redis
        self.prefix = prefix
        self.view = view
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        started = self.clock()
        up = _family(catalog.REDIS_UP)
        try:
            snapshot = read_snapshot(
                self.redis, prefix=self.prefix, now_ms=int(started * 1000), windows=list(self.view.windows)
            )
        except RedisError as exc:
            log.warning("scrape could not read Redis: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from self._queue_metrics(snapshot)
        yield from self._live_metrics(snapshot)
        yield from self._pipeline_metrics(snapshot)
        duration = _family(catalog.SCRAPE_DURATION)
        duration.add_metric([], max(self.clock() - started, 0.0))
        yield duration

    def _queue_metrics(self, snapshot: Snapshot) -> Iterator[Metric]:
        families = {spec: _family(spec) for spec in catalog.ALL if spec.labels == catalog.WINDOWED}
        include = self.view.offered_includes_timeouts
        for qid in sorted({qid for qid, _ in snapshot.totals}):
            labels = qid.split("/")
            for window in self.view.windows:
                totals = snapshot.totals.get((qid, window.label), {})
                values: dict[MetricSpec, float | None] = {
                    spec: totals.get(figure.value, 0) for spec, figure in _COUNTS.items()
                }
                values[catalog.QUEUE_OFFERED] = formulas.offered(totals, include_timeouts=include)
                values[catalog.QUEUE_ASA] = formulas.average_speed_of_answer_seconds(totals)
                values[catalog.QUEUE_MAX_WAIT] = formulas.max_wait_seconds(totals)
                values[catalog.QUEUE_ABANDON_RATIO] = formulas.abandon_ratio(totals, include_timeouts=include)
                values[catalog.QUEUE_SERVICE_LEVEL] = formulas.service_level_ratio(
                    totals, self.view.service_level_variant, include_timeouts=include
                )
                for spec, part in _HANDLE_PARTS.items():
                    values[spec] = formulas.average_handle_seconds(totals, part)
                values[catalog.QUEUE_TRANSFER_RATIO] = formulas.transfer_ratio(totals)
                values[catalog.QUEUE_AGENT_IDLE] = formulas.average_idle_seconds(totals)
                for spec, value in values.items():
                    if value is not None:
                        families[spec].add_metric([*labels, window.label], value)
        yield from families.values()

    def _live_metrics(self, snapshot: Snapshot) -> Iterator[Metric]:
        waiting = _family(catalog.QUEUE_WAITING)
        longest = _family(catalog.QUEUE_LONGEST_WAIT)
        for qid in sorted(snapshot.queues):
            count, oldest_ms = snapshot.waiting.get(qid, (0, None))
            labels = qid.split("/")
            waiting.add_metric(labels, count)
            age = 0.0 if oldest_ms is None else max(snapshot.now_ms - oldest_ms, 0) / 1000
            longest.add_metric(labels, age)
        agents = _family(catalog.QUEUE_AGENTS)
        for (qid, state), count in sorted(snapshot.agents.items()):
            agents.add_metric([*qid.split("/"), state], count)
        threshold = _family(catalog.QUEUE_SL_THRESHOLD)
        for channel, seconds in sorted(self.view.service_level_seconds.items()):
            threshold.add_metric([channel], seconds)
        yield from (waiting, longest, agents, threshold)

    def _pipeline_metrics(self, snapshot: Snapshot) -> Iterator[Metric]:
        applied = _family(catalog.EVENTS_APPLIED)
        duplicate = _family(catalog.EVENTS_DUPLICATE)
        dead = _family(catalog.EVENTS_DEAD_LETTER)
        late = _family(catalog.EVENTS_LATE)
        stale = _family(catalog.CONTACTS_STALE)
        watermark = _family(catalog.STREAM_WATERMARK)
        partitions = _family(catalog.STREAM_PARTITIONS)
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
