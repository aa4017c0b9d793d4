"""Staffing gauges (exporters/staffing_metrics.py) from a hand-made snapshot, read back through a registry.

The snapshot is read 30 s into a bucket, so the 15m window covers 14 whole buckets and 30 s: 870 s::

    buckets  | -14 | -13 | ... |  -1 |  now's bucket  |
    15m       [---------------------------------now)     = 14 x 60 s + 30 s = 870 s

    queue            arrived  handled  handle s  AHT   load (Erlangs)    abandons (short)  waits s  patience  agents*
    acme/sales/voice  290      100      24000     240   290/870 x 240 = 80    6 (2)        4000     500 s     85
    acme/sales/chat    87       20       6000     300    87/870 x 300 = 30    3            900      300 s     30
    acme/billing/email 10        5       3000     600    10/870 x 600          0            -        -          3
    acme/support/voice  -        4        900     -      no arrivals: no model figures                        2
    acme/social/social 87       10       1200     120    no service-level threshold for social: load only      0

    * available + on_contact + wrapup; aux and offline are not counted.

The expected model figures are computed here by processors/staffing.py from those hand-computed inputs. The
exporter computes every queue at once with processors/staffing_columns.py: the same Erlang C floats (numpy's exp
may round an ulp away from libm's on some CPUs), Erlang A's series summed over a fixed range in another order;
model figures are compared to relative 1e-9 (absolute 1e-12 near 0), agents required exactly.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric

from exporters import queue_metrics
from exporters.reader import Snapshot
from exporters.staffing_metrics import QueueLoad, forecasts, queue_load, staffing_families, window_span_seconds
from exporters.view import KpiView
from processors import staffing
from processors.formulas import ServiceLevelVariant as V
from processors.windows import WindowSpec

MINUTE = 60_000
EDGE = 28_333_333 * MINUTE  # a bucket edge
NOW = EDGE + 30_000
SPAN = 870.0
WINDOWS = tuple(WindowSpec(minutes * MINUTE, MINUTE) for minutes in (5, 15, 60))

TOTALS = {
    "acme/sales/voice": {
        "queued": 290,
        "handled": 100,
        "handle_ms": 24_000_000,
        "abandoned": 6,
        "short_abandoned": 2,
        "wait_all_ms": 4_000_000,
    },
    "acme/sales/chat": {"queued": 87, "handled": 20, "handle_ms": 6_000_000, "abandoned": 3, "wait_all_ms": 900_000},
    "acme/billing/email": {"queued": 10, "handled": 5, "handle_ms": 3_000_000, "wait_all_ms": 50_000},
    "acme/support/voice": {"handled": 4, "handle_ms": 900_000},
    "acme/social/social": {"queued": 87, "handled": 10, "handle_ms": 1_200_000},
    "@acme/agent7": {"queued": 5, "handled": 5, "handle_ms": 1_000_000},
}
AGENTS = {
    ("acme/sales/voice", "available"): 10,
    ("acme/sales/voice", "on_contact"): 70,
    ("acme/sales/voice", "wrapup"): 5,
    ("acme/sales/voice", "aux"): 4,
    ("acme/sales/voice", "offline"): 3,
    ("acme/sales/chat", "available"): 1,
    ("acme/sales/chat", "on_contact"): 29,
    ("acme/billing/email", "available"): 3,
    ("acme/support/voice", "available"): 2,
}


def close(expected: float | None) -> object:
    return pytest.approx(expected, rel=1e-9, abs=1e-12)


def snapshot() -> Snapshot:
    totals = {(qid, window): dict(figures) for qid, figures in TOTALS.items() for window in ("5m", "15m", "1h")}
    totals[("acme/sales/voice", "5m")]["queued"] = 1_000  # other windows must not be read
    return Snapshot(now_ms=NOW, totals=totals, agents=Counter(AGENTS))


def view(windows: tuple[WindowSpec, ...] = WINDOWS) -> KpiView:
    return KpiView(
        windows=windows,
        service_level_variant=V.ABANDONS_AGAINST,
        offered_includes_timeouts=True,
        service_level_seconds={"voice": 20, "chat": 60, "email": 3600},
        service_level_variants={"sales/chat": V.ABANDONS_IGNORED},
    )


class Families:
    def __init__(self, snap: Snapshot, kpi_view: KpiView) -> None:
        self.snap, self.view = snap, kpi_view

    def collect(self) -> Iterator[Metric]:
        return staffing_families(self.snap, self.view)


def registry(snap: Snapshot | None = None, kpi_view: KpiView | None = None) -> CollectorRegistry:
    fresh = CollectorRegistry()
    fresh.register(Families(snap or snapshot(), kpi_view or view()))
    return fresh


def queue(qid: str, **extra: str) -> dict[str, str]:
    tenant, name, channel = qid.split("/")
    return {"tenant": tenant, "queue": name, "channel": channel, **extra}


def value(reg: CollectorRegistry, name: str, qid: str, **extra: str) -> float | None:
    return reg.get_sample_value(f"callpulse_queue_{name}", queue(qid, **extra))


def test_a_staffed_voice_queue_gets_every_gauge() -> None:
    reg = registry()
    load = 290 / SPAN * 240.0
    assert load == pytest.approx(80)
    erlang_c = staffing.erlang_c(85, load, 240.0, 20)
    erlang_a = staffing.erlang_a(85, load, 240.0, 500.0, 20)  # patience 4000 s of waits / 8 abandons
    q = "acme/sales/voice"
    assert value(reg, "offered_load_erlangs", q) == load
    assert value(reg, "agents_required", q) == staffing.agents_required(load, 240.0, 20, 0.8) == 87
    assert value(reg, "agents_logged_in", q) == 85
    assert value(reg, "predicted_service_level_ratio", q, model="erlang_c") == close(erlang_c.service_level())
    assert value(reg, "predicted_service_level_ratio", q, model="erlang_a") == close(erlang_a.service_level())
    assert value(reg, "predicted_answer_speed_seconds", q, model="erlang_c") == close(erlang_c.answer_speed_seconds)
    assert value(reg, "predicted_answer_speed_seconds", q, model="erlang_a") == close(erlang_a.answer_speed_seconds)
    assert erlang_a.service_level() > erlang_c.service_level()  # type: ignore[operator]


def test_an_understaffed_queue_under_its_own_abandon_treatment() -> None:
    """30 agents for 30 Erlangs: Erlang C never catches up; Erlang A, with callers who leave, does."""
    reg = registry()
    load = 87 / SPAN * 300.0
    erlang_a = staffing.erlang_a(30, load, 300.0, 300.0, 60)
    q = "acme/sales/chat"
    assert value(reg, "agents_logged_in", q) == 30
    assert value(reg, "predicted_service_level_ratio", q, model="erlang_c") == 0.0
    assert value(reg, "predicted_answer_speed_seconds", q, model="erlang_c") == math.inf
    ignored = erlang_a.service_level(V.ABANDONS_IGNORED)
    assert ignored is not None and ignored != erlang_a.service_level()
    assert value(reg, "predicted_service_level_ratio", q, model="erlang_a") == close(ignored)
    assert value(reg, "predicted_answer_speed_seconds", q, model="erlang_a") == close(erlang_a.answer_speed_seconds)
    assert value(reg, "agents_required", q) == staffing.agents_required(load, 300.0, 60)


def test_without_abandons_only_erlang_c_is_predicted() -> None:
    reg = registry()
    q = "acme/billing/email"
    load = 10 / SPAN * 600.0
    assert value(reg, "predicted_service_level_ratio", q, model="erlang_c") == close(
        staffing.erlang_c(3, load, 600.0, 3600).service_level()
    )
    assert value(reg, "predicted_service_level_ratio", q, model="erlang_a") is None
    assert value(reg, "predicted_answer_speed_seconds", q, model="erlang_a") is None


@pytest.mark.parametrize(
    ("qid", "logged_in", "offered", "required"),
    [
        ("acme/support/voice", 2, None, None),  # no arrivals in the window
        ("acme/social/social", 0, 87 / SPAN * 120.0, None),  # no service-level threshold for the channel
    ],
    ids=["no arrivals", "no threshold"],
)
def test_queues_without_model_figures(qid: str, logged_in: int, offered: float | None, required: None) -> None:
    reg = registry()
    assert value(reg, "agents_logged_in", qid) == logged_in
    assert value(reg, "offered_load_erlangs", qid) == offered
    assert value(reg, "agents_required", qid) is required
    assert value(reg, "predicted_service_level_ratio", qid, model="erlang_c") is None


def test_per_agent_keys_are_no_queue() -> None:
    names = {sample.labels.get("queue") for metric in registry().collect() for sample in metric.samples}
    assert "agent7" not in names and None not in names


def test_a_window_that_is_not_configured_gives_only_agents() -> None:
    reg = registry(kpi_view=view(windows=WINDOWS[:1]))
    assert value(reg, "agents_logged_in", "acme/sales/voice") == 85
    assert value(reg, "offered_load_erlangs", "acme/sales/voice") is None
    assert value(reg, "agents_required", "acme/sales/voice") is None


def test_exposition_has_one_family_per_name_and_infinite_answer_speed() -> None:
    text = generate_latest(registry()).decode()
    chat = 'channel="chat",model="erlang_c",queue="sales",tenant="acme"'
    assert f"callpulse_queue_predicted_answer_speed_seconds{{{chat}}} +Inf" in text
    snap, kpi_view = snapshot(), view()
    others = [*queue_metrics.windowed(snap, kpi_view), *queue_metrics.live(snap, kpi_view)]
    ours = list(staffing_families(snap, kpi_view))
    assert {family.name for family in ours}.isdisjoint({family.name for family in others})
    assert len({family.name for family in ours}) == len(ours) == 5


#   window 15m (15 buckets of 60 s) read at:     covers
#   a bucket edge                                14 x 60 s          = 840 s
#   30 s after the edge                          14 x 60 s + 30 s   = 870 s
#   1 ms before the next edge                    15 x 60 s - 1 ms   = 899.999 s
#   a one-bucket window at its edge              at least one bucket = 60 s
@pytest.mark.parametrize(
    ("window", "now_ms", "seconds"),
    [
        (WINDOWS[1], EDGE, 840.0),
        (WINDOWS[1], NOW, 870.0),
        (WINDOWS[1], EDGE + MINUTE - 1, 899.999),
        (WindowSpec(MINUTE, MINUTE), EDGE, 60.0),
    ],
    ids=["edge", "30 s in", "end of bucket", "one bucket"],
)
def test_window_span(window: WindowSpec, now_ms: int, seconds: float) -> None:
    assert window_span_seconds(window, now_ms) == seconds


@pytest.mark.parametrize(
    ("totals", "expected"),
    [
        ({"queued": 30, "handled": 4, "handle_ms": 1_200_000}, QueueLoad(0.1, 300.0, None)),
        (
            {"queued": 30, "handled": 4, "handle_ms": 1_200_000, "abandoned": 2, "wait_all_ms": 90_000},
            QueueLoad(0.1, 300.0, 45.0),
        ),
        (
            {
                "queued": 30,
                "handled": 4,
                "handle_ms": 1_200_000,
                "short_abandoned": 3,
                "timed_out": 9,
                "wait_all_ms": 90_000,
            },
            QueueLoad(0.1, 300.0, 30.0),
        ),
        ({"handled": 4, "handle_ms": 1_200_000}, None),
        ({"queued": 30}, None),
        ({"queued": 30, "handled": 4, "handle_ms": 0}, None),
        ({"queued": 30, "handled": 4, "handle_ms": -5}, None),
    ],
    ids=[
        "no abandons",
        "abandons",
        "short abandons count, timeouts are censored",
        "no arrivals",
        "nothing handled",
        "zero handle time",
        "negative handle time",
    ],
)
def test_queue_load(totals: dict[str, int], expected: QueueLoad | None) -> None:
    assert queue_load(totals, 300.0) == expected


@settings(max_examples=100, deadline=None)
@given(
    arrivals=st.integers(1, 5_000),
    handled=st.integers(1, 5_000),
    handle_ms=st.integers(1_000, 3_000_000),
    agents=st.lists(st.integers(0, 50), min_size=5, max_size=5),
)
def test_offered_load_and_agents_follow_the_figures(
    arrivals: int, handled: int, handle_ms: int, agents: list[int]
) -> None:
    states = ("available", "on_contact", "wrapup", "aux", "offline")
    totals = {("t/q/voice", "15m"): {"queued": arrivals, "handled": handled, "handle_ms": handle_ms}}
    snap = Snapshot(
        now_ms=NOW, totals=totals, agents=Counter(dict(zip([("t/q/voice", s) for s in states], agents, strict=True)))
    )
    reg = registry(snap)
    aht = handle_ms / 1000 / handled
    load = arrivals / SPAN * aht
    serving = sum(agents[:3])  # available, on_contact, wrapup
    assert value(reg, "offered_load_erlangs", "t/q/voice") == load
    assert value(reg, "agents_logged_in", "t/q/voice") == serving
    assert value(reg, "agents_required", "t/q/voice") == staffing.agents_required(load, aht, 20) > load
    predicted = value(reg, "predicted_service_level_ratio", "t/q/voice", model="erlang_c")
    assert predicted == close(staffing.erlang_c(serving, load, aht, 20).service_level())
    assert value(reg, "predicted_service_level_ratio", "t/q/voice", model="erlang_a") is None  # nobody abandoned


# ------------------------------------------------------------- all queues at once = queue by queue (the scalar models)


def scalar_families(snap: Snapshot, kpi_view: KpiView) -> dict[str, list[tuple[dict[str, str], float, float]]]:
    """What the exporter showed when it ran processors/staffing.py queue by queue: name -> (labels, value, absolute
    allowance) per sample, in order. The allowance is test_staffing_columns.py's for Erlang A's differences."""
    spec = next(spec for spec in kpi_view.windows if spec.label == "15m")
    span = window_span_seconds(spec, snap.now_ms)
    names = ("offered_load_erlangs", "agents_required", "predicted_service_level_ratio")
    out: dict[str, list[tuple[dict[str, str], float, float]]] = {
        f"callpulse_queue_{name}": [] for name in (*names, "predicted_answer_speed_seconds", "agents_logged_in")
    }
    for qid in sorted(snap.queues):
        labels = queue(qid)
        agents = sum(snap.agents.get((qid, state), 0) for state in ("available", "on_contact", "wrapup"))
        out["callpulse_queue_agents_logged_in"].append((labels, agents, 0.0))
        load = queue_load(snap.totals.get((qid, "15m"), {}), span)
        if load is None:
            continue
        out["callpulse_queue_offered_load_erlangs"].append((labels, load.offered_load, 0.0))
        threshold = kpi_view.service_level_seconds.get(labels["channel"])
        if threshold is None:
            continue
        needed = staffing.agents_required(load.offered_load, load.aht_seconds, threshold, 0.8)
        out["callpulse_queue_agents_required"].append((labels, needed, 0.0))
        size = max(agents, load.offered_load) * (load.patience_seconds or 0.0) / load.aht_seconds
        for model, forecast in forecasts(load, agents, threshold).items():
            allowance = 1e-12 + 1e-14 * size if model == "erlang_a" else 1e-12
            answered = 1 - forecast.abandon_probability
            variant = kpi_view.variant_for(qid)
            ratio = forecast.service_level(variant)
            if ratio is not None:  # a treatment dividing by a share divides the allowance by it too
                shares = {
                    V.ABANDONS_IGNORED: answered,
                    V.ABANDONS_AFTER_THRESHOLD_AGAINST: 1 - forecast.abandoned_within,
                }
                out["callpulse_queue_predicted_service_level_ratio"].append(
                    ({**labels, "model": model}, ratio, allowance / shares.get(variant, 1.0))
                )
            speed_allowance = forecast.answer_speed_seconds * allowance / answered if answered > 0 else 0.0
            out["callpulse_queue_predicted_answer_speed_seconds"].append(
                ({**labels, "model": model}, forecast.answer_speed_seconds, speed_allowance)
            )
    return out


def random_snapshot(rng: random.Random, queues: int) -> Snapshot:
    """Queues of every channel (social has no threshold), about half with abandons, a few without arrivals."""
    totals: dict[tuple[str, str], dict[str, int]] = {}
    agents: Counter[tuple[str, str]] = Counter()
    for index in range(queues):
        qid = f"t{index % 3}/q{index}/{('voice', 'chat', 'email', 'social')[index % 4]}"
        handled = rng.randint(1, 500)
        figures = {"handled": handled, "handle_ms": handled * rng.randint(10_000, 1_800_000)}
        if rng.random() < 0.9:
            figures["queued"] = rng.randint(1, 3_000)
        if rng.random() < 0.5:
            figures["abandoned"], figures["short_abandoned"] = rng.randint(0, 50), rng.randint(0, 5)
            figures["wait_all_ms"] = rng.randint(0, 10_000_000)
        totals[(qid, "15m")] = figures
        for state in ("available", "on_contact", "wrapup", "aux"):
            agents[(qid, state)] = rng.choice([0, rng.randint(0, 10), rng.randint(0, 150)])
    return Snapshot(now_ms=NOW, totals=totals, agents=agents)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_the_families_are_the_scalar_models_queue_by_queue(seed: int) -> None:
    snap = random_snapshot(random.Random(seed), 40)
    kpi_view = KpiView(
        windows=WINDOWS,
        service_level_variant=V.ABANDONS_AGAINST,
        offered_includes_timeouts=True,
        service_level_seconds={"voice": 20, "chat": 60.0, "email": 3600},
        service_level_variants={"q1/chat": V.ABANDONS_IGNORED, "t2/q2/email": V.ABANDONS_WITHIN_THRESHOLD_MET},
    )
    families = list(staffing_families(snap, kpi_view))
    expected = scalar_families(snap, kpi_view)
    assert [family.name for family in families] == [name.removesuffix("_total") for name in expected]
    for family in families:
        want = expected[family.name]
        assert [sample.labels for sample in family.samples] == [labels for labels, _, _ in want]
        for sample, (_, value_, allowance) in zip(family.samples, want, strict=True):
            assert type(sample.value) is type(value_)
            if allowance:
                assert sample.value == pytest.approx(value_, rel=1e-9, abs=allowance), sample
            else:
                assert sample.value == value_, sample
