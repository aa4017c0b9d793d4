"""Erlang C and Erlang A (processors/staffing.py) against independent computations.

Erlang C scenarios (inputs from published worked examples; every expected figure is recomputed here by the
exact rational formula P_w = (A^N/N! * N/(N-A)) / (sum_{k<N} A^k/k! + A^N/N! * N/(N-A)), with Fraction):

    scenario                                               A (Erlangs)   N       T      agents for 80% in T
    Call Centre Helper, "Erlang C formula - made simple":  100 / 30 min x 180 s = 10    11..14  20 s   14
    360 calls/h x AHT 100 s (the classic A = 10 case):     360 / 3600 s x 100 s = 10    11..14  20 s   13
    Westbay Engineers, "The Erlang-C formula":             360 / 30 min x 240 s = 48    55      15 s   55

    N   P_w (A = 10)   SL(20 s), AHT 180 s   ASA, AHT 180 s   SL(20 s), AHT 100 s   ASA, AHT 100 s
    11  0.6821         0.3896                122.78 s         0.4415                68.21 s
    12  0.4494         0.6402                 40.44 s         0.6988                22.47 s
    13  0.2853         0.7956  < 0.8          17.12 s         0.8434  >= 0.8         9.51 s
    14  0.1741         0.8884  >= 0.8          7.84 s         0.9218                 4.35 s

Erlang A is checked against a brute-force model built another way: the birth-death chain truncated far into
its tail, the service level by integrating (RK4) the forward equations of a tagged caller's position in queue,
the answer speed by summing each state's expected wait.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors import staffing
from processors.formulas import ServiceLevelVariant as V


def exact_wait_probability(agents: int, load: Fraction) -> Fraction:
    """Erlang C by its factorial formula, in exact arithmetic."""
    top = load**agents / math.factorial(agents) * Fraction(agents) / (agents - load)
    return top / (sum(load**k / math.factorial(k) for k in range(agents)) + top)


class Example(NamedTuple):
    arrivals: int
    per_seconds: int
    aht: int
    agents: int
    threshold: int
    wait: float  # the figures to 4 decimals, from exact_wait_probability
    level: float
    speed: float


ERLANG_C = [
    Example(100, 1800, 180, 11, 20, 0.6821, 0.3896, 122.7813),
    Example(100, 1800, 180, 12, 20, 0.4494, 0.6402, 40.4449),
    Example(100, 1800, 180, 13, 20, 0.2853, 0.7956, 17.1162),
    Example(100, 1800, 180, 14, 20, 0.1741, 0.8884, 7.8359),
    Example(360, 3600, 100, 11, 20, 0.6821, 0.4415, 68.2118),
    Example(360, 3600, 100, 12, 20, 0.4494, 0.6988, 22.4694),
    Example(360, 3600, 100, 13, 20, 0.2853, 0.8434, 9.5090),
    Example(360, 3600, 100, 14, 20, 0.1741, 0.9218, 4.3533),
    Example(360, 1800, 240, 55, 15, 0.2387, 0.8459, 8.1840),
]


@pytest.mark.parametrize("case", ERLANG_C, ids=lambda case: f"{case.arrivals}/{case.per_seconds}s-{case.agents}")
def test_erlang_c_worked_examples(case: Example) -> None:
    load = Fraction(case.arrivals, case.per_seconds) * case.aht
    exact = exact_wait_probability(case.agents, load)
    forecast = staffing.erlang_c(case.agents, float(load), case.aht, case.threshold)
    assert forecast.wait_probability == pytest.approx(float(exact), rel=1e-12)
    assert forecast.wait_probability == pytest.approx(case.wait, abs=5e-5)
    exact_level = 1 - float(exact) * math.exp(-float(case.agents - load) * case.threshold / case.aht)
    assert forecast.service_level() == pytest.approx(exact_level, rel=1e-12)
    assert forecast.service_level() == pytest.approx(case.level, abs=5e-5)
    assert forecast.answer_speed_seconds == pytest.approx(float(exact * case.aht / (case.agents - load)), rel=1e-12)
    assert forecast.answer_speed_seconds == pytest.approx(case.speed, abs=5e-5)
    assert staffing.erlang_c_wait_probability(case.agents, float(load)) == forecast.wait_probability
    assert forecast.abandon_probability == forecast.abandoned_within == 0.0


@pytest.mark.parametrize(
    ("load", "aht", "threshold", "target", "agents"),
    [
        (10, 180, 20, 0.8, 14),
        (10, 100, 20, 0.8, 13),
        (48, 240, 15, 0.8, 55),
        (10, 180, 20, 0.3, 11),
        (0.01, 60, 0, 0.5, 1),
    ],
)
def test_agents_required_worked_examples(load: float, aht: float, threshold: float, target: float, agents: int) -> None:
    assert staffing.agents_required(load, aht, threshold, target) == agents


@pytest.mark.parametrize(
    ("agents", "load"), [(1, Fraction(1, 2)), (3, Fraction(5, 2)), (7, Fraction(10)), (20, Fraction(37, 3))]
)
def test_erlang_b_matches_the_factorial_formula(agents: int, load: Fraction) -> None:
    exact = load**agents / math.factorial(agents) / sum(load**k / math.factorial(k) for k in range(agents + 1))
    assert staffing.erlang_b(agents, float(load)) == pytest.approx(float(exact), rel=1e-12)


@pytest.mark.parametrize(("agents", "load"), [(0, 3.0), (10, 10.0), (9, 10.0), (480, 500.0)], ids=str)
def test_erlang_c_without_enough_agents_never_answers_in_time(agents: int, load: float) -> None:
    forecast = staffing.erlang_c(agents, load, 180, 20)
    assert (forecast.wait_probability, forecast.service_level(), forecast.answer_speed_seconds) == (1.0, 0.0, math.inf)


def test_large_loads_are_finite_without_overflow() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        big = staffing.erlang_c(500, 480.0, 300, 20)
        exact = exact_wait_probability(500, Fraction(480))
        assert big.wait_probability == pytest.approx(float(exact), rel=1e-10)
        assert 0 < big.wait_probability < 1 and 0 < big.service_level() < 1  # type: ignore[operator]
        assert math.isfinite(big.answer_speed_seconds)
        assert 1000 < staffing.agents_required(1000.0, 300, 20) < 1100
        assert staffing.erlang_b(2000, 5.0) == 0.0  # underflows quietly, no error
        for agents, load in [(500, 480.0), (1010, 1000.0), (900, 1000.0), (1, 1000.0), (5, 50.0), (10, 1000.0)]:
            forecast = staffing.erlang_a(agents, load, 300, 120, 20)
            figures = [forecast.wait_probability, forecast.abandon_probability, forecast.answered_within]
            assert all(0 <= figure <= 1 for figure in figures), (agents, load, forecast)
            assert forecast.answer_speed_seconds > 0 and math.isfinite(forecast.answer_speed_seconds)


# ---------------------------------------------------------------------------------- Erlang A, brute force


class Queue(NamedTuple):
    agents: int
    load: float
    aht: float
    patience: float
    threshold: float
    states: int  # where the brute-force chain is cut


def brute_erlang_a(queue: Queue) -> list[float]:
    """[P_w, P_ab, answered within T, abandoned within T, ASA] from a truncated chain and a tagged caller's ODE."""
    agents, load, aht, patience, threshold, states = queue
    mu, theta = 1 / aht, 1 / patience
    logs = [0.0]
    for k in range(1, states):
        logs.append(logs[-1] + math.log(load * mu / (min(k, agents) * mu + max(k - agents, 0) * theta)))
    top = max(logs)
    weights = [math.exp(value - top) for value in logs]
    total = math.fsum(weights)
    pi = [weight / total for weight in weights]
    queue = pi[agents:]  # a caller arriving now finds j = 0, 1, ... contacts ahead of it
    wait = math.fsum(queue)
    abandon = theta * math.fsum(j * p for j, p in enumerate(queue)) / (load * mu)
    rate = agents * mu
    harmonic, served_wait = 0.0, 0.0
    for j, p in enumerate(queue):  # E[V e^{-theta V} | j ahead] = prod r/(r+theta) * sum 1/(r+theta)
        harmonic += 1 / (rate + (j + 1) * theta)
        served_wait += p * rate / (rate + (j + 1) * theta) * harmonic
    u, served, gone = list(queue), 0.0, 0.0
    if threshold == 0:
        return [wait, abandon, 1 - wait, 0.0, served_wait / (1 - abandon)]

    def slope(u: list[float]) -> list[float]:
        return [
            -(rate + (m + 1) * theta) * u[m] + ((rate + (m + 1) * theta) * u[m + 1] if m + 1 < len(u) else 0.0)
            for m in range(len(u))
        ]

    steps = 1000
    h = threshold / steps
    for _ in range(steps):
        k1 = slope(u)
        k2 = slope([a + h / 2 * b for a, b in zip(u, k1, strict=True)])
        k3 = slope([a + h / 2 * b for a, b in zip(u, k2, strict=True)])
        k4 = slope([a + h * b for a, b in zip(u, k3, strict=True)])
        stages = [u, *([a + c * b for a, b in zip(u, k, strict=True)] for c, k in ((h / 2, k1), (h / 2, k2), (h, k3)))]
        served += h / 6 * rate * (stages[0][0] + 2 * stages[1][0] + 2 * stages[2][0] + stages[3][0])
        gone += (
            h
            / 6
            * theta
            * (math.fsum(stages[0]) + 2 * math.fsum(stages[1]) + 2 * math.fsum(stages[2]) + math.fsum(stages[3]))
        )
        u = [a + h / 6 * (b + 2 * c + 2 * d + e) for a, b, c, d, e in zip(u, k1, k2, k3, k4, strict=True)]
    return [wait, abandon, 1 - wait + served, gone, served_wait / (1 - abandon)]


# light and heavy load, overload (the queue settles about 450 deep: the sums start past their left end)
ERLANG_A = [
    Queue(3, 2.5, 100, 50, 20, 200),
    Queue(10, 8.0, 180, 400, 20, 300),
    Queue(2, 4.0, 60, 30, 10, 200),
    Queue(20, 25.0, 300, 90, 20, 300),
    Queue(5, 50.0, 100, 1000, 20, 700),
]


@pytest.mark.parametrize("queue", ERLANG_A, ids=lambda queue: f"N={queue.agents},A={queue.load}")
def test_erlang_a_matches_brute_force(queue: Queue) -> None:
    forecast = staffing.erlang_a(queue.agents, queue.load, queue.aht, queue.patience, queue.threshold)
    got = [
        forecast.wait_probability,
        forecast.abandon_probability,
        forecast.answered_within,
        forecast.abandoned_within,
        forecast.answer_speed_seconds,
    ]
    assert got == pytest.approx(brute_erlang_a(queue), rel=1e-8, abs=1e-12)


def test_erlang_a_very_long_queue_matches_the_chain() -> None:
    """Overload with patient callers: the queue settles about 19,800 deep (the lgamma jump to the peak)."""
    queue = Queue(agents=10, load=1000.0, aht=60, patience=1200, threshold=0.0, states=22_000)
    forecast = staffing.erlang_a(queue.agents, queue.load, queue.aht, queue.patience, 20)
    wait, abandon, *_ = brute_erlang_a(queue)
    assert forecast.wait_probability == pytest.approx(wait, rel=1e-9)
    assert forecast.abandon_probability == pytest.approx(abandon, rel=1e-8)
    assert forecast.abandon_probability == pytest.approx(1 - queue.agents / queue.load, rel=1e-6)  # all but N/A leave


def test_erlang_a_without_agents() -> None:
    forecast = staffing.erlang_a(0, 5.0, 300, 60, 20)
    assert (forecast.wait_probability, forecast.abandon_probability, forecast.answered_within) == (1.0, 1.0, 0.0)
    assert forecast.abandoned_within == pytest.approx(1 - math.exp(-20 / 60))
    assert forecast.answer_speed_seconds == math.inf
    assert forecast.service_level(V.ABANDONS_IGNORED) is None  # nothing answered: 0 / 0


def test_service_level_variants_of_a_forecast() -> None:
    forecast = staffing.Forecast(0.5, 0.2, 0.6, 0.05, 10.0)
    assert forecast.service_level() == forecast.service_level(V.ABANDONS_AGAINST) == 0.6
    assert forecast.service_level(V.ABANDONS_AFTER_THRESHOLD_AGAINST) == pytest.approx(0.6 / 0.95)
    assert forecast.service_level(V.ABANDONS_WITHIN_THRESHOLD_MET) == pytest.approx(0.65)
    assert forecast.service_level(V.ABANDONS_IGNORED) == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("abandoned", "wait", "patience"),
    [(4, 1000.0, 250.0), (1, 30.0, 30.0), (0, 500.0, None), (3, 0.0, None)],
    ids=["four abandons", "one", "no abandon", "no wait"],
)
def test_patience_estimate(abandoned: int, wait: float, patience: float | None) -> None:
    assert staffing.patience_seconds(abandoned, wait) == patience


@pytest.mark.parametrize(
    "call",
    [
        lambda: staffing.erlang_c(-1, 5.0, 180, 20),
        lambda: staffing.erlang_c(5, 0.0, 180, 20),
        lambda: staffing.erlang_c(5, math.inf, 180, 20),
        lambda: staffing.erlang_c(5, 2.0, 0, 20),
        lambda: staffing.erlang_c(5, 2.0, 180, -1),
        lambda: staffing.erlang_a(5, 2.0, 180, 0, 20),
        lambda: staffing.agents_required(5.0, 180, 20, 1.0),
        lambda: staffing.agents_required(5.0, 180, 20, 0.0),
    ],
    ids=["agents<0", "load 0", "load inf", "aht 0", "threshold<0", "patience 0", "target 1", "target 0"],
)
def test_bad_inputs_are_refused(call: object) -> None:
    with pytest.raises(ValueError, match="must be"):
        call()  # type: ignore[operator]


# ----------------------------------------------------------------------------------------------- properties

loads = st.floats(0.05, 400.0)
ahts = st.floats(5.0, 1200.0)
thresholds = st.floats(0.0, 600.0)


@settings(max_examples=150, deadline=None)
@given(load=loads, extra=st.integers(1, 60), aht=ahts, threshold=thresholds)
def test_erlang_c_improves_with_every_agent(load: float, extra: int, aht: float, threshold: float) -> None:
    agents = math.floor(load) + extra
    fewer, more = staffing.erlang_c(agents, load, aht, threshold), staffing.erlang_c(agents + 1, load, aht, threshold)
    assert 0 <= more.wait_probability <= fewer.wait_probability <= 1
    assert fewer.answered_within <= more.answered_within <= 1
    assert more.answer_speed_seconds <= fewer.answer_speed_seconds


@settings(max_examples=150, deadline=None)
@given(load=loads, aht=ahts, threshold=thresholds, target=st.floats(0.05, 0.99))
def test_agents_required_is_the_least_that_meets_the_target(
    load: float, aht: float, threshold: float, target: float
) -> None:
    agents = staffing.agents_required(load, aht, threshold, target)
    assert agents > load
    assert staffing.erlang_c(agents, load, aht, threshold).answered_within >= target
    assert agents - 1 <= load or staffing.erlang_c(agents - 1, load, aht, threshold).answered_within < target


@settings(max_examples=150, deadline=None)
@given(load=st.floats(0.05, 300.0), occupancy=st.floats(0.05, 0.95), aht=ahts, threshold=thresholds)
def test_erlang_a_with_endless_patience_is_erlang_c(
    load: float, occupancy: float, aht: float, threshold: float
) -> None:
    agents = max(math.ceil(load / occupancy), math.floor(load) + 1)
    c = staffing.erlang_c(agents, load, aht, threshold)
    a = staffing.erlang_a(agents, load, aht, 1e9 * aht, threshold)
    assert a.wait_probability == pytest.approx(c.wait_probability, abs=1e-6)
    assert a.answered_within == pytest.approx(c.answered_within, abs=1e-6)
    assert a.abandon_probability == pytest.approx(0, abs=1e-6)
    assert a.answer_speed_seconds == pytest.approx(c.answer_speed_seconds, rel=1e-6, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(
    load=loads,
    agents=st.integers(0, 450),
    aht=ahts,
    patience=st.floats(1.0, 3600.0),
    threshold=thresholds,
)
def test_erlang_a_is_a_consistent_probability_model_never_worse_than_erlang_c(
    load: float, agents: int, aht: float, patience: float, threshold: float
) -> None:
    a = staffing.erlang_a(agents, load, aht, patience, threshold)
    c = staffing.erlang_c(agents, load, aht, threshold)
    assert 0 <= a.abandon_probability <= a.wait_probability <= c.wait_probability + 1e-12
    assert 0 <= a.answered_within <= 1 - a.abandon_probability + 1e-12
    assert 0 <= a.abandoned_within <= a.abandon_probability
    met = a.service_level(V.ABANDONS_WITHIN_THRESHOLD_MET)
    assert met is not None and met >= c.answered_within - 1e-9  # nobody waits longer than in Erlang C
    against = a.service_level(V.ABANDONS_AGAINST)
    assert against is not None
    for variant in (V.ABANDONS_AFTER_THRESHOLD_AGAINST, V.ABANDONS_WITHIN_THRESHOLD_MET, V.ABANDONS_IGNORED):
        other = a.service_level(variant)
        assert other is None or against - 1e-12 <= other <= 1
