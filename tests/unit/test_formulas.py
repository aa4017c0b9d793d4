"""KPI formulas over summed figures: the four service-level variants, abandon ratio, ASA, AHT and friends,
and the customer (FRT, ART, CSAT, NPS, CES) and agent (occupancy, utilization) KPIs built from real events.

One hand-computed table drives the service-level and abandon cases (T = the channel's threshold):

    answered 8   of which within T 6
    abandoned 3  of which within T 1        (after T: 2)
    timed out 2  of which within T 1
    short abandons 4                         (never count anywhere)

    variant                              without timeouts          with timeouts (abandoned 5, within T 2)
    abandons against        6/(8+3)      = 6/11                     6/(8+5)       = 6/13
    abandons after T against 6/(8+3-1)   = 6/10                     6/(8+5-2)     = 6/11
    abandons within T met   (6+1)/(8+3)  = 7/11                     (6+2)/(8+5)   = 8/13
    abandons ignored        6/8          = 3/4                      6/8           = 3/4
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import oracle
from oracle import T0, agent_event, contact_event, records
from processors import formulas
from processors.figures import Figure, KpiPolicy
from processors.formulas import ServiceLevelVariant as V
from processors.partition import AgentPartition, ContactPartition

TABLE = {
    "answered": 8,
    "answered_in_sl": 6,
    "abandoned": 3,
    "abandoned_in_sl": 1,
    "timed_out": 2,
    "timed_out_in_sl": 1,
    "short_abandoned": 4,
}

SERVICE_LEVELS = [
    (V.ABANDONS_AGAINST, False, 6 / 11),
    (V.ABANDONS_AFTER_THRESHOLD_AGAINST, False, 6 / 10),
    (V.ABANDONS_WITHIN_THRESHOLD_MET, False, 7 / 11),
    (V.ABANDONS_IGNORED, False, 6 / 8),
    (V.ABANDONS_AGAINST, True, 6 / 13),
    (V.ABANDONS_AFTER_THRESHOLD_AGAINST, True, 6 / 11),
    (V.ABANDONS_WITHIN_THRESHOLD_MET, True, 8 / 13),
    (V.ABANDONS_IGNORED, True, 6 / 8),
]


@pytest.mark.parametrize(("variant", "timeouts", "expected"), SERVICE_LEVELS)
def test_service_level_variants(variant: V, timeouts: bool, expected: float) -> None:
    assert formulas.service_level_ratio(TABLE, variant, include_timeouts=timeouts) == expected


@pytest.mark.parametrize(
    ("timeouts", "offered", "ratio"),
    [(False, 11, 3 / 11), (True, 13, 5 / 13)],
    ids=["without timeouts", "with timeouts"],
)
def test_abandon_ratio_and_offered(timeouts: bool, offered: int, ratio: float) -> None:
    assert formulas.offered(TABLE, include_timeouts=timeouts) == offered
    assert formulas.abandon_ratio(TABLE, include_timeouts=timeouts) == ratio


def test_short_abandons_count_nowhere() -> None:
    more_short = {**TABLE, "short_abandoned": 400}
    for variant, timeouts, expected in SERVICE_LEVELS:
        assert formulas.service_level_ratio(more_short, variant, include_timeouts=timeouts) == expected
    assert formulas.abandon_ratio(more_short, include_timeouts=False) == 3 / 11


# ------------------------------------------------------------------------------------------ zero denominators

ZERO_DENOMINATORS = [
    ("nothing at all", {}),
    ("only short abandons", {"short_abandoned": 5}),
    ("all zero", dict.fromkeys(TABLE, 0)),
]


@pytest.mark.parametrize("totals", [t for _, t in ZERO_DENOMINATORS], ids=[n for n, _ in ZERO_DENOMINATORS])
def test_none_when_nothing_was_offered(totals: dict[str, int]) -> None:
    for variant in V:
        for timeouts in (False, True):
            assert formulas.service_level_ratio(totals, variant, include_timeouts=timeouts) is None
    assert formulas.abandon_ratio(totals, include_timeouts=True) is None
    assert formulas.average_speed_of_answer_seconds(totals) is None
    assert formulas.average_handle_seconds(totals) is None
    assert formulas.average_idle_seconds(totals) is None
    assert formulas.transfer_ratio(totals) is None
    assert formulas.max_wait_seconds(totals) is None


def test_only_abandons_within_t() -> None:
    # answered 0, abandoned 2 both within T: "after T against" has nothing to divide by; "ignored" neither.
    totals = {"abandoned": 2, "abandoned_in_sl": 2}
    assert formulas.service_level_ratio(totals, V.ABANDONS_AFTER_THRESHOLD_AGAINST, include_timeouts=False) is None
    assert formulas.service_level_ratio(totals, V.ABANDONS_IGNORED, include_timeouts=False) is None
    assert formulas.service_level_ratio(totals, V.ABANDONS_AGAINST, include_timeouts=False) == 0.0
    assert formulas.service_level_ratio(totals, V.ABANDONS_WITHIN_THRESHOLD_MET, include_timeouts=False) == 1.0
    assert formulas.abandon_ratio(totals, include_timeouts=False) == 1.0


def test_timeouts_only_count_when_included() -> None:
    totals = {"timed_out": 3, "timed_out_in_sl": 1}
    assert formulas.abandon_ratio(totals, include_timeouts=False) is None
    assert formulas.abandon_ratio(totals, include_timeouts=True) == 1.0
    assert formulas.service_level_ratio(totals, V.ABANDONS_WITHIN_THRESHOLD_MET, include_timeouts=True) == 1 / 3


# ------------------------------------------------------------------------------------------ averages and parts

HANDLING = {
    "answered": 8,
    "wait_answered_ms": 90_000,
    "handled": 4,
    "handle_ms": 1_000_000,
    "talk_ms": 800_000,
    "hold_ms": 120_000,
    "wrapup_ms": 80_000,
    "transferred": 1,
    "idle_gaps": 3,
    "idle_ms": 90_000,
    "wait_max_ms": 45_500,
}


def test_asa() -> None:
    assert formulas.average_speed_of_answer_seconds(HANDLING) == 11.25  # 90 s / 8


@pytest.mark.parametrize(
    ("part", "seconds"),
    [(Figure.HANDLE_MS, 250.0), (Figure.TALK_MS, 200.0), (Figure.HOLD_MS, 30.0), (Figure.WRAPUP_MS, 20.0)],
    ids=["handle", "talk", "hold", "wrap-up"],
)
def test_aht_parts(part: Figure, seconds: float) -> None:
    assert formulas.average_handle_seconds(HANDLING, part) == seconds


def test_aht_parts_add_up() -> None:
    parts = (Figure.TALK_MS, Figure.HOLD_MS, Figure.WRAPUP_MS)
    assert sum(formulas.average_handle_seconds(HANDLING, part) or 0 for part in parts) == 250.0


def test_idle_transfer_and_max_wait() -> None:
    assert formulas.average_idle_seconds(HANDLING) == 30.0
    assert formulas.transfer_ratio(HANDLING) == 0.25
    assert formulas.max_wait_seconds(HANDLING) == 45.5
    assert formulas.max_wait_seconds({"wait_max_ms": 0}) == 0.0  # a zero max is a value, not "absent"


# --------------------------------------------------------------------------------- from events to the table


def test_table_built_from_events() -> None:
    """The figures of the table above, made by real voice contacts (T = 20 s, short abandon 5 s)."""
    ev = contact_event
    waits_answered = [0, 5_000, 10_000, 15_000, 19_000, 20_000, 20_001, 45_000]  # 6 within T
    waits_abandoned = [5_000, 30_000, 60_000]  # 1 within T
    waits_timed_out = [20_000, 90_000]  # 1 within T
    waits_short = [0, 1_000, 4_000, 4_999]
    events = []
    for kind, waits in (
        ("answered", waits_answered),
        ("abandoned", waits_abandoned + waits_short),
        ("timeout", waits_timed_out),
    ):
        for n, wait in enumerate(waits):
            contact = f"{kind}-{n}"
            events += [ev("queued", 0, contact=contact), ev(kind, wait, contact=contact)]
    changes = ContactPartition(KpiPolicy()).apply_batch(records(events))
    totals: dict[str, int] = {}
    for (_bucket, _qid, figure), value in changes.sums.items():  # one queue; the window covers every bucket
        totals[figure] = totals.get(figure, 0) + value
    assert {name: totals.get(name, 0) for name in TABLE} == TABLE
    assert totals == oracle.figures(events).sums_by_figure()
    for variant, timeouts, expected in SERVICE_LEVELS:
        assert formulas.service_level_ratio(totals, variant, include_timeouts=timeouts) == expected


# ------------------------------------------------------------------------- customer and agent KPIs from events


def summed(changes_sums: dict[tuple[int, str, str], int]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for (_bucket, _qid, figure), value in changes_sums.items():
        totals[figure] = totals.get(figure, 0) + value
    return totals


def test_customer_kpis_built_from_events() -> None:
    """kpi-reference "Customer KPIs" and average wait, from chat contacts, resolutions and surveys.

    s     0 c1 q ~~ 10 a ------ 30 fr                    wait 10 s, FRT 30 s
          0 c2 q ~~~~~~~~~~~~~~~~~~~ 50 fr ~~~~ 80 timeout wait 80 s, FRT 50 s
          0 c3 q ~ 3 ab (short)                          wait 3 s (short abandons count in the average wait)
    average wait (10 + 80 + 3) / 3 = 31 s; FRT (30 + 50) / 2 = 40 s
    resolutions: opened 1 h before 0 s, resolved at 0 s (3600 s); opened at 0 s, resolved at 1800 s -> ART 2700 s
    CSAT 5 4 2 1: satisfied 2 of 4 = 0.5, mean 3; NPS 10 9 9 7 3: (3 promoters - 1 detractor) / 5 = 40;
    CES 2 3 7: mean 4
    """
    ev = contact_event
    chat = {"channel": "chat"}
    events = [
        *[ev("queued", 0, contact=c, **chat) for c in ("c1", "c2", "c3")],
        ev("answered", 10_000, contact="c1", **chat),
        ev("first_response", 30_000, contact="c1", **chat),
        ev("first_response", 50_000, contact="c2", **chat),
        ev("timeout", 80_000, contact="c2", **chat),
        ev("abandoned", 3_000, contact="c3", **chat),
        ev("resolved", 0, contact="r1", opened_at=oracle.iso(T0 - 3_600_000), **chat),
        ev("resolved", 1_800_000, contact="r2", opened_at=oracle.iso(T0), **chat),
        *[
            ev("survey", 1_800_000 + n, contact=f"s{n}", **chat, **scores)
            for n, scores in enumerate(
                [
                    {"csat": 5, "nps": 10, "ces": 2},
                    {"csat": 4, "nps": 9},
                    {"csat": 2, "nps": 9, "ces": 3},
                    {"csat": 1, "nps": 7},
                    {"nps": 3, "ces": 7},
                ]
            )
        ],
    ]
    changes = ContactPartition(KpiPolicy()).apply_batch(records(events))
    assert changes.dead_letters == []
    totals = summed(changes.sums)
    assert totals == oracle.figures(events).sums_by_figure()
    assert formulas.average_wait_seconds(totals) == 31.0
    assert formulas.first_response_seconds(totals) == 40.0
    assert formulas.resolution_seconds(totals) == 2_700.0
    assert formulas.csat_ratio(totals) == 0.5
    assert formulas.csat_mean_score(totals) == 3.0
    assert formulas.net_promoter_score(totals) == 40.0
    assert formulas.customer_effort_score(totals) == 4.0


def test_nps_range() -> None:
    assert formulas.net_promoter_score({"nps_responses": 4, "nps_promoters": 4}) == 100.0
    assert formulas.net_promoter_score({"nps_responses": 4, "nps_detractors": 4}) == -100.0
    assert formulas.net_promoter_score({"nps_responses": 2}) == 0.0  # passives only
    assert formulas.net_promoter_score({}) is None


def test_occupancy_and_utilization_built_from_events() -> None:
    """kpi-reference: occupancy = handle / (handle + available idle); utilization = handle / logged-in time.

    s    0 avail ~~ 30 on_contact ------------- 150 wrapup -- 170 aux ---- 200 avail ~~~ 260 offline
    available 30 + 60 = 90 s, on_contact 120 s, wrapup 20 s, aux 30 s (offline not counted)
    occupancy (120 + 20) / (140 + 90) = 140/230; utilization 140 / (140 + 90 + 30) = 140/260
    """
    ag = agent_event
    events = [
        ag("available", 0),
        ag("on_contact", 30_000),
        ag("wrapup", 150_000),
        ag("aux", 170_000, reason="lunch"),
        ag("available", 200_000),
        ag("offline", 260_000),
    ]
    totals = summed(AgentPartition(KpiPolicy()).apply_batch(records(events)).sums)
    assert totals == oracle.figures(events).sums_by_figure()
    assert formulas.occupancy_ratio(totals) == 140 / 230
    assert formulas.utilization_ratio(totals) == 140 / 260
    assert formulas.occupancy_ratio({}) is None
    assert formulas.utilization_ratio({"state_ms.offline": 5}) is None


# ---------------------------------------------------------------------------------------------- properties


@st.composite
def consistent_totals(draw: st.DrawFn) -> dict[str, int]:
    answered = draw(st.integers(0, 50))
    abandoned = draw(st.integers(0, 50))
    timed_out = draw(st.integers(0, 50))
    return {
        "answered": answered,
        "answered_in_sl": draw(st.integers(0, answered)),
        "abandoned": abandoned,
        "abandoned_in_sl": draw(st.integers(0, abandoned)),
        "timed_out": timed_out,
        "timed_out_in_sl": draw(st.integers(0, timed_out)),
        "short_abandoned": draw(st.integers(0, 50)),
    }


@settings(max_examples=200, deadline=None)
@given(consistent_totals(), st.booleans())
def test_service_level_variants_are_ordered_ratios(totals: dict[str, int], timeouts: bool) -> None:
    """Every variant is a ratio in [0, 1]; counting abandons against is the strictest reading."""
    values = {variant: formulas.service_level_ratio(totals, variant, include_timeouts=timeouts) for variant in V}
    for value in values.values():
        assert value is None or 0.0 <= value <= 1.0
    against = values[V.ABANDONS_AGAINST]
    if against is not None:
        for variant in (V.ABANDONS_AFTER_THRESHOLD_AGAINST, V.ABANDONS_WITHIN_THRESHOLD_MET, V.ABANDONS_IGNORED):
            other = values[variant]
            assert other is None or other >= against
    abandon = formulas.abandon_ratio(totals, include_timeouts=timeouts)
    assert (abandon is None) == (formulas.offered(totals, include_timeouts=timeouts) == 0)
