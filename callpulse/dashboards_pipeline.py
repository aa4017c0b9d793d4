"""Pipeline health panels of the operations dashboard: throughput, dead letters, lateness, lag, exporter."""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import stat, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as models

from callpulse.dashboards_common import DATASOURCE, query, thresholds, trend
from exporters import catalog

RATE = "[$__rate_interval]"


def _rate_panel(title: str, description: str, spec: catalog.MetricSpec, by: Sequence[str]) -> timeseries.Panel:
    labels = ", ".join(by)
    expr = f"max by ({labels}) (rate({spec.name}{RATE}))"
    legend = " ".join("{{" + label + "}}" for label in by)
    return trend(title, description, "eps", [(expr, legend)]).span(8)


def pipeline_panels() -> list[cogbuilder.Builder[models.Panel]]:
    redis_up = (
        stat.Panel()
        .title("Exporter reads Redis")
        .description("1 when the exporter's last scrape read Redis; at 0 it serves no KPI at all.")
        .datasource(DATASOURCE)
        .with_target(query(catalog.REDIS_UP.name, "{{instance}}", instant=True))
        .mappings(
            [models.ValueMap({"0": models.ValueMappingResult(text="down"), "1": models.ValueMappingResult(text="up")})]
        )
        .thresholds(thresholds([(None, "red"), (1, "green")]))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .height(8)
        .span(8)
    )
    return [
        _rate_panel(
            "Events applied",
            "Events applied to the figures per second, by stream.",
            catalog.EVENTS_APPLIED,
            ("stream",),
        ),
        _rate_panel(
            "Dead-lettered events",
            "Events sent to the dead-letter topic per second, by stream and reason.",
            catalog.EVENTS_DEAD_LETTER,
            ("stream", "reason"),
        ),
        _rate_panel(
            "Late events",
            "Events older than the allowed lateness (also dead-lettered) per second, by stream.",
            catalog.EVENTS_LATE,
            ("stream",),
        ),
        trend(
            "Watermark age",
            "Wall time minus the newest event time applied, per stream: how far the figures lag behind. It "
            "also grows while no event arrives at all.",
            "s",
            [(f"time() - max by (stream) ({catalog.STREAM_WATERMARK.name})", "{{stream}}")],
        ).span(8),
        redis_up,
        trend(
            "Scrape duration",
            "Time the exporter took to read Redis and build the metrics, per exporter.",
            "s",
            [(catalog.SCRAPE_DURATION.name, "{{instance}}")],
        ).span(8),
    ]
