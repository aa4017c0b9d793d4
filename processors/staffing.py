"""Staffing from queueing models: Erlang C (M/M/N) and Erlang A (M/M/N+M, callers who abandon).

Inputs: offered load ``A`` = arrival rate x AHT (Erlangs), ``N`` agents, the AHT, the service-level threshold
``T`` and, for Erlang A, the callers' mean patience. Service level is answered within T / all arrivals
(abandons count against, callpulse's default); ``Forecast.service_level`` gives the other treatments.

Erlang C (Erlang 1917; Gans, Koole & Mandelbaum, "Telephone call centers: tutorial, review, and research
prospects", MSOM 5(2), 2003, section 4.1)::

    B(0) = 1,  B(n) = A B(n-1) / (n + A B(n-1))        Erlang B by its recursion: in [0, 1], never overflows
    P_w = N B(N) / (N - A (1 - B(N)))                  probability of waiting (Erlang C)
    SL(T) = 1 - P_w exp(-(N - A) T / AHT)              ASA = P_w AHT / (N - A)

With ``N <= A`` the queue grows without bound: P_w = 1, SL = 0 and ASA = ``math.inf``.

Erlang A (Palm 1943; Garnett, Mandelbaum & Reiman, "Designing a call center with impatient customers",
MSOM 4(3), 2002; Mandelbaum & Zeltyn, "The Palm/Erlang-A queue, with applications to call centers", 2007).
mu = 1/AHT, theta = 1/patience, x = N mu/theta, y = A mu/theta, z = y exp(-theta T). The number in system is
a birth-death chain, pi(N+j) = pi(N) t_j(y) with t_j(w) = prod_{i<=j} w / (x+i), S(w) = sum_j t_j(w)::

    pi(N) = 1 / (1/B(N) - 1 + S(y))     P_w = pi(N) S(y)     P_ab = pi(N) sum_j j t_j(y) / y  (theta E[Q] / lambda)
    P(answered after waiting > T) = pi(N) (x/y) exp(y - z - x theta T) (S(z) - 1)
    P(still waiting at T)         = pi(N) exp(y - z - (x+1) theta T) S(z)
    ASA = pi(N) sum_j t_j(y) x/(x+j+1) h_j / (theta (1 - P_ab)),   h_j = sum_{m<=j} 1/(x+m+1)

The two time terms integrate the density of the offered wait V, lambda pi(N-1) exp(lambda (1 - e^{-theta v})
/ theta - N mu v) for v > 0 (Baccelli & Hebuterne 1981), times e^{-theta v} (answered) or with the patience
clock (W = min(V, patience)); the ASA term is E[V e^{-theta V}] for a caller with j ahead, from the
Laplace transform of V. As patience -> infinity, t_j -> (A/N)^j and every figure tends to Erlang C.

Numerics (no scipy): S, the moment sums and the incomplete-gamma terms are the series above, which are
log-concave in j. They are summed in log space outward from their largest term and cut where a geometric
bound on the rest is below 1e-20 of the sum: exact up to float rounding (a brute-force chain and ODE agree to
about 1e-12), O(N + sqrt(max(x, y))) work, no overflow at any load. Figures are clamped to [0, 1].

This module is the reference, one queue at a time. The exporter computes every queue of a scrape at once with
processors/staffing_columns.py (numpy), which follows these formulas and is tested against these functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from processors.formulas import ServiceLevelVariant

_CUT = 1e-20  # a series stops where a bound on what is left is below this share of the sum


@dataclass(frozen=True)
class Forecast:
    """Steady-state figures of a queue, per arriving contact."""

    wait_probability: float  # all agents busy on arrival
    abandon_probability: float  # leaves before an answer (0 in Erlang C)
    answered_within: float  # answered with a wait <= T
    abandoned_within: float  # abandoned with a wait <= T
    answer_speed_seconds: float  # mean wait of answered contacts; math.inf when none is answered

    def service_level(self, variant: ServiceLevelVariant = ServiceLevelVariant.ABANDONS_AGAINST) -> float | None:
        """The service level under one of callpulse's abandon treatments (processors.formulas); None on 0/0."""
        match variant:
            case ServiceLevelVariant.ABANDONS_AGAINST:
                return self.answered_within
            case ServiceLevelVariant.ABANDONS_AFTER_THRESHOLD_AGAINST:
                return _share(self.answered_within, 1 - self.abandoned_within)
            case ServiceLevelVariant.ABANDONS_WITHIN_THRESHOLD_MET:
                return min(self.answered_within + self.abandoned_within, 1.0)
            case ServiceLevelVariant.ABANDONS_IGNORED:
                return _share(self.answered_within, 1 - self.abandon_probability)
        raise ValueError(f"unknown service-level variant {variant!r}")


def _share(numerator: float, denominator: float) -> float | None:
    return min(numerator / denominator, 1.0) if denominator > 0 else None


def _check(agents: int, load: float, threshold_seconds: float = 0.0, **positive: float) -> None:
    if agents < 0:
        raise ValueError(f"agents must be >= 0, got {agents}")
    for name, value in {"load": load, **positive}.items():
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{name} must be a positive finite number, got {value}")
    if not (threshold_seconds >= 0 and math.isfinite(threshold_seconds)):
        raise ValueError(f"the service-level threshold must be >= 0 seconds, got {threshold_seconds}")


def _clamp(value: float, high: float = 1.0) -> float:
    return min(max(value, 0.0), high)


def erlang_b(agents: int, load: float) -> float:
    """Blocking probability of the loss system M/M/N/N."""
    _check(agents, load)
    blocking = 1.0
    for n in range(1, agents + 1):
        blocking = load * blocking / (n + load * blocking)
    return blocking


def _erlang_c(agents: int, load: float, blocking: float) -> float:
    return 1.0 if agents <= load else agents * blocking / (agents - load * (1 - blocking))


def erlang_c_wait_probability(agents: int, load: float) -> float:
    """P_w = C(N, A); 1 when N <= A."""
    return _erlang_c(agents, load, erlang_b(agents, load))


def _forecast_c(agents: int, load: float, aht: float, threshold: float, blocking: float) -> Forecast:
    if agents <= load:
        return Forecast(1.0, 0.0, 0.0, 0.0, math.inf)
    wait = _erlang_c(agents, load, blocking)
    late = wait * math.exp(-(agents - load) * threshold / aht)
    return Forecast(wait, 0.0, _clamp(1 - late), 0.0, wait * aht / (agents - load))


def erlang_c(agents: int, load: float, aht_seconds: float, threshold_seconds: float) -> Forecast:
    """Erlang C: SL(T) = 1 - P_w exp(-(N - A) T / AHT), ASA = P_w AHT / (N - A); N <= A: SL 0, ASA inf."""
    _check(agents, load, threshold_seconds, aht_seconds=aht_seconds)
    return _forecast_c(agents, load, aht_seconds, threshold_seconds, erlang_b(agents, load))


def agents_required(load: float, aht_seconds: float, threshold_seconds: float, target: float = 0.8) -> int:
    """The least N > A whose Erlang C service level SL(T) reaches ``target`` (0 < target < 1)."""
    _check(0, load, threshold_seconds, aht_seconds=aht_seconds)
    if not 0 < target < 1:
        raise ValueError(f"the service-level target must be between 0 and 1 (exclusive), got {target}")
    agents = math.floor(load) + 1
    blocking = erlang_b(agents, load)
    while _forecast_c(agents, load, aht_seconds, threshold_seconds, blocking).answered_within < target:
        agents += 1
        blocking = load * blocking / (agents + load * blocking)
    return agents


def patience_seconds(abandoned: int, total_wait_seconds: float) -> float | None:
    """Mean patience, the maximum-likelihood estimate for exponential patience with censoring.

    ``total_wait_seconds`` sums the waits of every contact that left the queue (answered, abandoned, timed out):
    the waits of answered and timed-out contacts are censored patience times. None when nobody abandoned or
    nobody waited (Mandelbaum & Zeltyn 2007, section on estimating patience).
    """
    return total_wait_seconds / abandoned if abandoned > 0 and total_wait_seconds > 0 else None


def _logaddexp(a: float, b: float) -> float:
    high = max(a, b)
    return high if high == -math.inf else high + math.log1p(math.exp(-abs(a - b)))


def _log_blocking_odds(agents: int, load: float) -> float:
    """log(1/B(N) - 1) by R(n) = (n/A)(1 + R(n-1)), R(0) = 0, in log space (B(N) may underflow)."""
    log_odds = -math.inf
    for n in range(1, agents + 1):
        log_odds = math.log(n / load) + _logaddexp(0.0, log_odds)
    return log_odds


def _digamma_difference(low: float, high: float) -> float:
    """psi(high) - psi(low) for high >= low > 0, precise when both are large and close."""
    shift = 0.0
    while low < 20:
        shift, low = shift + 1 / low, low + 1
    while high < 20:
        shift, high = shift - 1 / high, high + 1

    def tail(arg: float) -> float:  # psi(arg) - log(arg), asymptotic series (error < 1e-15 from 20 on)
        inv2 = 1 / (arg * arg)
        return -0.5 / arg - inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 / 240)))

    return shift + math.log1p((high - low) / low) + tail(high) - tail(low)


def _log_term(x: float, w: float, j: int) -> float:
    """log t_j(w) = sum_{i<=j} log(w / (x+i)); lgamma (which loses digits when x is huge) only for long runs."""
    if j <= 10_000:
        return math.fsum(math.log(w / (x + i)) for i in range(1, j + 1))
    return j * math.log(w) - (math.lgamma(x + j + 1) - math.lgamma(x + 1))


@dataclass(frozen=True)
class _Sums:
    """Logs of sum_j t_j, sum_{j>=1} t_j, sum_j j t_j and sum_j t_j x/(x+j+1) h_j (-inf for an empty sum)."""

    total: float
    beyond_first: float
    first_moment: float
    wait_served: float


def _log(value: float) -> float:
    return math.log(value) if value > 0 else -math.inf


def _sums(x: float, w: float) -> _Sums:
    """The series of t_j(w), from the largest term outward (t_j grows while w >= x + j)."""
    peak = max(0, math.floor(w - x))
    low, rel = peak, 0.0  # rel = log(t_low / t_peak)
    while low > 0:  # to the left, each (weighted) term is at most q times the one after it
        q = (x + low + 1) / w
        if q < 1 and math.exp(rel) * q / (1 - q) < _CUT:
            break
        rel += math.log((x + low) / w)
        low -= 1
    harmonic = 1 / (x + 1) if low == 0 else _digamma_difference(x + 1, x + low + 2)
    total = beyond = moment = served = 0.0
    j = low
    while True:
        term = math.exp(rel)
        served_term = term * x / (x + j + 1) * harmonic
        total, moment, served = total + term, moment + j * term, served + served_term
        beyond += term if j else 0.0
        q = w / (x + j + 1) * (j + 2) / (j + 1)  # bounds the ratio of successive weighted terms from here on
        if j >= max(peak, 1) and q < 1:
            rest = q / (1 - q)
            if (
                term * rest <= _CUT * total
                and term * (j + 1) * rest <= _CUT * moment
                and served_term * rest <= (_CUT * served)
            ):
                break
        j += 1
        rel += math.log(w / (x + j))
        harmonic += 1 / (x + j + 1)
    base = _log_term(x, w, peak)
    return _Sums(base + _log(total), base + _log(beyond), base + _log(moment), base + _log(served))


def erlang_a(
    agents: int, load: float, aht_seconds: float, patience_seconds: float, threshold_seconds: float
) -> Forecast:
    """Erlang A (M/M/N+M) with exponential patience of mean ``patience_seconds``; see the module docstring."""
    _check(agents, load, threshold_seconds, aht_seconds=aht_seconds, patience_seconds=patience_seconds)
    theta_t = threshold_seconds / patience_seconds
    if agents == 0:  # nobody is ever answered; a caller abandons within T with probability 1 - e^{-theta T}
        return Forecast(1.0, 1.0, 0.0, -math.expm1(-theta_t), math.inf)
    ratio = patience_seconds / aht_seconds
    x, y = agents * ratio, load * ratio
    z = y * math.exp(-theta_t)
    at_y = _sums(x, y)
    log_pi = -_logaddexp(_log_blocking_odds(agents, load), at_y.total)
    wait = _clamp(math.exp(log_pi + at_y.total))
    abandon = _clamp(math.exp(log_pi + at_y.first_moment - math.log(y)), wait)
    served_late = waiting_late = 0.0
    if z > 0:
        at_z = _sums(x, z)
        log_drift = log_pi - y * math.expm1(-theta_t) - x * theta_t  # log(pi(N) exp(y - z - x theta T))
        served_late = math.exp(log_drift + math.log(x / y) + at_z.beyond_first)
        waiting_late = math.exp(log_drift - theta_t + at_z.total)
    answered = 1 - abandon
    speed = math.exp(log_pi + at_y.wait_served) * patience_seconds / answered if answered > 0 else math.inf
    return Forecast(
        wait_probability=wait,
        abandon_probability=abandon,
        answered_within=_clamp(answered - served_late),
        abandoned_within=_clamp(abandon - (waiting_late - served_late), abandon),
        answer_speed_seconds=speed,
    )
