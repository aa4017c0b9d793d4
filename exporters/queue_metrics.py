"""Per-queue families: windowed KPIs from the summed figures, and the live gauges."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

from prometheus_client.core import Metric

from exporters import catalog
from exporters.catalog import MetricSpec
from exporters.exposition import Samples
from exporters.reader import Snapshot
from exporters.view import KpiView, family
from processors import formulas
from processors.figures import Figure, state_figure
from processors.formulas import ServiceLevelVariant, Totals

COUNTS = {
    catalog.QUEUE_ARRIVED: Figure.QUEUED,
    catalog.QUEUE_ANSWERED: Figure.ANSWERED,
    catalog.QUEUE_ABANDONED: Figure.ABANDONED,
    catalog.QUEUE_SHORT_ABANDONED: Figure.SHORT_ABANDONED,
    catalog.QUEUE_TIMED_OUT: Figure.TIMED_OUT,
    catalog.QUEUE_HANDLED: Figure.HANDLED,
    catalog.QUEUE_TRANSFERRED: Figure.TRANSFERRED,
    catalog.QUEUE_RESOLVED: Figure.RESOLVED,
}
HANDLE_PARTS = {
    catalog.QUEUE_AHT: Figure.HANDLE_MS,
    catalog.QUEUE_TALK: Figure.TALK_MS,
    catalog.QUEUE_HOLD: Figure.HOLD_MS,
    catalog.QUEUE_WRAPUP: Figure.WRAPUP_MS,
}
MEANS: Mapping[MetricSpec, Callable[[Totals], float | None]] = {
    catalog.QUEUE_ASA: formulas.average_speed_of_answer_seconds,
    catalog.QUEUE_MAX_WAIT: formulas.max_wait_seconds,
    catalog.QUEUE_WAIT: formulas.average_wait_seconds,
    catalog.QUEUE_FIRST_RESPONSE: formulas.first_response_seconds,
    catalog.QUEUE_RESOLUTION: formulas.resolution_seconds,
    catalog.QUEUE_TRANSFER_RATIO: formulas.transfer_ratio,
    catalog.QUEUE_AGENT_IDLE: formulas.average_idle_seconds,
    catalog.QUEUE_CSAT: formulas.csat_ratio,
    catalog.QUEUE_CSAT_SCORE: formulas.csat_mean_score,
    catalog.QUEUE_NPS: formulas.net_promoter_score,
    catalog.QUEUE_CES: formulas.customer_effort_score,
    catalog.QUEUE_FCR: formulas.first_contact_resolution_ratio,
    catalog.QUEUE_OCCUPANCY: formulas.occupancy_ratio,
    catalog.QUEUE_UTILIZATION: formulas.utilization_ratio,
}
SURVEYS = {"csat": Figure.CSAT_RESPONSES, "nps": Figure.NPS_RESPONSES, "ces": Figure.CES_RESPONSES}
AGENT_STATES = ("available", "on_contact", "wrapup", "aux")


def windowed(snapshot: Snapshot, view: KpiView) -> Iterator[Metric]:
    """Every windowed queue metric of every queue with figures."""
    families = {spec: family(spec) for spec in catalog.ALL if spec.labels[: len(catalog.WINDOWED)] == catalog.WINDOWED}
    include = view.offered_includes_timeouts
    for qid in sorted({qid for qid, _ in snapshot.totals if not qid.startswith("@")}):
        variant = view.variant_for(qid)
        for label in view.window_labels:
            totals = snapshot.totals.get((qid, label), {})
            labels = [*qid.split("/"), label]
            values: dict[MetricSpec, float | None] = {spec: totals.get(fig.value, 0) for spec, fig in COUNTS.items()}
            values[catalog.QUEUE_OFFERED] = formulas.offered(totals, include_timeouts=include)
            values[catalog.QUEUE_ABANDON_RATIO] = formulas.abandon_ratio(totals, include_timeouts=include)
            values[catalog.QUEUE_SERVICE_LEVEL] = formulas.service_level_ratio(
                totals, variant, include_timeouts=include
            )
            values.update({spec: formulas.average_handle_seconds(totals, part) for spec, part in HANDLE_PARTS.items()})
            values.update({spec: mean(totals) for spec, mean in MEANS.items()})
            for spec, value in values.items():
                if value is not None:
                    families[spec].add_metric(labels, value)
            for other in ServiceLevelVariant:
                ratio = formulas.service_level_ratio(totals, other, include_timeouts=include)
                if ratio is not None:
                    families[catalog.QUEUE_SERVICE_LEVEL_VARIANTS].add_metric([*labels, other.value], ratio)
            for survey, figure in SURVEYS.items():
                families[catalog.QUEUE_SURVEYS].add_metric([*labels, survey], totals.get(figure.value, 0))
            for state in AGENT_STATES:
                spent = totals.get(state_figure(state), 0) / 1000
                families[catalog.QUEUE_AGENT_STATE_TIME].add_metric([*labels, state], spent)
    yield from families.values()


def live(snapshot: Snapshot, view: KpiView) -> Iterator[Metric]:
    """Contacts waiting now, the longest current wait (at scrape), agents by state, configured thresholds."""
    yield from (samples.metric() for samples in live_samples(snapshot, view))


def live_samples(snapshot: Snapshot, view: KpiView, *, qids: Sequence[str] | None = None) -> list[Samples]:
    """The samples of ``live``, for the direct writer (``qids``: ``sorted(snapshot.queues)`` if known)."""
    waiting, longest = Samples(catalog.QUEUE_WAITING), Samples(catalog.QUEUE_LONGEST_WAIT)
    for qid in sorted(snapshot.queues) if qids is None else qids:
        labels = qid.split("/")
        count, oldest_ms = snapshot.waiting.get(qid, (0, None))
        waiting.add(labels, count)
        longest.add(labels, 0.0 if oldest_ms is None else max(snapshot.now_ms - oldest_ms, 0) / 1000)
    agents = Samples(catalog.QUEUE_AGENTS)
    for (qid, state), count in sorted(snapshot.agents.items()):
        agents.add([*qid.split("/"), state], count)
    threshold = Samples(catalog.QUEUE_SL_THRESHOLD)
    for channel, seconds in sorted(view.service_level_seconds.items()):
        threshold.add([channel], seconds)
    return [waiting, longest, agents, threshold]
