"""How raw figures become KPIs at scrape: the choices an operator configures, and metric-family helpers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from exporters.catalog import MetricSpec
from exporters.reader import Calendar
from processors.formulas import ServiceLevelVariant
from processors.windows import WindowSpec

CALENDAR_LABELS = ("today", "interval", "last_interval")


@dataclass(frozen=True)
class KpiView:
    windows: tuple[WindowSpec, ...]
    service_level_variant: ServiceLevelVariant
    offered_includes_timeouts: bool
    service_level_seconds: Mapping[str, float]
    service_level_variants: Mapping[str, ServiceLevelVariant] = field(default_factory=dict)
    calendar: Calendar = field(default_factory=Calendar)
    per_agent: bool = False
    per_agent_max_series: int = 200

    @property
    def window_labels(self) -> tuple[str, ...]:
        return (*(window.label for window in self.windows), *CALENDAR_LABELS)

    def variant_for(self, qid: str) -> ServiceLevelVariant:
        """The abandon treatment of a queue: ``tenant/queue/channel``, then ``queue/channel``, then the default."""
        _tenant, _, queue_channel = qid.partition("/")
        return self.service_level_variants.get(
            qid, self.service_level_variants.get(queue_channel, self.service_level_variant)
        )


def family(spec: MetricSpec) -> GaugeMetricFamily | CounterMetricFamily:
    if spec.kind == "counter":
        return CounterMetricFamily(spec.name.removesuffix("_total"), spec.help, labels=spec.labels)
    return GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)
