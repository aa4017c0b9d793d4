"""Live staffing per queue: offered load, agents required (Erlang C), the service level and answer speed predicted
with the agents serving now (Erlang C, and Erlang A with the patience observed), and the agents serving now.

Inputs come from one sliding window (``15m``): arrival rate = arrived contacts / the time the window covers,
AHT = handle time / handled, mean patience = waits of every contact that left the queue / abandons (short
abandons too; answered and timed-out waits are censored patience times). The models are in processors/staffing.py;
every queue is computed at once by their column versions (processors/staffing_columns.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from prometheus_client.core import Metric

from exporters import catalog
from exporters.exposition import Samples
from exporters.live_totals import stored_figures
from exporters.reader import Snapshot
from exporters.view import KpiView
from processors import formulas, staffing, staffing_columns
from processors.figures import Figure
from processors.formulas import ServiceLevelVariant
from processors.windows import WindowSpec

STAFFING_WINDOW = "15m"
SERVICE_LEVEL_TARGET = 0.8
SERVING_STATES = ("available", "on_contact", "wrapup")
# figure names read for every queue at every scrape (an enum member's .value costs more than the lookup)
_QUEUED, _ABANDONED, _SHORT_ABANDONED, _WAIT_ALL_MS = (
    figure.value for figure in (Figure.QUEUED, Figure.ABANDONED, Figure.SHORT_ABANDONED, Figure.WAIT_ALL_MS)
)


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
    arrivals = totals.get(_QUEUED, 0)
    aht = formulas.average_handle_seconds(totals)
    if arrivals <= 0 or aht is None or aht <= 0:
        return None
    abandoned = totals.get(_ABANDONED, 0) + totals.get(_SHORT_ABANDONED, 0)
    patience = staffing.patience_seconds(abandoned, totals.get(_WAIT_ALL_MS, 0) / 1000)
    return QueueLoad(arrivals / span_seconds, aht, patience)


def forecasts(load: QueueLoad, agents: int, threshold_seconds: float) -> dict[str, staffing.Forecast]:
    """Erlang C, and Erlang A when a patience was observed, for ``agents`` serving the queue: one queue by the
    scalar models, the reference for ``model_figures`` (which computes every queue at once)."""
    models = {"erlang_c": staffing.erlang_c(agents, load.offered_load, load.aht_seconds, threshold_seconds)}
    if load.patience_seconds is not None:
        models["erlang_a"] = staffing.erlang_a(
            agents, load.offered_load, load.aht_seconds, load.patience_seconds, threshold_seconds
        )
    return models


class Columns(NamedTuple):
    """The modelled queues' inputs, one entry per queue; patience NaN where nobody abandoned."""

    agents: npt.NDArray[np.int64]
    load: npt.NDArray[np.float64]
    aht: npt.NDArray[np.float64]
    threshold: npt.NDArray[np.float64]
    patience: npt.NDArray[np.float64]


@dataclass
class ModelledQueues:
    """The queues that get model figures (a load and a service-level threshold), in scrape order."""

    labels: list[list[str]] = field(default_factory=list)
    variants: list[ServiceLevelVariant] = field(default_factory=list)
    rows: list[tuple[float, float, float, float, float]] = field(default_factory=list)

    def add(
        self, labels: list[str], load: QueueLoad, agents: int, threshold_seconds: float, variant: ServiceLevelVariant
    ) -> None:
        patience = math.nan if load.patience_seconds is None else load.patience_seconds
        self.labels.append(labels)
        self.variants.append(variant)
        self.rows.append((agents, load.offered_load, load.aht_seconds, threshold_seconds, patience))

    def columns(self) -> Columns:
        table = np.array(self.rows, dtype=np.float64).reshape(-1, 5).T
        return Columns(table[0].astype(np.int64), table[1], table[2], table[3], table[4])


def staffing_families(
    snapshot: Snapshot, view: KpiView, *, window: str = STAFFING_WINDOW, target: float = SERVICE_LEVEL_TARGET
) -> Iterator[Metric]:
    """The staffing gauges of every queue; model figures only where the window has arrivals and handle time,
    and the channel a service-level threshold (none at all when ``window`` is not a configured sliding window)."""
    yield from (samples.metric() for samples in staffing_samples(snapshot, view, window=window, target=target))


def staffing_samples(
    snapshot: Snapshot,
    view: KpiView,
    *,
    window: str = STAFFING_WINDOW,
    target: float = SERVICE_LEVEL_TARGET,
    qids: Sequence[str] | None = None,
) -> list[Samples]:
    """The samples of ``staffing_families``, for the direct writer (``qids``: ``sorted(snapshot.queues)`` if known)."""
    offered = Samples(catalog.QUEUE_OFFERED_LOAD)
    required = Samples(catalog.QUEUE_AGENTS_REQUIRED)
    level = Samples(catalog.QUEUE_PREDICTED_SERVICE_LEVEL)
    speed = Samples(catalog.QUEUE_PREDICTED_ANSWER_SPEED)
    logged_in = Samples(catalog.QUEUE_AGENTS_LOGGED_IN)
    spec = next((spec for spec in view.windows if spec.label == window), None)
    span = 0.0 if spec is None else window_span_seconds(spec, snapshot.now_ms)
    modelled = ModelledQueues()
    for qid in sorted(snapshot.queues) if qids is None else qids:
        labels = qid.split("/")
        agents = serving_agents(snapshot, qid)
        logged_in.add(labels, agents)
        if spec is None:
            continue
        load = queue_load(stored_figures(snapshot.totals, (qid, window)), span)
        if load is None:
            continue
        offered.add(labels, load.offered_load)
        threshold = view.service_level_seconds.get(labels[-1])
        if threshold is not None:
            modelled.add(labels, load, agents, threshold, view.variant_for(qid))
    if modelled.rows:
        models = staffing_columns.forecasts(*modelled.columns(), target=target)
        for labels, agents in zip(modelled.labels, models.agents_required.tolist(), strict=True):
            required.add(labels, agents)
        for labels, ratio, seconds in model_figures(modelled, models):
            if not math.isnan(ratio):  # NaN: the service level is 0/0 under the queue's abandon treatment
                level.add(labels, ratio)
            speed.add(labels, seconds)
    return [offered, required, level, speed, logged_in]


def serving_agents(snapshot: Snapshot, qid: str) -> int:
    """Agents serving the queue: available, on a contact or in wrap-up (not aux or offline)."""
    available, on_contact, wrapup = SERVING_STATES
    agents = snapshot.agents
    return agents.get((qid, available), 0) + agents.get((qid, on_contact), 0) + agents.get((qid, wrapup), 0)


def model_figures(
    queues: ModelledQueues, models: staffing_columns.Staffing
) -> Iterator[tuple[list[str], float, float]]:
    """(labels and model, service level under the queue's abandon treatment or NaN, answer speed) of every queue:
    erlang_c, then erlang_a where a patience was observed (``forecasts``, for every queue at once)."""
    c_levels = service_levels(models.erlang_c, queues.variants)
    c_speeds = models.erlang_c.answer_speed_seconds.tolist()
    patient = models.patient.tolist()
    a_levels = service_levels(models.erlang_a, [queues.variants[index] for index in patient])
    a_figures = dict(
        zip(patient, zip(a_levels, models.erlang_a.answer_speed_seconds.tolist(), strict=True), strict=True)
    )
    for index, labels in enumerate(queues.labels):
        yield [*labels, "erlang_c"], c_levels[index], c_speeds[index]
        if index in a_figures:
            yield [*labels, "erlang_a"], *a_figures[index]


def service_levels(forecasts: staffing_columns.ForecastColumns, variants: list[ServiceLevelVariant]) -> list[float]:
    """Each queue's service level under its own abandon treatment (NaN for 0/0)."""
    levels = np.empty(len(variants))
    chosen = np.array(variants, dtype=object)
    for variant in set(variants):
        rows = chosen == variant
        levels[rows] = forecasts.service_level(variant)[rows]
    return levels.tolist()
