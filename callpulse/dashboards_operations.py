"""The operations dashboard: KPI trends (sliding 15 minutes and report intervals), agents, pipeline health."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard, stat, table, timeseries
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models import prometheus as prometheus_models

from callpulse.dashboards_common import DATASOURCE, finish, per_queue, query, queue_variables, thresholds, trend
from callpulse.dashboards_pipeline import pipeline_panels
from exporters import catalog

UID = "callpulse-operations"
QUEUE_LEGEND = "{{tenant}}/{{queue}}/{{channel}}"
SLIDING = 'window="15m"'
INTERVAL = 'window="interval"'
LAST_INTERVAL = 'window="last_interval"'
VOLUMES = (
    ("offered", catalog.QUEUE_OFFERED),
    ("answered", catalog.QUEUE_ANSWERED),
    ("abandoned", catalog.QUEUE_ABANDONED),
)
KPIS = (  # title, metric, unit, what it is
    ("Service level", catalog.QUEUE_SERVICE_LEVEL, "percentunit", "share served within the threshold"),
    ("AHT", catalog.QUEUE_AHT, "s", "average handle time (talk + hold + wrap-up)"),
    ("Occupancy", catalog.QUEUE_OCCUPANCY, "percentunit", "agents' handling time / (handling + available)"),
)
AGENT_STATES = (("Available", "available"), ("On contact", "on_contact"), ("Wrap-up", "wrapup"), ("Aux", "aux"))
AGENT_COLUMNS = (  # column, metric, extra matcher, unit
    ("Handled", catalog.AGENT_HANDLED.name, "", "none"),
    ("AHT", catalog.AGENT_AHT.name, "", "s"),
    ("Idle between contacts", catalog.AGENT_IDLE.name, "", "s"),
    ("Occupancy", catalog.AGENT_OCCUPANCY.name, "", "percentunit"),
    ("Utilization", catalog.AGENT_UTILIZATION.name, "", "percentunit"),
    *((f"{column} time", catalog.AGENT_STATE_TIME.name, f', state="{state}"', "s") for column, state in AGENT_STATES),
)
PER_AGENT_NOTE = (
    "Filled only when the exporter runs with CALLPULSE_PER_AGENT_METRICS=true (off by default); agents beyond "
    "CALLPULSE_PER_AGENT_MAX_SERIES per tenant are summed under agent=_other."
)


def _volumes(window: str) -> list[tuple[str, str]]:
    return [(per_queue(spec.name, window), f"{QUEUE_LEGEND} {name}") for name, spec in VOLUMES]


def _sliding() -> list[timeseries.Panel]:
    panels = [
        trend("Offered, answered, abandoned (15m)", "Contacts in the sliding 15 minutes.", "none", _volumes(SLIDING))
    ]
    for title, spec, unit, meaning in KPIS:
        queries = [(per_queue(spec.name, SLIDING), QUEUE_LEGEND)]
        panels.append(trend(f"{title} (15m)", f"{title}: {meaning}, over the sliding 15 minutes.", unit, queries))
    return panels


def _intervals() -> list[timeseries.Panel]:
    panels = [
        trend(
            "Offered, answered, abandoned per interval",
            "Contacts of the last completed report interval (CALLPULSE_INTERVAL_MINUTES): a step per interval.",
            "none",
            _volumes(LAST_INTERVAL),
            steps=True,
        ),
        trend(
            "Offered, answered, abandoned in the current interval",
            "Contacts so far in the report interval in progress; restarts from 0 at each interval.",
            "none",
            _volumes(INTERVAL),
        ),
    ]
    for title, spec, unit, meaning in KPIS:
        queries = [
            (per_queue(spec.name, LAST_INTERVAL), f"{QUEUE_LEGEND} last interval"),
            (per_queue(spec.name, INTERVAL), f"{QUEUE_LEGEND} current interval"),
        ]
        description = f"{title}: {meaning}, of the last completed report interval and of the one in progress."
        panels.append(trend(f"{title} per interval", description, unit, queries, steps=True).span(8))
    return panels


def _agents_table() -> table.Panel:
    panel = (
        table.Panel()
        .title("Agents today")
        .description(f"Per-agent figures since local midnight. {PER_AGENT_NOTE}")
        .datasource(DATASOURCE)
        .height(10)
        .span(18)
        .sort_by([common_builders.TableSortByFieldState().display_name("Handled").desc(True)])
    )
    renames: dict[str, str] = {}
    for index, (column, metric, matcher, unit) in enumerate(AGENT_COLUMNS):
        ref_id = chr(ord("A") + index)
        expr = f'max by (tenant, agent) ({metric}{{tenant=~"$tenant", window="today"{matcher}}})'
        target = query(expr, "", ref_id, instant=True).format(prometheus_models.PromQueryFormat.TABLE)
        panel = panel.with_target(target).override_by_name(column, [models.DynamicConfigValue("unit", unit)])
        renames[f"Value #{ref_id}"] = column
    merge = models.DataTransformerConfig(id_val="merge", options={})
    organize = models.DataTransformerConfig(
        id_val="organize",
        options={"excludeByName": {"Time": True}, "renameByName": {"tenant": "Tenant", "agent": "Agent", **renames}},
    )
    return panel.transformations([merge, organize])


def _folded() -> stat.Panel:
    expr = f'max by (tenant) ({catalog.AGENT_FOLDED.name}{{tenant=~"$tenant"}})'
    return (
        stat.Panel()
        .title("Agents folded into _other")
        .description(f"Agents whose figures are summed under agent=_other. {PER_AGENT_NOTE}")
        .datasource(DATASOURCE)
        .with_target(query(expr, "{{tenant}}", instant=True))
        .unit("none")
        .thresholds(thresholds([(None, "green"), (1, "yellow")]))
        .color_mode(common.BigValueColorMode.VALUE)
        .height(10)
        .span(6)
    )


def build() -> models.Dashboard:
    board = (
        dashboard.Dashboard("callpulse operations")
        .uid(UID)
        .description("KPI trends by sliding window and report interval, agents, and the health of the pipeline.")
        .tags(["callpulse"])
        .readonly()
        .time("now-6h", "now")
        .refresh("1m")
        .variables(queue_variables())
    )
    # Expanded rows are added empty and their panels after them (the SDK's Row.with_panel collapses the row).
    board = board.with_row(dashboard.Row("Sliding 15 minutes"))
    for panel in _sliding():
        board = board.with_panel(panel)
    board = board.with_row(dashboard.Row("Report intervals"))
    for panel in _intervals():
        board = board.with_panel(panel)
    board = board.with_row(dashboard.Row("Pipeline health"))
    for pipeline_panel in pipeline_panels():
        board = board.with_panel(pipeline_panel)
    agents = dashboard.Row("Agents (per-agent metrics)").with_panel(_agents_table()).with_panel(_folded())
    return finish(board.with_row(agents).build())
