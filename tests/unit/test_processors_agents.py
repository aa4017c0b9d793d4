"""AgentPartition: idle gaps and time in each state, in any arrival order, with duplicates, lateness and pruning.

An idle gap is a stretch in ``available`` that ends with ``on_contact``; it counts at the ``on_contact``
time, under that event's queue (docs/events.md 6.1). Time in a state (``state_ms.<state>``, every state but
``offline``) runs from the event that entered it to the agent's next event, cut at bucket edges, under the
queue of the event that entered it; the newest state is still running and counts nothing yet.
Times are ms after T0; buckets of 60 s (``min n``). ``AV``, ``ON``, ``WR``, ``AUX`` are the state figures.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

import oracle
from callpulse.simulator import DEFAULT_PROFILE, TrafficModel
from oracle import MINUTE, T0, accumulate, agent_event, records
from processors.events import RejectReason
from processors.figures import KpiPolicy, state_figure
from processors.partition import AgentPartition

SUPPORT = "demo/support/voice"
SALES = "demo/sales/voice"
POLICY = KpiPolicy()
AV, ON, WR, AUX = (state_figure(state) for state in ("available", "on_contact", "wrapup", "aux"))

ag = agent_event


def run(batches: list[list[dict[str, Any]]], policy: KpiPolicy = POLICY) -> tuple[AgentPartition, list[Any]]:
    partition = AgentPartition(policy)
    changes, offset = [], 0
    for events in batches:
        changes.append(partition.apply_batch(records(events, first_offset=offset)))
        offset += len(events)
    return partition, changes


def expand(spec: dict[tuple[Any, ...], int]) -> dict[tuple[int, str, str], int]:
    """``{(minute, figure): v}`` (support/voice) or ``{(minute, qid, figure): v}`` -> bucket keys."""
    out = {}
    for key, value in spec.items():
        minute, where, figure = key if len(key) == 3 else (key[0], SUPPORT, key[1])
        out[(T0 + minute * MINUTE, where, figure)] = value
    return out


@dataclass(frozen=True)
class Case:
    name: str
    events: list[dict[str, Any]]  # in time order (the tests also shuffle them)
    sums: dict[tuple[Any, ...], int]


CASES = [
    #   s     0            30                 200      215     230
    #         avail~~~~~~~~on_contact---------wrapup---avail~~~on_contact
    #         |<-- idle 30 s -->|                      |<-15s->|
    #   min   [0                  )[1 )[2 )[3                          )
    #   on_contact 30..200 s: min 0 30 s, min 1 60 s, min 2 60 s, min 3 20 s; wrapup 15 s, available 15 s (min 3)
    Case(
        "two contacts, two gaps",
        [
            ag("available", 0),
            ag("on_contact", 30_000),
            ag("wrapup", 200_000),
            ag("available", 215_000),
            ag("on_contact", 230_000),
        ],
        {
            **{(0, "idle_gaps"): 1, (0, "idle_ms"): 30_000, (3, "idle_gaps"): 1, (3, "idle_ms"): 15_000},
            **{(0, AV): 30_000, (0, ON): 30_000, (1, ON): 60_000, (2, ON): 60_000, (3, ON): 20_000},
            **{(3, WR): 15_000, (3, AV): 15_000},
        },
    ),
    #   s     0       10             40           50  |60    70
    #         avail~~~aux------------on_contact   avail~~|~~~on_contact
    #                 (aux is not idle)           |<-20 s->|
    #   available 10 s + 10 s (min 0) + 10 s (min 1), aux 30 s, on_contact 10 s
    Case(
        "aux between available and the contact is not idle",
        [
            ag("available", 0),
            ag("aux", 10_000, reason="lunch"),
            ag("on_contact", 40_000),
            ag("available", 50_000),
            ag("on_contact", 70_000),
        ],
        {
            **{(1, "idle_gaps"): 1, (1, "idle_ms"): 20_000},
            **{(0, AV): 20_000, (1, AV): 10_000, (0, AUX): 30_000, (0, ON): 10_000},
        },
    ),
    #   s     0            20       25           40
    #         on_contact---wrapup----------------on_contact      (wrap-up is not idle)
    #         avail 45 s ~~~ wrapup 50 s --- on_contact 55 s     (nor available -> wrapup -> on_contact)
    #   on_contact 20 + 5 s, wrapup 20 + 5 s, available 5 s
    Case(
        "wrapup is not idle",
        [
            ag("on_contact", 0),
            ag("wrapup", 20_000),
            ag("on_contact", 40_000),
            ag("available", 45_000),
            ag("wrapup", 50_000),
            ag("on_contact", 55_000),
        ],
        {(0, ON): 25_000, (0, WR): 25_000, (0, AV): 5_000},
    ),
    #   s     0       10        20
    #         avail~~~offline   on_contact      (logged out in between: no gap; offline time is not kept)
    Case(
        "offline in between is not idle",
        [ag("available", 0), ag("offline", 10_000), ag("on_contact", 20_000)],
        {(0, AV): 10_000},
    ),
    #   s     0 avail (support) ~~~~~~~~~~ 25 on_contact (sales)   -> gap counted under sales
    #   the 25 s available are time in state of the event that began them: under support
    Case(
        "the gap counts under the on_contact queue",
        [ag("available", 0, queue="support"), ag("on_contact", 25_000, queue="sales")],
        {(0, SALES, "idle_gaps"): 1, (0, SALES, "idle_ms"): 25_000, (0, SUPPORT, AV): 25_000},
    ),
    #   s     50 avail ~~~~~~~|~~~~~~~~~~~~~~~~|~~ 130 on_contact
    #   min   [0          )[1                  )[2               )    -> gap: min 2, 80 s
    #   time available is cut at the edges: 10 s in min 0, 60 s in min 1, 10 s in min 2
    Case(
        "a gap spanning buckets counts where it ends",
        [ag("available", 50_000), ag("on_contact", 130_000)],
        {(2, "idle_gaps"): 1, (2, "idle_ms"): 80_000, (0, AV): 10_000, (1, AV): 60_000, (2, AV): 10_000},
    ),
    #   ms    0 avail ~~~~ 59 999 on_contact |          (min 0, last ms)
    Case(
        "on_contact at bucket end - 1 ms",
        [ag("available", 0), ag("on_contact", 59_999)],
        {(0, "idle_gaps"): 1, (0, "idle_ms"): 59_999, (0, AV): 59_999},
    ),
    #   ms    0 avail ~~~~~~~~~~~~~~~~~~~~~~~~~| 60 000 on_contact  (gap: min 1, first ms)
    #   the 60 s available fill min 0 exactly: nothing of it in min 1
    Case(
        "on_contact at a bucket start",
        [ag("available", 0), ag("on_contact", 60_000)],
        {(1, "idle_gaps"): 1, (1, "idle_ms"): 60_000, (0, AV): 60_000},
    ),
    #   s     0 avail  5 on_contact  6 on_contact  (the second on_contact follows on_contact: no gap)
    #   on_contact 5..6 s under support (the queue of the first); the one under sales is still running
    Case(
        "on_contact after on_contact adds no gap",
        [ag("available", 0), ag("on_contact", 5_000), ag("on_contact", 6_000, queue="sales")],
        {(0, "idle_gaps"): 1, (0, "idle_ms"): 5_000, (0, AV): 5_000, (0, ON): 1_000},
    ),
    # Re-announced available (a queue switch) is one stretch from its first event (docs/events.md 6.1).
    #   s     0 avail (support) ~~~ 20 avail (sales) ~~~ 30 on_contact (sales) ~~ 40 available ~~ 45 on_contact
    #         |<------------- 30 s, under sales ----------->|                   |<--- 5 s --->|
    #   available: 20 s under support + 10 s under sales, then 5 s under support; on_contact 10 s under sales
    Case(
        "re-announced available is one stretch",
        [
            ag("available", 0),
            ag("available", 20_000, queue="sales"),
            ag("on_contact", 30_000, queue="sales"),
            ag("available", 40_000),
            ag("on_contact", 45_000),
        ],
        {
            **{(0, SALES, "idle_gaps"): 1, (0, SALES, "idle_ms"): 30_000, (0, "idle_gaps"): 1, (0, "idle_ms"): 5_000},
            **{(0, AV): 20_000 + 5_000, (0, SALES, AV): 10_000, (0, SALES, ON): 10_000},
        },
    ),
    # Two agents: their timelines are separate even when their events interleave.
    #   s     0 alice avail        10 bob avail      20 alice on_contact    40 bob on_contact
    #   available: alice 20 s + bob 30 s
    Case(
        "two agents",
        [
            ag("available", 0, agent="alice"),
            ag("available", 10_000, agent="bob"),
            ag("on_contact", 20_000, agent="alice"),
            ag("on_contact", 40_000, agent="bob"),
        ],
        {(0, "idle_gaps"): 2, (0, "idle_ms"): 20_000 + 30_000, (0, AV): 20_000 + 30_000},
    ),
    # Time in each state, cut at bucket edges; offline and the newest state count nothing.
    #
    #   s     50         125 130                    250   260
    #         on_contact-|---wrapup-aux (lunch)------|----offline--available ...
    #   min   [0  )[1       )[2                )[3    )[4          )
    #   on_contact 50-125 s: 10 s (min 0) + 60 s (min 1) + 5 s (min 2)
    #   wrapup 125-130 s: 5 s (min 2); aux 130-250 s: 50 s (min 2) + 60 s (min 3) + 10 s (min 4)
    Case(
        "time in each state cut at bucket edges",
        [
            ag("on_contact", 50_000),
            ag("wrapup", 125_000),
            ag("aux", 130_000, reason="lunch"),
            ag("offline", 250_000),
            ag("available", 260_000),
        ],
        {
            **{(0, ON): 10_000, (1, ON): 60_000, (2, ON): 5_000, (2, WR): 5_000},
            **{(2, AUX): 50_000, (3, AUX): 60_000, (4, AUX): 10_000},
        },
    ),
    #   s     60 on_contact ------------ 120 aux (training) ----------- 180 aux (no reason) ----- 240 available
    #   min   [1                        )[2                            )[3                       )[4
    #   each state fills exactly one bucket; aux of any reason is one figure
    Case(
        "states ending exactly on bucket edges",
        [
            ag("on_contact", 60_000),
            ag("aux", 120_000, reason="training"),
            ag("aux", 180_000),
            ag("available", 240_000),
        ],
        {(1, ON): 60_000, (2, AUX): 60_000, (3, AUX): 60_000},
    ),
    #   s     0 available ...          (the newest state is still running: nothing yet)
    Case("one state so far counts nothing", [ag("available", 0)], {}),
    #   ms    0 aux | 1 available      (a state of 1 ms)
    Case("a state of one millisecond", [ag("aux", 0), ag("available", 1)], {(0, AUX): 1}),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_agent_figures(case: Case) -> None:
    _, changes = run([case.events])
    total = accumulate(changes)
    assert total.nonzero_sums() == expand(case.sums)
    assert total.stats == {"applied": len(case.events)}
    assert oracle.figures(case.events).sums == expand(case.sums)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_any_arrival_order_gives_the_same_figures(case: Case) -> None:
    for order in itertools.islice(itertools.permutations(case.events), 720):
        _, changes = run([list(order)])
        assert accumulate(changes).nonzero_sums() == expand(case.sums), [e["type"] for e in order]


def test_reverse_order_one_event_a_batch() -> None:
    events = CASES[0].events
    _, changes = run([[event] for event in reversed(events)])
    assert accumulate(changes).nonzero_sums() == expand(CASES[0].sums)


def test_late_arrival_splits_a_gap_and_retracts_it() -> None:
    #   s     0 avail ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~ 100 on_contact      batch 1: gap of 100 s
    #   s     0 avail ~~~~ 50 aux ------------------------------ 100 on_contact      batch 2: no gap any more
    #   s     0 avail ~~~~ 50 aux ---- 70 avail ~~~~~~~~~~~~~~~~ 100 on_contact      batch 3: gap of 30 s
    #   min   [0                       )[1                               )
    #   time available: b1 60 s (min 0) + 40 s (min 1); b2 50 s (min 0); b3 50 s (min 0) + 30 s (min 1)
    #   time in aux:    b2 10 s (min 0) + 40 s (min 1);                  b3 10 s (min 0) + 10 s (min 1)
    _, (b1, b2, b3) = run(
        [
            [ag("available", 0), ag("on_contact", 100_000)],
            [ag("aux", 50_000)],
            [ag("available", 70_000)],
        ]
    )
    assert b1.sums == expand({(1, "idle_gaps"): 1, (1, "idle_ms"): 100_000, (0, AV): 60_000, (1, AV): 40_000})
    assert b2.sums == expand(
        {
            **{(1, "idle_gaps"): -1, (1, "idle_ms"): -100_000},
            **{(0, AV): -10_000, (1, AV): -40_000, (0, AUX): 10_000, (1, AUX): 40_000},
        }
    )
    assert b3.sums == expand({(1, "idle_gaps"): 1, (1, "idle_ms"): 30_000, (1, AUX): -30_000, (1, AV): 30_000})


def test_duplicates_are_applied_once() -> None:
    available, on_contact = ag("available", 0), ag("on_contact", 30_000)
    _, (b1, b2) = run([[available, available, on_contact], [on_contact, available]])
    assert b1.stats == {"applied": 2, "duplicate": 1}
    assert b1.sums == expand({(0, "idle_gaps"): 1, (0, "idle_ms"): 30_000, (0, AV): 30_000})
    assert b2.stats == {"duplicate": 2}
    assert b2.sums == {}
    assert b2.dead_letters == []


def test_replayed_batch_is_skipped() -> None:
    batch = records([ag("available", 0), ag("on_contact", 30_000)])
    partition = AgentPartition(POLICY)
    partition.apply_batch(batch)
    again = partition.apply_batch(batch)
    assert again.is_empty
    assert again.sums == {}
    assert not again.stats
    assert again.live_upserted == {}


def test_live_state_is_the_newest_transition() -> None:
    #   s   0 available   30 on_contact   90 aux (lunch)      arrival: aux first, then the others
    _, (changes,) = run(
        [[ag("aux", 90_000, reason="lunch"), ag("available", 0), ag("on_contact", 30_000, queue="sales")]]
    )
    assert changes.live_upserted == {
        "alice": {"t": SUPPORT, "s": "aux", "r": "lunch", "since": T0 + 90_000, "m": [SUPPORT]}
    }


@pytest.mark.parametrize(
    ("extra", "members"),
    [
        ({}, [SUPPORT]),
        ({"queues": ["support", "sales"]}, [SUPPORT, SALES]),
        ({"queues": ["sales", "support", "sales"]}, [SALES, SUPPORT]),  # de-duplicated, order kept
        ({"queues": ["billing"]}, ["demo/billing/voice"]),  # the list is the membership: queue is not added
    ],
    ids=["no queues", "two queues", "duplicates", "without its own queue"],
)
def test_live_state_membership(extra: dict[str, Any], members: list[str]) -> None:
    _, (changes,) = run([[ag("available", 0, **extra)]])
    assert changes.live_upserted["alice"]["m"] == members
    assert oracle.live_states([ag("available", 0, **extra)])["alice"]["m"] == members


def test_live_state_membership_is_that_of_the_newest_event() -> None:
    #   s    0 available (queues support, sales)    30 on_contact (chat, queues support)   20 aux (no queues)
    #   arrival: 0, 30, 20 -> live state from the 30 s event: members in the chat channel
    events = [
        ag("available", 0, queues=["support", "sales"]),
        ag("on_contact", 30_000, channel="chat", queues=["support"]),
        ag("aux", 20_000),
    ]
    _, (changes,) = run([events])
    assert changes.live_upserted == {
        "alice": {
            "t": "demo/support/chat",
            "s": "on_contact",
            "r": None,
            "since": T0 + 30_000,
            "m": ["demo/support/chat"],
        }
    }
    assert changes.live_upserted == oracle.live_states(events)
    #   then an event without queues: back to its own queue
    _, (_, later) = run([events, [ag("wrapup", 40_000, queue="sales")]])
    assert later.live_upserted["alice"]["m"] == [SALES]


def test_membership_changes_no_figure() -> None:
    plain = [ag("available", 0), ag("on_contact", 30_000), ag("wrapup", 90_000)]
    with_queues = [{**event, "queues": ["support", "sales"]} for event in plain]
    assert accumulate(run([with_queues])[1]).sums == accumulate(run([plain])[1]).sums


def test_aux_without_reason_is_unspecified() -> None:
    _, (changes,) = run([[ag("aux", 0)]])
    assert changes.live_upserted["alice"]["r"] == "unspecified"


def test_late_agent_event_is_rejected() -> None:
    #   s    0 ........ 99.999 (late) | 100 (accepted) ......... 700 watermark      lateness 600 s
    policy = KpiPolicy(allowed_lateness_ms=600_000)
    _, (_, b2) = run(
        [[ag("available", 700_000, agent="bob")], [ag("available", 99_999), ag("available", 100_000, agent="carol")]],
        policy,
    )
    assert [(d.offset, d.rejection.code) for d in b2.dead_letters] == [(1, RejectReason.LATE_EVENT)]
    assert b2.stats == {"applied": 1, "dead_letter:late_event": 1}


def test_late_duplicate_is_dead_lettered_as_late() -> None:
    #   s    0 alice avail   ..........   700 bob avail (watermark)      alice's 0 s event again: late
    policy = KpiPolicy(allowed_lateness_ms=600_000)
    available = ag("available", 0)
    _, (_, b2) = run([[available, ag("available", 700_000, agent="bob")], [available]], policy)
    assert [(d.offset, d.rejection.code) for d in b2.dead_letters] == [(2, RejectReason.LATE_EVENT)]
    assert b2.stats == {"dead_letter:late_event": 1}


def test_gap_older_than_the_lateness_still_counts_when_it_ends() -> None:
    # lateness 60 s. Old transitions are pruned, but the newest one before the horizon is kept: it can
    # still start a gap.
    #   s   0 avail   10 aux   20 avail ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~ 1000 on_contact
    #                          |<------------------- idle 980 s ------------------->|
    #   min  [0                       )[1 ) ... [15 )[16 (960 s)                  )
    #   b1: available 10 s, aux 10 s (min 0); b2: available 20..1000 s = 40 s (min 0) + 60 s (min 1-15) + 40 s (min 16)
    policy = KpiPolicy(allowed_lateness_ms=60_000)
    partition, (b1, b2) = run(
        [[ag("available", 0), ag("aux", 10_000), ag("available", 20_000)], [ag("on_contact", 1_000_000)]], policy
    )
    assert b2.sums == expand(
        {
            **{(16, "idle_gaps"): 1, (16, "idle_ms"): 980_000},
            **{(0, AV): 40_000, **{(minute, AV): 60_000 for minute in range(1, 16)}, (16, AV): 40_000},
        }
    )
    kept = [transition.time_ms for transition in partition.timelines["alice"].transitions]
    assert kept == [T0 + 20_000, T0 + 1_000_000]
    assert b1.sums == expand({(0, AV): 10_000, (0, AUX): 10_000})


def test_pruning_keeps_the_start_of_an_old_available_stretch() -> None:
    # lateness 60 s. bob moves the watermark to 500 s; alice re-announces available at 490 s (not late),
    # which prunes her timeline at horizon 440 s. Her stretch began at 0 s: pruning must keep that start.
    #   alice  0 avail ~~ 20 avail ~~~~~~~~~~~~~~~~~~~~ 490 avail ~~~~~~~~~~~~~~~~ 1000 on_contact (sales)
    #   bob                                      500 avail
    #          |<----------------------------- idle 1000 s --------------------------->|
    #   the last batch adds the time available since 490 s (under sales): 50 s in min 8 (480-540 s),
    #   60 s in each of min 9-15, 40 s in min 16 (960-1000 s)
    policy = KpiPolicy(allowed_lateness_ms=60_000)
    _, changes = run(
        [
            [ag("available", 0), ag("available", 20_000, queue="sales")],
            [ag("available", 500_000, agent="bob")],
            [ag("available", 490_000, queue="sales")],
            [ag("on_contact", 1_000_000, queue="sales")],
        ],
        policy,
    )
    assert [d for c in changes for d in c.dead_letters] == []
    assert changes[3].sums == expand(
        {
            **{(16, SALES, "idle_gaps"): 1, (16, SALES, "idle_ms"): 1_000_000},
            **{(8, SALES, AV): 50_000, **{(minute, SALES, AV): 60_000 for minute in range(9, 16)}},
            (16, SALES, AV): 40_000,
        }
    )


def test_repeated_available_is_one_stretch() -> None:
    # docs/events.md 6.1: "a stretch in available that ends with on_contact"; kpi-reference: idle = time
    # available with no contact. Re-entering available (a queue switch) does not restart the stretch.
    #   s     0 avail (support) ~~~~~ 20 avail (sales) ~~~~~ 30 on_contact (sales)
    #         |<------------------ one stretch, 30 s ------------------>|
    #   time available: 20 s under support, 10 s under sales (each under the event that began it)
    _, (changes,) = run(
        [[ag("available", 0), ag("available", 20_000, queue="sales"), ag("on_contact", 30_000, queue="sales")]]
    )
    assert changes.sums == expand(
        {(0, SALES, "idle_gaps"): 1, (0, SALES, "idle_ms"): 30_000, (0, SUPPORT, AV): 20_000, (0, SALES, AV): 10_000}
    )


# ----------------------------------------------------------------------------------- per-agent figures

ALICE = "@demo/alice"
BOB = "@demo/bob"


def per_agent_only(sums: dict[tuple[int, str, str], int]) -> dict[tuple[int, str, str], int]:
    return {key: value for key, value in sums.items() if value and key[1].startswith("@")}


def test_per_agent_figures() -> None:
    # With per_agent, every agent figure is also kept under "@tenant/agent".
    #   alice  0 avail ~~~ 30 on_contact ------- 90 wrapup -- 100 avail ...
    #   bob    10 aux --------------------------- 70 avail ... (sales)
    #   min    [0                        )[1                          )
    #   alice: available 30 s (min 0), gap 30 s (min 0), on_contact 30 s (min 0) + 30 s (min 1), wrapup 10 s (min 1)
    #   bob:   aux 50 s (min 0) + 10 s (min 1)
    events = [
        ag("available", 0),
        ag("aux", 10_000, agent="bob", queue="sales"),
        ag("on_contact", 30_000),
        ag("available", 70_000, agent="bob", queue="sales"),
        ag("wrapup", 90_000),
        ag("available", 100_000),
    ]
    alice = {(0, AV): 30_000, (0, "idle_gaps"): 1, (0, "idle_ms"): 30_000, (0, ON): 30_000, (1, ON): 30_000}
    alice[(1, WR)] = 10_000
    bob = {(0, SALES, AUX): 50_000, (1, SALES, AUX): 10_000}
    _, changes = run([events], KpiPolicy(per_agent=True))
    sums = accumulate(changes).nonzero_sums()
    assert per_agent_only(sums) == expand(
        {
            **{(minute, ALICE, figure): value for (minute, figure), value in alice.items()},
            **{(minute, BOB, figure): value for (minute, _qid, figure), value in bob.items()},
        }
    )
    assert {key: value for key, value in sums.items() if not key[1].startswith("@")} == expand(alice | bob)
    assert sums == oracle.figures(events, oracle.Params(per_agent=True)).sums
    #   off (the default): the same queue figures, no "@" key
    _, off = run([events])
    assert accumulate(off).nonzero_sums() == expand(alice | bob)


def test_per_agent_key_has_the_agent_tenant() -> None:
    #   acme/desk/email: bob 0 avail ~~~ 20 on_contact
    where = {"tenant": "acme", "queue": "desk", "channel": "email"}
    _, (changes,) = run(
        [[ag("available", 0, agent="bob", **where), ag("on_contact", 20_000, agent="bob", **where)]],
        KpiPolicy(per_agent=True),
    )
    assert per_agent_only(changes.sums) == {
        (T0, "@acme/bob", AV): 20_000,
        (T0, "@acme/bob", "idle_gaps"): 1,
        (T0, "@acme/bob", "idle_ms"): 20_000,
    }


def test_per_agent_figures_any_arrival_order_and_batching() -> None:
    events = CASES[0].events
    policy = KpiPolicy(per_agent=True)
    expected = oracle.figures(events, oracle.Params(per_agent=True)).sums
    for order in itertools.permutations(events):
        assert accumulate(run([list(order)], policy)[1]).nonzero_sums() == expected
    assert accumulate(run([[event] for event in reversed(events)], policy)[1]).nonzero_sums() == expected


# ------------------------------------------------------------------------------------------ known bugs

CROSS_TENANT_REASON = (
    "BUG: agents.contributions keys every per-agent figure of a timeline with the tenant of its first (unpruned) "
    "transition, not the tenant of the queue the figure is counted under"
)


def test_per_agent_figures_of_an_agent_in_two_tenants() -> None:
    # An agent (one agent_id, one timeline) serving two tenants, e.g. an outsourcer's agent: each figure's
    # per-agent copy belongs to the tenant of the queue it is counted under, not to demo for everything.
    #   s     0 avail (demo/support/voice) ~~~ 30 on_contact (acme/desk/email) ----- 90 wrapup (acme)
    #   demo: available 30 s (min 0)       acme: gap 30 s (min 0), on_contact 30 s (min 0) + 30 s (min 1)
    acme = {"tenant": "acme", "queue": "desk", "channel": "email"}
    events = [ag("available", 0), ag("on_contact", 30_000, **acme), ag("wrapup", 90_000, **acme)]
    _, (changes,) = run([events], KpiPolicy(per_agent=True))
    assert per_agent_only(changes.sums) == expand(
        {
            (0, ALICE, AV): 30_000,
            (0, "@acme/alice", "idle_gaps"): 1,
            (0, "@acme/alice", "idle_ms"): 30_000,
            (0, "@acme/alice", ON): 30_000,
            (1, "@acme/alice", ON): 30_000,
        }
    )


def test_per_agent_totals_of_an_agent_in_two_tenants_do_not_depend_on_arrival_order() -> None:
    # lateness 60 s. alice is available in demo at 0 s, then in aux in acme from 439 s. Her 490 s event prunes
    # her timeline at the horizon (watermark - 60 s): 440 s if bob's 500 s event came first (the demo
    # transition goes), 430 s if not (it stays). That decides under which "@tenant/alice" her later figures go.
    #   alice  0 avail (demo) ~~~~~~~~~~~~~~~~~~~ 439 aux (acme) -- 490 avail (acme) ~~~~~~~ 1000 on_contact (acme)
    #   bob                                                          500 avail
    #   order A: bob's 500 s event before alice's 490 s one; order B: after it
    policy = KpiPolicy(allowed_lateness_ms=60_000, per_agent=True)
    acme = {"tenant": "acme", "queue": "desk", "channel": "email"}
    first = [ag("available", 0), ag("aux", 439_000, **acme)]
    bob = ag("available", 500_000, agent="bob")
    alice_490, alice_1000 = ag("available", 490_000, **acme), ag("on_contact", 1_000_000, **acme)
    order_a = accumulate(run([first, [bob], [alice_490], [alice_1000]], policy)[1]).nonzero_sums()
    order_b = accumulate(run([first, [alice_490], [bob], [alice_1000]], policy)[1]).nonzero_sums()
    assert {key: value for key, value in order_a.items() if not key[1].startswith("@")} == {
        key: value for key, value in order_b.items() if not key[1].startswith("@")
    }
    assert per_agent_only(order_a) == per_agent_only(order_b)


def test_stored_timelines_do_not_depend_on_where_batches_are_cut() -> None:
    """Timelines are pruned at the horizon of their own last event, so batch boundaries leave no trace in
    what is stored (a restarted worker cuts batches differently and must end with the same state)."""
    start = 1_795_424_400_000
    model = TrafficModel(seed=11, start_ms=start, profile=DEFAULT_PROFILE.scaled(2))
    events = [event for event in model.advance_to(start + 40 * 60_000) if event.stream == "agents"]
    records = [(n, event.key.encode(), orjson.dumps(event.event)) for n, event in enumerate(events)]

    def stored(cut: int) -> dict[str, Any]:
        partition = AgentPartition(KpiPolicy(allowed_lateness_ms=120_000))
        for start_at in range(0, len(records), cut):
            partition.apply_batch(records[start_at : start_at + cut])
        return {agent: timeline.to_json() for agent, timeline in partition.timelines.items()}

    one_by_one = stored(1)
    assert len(records) > 300 and one_by_one
    assert stored(37) == one_by_one
    assert stored(len(records)) == one_by_one


def test_a_pruned_timeline_still_knows_its_kept_events_and_forgets_the_dropped() -> None:
    # lateness 60 s. The 100 s event prunes before 40 s, keeping the newest transition before it (20 s):
    # 0 s and 10 s are dropped. A resent kept event in time is a duplicate; a resent dropped one is late.
    policy = KpiPolicy(allowed_lateness_ms=60_000)
    dropped, kept = ag("available", 0), ag("on_contact", 70_000)
    first = [[dropped, ag("aux", 10_000), ag("available", 20_000)], [kept, ag("wrapup", 100_000)]]
    partition, _ = run(first, policy)
    offset = 5
    for resent, outcome in ((kept, "duplicate"), (dropped, "dead_letter:late_event"), (kept, "duplicate")):
        changes = partition.apply_batch(records([resent], first_offset=offset))
        offset += 1
        assert changes.stats == {outcome: 1} and changes.sums == {}
    timeline = partition.timelines["alice"]
    ids = {transition.event_id for transition in timeline.transitions}
    assert [transition.time_ms for transition in timeline.transitions] == [T0 + 20_000, T0 + 70_000, T0 + 100_000]
    assert partition._ids_of("alice", timeline) == ids
