"""Per-agent families, behind CALLPULSE_PER_AGENT_METRICS, with at most N agent series per tenant.

Agents beyond the cap (the least busy: fewest handled contacts in the longest window, then by id) are
summed under ``agent="_other"``, and ``callpulse_agent_series_folded`` says how many were folded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from prometheus_client.core import Metric

from exporters import catalog
from exporters.reader import Snapshot
from exporters.view import KpiView, family
from processors import formulas
from processors.figures import Figure, state_figure

OTHER = "_other"
STATES = ("available", "on_contact", "wrapup", "aux")


def _fold(snapshot: Snapshot, view: KpiView) -> tuple[dict[tuple[str, str, str], dict[str, int]], dict[str, int]]:
    """{(tenant, agent or _other, window): totals} and the number of agents folded per tenant."""
    by_tenant: dict[str, set[str]] = defaultdict(set)
    for owner, _label in snapshot.totals:
        if owner.startswith("@"):
            tenant, _, agent = owner[1:].partition("/")
            by_tenant[tenant].add(agent)
    busiest_window = view.windows[-1].label if view.windows else "today"
    folded_counts: dict[str, int] = {}
    merged: dict[tuple[str, str, str], dict[str, int]] = {}
    for tenant, agents in by_tenant.items():

        def handled(agent: str, tenant: str = tenant) -> int:
            return snapshot.totals.get((f"@{tenant}/{agent}", busiest_window), {}).get(Figure.HANDLED.value, 0)

        ranked = sorted(agents, key=lambda agent: (-handled(agent), agent))
        kept = set(ranked[: view.per_agent_max_series])
        folded_counts[tenant] = len(agents) - len(kept)
        for agent in agents:
            name = agent if agent in kept else OTHER
            for label in view.window_labels:
                target = merged.setdefault((tenant, name, label), {})
                for figure, value in snapshot.totals.get((f"@{tenant}/{agent}", label), {}).items():
                    target[figure] = target.get(figure, 0) + value
    return merged, folded_counts


def per_agent(snapshot: Snapshot, view: KpiView) -> Iterator[Metric]:
    if not view.per_agent:
        return
    handled = family(catalog.AGENT_HANDLED)
    aht = family(catalog.AGENT_AHT)
    idle = family(catalog.AGENT_IDLE)
    occupancy = family(catalog.AGENT_OCCUPANCY)
    utilization = family(catalog.AGENT_UTILIZATION)
    state_time = family(catalog.AGENT_STATE_TIME)
    merged, folded_counts = _fold(snapshot, view)
    for (tenant, agent, label), totals in sorted(merged.items()):
        labels = [tenant, agent, label]
        handled.add_metric(labels, totals.get(Figure.HANDLED.value, 0))
        for target, value in (
            (aht, formulas.average_handle_seconds(totals)),
            (idle, formulas.average_idle_seconds(totals)),
            (occupancy, formulas.occupancy_ratio(totals)),
            (utilization, formulas.utilization_ratio(totals)),
        ):
            if value is not None:
                target.add_metric(labels, value)
        for state in STATES:
            state_time.add_metric([*labels, state], totals.get(state_figure(state), 0) / 1000)
    folded = family(catalog.AGENT_FOLDED)
    for tenant, count in sorted(folded_counts.items()):
        folded.add_metric([tenant], count)
    yield from (handled, aht, idle, occupancy, utilization, state_time, folded)
