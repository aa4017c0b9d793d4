"""Erlang C, agents required and Erlang A for many queues at once: processors/staffing.py over numpy columns.

processors/staffing.py is the reference and documents the models; this module computes the same figures for
a column of queues in a few numpy passes (the exporter's staffing gauges, every scrape, every queue):

- Erlang B runs the scalar recursion once for all queues, up to the largest N asked, keeping each step's
  values (a history of at most 8 MB at a time) to read each queue at its own N: the same floating-point
  operations as the scalar, so the same floats.
- ``agents_required`` steps every queue still short of the target from N = floor(A) + 1 together. A queue
  whose service level comes within 1e-14 of the target at some N (where numpy's exp and libm's could round
  apart) is decided by the scalar function, so the integers are always the scalar ones.
- ``erlang_a`` sums the series of processors/series_columns.py over a range fixed per queue instead of the
  scalar's adaptive cut, in another order: the figures agree to about 1e-12 (relative); the differences of
  probabilities (answered or abandoned within T) to about 1e-16 x max(x, y) absolute, the rounding of the
  logs of long series that both carry (tests/unit/test_staffing_columns.py).
- ``forecasts`` computes all three for the exporter with one Erlang B recursion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from processors import staffing
from processors.formulas import ServiceLevelVariant
from processors.series_columns import log_sums

Array = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
_NEAR = 1e-14  # a service level this close to the target is checked by the scalar function
_HISTORY = 1 << 20  # cells of Erlang B's history kept at a time (8 MB)
_FEW = 8  # when Erlang B runs on for at most this many queues, they finish one at a time


@dataclass(frozen=True)
class ForecastColumns:
    """staffing.Forecast's figures, one entry per queue."""

    wait_probability: Array
    abandon_probability: Array
    answered_within: Array
    abandoned_within: Array
    answer_speed_seconds: Array  # inf when none is answered

    def service_level(self, variant: ServiceLevelVariant = ServiceLevelVariant.ABANDONS_AGAINST) -> Array:
        """staffing.Forecast.service_level per queue; NaN where that is None (0/0)."""
        match variant:
            case ServiceLevelVariant.ABANDONS_AGAINST:
                return self.answered_within
            case ServiceLevelVariant.ABANDONS_AFTER_THRESHOLD_AGAINST:
                return _share(self.answered_within, 1 - self.abandoned_within)
            case ServiceLevelVariant.ABANDONS_WITHIN_THRESHOLD_MET:
                return np.minimum(self.answered_within + self.abandoned_within, 1.0)
            case ServiceLevelVariant.ABANDONS_IGNORED:
                return _share(self.answered_within, 1 - self.abandon_probability)
        raise ValueError(f"unknown service-level variant {variant!r}")


def _share(numerator: Array, denominator: Array) -> Array:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, np.minimum(numerator / denominator, 1.0), np.nan)


def _check(agents: Ints, load: Array, threshold: Array, **positive: Array) -> None:
    if agents.size and agents.min() < 0:
        raise ValueError(f"agents must be >= 0, got {agents.min()}")
    for name, values in {"load": load, **positive}.items():
        bad = values[~((values > 0) & np.isfinite(values))]
        if bad.size:
            raise ValueError(f"{name} must be a positive finite number, got {bad[0]}")
    bad = threshold[~((threshold >= 0) & np.isfinite(threshold))]
    if bad.size:
        raise ValueError(f"the service-level threshold must be >= 0 seconds, got {bad[0]}")


def erlang_b(agents: Ints, load: Array) -> Array:
    """B(N, A) per queue: the scalar recursion, run once for every queue up to the largest N."""
    agents, load = np.asarray(agents, dtype=np.int64), np.asarray(load, dtype=np.float64)
    _check(agents, load, np.zeros(load.shape))
    blocking: Array = _blocking(load, agents[None, :])[0]
    return blocking


def _blocking(load: Array, stops: Ints) -> Array:
    """B(stops[i, q], load[q]) for each row i: one recursion, each queue run to its last stop."""
    out = np.ones(stops.shape)
    last = stops.max(axis=0, initial=0)
    for queue in np.flatnonzero(last > _HISTORY).tolist():  # absurdly many agents: one at a time, no history
        out[:, queue] = [staffing.erlang_b(stop, float(load[queue])) for stop in stops[:, queue].tolist()]
    order = np.flatnonzero(last <= _HISTORY)
    order = order[np.argsort(last[order], kind="stable")]  # queues by how far they run
    reach = np.arange(1, order.size + 1) - np.maximum(_HISTORY // (last[order] + 1), 1)  # a chunk may start here
    start = 0
    while start < order.size:  # queues of similar reach, a history of at most _HISTORY cells at a time
        end = int(np.searchsorted(reach, start, side="right"))
        queues = order[start:end]
        out[:, queues] = _history(load[queues], last[queues])[stops[:, queues], np.arange(queues.size)]
        start = end
    return out


def _history(load: Array, last: Ints) -> Array:
    """B(n) for n = 0 ... max(last) of each queue (rows n, columns queues sorted by ``last``; rows past a
    queue's last are not filled). The last few queues to run finish one at a time (plain floats, same steps)."""
    top = int(last[-1])
    history = np.empty((top + 1, load.size))
    history[0] = 1.0
    scaled, denominator = np.empty(load.size), np.empty(load.size)
    running = np.searchsorted(last, np.arange(top + 1)).tolist()  # queues from running[n] on run to n
    n = 1
    while n <= top and load.size - running[n] > _FEW:
        start = running[n]
        np.multiply(load[start:], history[n - 1, start:], out=scaled[start:])
        np.add(scaled[start:], n, out=denominator[start:])
        np.divide(scaled[start:], denominator[start:], out=history[n, start:])
        n += 1
    for queue in range(running[n] if n <= top else load.size, load.size):
        column, erlangs, blocking = history[:, queue], float(load[queue]), float(history[n - 1, queue])
        for step in range(n, int(last[queue]) + 1):
            scaled_ = erlangs * blocking
            blocking = column[step] = scaled_ / (step + scaled_)
    return history


def _level(agents: Array, load: Array, aht: Array, threshold: Array, blocking: Array) -> Array:
    """Erlang C's answered_within for N > A, as staffing._forecast_c computes it."""
    wait = agents * blocking / (agents - load * (1 - blocking))
    return np.clip(1 - wait * np.exp(-(agents - load) * threshold / aht), 0.0, 1.0)


def erlang_c(agents: Ints, load: Array, aht_seconds: Array, threshold_seconds: Array) -> ForecastColumns:
    """staffing.erlang_c per queue."""
    agents, load = np.asarray(agents, dtype=np.int64), np.asarray(load, dtype=np.float64)
    aht, threshold = np.asarray(aht_seconds, dtype=np.float64), np.asarray(threshold_seconds, dtype=np.float64)
    _check(agents, load, threshold, aht_seconds=aht)
    return _erlang_c(agents, load, aht, threshold, _blocking(load, agents[None, :])[0])


def _erlang_c(agents: Ints, load: Array, aht: Array, threshold: Array, blocking: Array) -> ForecastColumns:
    n = agents.astype(np.float64)
    queued = n <= load
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # the N <= A entries are not used
        wait = np.where(queued, 1.0, n * blocking / (n - load * (1 - blocking)))
        level = np.where(queued, 0.0, _level(n, load, aht, threshold, blocking))
        speed = np.where(queued, math.inf, wait * aht / (n - load))
    zeros = np.zeros(load.size)
    return ForecastColumns(wait, zeros, level, zeros.copy(), speed)


def agents_required(load: Array, aht_seconds: Array, threshold_seconds: Array, target: float = 0.8) -> Ints:
    """staffing.agents_required per queue: the least N > A whose Erlang C service level reaches ``target``."""
    load, aht = np.asarray(load, dtype=np.float64), np.asarray(aht_seconds, dtype=np.float64)
    threshold = np.asarray(threshold_seconds, dtype=np.float64)
    _check(np.zeros(0, dtype=np.int64), load, threshold, aht_seconds=aht)
    _check_target(target)
    least = np.floor(load).astype(np.int64) + 1
    return _required(load, aht, threshold, target, least=least, blocking=_blocking(load, least[None, :])[0])


def _check_target(target: float) -> None:
    if not 0 < target < 1:
        raise ValueError(f"the service-level target must be between 0 and 1 (exclusive), got {target}")


def _required(load: Array, aht: Array, threshold: Array, target: float, *, least: Ints, blocking: Array) -> Ints:
    """From N = ``least`` = floor(A) + 1 (where B(N) is ``blocking``) up, as staffing.agents_required steps."""
    required, near = least.copy(), np.zeros(load.size, dtype=bool)
    todo = np.arange(load.size)
    n, a, h, t = least.astype(np.float64), load, aht, threshold
    while todo.size:
        level = _level(n, a, h, t, blocking)
        near[todo[np.abs(level - target) <= _NEAR]] = True
        done = level >= target
        required[todo[done]] = n[done]
        short = ~done
        todo, n, a, h, t, blocking = todo[short], n[short] + 1, a[short], h[short], t[short], blocking[short]
        scaled = a * blocking
        blocking = scaled / (n + scaled)
    for queue in np.flatnonzero(near).tolist():
        required[queue] = staffing.agents_required(
            float(load[queue]), float(aht[queue]), float(threshold[queue]), target
        )
    return required


class Staffing(NamedTuple):
    """Every model figure of a column of queues; Erlang A only for the queues with a patience."""

    agents_required: Ints
    erlang_c: ForecastColumns
    patient: npt.NDArray[np.intp]  # the queues (indices) with a patience, in order
    erlang_a: ForecastColumns  # one entry per patient queue


def forecasts(
    agents: Ints, load: Array, aht_seconds: Array, threshold_seconds: Array, patience_seconds: Array, *, target: float
) -> Staffing:
    """agents_required, erlang_c and (where ``patience_seconds`` is not NaN) erlang_a of every queue, with one
    Erlang B recursion for all."""
    agents, load = np.asarray(agents, dtype=np.int64), np.asarray(load, dtype=np.float64)
    aht, threshold = np.asarray(aht_seconds, dtype=np.float64), np.asarray(threshold_seconds, dtype=np.float64)
    patience = np.asarray(patience_seconds, dtype=np.float64)
    patient = np.flatnonzero(~np.isnan(patience))
    _check(agents, load, threshold, aht_seconds=aht, patience_seconds=patience[patient])
    _check_target(target)
    least = np.floor(load).astype(np.int64) + 1
    at_agents, at_least = _blocking(load, np.stack([agents, least]))
    return Staffing(
        _required(load, aht, threshold, target, least=least, blocking=at_least),
        _erlang_c(agents, load, aht, threshold, at_agents),
        patient,
        _erlang_a(
            agents[patient],
            load[patient],
            aht[patient],
            patience[patient],
            threshold[patient],
            blocking=at_agents[patient],
        ),
    )


def erlang_a(
    agents: Ints, load: Array, aht_seconds: Array, patience_seconds: Array, threshold_seconds: Array
) -> ForecastColumns:
    """staffing.erlang_a per queue (the formulas are in processors/staffing.py's docstring)."""
    agents, load = np.asarray(agents, dtype=np.int64), np.asarray(load, dtype=np.float64)
    aht, patience = np.asarray(aht_seconds, dtype=np.float64), np.asarray(patience_seconds, dtype=np.float64)
    threshold = np.asarray(threshold_seconds, dtype=np.float64)
    _check(agents, load, threshold, aht_seconds=aht, patience_seconds=patience)
    return _erlang_a(agents, load, aht, patience, threshold, blocking=_blocking(load, agents[None, :])[0])


def _erlang_a(
    agents: Ints, load: Array, aht: Array, patience: Array, threshold: Array, *, blocking: Array
) -> ForecastColumns:
    theta_t = threshold / patience
    out = np.empty((5, load.size))
    out[:, :] = [[1.0], [1.0], [0.0], [0.0], [math.inf]]  # nobody answers without agents
    out[3] = -np.expm1(-theta_t)  # ... and a caller abandons within T with probability 1 - e^{-theta T}
    staffed = np.flatnonzero(agents > 0)
    if staffed.size:
        columns = agents[staffed], load[staffed], aht[staffed], patience[staffed], theta_t[staffed]
        out[:, staffed] = _staffed(*columns, blocking=blocking[staffed])
    return ForecastColumns(*out)


def _staffed(agents: Ints, load: Array, aht: Array, patience: Array, theta_t: Array, *, blocking: Array) -> Array:
    ratio = patience / aht
    x, y = agents * ratio, load * ratio
    z = y * np.exp(-theta_t)
    at_y = log_sums(x, y)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_odds = np.log1p(-blocking) - np.log(blocking)  # log(1/B(N) - 1)
        log_pi = -np.logaddexp(log_odds, at_y.total)
        wait = np.clip(np.exp(log_pi + at_y.total), 0.0, 1.0)
        abandon = np.clip(np.exp(log_pi + at_y.first_moment - np.log(y)), 0.0, wait)
        served_late, waiting_late = np.zeros(load.size), np.zeros(load.size)
        late = np.flatnonzero(z > 0)
        if late.size:
            at_z = log_sums(x[late], z[late], moments=False)
            log_drift = log_pi[late] - y[late] * np.expm1(-theta_t[late]) - x[late] * theta_t[late]
            served_late[late] = np.exp(log_drift + np.log(x[late] / y[late]) + at_z.beyond_first)
            waiting_late[late] = np.exp(log_drift - theta_t[late] + at_z.total)
        answered = 1 - abandon
        speed = np.where(answered > 0, np.exp(log_pi + at_y.wait_served) * patience / answered, math.inf)
    return np.array(
        [
            wait,
            abandon,
            np.clip(answered - served_late, 0.0, 1.0),
            np.clip(abandon - (waiting_late - served_late), 0.0, abandon),
            speed,
        ]
    )
