"""Live staffing per queue: offered load, agents required (Erlang C), the service level and answer speed predicted
with the agents serving now (Erlang C, and Erlang A with the patience observed), and the agents serving now.

Inputs come from one sliding window (``15m``): arrival rate = arrived contacts / the time the window covers,
AHT = handle time / handled, mean patience = waits of every contact that left the queue / abandons (short
abandons too; answered and timed-out waits are censored patience times). The models are in processors/staffing.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from prometheus_client.core import Metric

from exporters import catalog
from exporters.reader import Snapshot
from exporters.view import KpiView, family
from processors import formulas, staffing
from processors.figures import Figure
from processors.windows import WindowSpec

STAFFING_WINDOW = "15m"
SERVICE_LEVEL_TARGET = 0.8
SERVING_STATES = ("available", "on_contact", "wrapup")


@dataclass(frozen=True)
class QueueLoad:
    """What the models need from one queue's window."""

    arrival_rate: float  # contacts per second
    aht_seconds: float
    patience_seconds: float | None  # None when nobody abandoned: Erlang A is left out

    @property
    def offered_load(self) -> float:
        """Erlangs: arrival rate x AHT."""
        return self.arrival_rate * self.aht_seconds


def window_span_seconds(window: WindowSpec, now_ms: int) -> float:
    """Time the window read at ``now_ms`` covers: from its oldest bucket to now (at least one bucket).

    A window of n buckets spans (n - 1) to n bucket widths (processors/windows.py); dividing by its nominal
    length would read the arrival rate up to 1/n low just after a bucket edge.
    """
    return max(now_ms - window.first_bucket(now_ms), window.bucket_ms) / 1000


def queue_load(totals: Mapping[str, int], span_seconds: float) -> QueueLoad | None:
    """The queue's arrival rate, AHT and mean patience over the window; None without arrivals or handle time."""
    arrivals = totals.get(Figure.QUEUED.value, 0)
    aht = formulas.average_handle_seconds(totals)
    if arrivals <= 0 or aht is None or aht <= 0:
        return None
    abandoned = totals.get(Figure.ABANDONED.value, 0) + totals.get(Figure.SHORT_ABANDONED.value, 0)
    patience = staffing.patience_seconds(abandoned, totals.get(Figure.WAIT_ALL_MS.value, 0) / 1000)
    return QueueLoad(arrivals / span_seconds, aht, patience)


def forecasts(load: QueueLoad, agents: int, threshold_seconds: float) -> dict[str, staffing.Forecast]:
    """Erlang C, and Erlang A when a patience was observed, for ``agents`` serving the queue."""
    models = {"erlang_c": staffing.erlang_c(agents, load.offered_load, load.aht_seconds, threshold_seconds)}
    if load.patience_seconds is not None:
        models["erlang_a"] = staffing.erlang_a(
            agents, load.offered_load, load.aht_seconds, load.patience_seconds, threshold_seconds
        )
    return models


def staffing_families(
    snapshot: Snapshot, view: KpiView, *, window: str = STAFFING_WINDOW, target: float = SERVICE_LEVEL_TARGET
) -> Iterator[Metric]:
    """The staffing gauges of every queue; model figures only where the window has arrivals and handle time,
    and the channel a service-level threshold (none at all when ``window`` is not a configured sliding window)."""
    offered = family(catalog.QUEUE_OFFERED_LOAD)
    required = family(catalog.QUEUE_AGENTS_REQUIRED)
    level = family(catalog.QUEUE_PREDICTED_SERVICE_LEVEL)
    speed = family(catalog.QUEUE_PREDICTED_ANSWER_SPEED)
    logged_in = family(catalog.QUEUE_AGENTS_LOGGED_IN)
    spec = next((spec for spec in view.windows if spec.label == window), None)
    for qid in sorted(snapshot.queues):
        labels = qid.split("/")
        agents = sum(snapshot.agents.get((qid, state), 0) for state in SERVING_STATES)
        logged_in.add_metric(labels, agents)
        if spec is None:
            continue
        load = queue_load(snapshot.totals.get((qid, window), {}), window_span_seconds(spec, snapshot.now_ms))
        if load is None:
            continue
        offered.add_metric(labels, load.offered_load)
        threshold = view.service_level_seconds.get(labels[-1])
        if threshold is None:
            continue
        required.add_metric(labels, staffing.agents_required(load.offered_load, load.aht_seconds, threshold, target))
        variant = view.variant_for(qid)
        for model, forecast in forecasts(load, agents, threshold).items():
            ratio = forecast.service_level(variant)
            if ratio is not None:
                level.add_metric([*labels, model], ratio)
            speed.add_metric([*labels, model], forecast.answer_speed_seconds)
    yield from (offered, required, level, speed, logged_in)
