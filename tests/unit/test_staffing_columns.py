"""processors/staffing_columns.py against the scalar reference, processors/staffing.py, queue by queue.

Agreement asked: Erlang B and agents required exactly; every other figure to relative 1e-9 (absolute 1e-12 near
0), except where a figure is a difference of probabilities near 1 computed from Erlang A's log-space sums. Those
sums are about max(x, y) = max(N, A) x patience / AHT in size (up to 1.8e5 here); a float64 log of that size
rounds by about 1e-16 of it, in either implementation (the scalar's lgamma for long runs, the columns' Stirling
sum), so answered/abandoned within T get an absolute allowance of 1e-12 + 1e-14 max(x, y), and the answer speed
(divided by the share answered) that allowance over the share answered. A 40-digit mpmath computation of the
worst cases found the columns within that allowance of the truth, and closer to it than the scalar.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors import staffing, staffing_columns
from processors.formulas import ServiceLevelVariant as V


class Queue(NamedTuple):
    agents: int
    load: float
    aht: float
    patience: float
    threshold: float


def columns(queues: list[Queue]) -> tuple[np.ndarray, ...]:
    table = np.array(queues, dtype=np.float64).reshape(-1, 5).T
    return (table[0].astype(np.int64), *table[1:])


def figures(forecast: staffing.Forecast) -> list[float]:
    return [
        forecast.wait_probability,
        forecast.abandon_probability,
        forecast.answered_within,
        forecast.abandoned_within,
        forecast.answer_speed_seconds,
    ]


def rows(forecasts: staffing_columns.ForecastColumns) -> list[list[float]]:
    table = [
        forecasts.wait_probability,
        forecasts.abandon_probability,
        forecasts.answered_within,
        forecasts.abandoned_within,
        forecasts.answer_speed_seconds,
    ]
    return np.array(table).T.tolist()  # type: ignore[no-any-return]


def assert_agrees(got: list[float], expected: staffing.Forecast, queue: Queue) -> None:
    size = max(queue.agents, queue.load) * queue.patience / queue.aht
    allowance = 1e-12 + 1e-14 * size
    answered = 1 - expected.abandon_probability
    wait, abandon, within, abandoned_within, speed = figures(expected)
    assert got[0] == pytest.approx(wait, rel=1e-9, abs=1e-12), queue
    assert got[1] == pytest.approx(abandon, rel=1e-9, abs=1e-12), queue
    assert got[2] == pytest.approx(within, rel=1e-9, abs=allowance), queue
    assert got[3] == pytest.approx(abandoned_within, rel=1e-9, abs=allowance), queue
    rel = 1e-9 + (allowance / answered if answered > 0 else 0.0)
    assert got[4] == pytest.approx(speed, rel=rel, abs=1e-12), queue


# Edge cases, one queue each (all of them also run as one column):
#   no agents; as many agents as Erlangs; fewer; a large centre; Erlang B underflowing (500 agents, 0.01 E);
#   overload with patient callers (the series peak ~144,000 terms out); x = N patience / AHT = 180,000;
#   the queue settling ~19,800 deep; threshold 0; a threshold of 720 patiences (z ~ 1e-313);
#   light, heavy and overloaded queues of test_staffing.py's brute-force table; a huge load.
EDGES = [
    Queue(0, 3.0, 180, 60, 20),
    Queue(10, 10.0, 180, 60, 20),
    Queue(9, 10.0, 180, 60, 20),
    Queue(480, 400.0, 300, 120, 20),
    Queue(500, 0.01, 300, 120, 20),
    Queue(1, 400.0, 10, 3600, 20),
    Queue(500, 400.0, 10, 3600, 3600),
    Queue(10, 1000.0, 60, 1200, 20),
    Queue(50, 45.0, 240, 90, 0),
    Queue(20, 15.0, 240, 5, 3600),
    Queue(3, 2.5, 100, 50, 20),
    Queue(10, 8.0, 180, 400, 20),
    Queue(2, 4.0, 60, 30, 10),
    Queue(20, 25.0, 300, 90, 20),
    Queue(5, 50.0, 100, 1000, 20),
    Queue(1, 0.01, 10, 5, 0),
    Queue(100, 5000.0, 300, 120, 20),
]


@pytest.mark.parametrize("queue", EDGES, ids=lambda q: f"N={q.agents},A={q.load},aht={q.aht},pat={q.patience}")
def test_edge_cases_match_the_scalar_models(queue: Queue) -> None:
    agents, load, aht, patience, threshold = columns([queue])
    assert staffing_columns.erlang_b(agents, load).tolist() == [staffing.erlang_b(*queue[:2])]
    c = staffing_columns.erlang_c(agents, load, aht, threshold)
    assert_agrees(rows(c)[0], staffing.erlang_c(queue.agents, queue.load, queue.aht, queue.threshold), queue)
    a = staffing_columns.erlang_a(agents, load, aht, patience, threshold)
    assert_agrees(rows(a)[0], staffing.erlang_a(*queue), queue)
    required = staffing_columns.agents_required(load, aht, threshold, 0.8)
    assert required.tolist() == [staffing.agents_required(queue.load, queue.aht, queue.threshold, 0.8)]


def test_edge_cases_as_one_column() -> None:
    agents, load, aht, patience, threshold = columns(EDGES)
    a = staffing_columns.erlang_a(agents, load, aht, patience, threshold)
    for got, queue in zip(rows(a), EDGES, strict=True):
        assert_agrees(got, staffing.erlang_a(*queue), queue)


queues = st.builds(
    Queue,
    agents=st.integers(0, 500),
    load=st.floats(0.01, 400.0),
    aht=st.floats(10.0, 3600.0),
    patience=st.floats(5.0, 3600.0),
    threshold=st.one_of(st.just(0.0), st.floats(0.0, 3600.0)),
)
# most real queues run near their staffing: load = agents x occupancy
near_critical = st.builds(
    lambda agents, occupancy, aht, patience, threshold: Queue(
        agents, max(agents * occupancy, 0.01), aht, patience, threshold
    ),
    st.integers(1, 500),
    st.floats(0.5, 1.5),
    st.floats(10.0, 3600.0),
    st.floats(5.0, 3600.0),
    st.floats(0.0, 600.0),
)
column = st.lists(st.one_of(queues, near_critical), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(column=column)
def test_erlang_b_and_c_match_the_scalar_models(column: list[Queue]) -> None:
    agents, load, aht, _, threshold = columns(column)
    blocking = staffing_columns.erlang_b(agents, load)
    assert blocking.tolist() == [staffing.erlang_b(queue.agents, queue.load) for queue in column]  # same recursion
    forecasts = staffing_columns.erlang_c(agents, load, aht, threshold)
    for got, queue in zip(rows(forecasts), column, strict=True):
        assert_agrees(got, staffing.erlang_c(queue.agents, queue.load, queue.aht, queue.threshold), queue)


def test_erlang_b_of_many_large_queues() -> None:
    """300 queues up to N = 4,000: more than one Erlang B history (1M cells) at a time; one queue with more
    agents than a history holds (computed alone), a few far beyond the others (finished one at a time)."""
    rng = np.random.default_rng(7)
    agents, load = rng.integers(0, 4_000, 300), rng.uniform(0.01, 4_000.0, 300)
    agents[:4] = [1_100_000, 9_000, 12_000, 20_000]
    expected = [staffing.erlang_b(n, a) for n, a in zip(agents.tolist(), load.tolist(), strict=True)]
    assert staffing_columns.erlang_b(agents, load).tolist() == expected


@settings(max_examples=60, deadline=None)
@given(column=column)
def test_erlang_a_matches_the_scalar_model(column: list[Queue]) -> None:
    forecasts = staffing_columns.erlang_a(*columns(column))
    for got, queue in zip(rows(forecasts), column, strict=True):
        assert_agrees(got, staffing.erlang_a(*queue), queue)


@settings(max_examples=60, deadline=None)
@given(column=column, target=st.floats(0.05, 0.99))
def test_agents_required_is_exactly_the_scalar_one(column: list[Queue], target: float) -> None:
    _, load, aht, _, threshold = columns(column)
    required = staffing_columns.agents_required(load, aht, threshold, target).tolist()
    assert required == [staffing.agents_required(queue.load, queue.aht, queue.threshold, target) for queue in column]


@pytest.mark.parametrize("agents", [11, 12, 13, 14])
def test_agents_required_when_a_service_level_is_the_target_itself(agents: int) -> None:
    """The target equal to the service level of some N, to the last bit: decided as the scalar decides it."""
    target = staffing.erlang_c(agents, 10.0, 180, 20).answered_within
    got = staffing_columns.agents_required(np.array([10.0]), np.array([180.0]), np.array([20.0]), target)
    assert got.tolist() == [staffing.agents_required(10.0, 180, 20, target)] == [agents]


@settings(max_examples=40, deadline=None)
@given(column=column, target=st.floats(0.05, 0.99))
def test_one_call_for_every_model(column: list[Queue], target: float) -> None:
    """forecasts(): the same figures as the three functions; Erlang A only where a patience is given."""
    agents, load, aht, patience, threshold = columns(column)
    patience[::2] = np.nan
    models = staffing_columns.forecasts(agents, load, aht, threshold, patience, target=target)
    assert models.agents_required.tolist() == staffing_columns.agents_required(load, aht, threshold, target).tolist()
    assert rows(models.erlang_c) == rows(staffing_columns.erlang_c(agents, load, aht, threshold))
    patient = np.arange(1, len(column), 2)
    assert models.patient.tolist() == patient.tolist()
    alone = staffing_columns.erlang_a(
        agents[patient], load[patient], aht[patient], patience[patient], threshold[patient]
    )
    assert rows(models.erlang_a) == rows(alone)


@settings(max_examples=60, deadline=None)
@given(column=column)
def test_service_levels_under_every_abandon_treatment(column: list[Queue]) -> None:
    forecasts = staffing_columns.erlang_a(*columns(column))
    for variant in V:
        levels = forecasts.service_level(variant).tolist()
        for level, figures_ in zip(levels, rows(forecasts), strict=True):
            expected = staffing.Forecast(*figures_).service_level(variant)
            assert level == expected if expected is not None else math.isnan(level)


def test_no_queues() -> None:
    empty, ints = np.zeros(0), np.zeros(0, dtype=np.int64)
    assert staffing_columns.agents_required(empty, empty, empty).size == 0
    assert staffing_columns.erlang_c(ints, empty, empty, empty).answered_within.size == 0
    assert staffing_columns.erlang_a(ints, empty, empty, empty, empty).answer_speed_seconds.size == 0
    assert staffing_columns.forecasts(ints, empty, empty, empty, empty, target=0.8).patient.size == 0


one = np.array([1.0])
n5 = np.array([5])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: staffing_columns.erlang_c(np.array([-1]), one, one, one), "agents must be >= 0"),
        (lambda: staffing_columns.erlang_c(n5, np.array([0.0]), one, one), "load must be"),
        (lambda: staffing_columns.erlang_c(n5, np.array([math.inf]), one, one), "load must be"),
        (lambda: staffing_columns.erlang_c(n5, one, np.array([0.0]), one), "aht_seconds must be"),
        (lambda: staffing_columns.erlang_c(n5, one, one, np.array([-1.0])), "threshold must be >= 0"),
        (lambda: staffing_columns.erlang_a(n5, one, one, np.array([0.0]), one), "patience_seconds must be"),
        (lambda: staffing_columns.agents_required(one, one, one, 1.0), "target must be between"),
        (lambda: staffing_columns.agents_required(one, one, one, 0.0), "target must be between"),
    ],
    ids=["agents<0", "load 0", "load inf", "aht 0", "threshold<0", "patience 0", "target 1", "target 0"],
)
def test_bad_inputs_are_refused(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
