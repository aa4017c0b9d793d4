"""Shared pieces of the generated Grafana dashboards: the datasource, the template variables, PromQL
selectors, panel presets and the final pass that numbers panels and pins every datasource.

Every panel (and every query) reads the provisioned Prometheus datasource by its fixed uid, so the JSON works
unchanged on any Grafana that loads ``deploy/grafana/provisioning``. Template variables are multi-valued
regexes, so every selector matches them with ``=~``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as models

from exporters import catalog

DATASOURCE_UID = "callpulse-prometheus"
DATASOURCE = models.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
ALL_VALUE = ".+"  # what "All" of a variable expands to: any non-empty label value
VARIABLE_METRIC = catalog.QUEUE_WAITING.name
QUEUE_BY = "max by (tenant, queue, channel)"  # one series per queue whatever the number of exporter replicas

Steps = Sequence[tuple[float | None, str]]  # threshold steps: (lower bound, colour); None is the base step


def queue_variables() -> list[cogbuilder.Builder[models.VariableModel]]:
    """tenant, queue and channel: each narrowed by the ones before it, multi-valued, "All" selected."""
    names = ("tenant", "queue", "channel")
    variables: list[cogbuilder.Builder[models.VariableModel]] = []
    for index, name in enumerate(names):
        narrowing = ", ".join(f'{before}=~"${before}"' for before in names[:index])
        series = f"{VARIABLE_METRIC}{{{narrowing}}}" if narrowing else VARIABLE_METRIC
        variables.append(
            dashboard.QueryVariable(name)
            .label(name.capitalize())
            .datasource(DATASOURCE)
            .query(f"label_values({series}, {name})")
            .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(models.VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC)
            .multi(True)
            .include_all(True)
            .all_value(ALL_VALUE)
            .current(models.VariableOption(selected=True, text="All", value="$__all"))
        )
    return variables


def selector(metric: str, *matchers: str) -> str:
    """``metric{tenant=~"$tenant", queue=~"$queue", channel=~"$channel", <matchers>}``."""
    labels = ('tenant=~"$tenant"', 'queue=~"$queue"', 'channel=~"$channel"', *matchers)
    return f"{metric}{{{', '.join(labels)}}}"


def per_queue(metric: str, *matchers: str) -> str:
    """The metric for the selected queues, one series per tenant/queue/channel."""
    return f"{QUEUE_BY} ({selector(metric, *matchers)})"


def query(expr: str, legend: str, ref_id: str = "A", *, instant: bool = False) -> prometheus.Dataquery:
    built = prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref_id).datasource(DATASOURCE)
    return built.instant() if instant else built.range()


def thresholds(steps: Steps) -> dashboard.ThresholdsConfig:
    return (
        dashboard.ThresholdsConfig()
        .mode(models.ThresholdsMode.ABSOLUTE)
        .steps([models.Threshold(value=value, color=colour) for value, colour in steps])
    )


def big_stat(title: str, expr: str, *, description: str, legend: str, unit: str, steps: Steps) -> stat.Panel:
    """A wallboard tile: the value now, its background coloured by ``steps``."""
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(query(expr, legend, instant=True))
        .unit(unit)
        .thresholds(thresholds(steps))
        .color_scheme(dashboard.FieldColor().mode(models.FieldColorModeId.THRESHOLDS))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .justify_mode(common.BigValueJustifyMode.CENTER)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .no_value("no data")
        .height(6)
        .span(4)
    )
    if unit == "percentunit":
        return panel.min(0).max(1).decimals(1)
    return panel.decimals(0) if unit == "none" else panel


def trend(
    title: str, description: str, unit: str, queries: Sequence[tuple[str, str]], *, steps: bool = False
) -> timeseries.Panel:
    """A time series panel; ``queries`` are (expr, legend) pairs. ``steps`` draws values that hold until
    the next change (report intervals) as steps rather than slopes."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .fill_opacity(10)
        .line_interpolation(common.LineInterpolation.STEP_AFTER if steps else common.LineInterpolation.LINEAR)
        .legend(
            common_builders.VizLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
        )
        .tooltip(
            common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI).sort(common.SortOrder.DESCENDING)
        )
        .height(8)
        .span(12)
    )
    for index, (expr, legend) in enumerate(queries):
        panel = panel.with_target(query(expr, legend, chr(ord("A") + index)))
    if unit == "percentunit":
        panel = panel.min(0).max(1)
    return panel


def finish(built: models.Dashboard) -> models.Dashboard:
    """Number every panel 1, 2, ... in layout order and give rows the datasource too."""
    next_id = 1
    for panel in built.panels or []:
        panel.id_val = next_id
        next_id += 1
        if isinstance(panel, models.RowPanel):
            panel.datasource = DATASOURCE
            for inner in panel.panels:
                inner.id_val = next_id
                next_id += 1
    return built


def to_json_text(built: models.Dashboard) -> str:
    """The dashboard as committed: two-space indented JSON with a final newline."""
    return json.dumps(built, cls=JSONEncoder, indent=2, ensure_ascii=False) + "\n"
