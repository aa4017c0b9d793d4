"""The windowed KPI formulas of processors/formulas.py over columns: one array per figure, one row per
(queue, window), so a scrape of 1,000 queues computes each KPI in a few numpy operations.

Every expression repeats the scalar formula's arithmetic in the same order, on float64 holding exact integer
sums (< 2**53), so each value is bit-identical to the scalar one; tests/unit/test_scrape_render.py checks
every KPI against processors.formulas on random totals. A KPI is ``(values, present)``: ``present`` is False
where the scalar formula returns None (a denominator <= 0).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from exporters import catalog
from exporters.catalog import MetricSpec
from exporters.queue_metrics import COUNTS
from processors.figures import Figure, MaxFigure, state_figure
from processors.formulas import ServiceLevelVariant, Totals

Array = npt.NDArray[np.float64]
Kpi = tuple[Array, npt.NDArray[np.bool_]]
STATES = ("available", "on_contact", "wrapup", "aux")
FIELDS: tuple[str, ...] = (*(figure.value for figure in Figure), *(state_figure(state) for state in STATES))
MAX_FIELD = MaxFigure.WAIT_MAX_MS.value


class Columns:
    """The figures of ``rows`` (totals of one queue and window each) as float64 columns."""

    def __init__(self, rows: Sequence[Totals]) -> None:
        self._set(field_matrix(rows), np.array([row.get(MAX_FIELD, np.nan) for row in rows], dtype=np.float64))

    @classmethod
    def of(cls, matrix: Array, wait_max: Array) -> Columns:
        """From a matrix with one column per ``FIELDS`` entry, and the maximum waits (NaN where absent)."""
        columns = cls.__new__(cls)
        columns._set(matrix, wait_max)
        return columns

    def _set(self, matrix: Array, wait_max: Array) -> None:
        self._columns = {name: matrix[:, index] for index, name in enumerate(FIELDS)}
        self.wait_max = wait_max

    def __getitem__(self, figure: Figure | str) -> Array:
        return self._columns[figure if isinstance(figure, str) else figure.value]


def field_matrix(rows: Sequence[Totals]) -> Array:
    """One row per totals, one column per ``FIELDS`` entry (0 where absent)."""
    zeros = (0,) * len(FIELDS)
    if not rows:
        return np.zeros((0, len(FIELDS)), dtype=np.float64)
    return np.array([list(map(row.get, FIELDS, zeros)) for row in rows], dtype=np.float64)


def always(values: Array) -> Kpi:
    return values, np.ones(values.shape, dtype=np.bool_)


def ratio(numerator: Array, denominator: Array) -> Kpi:
    """numerator / denominator where the denominator is > 0 (``formulas._ratio``)."""
    present = denominator > 0
    safe = np.where(present, denominator, 1.0)
    return numerator / safe, present


def unanswered(c: Columns, include_timeouts: bool) -> tuple[Array, Array]:
    if include_timeouts:
        return c[Figure.ABANDONED] + c[Figure.TIMED_OUT], c[Figure.ABANDONED_IN_SL] + c[Figure.TIMED_OUT_IN_SL]
    return c[Figure.ABANDONED], c[Figure.ABANDONED_IN_SL]


def offered(c: Columns, include_timeouts: bool) -> Array:
    return c[Figure.ANSWERED] + unanswered(c, include_timeouts)[0]


def service_level(c: Columns, variant: ServiceLevelVariant, include_timeouts: bool) -> Kpi:
    answered, answered_in = c[Figure.ANSWERED], c[Figure.ANSWERED_IN_SL]
    abandoned, abandoned_in = unanswered(c, include_timeouts)
    match variant:
        case ServiceLevelVariant.ABANDONS_AGAINST:
            return ratio(answered_in, answered + abandoned)
        case ServiceLevelVariant.ABANDONS_AFTER_THRESHOLD_AGAINST:
            return ratio(answered_in, answered + abandoned - abandoned_in)
        case ServiceLevelVariant.ABANDONS_WITHIN_THRESHOLD_MET:
            return ratio(answered_in + abandoned_in, answered + abandoned)
        case ServiceLevelVariant.ABANDONS_IGNORED:
            return ratio(answered_in, answered)
    raise ValueError(f"unknown service-level variant {variant!r}")


def _mean(numerator: Figure, denominator: Figure, scale: float = 1.0) -> Callable[[Columns], Kpi]:
    return lambda c: ratio(c[numerator] * scale, c[denominator])


def _per_handled(part: Figure) -> Callable[[Columns], Kpi]:
    return lambda c: ratio(c[part] / 1000, c[Figure.HANDLED])


def _handling(c: Columns) -> Array:
    return c[state_figure("on_contact")] + c[state_figure("wrapup")]


def _max_wait(c: Columns) -> Kpi:
    present = ~np.isnan(c.wait_max)
    return np.where(present, c.wait_max, 0.0) / 1000, present


PLAIN: Mapping[MetricSpec, Callable[[Columns], Kpi]] = {
    catalog.QUEUE_AHT: _per_handled(Figure.HANDLE_MS),
    catalog.QUEUE_TALK: _per_handled(Figure.TALK_MS),
    catalog.QUEUE_HOLD: _per_handled(Figure.HOLD_MS),
    catalog.QUEUE_WRAPUP: _per_handled(Figure.WRAPUP_MS),
    catalog.QUEUE_ASA: lambda c: ratio(c[Figure.WAIT_ANSWERED_MS] / 1000, c[Figure.ANSWERED]),
    catalog.QUEUE_MAX_WAIT: _max_wait,
    catalog.QUEUE_WAIT: _mean(Figure.WAIT_ALL_MS, Figure.LEFT_QUEUE, 1 / 1000),
    catalog.QUEUE_FIRST_RESPONSE: _mean(Figure.FIRST_RESPONSE_MS, Figure.FIRST_RESPONSES, 1 / 1000),
    catalog.QUEUE_RESOLUTION: _mean(Figure.RESOLUTION_MS, Figure.RESOLVED, 1 / 1000),
    catalog.QUEUE_TRANSFER_RATIO: lambda c: ratio(c[Figure.TRANSFERRED], c[Figure.HANDLED]),
    catalog.QUEUE_AGENT_IDLE: lambda c: ratio(c[Figure.IDLE_MS] / 1000, c[Figure.IDLE_GAPS]),
    catalog.QUEUE_CSAT: _mean(Figure.CSAT_SATISFIED, Figure.CSAT_RESPONSES),
    catalog.QUEUE_CSAT_SCORE: _mean(Figure.CSAT_SCORE_SUM, Figure.CSAT_RESPONSES),
    catalog.QUEUE_NPS: lambda c: ratio(
        100 * (c[Figure.NPS_PROMOTERS] - c[Figure.NPS_DETRACTORS]), c[Figure.NPS_RESPONSES]
    ),
    catalog.QUEUE_CES: _mean(Figure.CES_SCORE_SUM, Figure.CES_RESPONSES),
    catalog.QUEUE_FCR: lambda c: ratio(c[Figure.FCR_RESOLVED] - c[Figure.FCR_REPEATED], c[Figure.FCR_RESOLVED]),
    catalog.QUEUE_OCCUPANCY: lambda c: ratio(_handling(c), _handling(c) + c[state_figure("available")]),
    catalog.QUEUE_UTILIZATION: lambda c: ratio(
        _handling(c), _handling(c) + (c[state_figure("available")] + c[state_figure("aux")])
    ),
}
SURVEYS = {"csat": Figure.CSAT_RESPONSES, "nps": Figure.NPS_RESPONSES, "ces": Figure.CES_RESPONSES}


def kpis(
    c: Columns, *, include_timeouts: bool, variants: npt.NDArray[np.intp]
) -> dict[MetricSpec, tuple[list[str], list[Kpi]]]:
    """Every windowed family: (values of its extra label, one KPI per extra value; [""] when it has none).

    ``variants`` is each row's configured service-level variant, as an index into ``ServiceLevelVariant``.
    """
    per_variant = [service_level(c, variant, include_timeouts) for variant in ServiceLevelVariant]
    chosen_values = np.choose(variants, [values for values, _ in per_variant])
    chosen_present = np.choose(variants, [present for _, present in per_variant])
    out_offered = offered(c, include_timeouts)
    families: dict[MetricSpec, tuple[list[str], list[Kpi]]] = {
        spec: ([""], [always(c[figure])]) for spec, figure in COUNTS.items()
    }
    families[catalog.QUEUE_OFFERED] = [""], [always(out_offered)]
    families[catalog.QUEUE_ABANDON_RATIO] = [""], [ratio(unanswered(c, include_timeouts)[0], out_offered)]
    families[catalog.QUEUE_SERVICE_LEVEL] = [""], [(chosen_values, chosen_present)]
    families.update({spec: ([""], [formula(c)]) for spec, formula in PLAIN.items()})
    families[catalog.QUEUE_SERVICE_LEVEL_VARIANTS] = [variant.value for variant in ServiceLevelVariant], per_variant
    families[catalog.QUEUE_SURVEYS] = list(SURVEYS), [always(c[figure]) for figure in SURVEYS.values()]
    families[catalog.QUEUE_AGENT_STATE_TIME] = list(STATES), [always(c[state_figure(state)] / 1000) for state in STATES]
    return families
