"""ContactPartition: exact figures of hand-drawn timelines, rejections, lateness, waiting set, eviction.

Every timeline is drawn above its case. Times are milliseconds after T0 (2026-11-23T09:00:00Z); the default
policy is used unless a case says otherwise: buckets of 60 s, short abandon 5 s, voice service level 20 s,
chat 60 s, allowed lateness 10 min, stale contacts 4 h. ``minute n`` is the bucket [T0 + n min, T0 + n+1 min).

Every leg counts ``queued`` (1, at its queued time) and, once it left the queue (answered, abandoned - short
too - or timed out), ``left_queue`` and ``wait_all_ms`` at the time it left. A ``first_response`` counts
``first_responses`` and ``first_response_ms`` (= reply - queued) at the reply time. ``resolved`` and ``survey``
are standalone: no leg, they count at their own time under their own queue, duplicates applied once.

Each table case is checked twice: the processors against the hand-computed figures, and the brute-force
reference (``oracle.py``) against the same figures, so the reference used by the properties is anchored too.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest

import oracle
from oracle import MINUTE, T0, accumulate, contact_event, records
from processors import contact_partition, formulas
from processors.events import RejectReason
from processors.figures import Figure, KpiPolicy
from processors.partition import SEEN_PREFIX, ContactPartition

SUPPORT = "demo/support/voice"
BILLING = "demo/billing/voice"
SUPPORT_CHAT = "demo/support/chat"
SUPPORT_EMAIL = "demo/support/email"
POLICY = KpiPolicy()

ev = contact_event


def leg(contact: str, where: str = SUPPORT) -> str:
    """The leg key the partition uses in its waiting set and records: ``tenant/queue/channel/contact``."""
    return f"{where}/{contact}"


def run(batches: list[list[dict[str, Any]]], policy: KpiPolicy = POLICY) -> tuple[ContactPartition, list[Any]]:
    """Feed the batches (lists of events) to one fresh partition, offsets counting up across batches."""
    partition = ContactPartition(policy)
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


def expand_max(spec: dict[Any, int]) -> dict[tuple[int, str, str], int]:
    """``{minute: ms}`` (support/voice) or ``{(minute, qid): ms}`` -> wait_max_ms keys."""
    out = {}
    for key, value in spec.items():
        minute, where = key if isinstance(key, tuple) else (key, SUPPORT)
        out[(T0 + minute * MINUTE, where, "wait_max_ms")] = value
    return out


@dataclass(frozen=True)
class Case:
    name: str
    events: list[dict[str, Any]]  # in arrival order
    sums: dict[tuple[Any, ...], int]  # non-zero figures only
    maxima: dict[Any, int] = field(default_factory=dict)


CASES = [
    # A plain voice call (contract 6.2, support leg of call-7 without the transfer).
    #
    #   s    0      12.5              90        120                     240       260
    #        |~wait~|------talk-------|==hold===|---------talk----------|--wrap---|
    #      queued answered        hold_start hold_end                 ended  wrapup_ended
    #   min  [0                  )[1           )[2          )[3          )[4             )
    #
    #   queued 1 -> minute 0; left the queue after 12.5 s -> minute 0
    #   wait 12.5 s <= 20 s -> answered in SL, minute 0
    #   hold 30 s, talk 240 - 12.5 - 30 = 197.5 s, wrap-up 20 s, handle 247.5 s -> minute 4
    Case(
        "plain answered and handled call",
        [
            ev("queued", 0),
            ev("answered", 12_500, agent_id="alice"),
            ev("hold_start", 90_000),
            ev("hold_end", 120_000),
            ev("ended", 240_000, agent_id="alice"),
            ev("wrapup_ended", 260_000),
        ],
        {
            (0, "queued"): 1,
            (0, "left_queue"): 1,
            (0, "wait_all_ms"): 12_500,
            (0, "answered"): 1,
            (0, "answered_in_sl"): 1,
            (0, "wait_answered_ms"): 12_500,
            (4, "handled"): 1,
            (4, "handle_ms"): 247_500,
            (4, "hold_ms"): 30_000,
            (4, "talk_ms"): 197_500,
            (4, "wrapup_ms"): 20_000,
        },
        {0: 12_500},
    ),
    # The whole call-7 story of contract 5.3: transferred from support to billing, a new leg there.
    #
    #   s        0   12.5     90   120      240  260  275                    455
    #   support  q---a--------hs===he-------tr~~~~w
    #   billing                             q--------a-----------------------e,w
    #   min      [0       )[1  )[2  )[3    )[4           )[5   )[6   )[7         )
    #
    #   support: queued and answered in SL (12.5 s) min 0; transferred min 4; handled min 4 (as above)
    #   billing: queued min 4 (240 s), answered min 4 after a 35 s wait (not in SL); handled min 7, talk 180 s,
    #            no wrap-up
    Case(
        "transfer makes a second leg (contract 5.3)",
        [
            ev("queued", 0, contact="call-7"),
            ev("answered", 12_500, contact="call-7", agent_id="alice"),
            ev("hold_start", 90_000, contact="call-7"),
            ev("hold_end", 120_000, contact="call-7"),
            ev("transferred", 240_000, contact="call-7", agent_id="alice", to_queue="billing"),
            ev("queued", 240_000, contact="call-7", queue="billing"),
            ev("wrapup_ended", 260_000, contact="call-7"),
            ev("answered", 275_000, contact="call-7", queue="billing", agent_id="bob"),
            ev("ended", 455_000, contact="call-7", queue="billing", agent_id="bob"),
            ev("wrapup_ended", 455_000, contact="call-7", queue="billing"),
        ],
        {
            (0, SUPPORT, "queued"): 1,
            (0, SUPPORT, "left_queue"): 1,
            (0, SUPPORT, "wait_all_ms"): 12_500,
            (0, SUPPORT, "answered"): 1,
            (0, SUPPORT, "answered_in_sl"): 1,
            (0, SUPPORT, "wait_answered_ms"): 12_500,
            (4, SUPPORT, "transferred"): 1,
            (4, SUPPORT, "handled"): 1,
            (4, SUPPORT, "handle_ms"): 247_500,
            (4, SUPPORT, "hold_ms"): 30_000,
            (4, SUPPORT, "talk_ms"): 197_500,
            (4, SUPPORT, "wrapup_ms"): 20_000,
            (4, BILLING, "queued"): 1,
            (4, BILLING, "left_queue"): 1,
            (4, BILLING, "wait_all_ms"): 35_000,
            (4, BILLING, "answered"): 1,
            (4, BILLING, "wait_answered_ms"): 35_000,
            (7, BILLING, "handled"): 1,
            (7, BILLING, "handle_ms"): 180_000,
            (7, BILLING, "talk_ms"): 180_000,
        },
        {0: 12_500, (4, BILLING): 35_000},
    ),
    # Short abandon: the wait is 1 ms under the 5 s threshold.
    #
    #   ms   0            4 999 | 5 000
    #        q~~~~~~~~~~~~ab    | short-abandon threshold
    Case(
        "abandon 1 ms before the short threshold is a short abandon",
        [ev("queued", 0), ev("abandoned", 4_999)],
        {(0, "queued"): 1, (0, "left_queue"): 1, (0, "wait_all_ms"): 4_999, (0, "short_abandoned"): 1},
        {0: 4_999},
    ),
    #   ms   0                   5 000
    #        q~~~~~~~~~~~~~~~~~~~ab     (wait == threshold: a real abandon, inside the 20 s SL)
    Case(
        "abandon exactly at the short threshold counts as abandoned",
        [ev("queued", 0), ev("abandoned", 5_000)],
        {
            (0, "queued"): 1,
            (0, "left_queue"): 1,
            (0, "wait_all_ms"): 5_000,
            (0, "abandoned"): 1,
            (0, "abandoned_in_sl"): 1,
        },
        {0: 5_000},
    ),
    #   ms   0                   20 000
    #        q~~~~~~~~~~~~~~~~~~~ab     (wait == SL threshold: abandoned within T)
    Case(
        "abandon exactly at the SL threshold is within it",
        [ev("queued", 0), ev("abandoned", 20_000)],
        {
            (0, "queued"): 1,
            (0, "left_queue"): 1,
            (0, "wait_all_ms"): 20_000,
            (0, "abandoned"): 1,
            (0, "abandoned_in_sl"): 1,
        },
        {0: 20_000},
    ),
    #   ms   0                   20 000 25 000
    #        q~~~~~~~~~~~~~~~~~~~~~|~~~~ab      (after T)
    Case(
        "abandon after the SL threshold",
        [ev("queued", 0), ev("abandoned", 25_000)],
        {(0, "queued"): 1, (0, "left_queue"): 1, (0, "wait_all_ms"): 25_000, (0, "abandoned"): 1},
        {0: 25_000},
    ),
    #   ms   0                   20 000
    #        q~~~~~~~~~~~~~~~~~~~a          (wait == T: within)
    Case(
        "answered exactly at the SL threshold is within it",
        [ev("queued", 0), ev("answered", 20_000)],
        {
            **{(0, "queued"): 1, (0, "left_queue"): 1, (0, "wait_all_ms"): 20_000},
            **{(0, "answered"): 1, (0, "answered_in_sl"): 1, (0, "wait_answered_ms"): 20_000},
        },
        {0: 20_000},
    ),
    #   ms   0                   20 000 20 001
    #        q~~~~~~~~~~~~~~~~~~~~~|a           (1 ms late: not within)
    Case(
        "answered 1 ms after the SL threshold is not within it",
        [ev("queued", 0), ev("answered", 20_001)],
        {
            (0, "queued"): 1,
            (0, "left_queue"): 1,
            (0, "wait_all_ms"): 20_001,
            (0, "answered"): 1,
            (0, "wait_answered_ms"): 20_001,
        },
        {0: 20_001},
    ),
    #   chat, T = 60 s
    #   ms   0                                   60 000
    #        q~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~a          (min 1, within the chat threshold)
    Case(
        "chat has its own threshold",
        [ev("queued", 0, channel="chat"), ev("answered", 60_000, channel="chat")],
        {
            (0, SUPPORT_CHAT, "queued"): 1,
            (1, SUPPORT_CHAT, "left_queue"): 1,
            (1, SUPPORT_CHAT, "wait_all_ms"): 60_000,
            (1, SUPPORT_CHAT, "answered"): 1,
            (1, SUPPORT_CHAT, "answered_in_sl"): 1,
            (1, SUPPORT_CHAT, "wait_answered_ms"): 60_000,
        },
        {(1, SUPPORT_CHAT): 60_000},
    ),
    #   ms   0                   20 000        (c1)     0                30 000   (c2)
    #        q~~~~~~~~~~~~~~~~~~~timeout                q~~~~~~~~~~~~~~~~~~~~timeout
    Case(
        "timeouts, at the threshold and after it",
        [
            ev("queued", 0),
            ev("timeout", 20_000),
            ev("queued", 0, contact="c2"),
            ev("timeout", 30_000, contact="c2"),
        ],
        {
            **{(0, "queued"): 2, (0, "left_queue"): 2, (0, "wait_all_ms"): 20_000 + 30_000},
            **{(0, "timed_out"): 2, (0, "timed_out_in_sl"): 1},
        },
        {0: 30_000},
    ),
    # Out of order: the answer arrives before the queued event; figures appear when both are in.
    #
    #   time     0 q            15 000 a
    #   arrival  2nd            1st
    Case(
        "answered arriving before queued",
        [ev("answered", 15_000), ev("queued", 0)],
        {
            **{(0, "queued"): 1, (0, "left_queue"): 1, (0, "wait_all_ms"): 15_000},
            **{(0, "answered"): 1, (0, "answered_in_sl"): 1, (0, "wait_answered_ms"): 15_000},
        },
        {0: 15_000},
    ),
    # Three contacts, every event arriving in reverse time order (newest first).
    #
    #   s     0   5   10  20  30  35  40  45  50      70
    #   c1    q-------a-------------------e---w
    #   c2        q~~~~~~~~~~~~~~~~~~~ab(30 s wait)
    #   c3                q~~~~~~~~~~~~~~~~~~~~~~~a-------tr,w
    #   min   [0                                    )[1         )
    #   arrival: c3 tr, c3 w, c3 a, c1 w, c1 e, c2 ab, c3 q, c1 a, c2 q, c1 q
    Case(
        "contacts arriving in reverse time order",
        [
            ev("transferred", 70_000, contact="c3", to_queue="billing"),
            ev("wrapup_ended", 70_000, contact="c3"),
            ev("answered", 50_000, contact="c3"),
            ev("wrapup_ended", 45_000, contact="c1"),
            ev("ended", 40_000, contact="c1"),
            ev("abandoned", 35_000, contact="c2"),
            ev("queued", 20_000, contact="c3"),
            ev("answered", 10_000, contact="c1"),
            ev("queued", 5_000, contact="c2"),
            ev("queued", 0, contact="c1"),
        ],
        {
            (0, "queued"): 3,
            (0, "left_queue"): 3,
            (0, "wait_all_ms"): 10_000 + 30_000 + 30_000,  # c1 answered, c2 abandoned, c3 answered
            (0, "answered"): 2,
            (0, "answered_in_sl"): 1,
            (0, "wait_answered_ms"): 10_000 + 30_000,
            (0, "abandoned"): 1,
            (0, "handled"): 1,
            (0, "handle_ms"): 35_000,
            (0, "talk_ms"): 30_000,
            (0, "wrapup_ms"): 5_000,
            (1, "transferred"): 1,
            (1, "handled"): 1,
            (1, "handle_ms"): 20_000,
            (1, "talk_ms"): 20_000,
        },
        {0: 30_000},
    ),
    # Bucket edges: a bucket is [start, start + 60 s).
    #
    #   ms      45 000        59 999 | 60 000
    #           q~~~~~~~~~~~~~a      |             -> min 0 (last ms of the bucket)
    Case(
        "answer at bucket end - 1 ms stays in that bucket",
        [ev("queued", 45_000), ev("answered", 59_999)],
        {
            **{(0, "queued"): 1, (0, "left_queue"): 1, (0, "wait_all_ms"): 14_999},
            **{(0, "answered"): 1, (0, "answered_in_sl"): 1, (0, "wait_answered_ms"): 14_999},
        },
        {0: 14_999},
    ),
    #   ms      50 000        | 60 000
    #           q~~~~~~~~~~~~~|a                   -> min 1: queued in min 0, counted where answered
    #   the arrival itself (queued) counts in min 0, the wait where the contact left the queue (min 1)
    Case(
        "queued in one bucket, answered at the next bucket's start",
        [ev("queued", 50_000), ev("answered", 60_000)],
        {
            **{(0, "queued"): 1, (1, "left_queue"): 1, (1, "wait_all_ms"): 10_000},
            **{(1, "answered"): 1, (1, "answered_in_sl"): 1, (1, "wait_answered_ms"): 10_000},
        },
        {1: 10_000},
    ),
    #   ms   0 q~~~~~~~~~~~~~~~~|~~~~~~~~~~~~~~~~~~~~ab 119 999 | 120 000
    #   min  [0               )[1                              )[2
    Case(
        "abandon at the last ms of the second bucket",
        [ev("queued", 0), ev("abandoned", 119_999)],
        {(0, "queued"): 1, (1, "left_queue"): 1, (1, "wait_all_ms"): 119_999, (1, "abandoned"): 1},
        {1: 119_999},
    ),
    # Handled counts at wrap-up time, whatever bucket the answer was in.
    #
    #   ms   0  10 000                   119 999 | 120 000
    #        q--a------------------------e       |w
    #   min  [0                    )[1           )[2
    Case(
        "handled lands in the wrap-up bucket",
        [ev("queued", 0), ev("answered", 10_000), ev("ended", 119_999), ev("wrapup_ended", 120_000)],
        {
            (0, "queued"): 1,
            (0, "left_queue"): 1,
            (0, "wait_all_ms"): 10_000,
            (0, "answered"): 1,
            (0, "answered_in_sl"): 1,
            (0, "wait_answered_ms"): 10_000,
            (2, "handled"): 1,
            (2, "handle_ms"): 110_000,
            (2, "talk_ms"): 109_999,
            (2, "wrapup_ms"): 1,
        },
        {0: 10_000},
    ),
    # A hold still open when talk ends is closed at the end.
    #
    #   s    0   10        30                50     55
    #        q---a---------hs================e------w
    #                      |<-- hold 20 s -->|
    #   talk 50 - 10 - 20 = 20 s, wrap-up 5 s, handle 45 s
    Case(
        "hold left open at the end",
        [
            ev("queued", 0),
            ev("answered", 10_000),
            ev("hold_start", 30_000),
            ev("ended", 50_000),
            ev("wrapup_ended", 55_000),
        ],
        {
            (0, "queued"): 1,
            (0, "left_queue"): 1,
            (0, "wait_all_ms"): 10_000,
            (0, "answered"): 1,
            (0, "answered_in_sl"): 1,
            (0, "wait_answered_ms"): 10_000,
            (0, "handled"): 1,
            (0, "handle_ms"): 45_000,
            (0, "hold_ms"): 20_000,
            (0, "talk_ms"): 20_000,
            (0, "wrapup_ms"): 5_000,
        },
        {0: 10_000},
    ),
    # Two holds, the second open at the end; a third hold_start exactly at the end adds nothing.
    #
    #   s    0   10   20==25          40=========50(e) 50(hs)  50(w)
    #   hold 5 s + 10 s = 15 s, talk 40 - 15 = 25 s, no wrap-up
    Case(
        "several holds, the last one open",
        [
            ev("queued", 0),
            ev("answered", 10_000),
            ev("hold_start", 20_000),
            ev("hold_end", 25_000),
            ev("hold_start", 40_000),
            ev("ended", 50_000),
            ev("wrapup_ended", 50_000),
        ],
        {
            (0, "queued"): 1,
            (0, "left_queue"): 1,
            (0, "wait_all_ms"): 10_000,
            (0, "answered"): 1,
            (0, "answered_in_sl"): 1,
            (0, "wait_answered_ms"): 10_000,
            (0, "handled"): 1,
            (0, "handle_ms"): 40_000,
            (0, "hold_ms"): 15_000,
            (0, "talk_ms"): 25_000,
        },
        {0: 10_000},
    ),
    # Not handled yet: answered and ended but no wrap-up; transferred without wrap-up counts the transfer.
    #
    #   s    0  10        40                  (c1: no wrapup_ended yet)
    #        q--a---------e
    #   s    0  10        70                  (c2)
    #        q--a---------tr
    Case(
        "no wrap-up yet: nothing handled",
        [
            ev("queued", 0),
            ev("answered", 10_000),
            ev("ended", 40_000),
            ev("queued", 0, contact="c2"),
            ev("answered", 10_000, contact="c2"),
            ev("transferred", 70_000, contact="c2", to_queue="billing"),
        ],
        {
            (0, "queued"): 2,
            (0, "left_queue"): 2,
            (0, "wait_all_ms"): 20_000,
            (0, "answered"): 2,
            (0, "answered_in_sl"): 2,
            (0, "wait_answered_ms"): 20_000,
            (1, "transferred"): 1,
        },
        {0: 10_000},
    ),
    # Only queued: the arrival counts; no wait yet (the contact is in the waiting set instead, see below).
    Case("queued only", [ev("queued", 0)], {(0, "queued"): 1}, {}),
    # First response time (FRT) = first agent reply - queued, counted when the reply is sent.
    #
    #   chat, T = 60 s
    #   s    0          20                                     95
    #        q~~~~~~~~~~a--------------------------------------fr
    #   min  [0                                  )[1                  )
    #   wait 20 s (min 0, within T); FRT 95 s (min 1)
    Case(
        "first response of a chat",
        [
            ev("queued", 0, channel="chat"),
            ev("answered", 20_000, channel="chat", agent_id="alice"),
            ev("first_response", 95_000, channel="chat", agent_id="alice"),
        ],
        {
            (0, SUPPORT_CHAT, "queued"): 1,
            (0, SUPPORT_CHAT, "left_queue"): 1,
            (0, SUPPORT_CHAT, "wait_all_ms"): 20_000,
            (0, SUPPORT_CHAT, "answered"): 1,
            (0, SUPPORT_CHAT, "answered_in_sl"): 1,
            (0, SUPPORT_CHAT, "wait_answered_ms"): 20_000,
            (1, SUPPORT_CHAT, "first_responses"): 1,
            (1, SUPPORT_CHAT, "first_response_ms"): 95_000,
        },
        {(0, SUPPORT_CHAT): 20_000},
    ),
    #   email: an agent replies after 1 h, the email is still in the queue (not answered)
    #   min   0 q ................................................ 60 fr
    Case(
        "first response while still waiting",
        [ev("queued", 0, channel="email"), ev("first_response", 3_600_000, channel="email")],
        {
            (0, SUPPORT_EMAIL, "queued"): 1,
            (60, SUPPORT_EMAIL, "first_responses"): 1,
            (60, SUPPORT_EMAIL, "first_response_ms"): 3_600_000,
        },
    ),
    #   s    0 q,fr     (an automatic reply in the same ms: FRT 0, which is a response but adds no time)
    Case(
        "first response at the queued time",
        [ev("queued", 0, channel="chat"), ev("first_response", 0, channel="chat")],
        {(0, SUPPORT_CHAT, "queued"): 1, (0, SUPPORT_CHAT, "first_responses"): 1},
    ),
    #   time     0 q               30 fr       (arrival: fr first; nothing counts until queued is in)
    #   c2                                   60.001 fr   (its queued never comes: it counts nothing)
    Case(
        "first response arriving before queued",
        [ev("first_response", 30_000), ev("queued", 0), ev("first_response", 60_001, contact="c2")],
        {(0, "queued"): 1, (0, "first_responses"): 1, (0, "first_response_ms"): 30_000},
    ),
    #   abandoned after the agent's first reply (a chat customer who leaves): both count
    #   s    0 q   8 fr   40 ab
    Case(
        "first response, then abandoned",
        [ev("queued", 0), ev("first_response", 8_000), ev("abandoned", 40_000)],
        {
            **{(0, "queued"): 1, (0, "left_queue"): 1, (0, "wait_all_ms"): 40_000, (0, "abandoned"): 1},
            **{(0, "first_responses"): 1, (0, "first_response_ms"): 8_000},
        },
        {0: 40_000},
    ),
    # A transferred contact: each leg has its own queued time, so its own FRT and waits.
    #   s        0 q   10 a   30 fr   60 tr
    #   billing                        60 q  ~~~~~~~~~~ 130 fr (min 2)
    Case(
        "first response per leg",
        [
            ev("queued", 0),
            ev("answered", 10_000),
            ev("first_response", 30_000),
            ev("transferred", 60_000, to_queue="billing"),
            ev("queued", 60_000, queue="billing"),
            ev("first_response", 130_000, queue="billing"),
        ],
        {
            **{(0, "queued"): 1, (0, "left_queue"): 1, (0, "wait_all_ms"): 10_000},
            **{(0, "answered"): 1, (0, "answered_in_sl"): 1, (0, "wait_answered_ms"): 10_000},
            **{(0, "first_responses"): 1, (0, "first_response_ms"): 30_000, (1, "transferred"): 1},
            **{
                (1, BILLING, "queued"): 1,
                (2, BILLING, "first_responses"): 1,
                (2, BILLING, "first_response_ms"): 70_000,
            },
        },
        {0: 10_000},
    ),
    # Resolution time (ART) = resolved - opened, at the resolution time; no leg needed.
    #
    #   time   T0 - 2 h opened_at ......................... T0 + 90 s resolved     (min 1)
    #   c2     opened_at = resolved time                                           (min 0, 0 ms)
    Case(
        "resolutions",
        [
            ev("resolved", 90_000, opened_at=oracle.iso(T0 - 7_200_000)),
            ev("resolved", 5_000, contact="c2", opened_at=oracle.iso(T0 + 5_000)),
        ],
        {(1, "resolved"): 1, (1, "resolution_ms"): 7_290_000, (0, "resolved"): 1},
    ),
    # Surveys: CSAT 1-5 (satisfied 4-5), NPS 0-10 (promoter 9-10, detractor 0-6), CES 1-7; any subset.
    #
    #   min 0: s1 csat 5 nps 10 ces 1 | s2 csat 3 nps 6 | s3 csat 4 nps 7 ces 7 | s4 nps 0
    #   min 1: s5 nps 9 (chat) | s6 csat 1 nps 8 ces 4
    #   min 0  csat: 3 answers, 2 satisfied (5, 4), sum 12; nps: 4 answers, 1 promoter, 2 detractors (6, 0);
    #          ces: 2 answers, sum 8
    #   min 1  chat: nps 1 answer, 1 promoter; voice: csat 1 answer, sum 1; nps 1 (8: passive); ces 1, sum 4
    Case(
        "survey answers",
        [
            ev("survey", 1_000, contact="s1", csat=5, nps=10, ces=1),
            ev("survey", 2_000, contact="s2", csat=3, nps=6),
            ev("survey", 3_000, contact="s3", csat=4, nps=7, ces=7),
            ev("survey", 59_999, contact="s4", nps=0),
            ev("survey", 60_000, contact="s5", channel="chat", nps=9),
            ev("survey", 61_000, contact="s6", csat=1, nps=8, ces=4),
        ],
        {
            **{(0, "csat_responses"): 3, (0, "csat_satisfied"): 2, (0, "csat_score_sum"): 12},
            **{(0, "nps_responses"): 4, (0, "nps_promoters"): 1, (0, "nps_detractors"): 2},
            **{(0, "ces_responses"): 2, (0, "ces_score_sum"): 8},
            **{(1, SUPPORT_CHAT, "nps_responses"): 1, (1, SUPPORT_CHAT, "nps_promoters"): 1},
            **{(1, "csat_responses"): 1, (1, "csat_score_sum"): 1, (1, "nps_responses"): 1},
            **{(1, "ces_responses"): 1, (1, "ces_score_sum"): 4},
        },
    ),
    # A resolution and a survey of a contact that has a leg change nothing of the leg.
    #   s    0 q   10 a   30 e,w   40 resolved (opened 0)   50 survey csat 2
    Case(
        "standalone events next to a leg",
        [
            ev("queued", 0),
            ev("answered", 10_000),
            ev("ended", 30_000),
            ev("wrapup_ended", 30_000),
            ev("resolved", 40_000, opened_at=oracle.iso(T0)),
            ev("survey", 50_000, csat=2),
        ],
        {
            **{(0, "queued"): 1, (0, "left_queue"): 1, (0, "wait_all_ms"): 10_000},
            **{(0, "answered"): 1, (0, "answered_in_sl"): 1, (0, "wait_answered_ms"): 10_000},
            **{(0, "handled"): 1, (0, "handle_ms"): 20_000, (0, "talk_ms"): 20_000},
            **{(0, "resolved"): 1, (0, "resolution_ms"): 40_000, (0, "csat_responses"): 1, (0, "csat_score_sum"): 2},
        },
        {0: 10_000},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_figures_of_timelines(case: Case) -> None:
    _, changes = run([case.events])
    total = accumulate(changes)
    assert total.nonzero_sums() == expand(case.sums)
    assert total.maxima == expand_max(case.maxima)
    assert total.stats == {"applied": len(case.events)}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_reference_agrees_with_the_hand_computed_figures(case: Case) -> None:
    reference = oracle.figures(case.events)
    assert reference.sums == expand(case.sums)
    assert reference.maxima == expand_max(case.maxima)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_one_event_a_batch_gives_the_same_totals(case: Case) -> None:
    _, changes = run([[event] for event in case.events])
    total = accumulate(changes)
    assert total.nonzero_sums() == expand(case.sums)
    assert total.maxima == expand_max(case.maxima)


def test_plain_call_kpis() -> None:
    """The plain call above through the formulas: ASA 12.5 s, AHT 247.5 s = talk 197.5 + hold 30 + wrap 20."""
    _, changes = run([CASES[0].events])
    totals = {figure: value for (_, _, figure), value in accumulate(changes).nonzero_sums().items()}
    assert formulas.average_speed_of_answer_seconds(totals) == 12.5
    assert formulas.average_handle_seconds(totals) == 247.5
    assert formulas.average_handle_seconds(totals, Figure.TALK_MS) == 197.5
    assert formulas.average_handle_seconds(totals, Figure.HOLD_MS) == 30.0
    assert formulas.average_handle_seconds(totals, Figure.WRAPUP_MS) == 20.0


# ---------------------------------------------------------------------------------- duplicates, replay


def test_same_event_id_twice_in_a_batch_is_applied_once() -> None:
    queued, answered = ev("queued", 0), ev("answered", 8_000)
    _, (changes,) = run([[queued, answered, answered, queued]])
    assert changes.stats == {"applied": 2, "duplicate": 2}
    assert changes.sums == expand(
        {
            **{(0, "queued"): 1, (0, "left_queue"): 1, (0, "wait_all_ms"): 8_000},
            **{(0, "answered"): 1, (0, "answered_in_sl"): 1, (0, "wait_answered_ms"): 8_000},
        }
    )
    assert changes.dead_letters == []


def test_duplicate_in_a_later_batch_changes_nothing() -> None:
    queued, answered = ev("queued", 0), ev("answered", 8_000)
    # A re-sent event may differ in its payload (e.g. a fixed clock): the id decides, not the content.
    resent = {**answered, "event_time": oracle.iso(T0 + 9_000)}
    _, (_, second) = run([[queued, answered], [answered, resent]])
    assert second.stats == {"duplicate": 2}
    assert second.sums == {}
    assert second.maxima == {}
    assert second.dead_letters == []
    assert second.last_offset == 3


def test_replayed_batch_is_skipped() -> None:
    batch = records([ev("queued", 0), ev("answered", 8_000), ev("ended", 30_000), ev("wrapup_ended", 31_000)])
    partition = ContactPartition(POLICY)
    first = partition.apply_batch(batch)
    assert first.last_offset == 3
    again = partition.apply_batch(batch)
    assert again.is_empty
    assert again.last_offset == -1
    assert again.sums == {}
    assert again.maxima == {}
    assert not again.stats
    assert again.records_upserted == {}
    assert again.watermark_ms == first.watermark_ms == T0 + 31_000


def test_overlapping_replay_applies_only_new_offsets() -> None:
    #   offsets   0 q   1 a   2 e   3 w
    #   batch 1   [0 ----- 2]
    #   batch 2         [1 ------- 3]     -> only offset 3 is applied
    events = [ev("queued", 0), ev("answered", 8_000), ev("ended", 30_000), ev("wrapup_ended", 31_000)]
    partition = ContactPartition(POLICY)
    partition.apply_batch(records(events[:3]))
    second = partition.apply_batch(records(events[1:], first_offset=1))
    assert second.stats == {"applied": 1}
    assert second.last_offset == 3
    assert second.sums == expand(
        {(0, "handled"): 1, (0, "handle_ms"): 23_000, (0, "talk_ms"): 22_000, (0, "wrapup_ms"): 1_000}
    )


# ------------------------------------------------------------------------------------------ rejections

REJECTIONS = [
    #   queued 10 s, answered 5 s: the wait would be -5 s
    ("answered before queued", [ev("queued", 10_000)], ev("answered", 5_000), RejectReason.NEGATIVE_DURATION),
    #   answered 5 s is in, a queued at 10 s arrives later
    ("queued after answered", [ev("answered", 5_000)], ev("queued", 10_000), RejectReason.NEGATIVE_DURATION),
    (
        "abandoned before queued",
        [ev("queued", 10_000)],
        ev("abandoned", 9_999),
        RejectReason.NEGATIVE_DURATION,
    ),
    #   q 0, a 10 s, e 9.999 s
    (
        "ended before answered",
        [ev("queued", 0), ev("answered", 10_000)],
        ev("ended", 9_999),
        RejectReason.NEGATIVE_DURATION,
    ),
    (
        "transferred before answered",
        [ev("queued", 0), ev("answered", 10_000)],
        ev("transferred", 9_999, to_queue="billing"),
        RejectReason.NEGATIVE_DURATION,
    ),
    #   q 0, a 10 s, e 30 s, w 29.999 s
    (
        "wrapup before ended",
        [ev("queued", 0), ev("answered", 10_000), ev("ended", 30_000)],
        ev("wrapup_ended", 29_999),
        RejectReason.NEGATIVE_DURATION,
    ),
    (
        "wrapup before transferred",
        [ev("queued", 0), ev("answered", 10_000), ev("transferred", 30_000, to_queue="billing")],
        ev("wrapup_ended", 29_999),
        RejectReason.NEGATIVE_DURATION,
    ),
    (
        "hold before the answer",
        [ev("queued", 0), ev("answered", 10_000)],
        ev("hold_start", 9_999),
        RejectReason.NEGATIVE_DURATION,
    ),
    (
        "hold after the end",
        [ev("queued", 0), ev("answered", 10_000), ev("ended", 30_000)],
        ev("hold_start", 30_001),
        RejectReason.NEGATIVE_DURATION,
    ),
    (
        "answered twice with different ids",
        [ev("queued", 0), ev("answered", 10_000, event_id="a-1")],
        ev("answered", 12_000, event_id="a-2"),
        RejectReason.CONFLICTING_EVENT,
    ),
    (
        "answered twice at the same time with different ids",
        [ev("queued", 0), ev("answered", 10_000, event_id="a-1")],
        ev("answered", 10_000, event_id="a-2"),
        RejectReason.CONFLICTING_EVENT,
    ),
    (
        "answered then abandoned",
        [ev("queued", 0), ev("answered", 10_000)],
        ev("abandoned", 12_000),
        RejectReason.CONFLICTING_EVENT,
    ),
    (
        "abandoned then answered",
        [ev("queued", 0), ev("abandoned", 10_000)],
        ev("answered", 12_000),
        RejectReason.CONFLICTING_EVENT,
    ),
    (
        "timeout then abandoned",
        [ev("queued", 0), ev("timeout", 60_000)],
        ev("abandoned", 60_000),
        RejectReason.CONFLICTING_EVENT,
    ),
    (
        "ended and transferred",
        [ev("queued", 0), ev("answered", 10_000), ev("ended", 30_000)],
        ev("transferred", 30_000, to_queue="billing"),
        RejectReason.CONFLICTING_EVENT,
    ),
    (
        "hold on an abandoned leg",
        [ev("queued", 0), ev("abandoned", 10_000)],
        ev("hold_start", 12_000),
        RejectReason.CONFLICTING_EVENT,
    ),
    (
        "ended on a timed-out leg",
        [ev("queued", 0), ev("timeout", 10_000)],
        ev("ended", 12_000),
        RejectReason.CONFLICTING_EVENT,
    ),
    ("second queued", [ev("queued", 0)], ev("queued", 1_000), RejectReason.CONFLICTING_EVENT),
    #   q 10 s, first_response 9.999 s: FRT would be -1 ms
    (
        "first response before queued",
        [ev("queued", 10_000)],
        ev("first_response", 9_999),
        RejectReason.NEGATIVE_DURATION,
    ),
    (
        "queued after the first response",
        [ev("first_response", 5_000)],
        ev("queued", 5_001),
        RejectReason.NEGATIVE_DURATION,
    ),
    (
        "second first response with a new id",
        [ev("queued", 0), ev("first_response", 5_000, event_id="fr-1")],
        ev("first_response", 6_000, event_id="fr-2"),
        RejectReason.CONFLICTING_EVENT,
    ),
    #   resolved at 0 s, opened 1 ms later: checked on its own, no leg needed
    (
        "resolved before it was opened",
        [ev("queued", 0)],
        ev("resolved", 0, opened_at=oracle.iso(T0 + 1)),
        RejectReason.NEGATIVE_DURATION,
    ),
    ("resolved without opened_at", [ev("queued", 0)], ev("resolved", 0), RejectReason.MISSING_FIELD),
    ("survey without an answer", [ev("queued", 0)], ev("survey", 0), RejectReason.MISSING_FIELD),
    ("survey out of scale", [ev("queued", 0)], ev("survey", 0, nps=11), RejectReason.INVALID_VALUE),
]


@pytest.mark.parametrize(
    ("before", "bad", "code"), [case[1:] for case in REJECTIONS], ids=[case[0] for case in REJECTIONS]
)
def test_rejections(before: list[dict[str, Any]], bad: dict[str, Any], code: RejectReason) -> None:
    partition, (first, second) = run([before, [bad]])
    assert first.dead_letters == []
    state_before = {key: record.to_json() for key, record in partition.legs.items()}
    (dead,) = second.dead_letters
    assert dead.rejection.code is code
    assert dead.rejection.detail  # a sentence for people
    assert (dead.offset, dead.key, dead.raw) == (len(before), b"c1", oracle.encode(bad))
    assert second.stats == {f"dead_letter:{code.value}": 1}
    assert second.sums == {}
    assert second.maxima == {}
    assert second.waiting_added == {} and second.waiting_removed == {}
    assert {key: record.to_json() for key, record in partition.legs.items()} == state_before


@pytest.mark.parametrize(
    ("before", "bad", "code"), [case[1:] for case in REJECTIONS], ids=[case[0] for case in REJECTIONS]
)
def test_rejections_in_the_batch_that_made_the_leg(
    before: list[dict[str, Any]], bad: dict[str, Any], code: RejectReason
) -> None:
    # the batch changes its own copy of a leg in place: a rejected event must leave it as it was
    alone, (without,) = run([before])
    together, (changes,) = run([[*before, bad]])
    assert [dead.rejection.code for dead in changes.dead_letters] == [code]
    assert (changes.sums, changes.maxima) == (without.sums, without.maxima)
    assert {key: leg.to_json() for key, leg in together.legs.items()} == {
        key: leg.to_json() for key, leg in alone.legs.items()
    }


def test_undecodable_record_is_dead_lettered_with_its_bytes() -> None:
    partition = ContactPartition(POLICY)
    changes = partition.apply_batch([(7, b"c1", b'{"schema_version": 1, "event_id": "x"'), (8, None, b'"text"')])
    assert [(d.offset, d.key, d.raw, d.rejection.code, d.index) for d in changes.dead_letters] == [
        (7, b"c1", b'{"schema_version": 1, "event_id": "x"', RejectReason.INVALID_JSON, None),
        (8, None, b'"text"', RejectReason.NOT_AN_OBJECT, None),
    ]
    assert changes.last_offset == 8
    assert changes.stats == {"dead_letter:invalid_json": 1, "dead_letter:not_an_object": 1}


# -------------------------------------------------------------------------------------------- lateness


def test_late_events_beyond_the_allowed_lateness() -> None:
    # allowed lateness 600 s; the watermark is the newest applied event time (700 s).
    #
    #   s      99.999   100          650       700
    #          |late    |accepted    |         | watermark
    #          <-------- 600 s ----------------->
    policy = KpiPolicy(allowed_lateness_ms=600_000)
    partition, (first, second) = run(
        [
            [ev("queued", 700_000, contact="c0")],
            [
                ev("queued", 99_999, contact="c1"),  # 600.001 s behind: late
                ev("queued", 100_000, contact="c2"),  # exactly 600 s behind: accepted
                ev("answered", 99_000, contact="c0"),  # an event of a known leg, late too
            ],
        ],
        policy,
    )
    assert first.watermark_ms == T0 + 700_000
    assert [(d.offset, d.rejection.code) for d in second.dead_letters] == [
        (1, RejectReason.LATE_EVENT),
        (3, RejectReason.LATE_EVENT),
    ]
    assert second.stats == {"applied": 1, "dead_letter:late_event": 2}
    assert second.waiting_added == {SUPPORT: {leg("c2"): T0 + 100_000}}
    assert second.watermark_ms == T0 + 700_000  # late events never move the watermark
    assert leg("c1") not in partition.legs


def test_late_duplicate_is_dead_lettered_as_late() -> None:
    # docs/events.md 7: lateness is checked first, so a copy of an applied event that is now late is a late
    # event, not a silent duplicate (the leg is still kept: an open leg stays for 4 h).
    #   s    0 q (c1)   ......................... 700 q (c2): watermark        then q (c1) again: 700 s behind
    policy = KpiPolicy(allowed_lateness_ms=600_000)
    queued = ev("queued", 0)
    partition, (_, b2) = run([[queued, ev("queued", 700_000, contact="c2")], [queued]], policy)
    assert leg("c1") in partition.legs
    assert [(d.offset, d.rejection.code) for d in b2.dead_letters] == [(2, RejectReason.LATE_EVENT)]
    assert b2.stats == {"dead_letter:late_event": 1}


def test_lateness_counts_from_the_newest_event_inside_the_same_batch() -> None:
    #   arrival: q c0 @ 0, q c1 @ 700 s (watermark jumps), q c2 @ 50 s (650 s behind: late)
    policy = KpiPolicy(allowed_lateness_ms=600_000)
    _, (changes,) = run(
        [
            [
                ev("queued", 0, contact="c0"),
                ev("queued", 700_000, contact="c1"),
                ev("queued", 50_000, contact="c2"),
            ]
        ],
        policy,
    )
    assert [(d.offset, d.rejection.code) for d in changes.dead_letters] == [(2, RejectReason.LATE_EVENT)]


def test_out_of_order_within_the_lateness_is_applied() -> None:
    #   s    0 q                   590 a   |  600 newest
    #   arrival: q, newest, a (10 s behind the watermark)
    policy = KpiPolicy(allowed_lateness_ms=600_000)
    _, changes = run([[ev("queued", 0), ev("queued", 600_000, contact="c9")], [ev("answered", 590_000)]], policy)
    assert changes[1].dead_letters == []
    assert changes[1].sums == expand(
        {
            **{(9, "left_queue"): 1, (9, "wait_all_ms"): 590_000},
            **{(9, "answered"): 1, (9, "wait_answered_ms"): 590_000},
        }
    )


# ----------------------------------------------------------------------------------------- waiting set


def test_waiting_set_additions_and_removals() -> None:
    #   s        0   10  20  25  30  40  50         60
    #   c1       q~~~~~~~~~~~~~~~~a                          added (b1), removed (b2)
    #   c2           q~~~~~~~~~~~~~~~~~~ab                   added (b1), removed (b2)
    #   c3               q~~~a                               same batch: never in the set
    #   c4                                    q~~~~~timeout  added (b2), removed (b3)
    #   c5 (chat)                             q              added (b3), still waiting
    #   batches  [b1: q1 q2 q3 a3] [b2: a1 ab2 q4] [b3: to4 q5]
    _, (b1, b2, b3) = run(
        [
            [
                ev("queued", 0),
                ev("queued", 10_000, contact="c2"),
                ev("queued", 20_000, contact="c3"),
                ev("answered", 25_000, contact="c3"),
            ],
            [
                ev("answered", 30_000),
                ev("abandoned", 40_000, contact="c2"),
                ev("queued", 50_000, contact="c4"),
            ],
            [ev("timeout", 60_000, contact="c4"), ev("queued", 50_000, contact="c5", channel="chat")],
        ]
    )
    assert b1.waiting_added == {SUPPORT: {leg("c1"): T0, leg("c2"): T0 + 10_000}}
    assert b1.waiting_removed == {}
    assert b2.waiting_added == {SUPPORT: {leg("c4"): T0 + 50_000}}
    assert b2.waiting_removed == {SUPPORT: {leg("c1"), leg("c2")}}
    assert b3.waiting_added == {SUPPORT_CHAT: {leg("c5", SUPPORT_CHAT): T0 + 50_000}}
    assert b3.waiting_removed == {SUPPORT: {leg("c4")}}


def test_transfer_leg_waits_in_the_new_queue() -> None:
    #   support  q--a------tr
    #   billing            q~~~~ (waiting)
    _, (changes,) = run(
        [
            [
                ev("queued", 0, contact="call-7"),
                ev("answered", 5_000, contact="call-7"),
                ev("transferred", 60_000, contact="call-7", to_queue="billing"),
                ev("queued", 60_000, contact="call-7", queue="billing"),
            ]
        ]
    )
    assert changes.waiting_added == {BILLING: {leg("call-7", BILLING): T0 + 60_000}}
    assert changes.waiting_removed == {}


# -------------------------------------------------------------------------------------------- eviction


def test_stale_open_contact_is_evicted() -> None:
    # stale_contact_ms = 120 s, lateness 60 s: an open leg goes once the watermark is past its last event
    # + 120 s + 60 s; by then any further event of it would be late anyway.
    #
    #   s     0           180         180.001
    #         c1 q        c2 q        c3 q
    #         |<-- kept -->|x evicted
    policy = KpiPolicy(stale_contact_ms=120_000, allowed_lateness_ms=60_000)
    partition, (b1, b2, b3) = run(
        [[ev("queued", 0)], [ev("queued", 180_000, contact="c2")], [ev("queued", 180_001, contact="c3")]],
        policy,
    )
    assert b1.waiting_added == {SUPPORT: {leg("c1"): T0}}
    assert "stale_evicted" not in b2.stats
    assert leg("c1") not in b2.records_deleted
    assert b3.stats == {"applied": 1, "stale_evicted": 1}
    assert b3.waiting_removed == {SUPPORT: {leg("c1")}}
    assert b3.records_deleted == {leg("c1")}
    assert b3.sums == expand({(3, "queued"): 1})  # c3's arrival only: nothing of c1 is retracted
    assert set(partition.legs) == {leg("c2"), leg("c3")}


def test_stale_answered_contact_keeps_its_figures() -> None:
    # An answered leg that never ends is dropped when stale; what it counted stays counted.
    #   s   0 q  5 a .................................. 185.001 (c2 q)
    #            |<----- 120 s stale + 60 s lateness ----->|x
    policy = KpiPolicy(stale_contact_ms=120_000, allowed_lateness_ms=60_000)
    partition, (b1, b2, b3) = run(
        [
            [ev("queued", 0), ev("answered", 5_000)],
            [ev("queued", 185_000, contact="c2")],
            [ev("queued", 185_001, contact="c3")],
        ],
        policy,
    )
    assert b1.sums == expand(
        {
            **{(0, "queued"): 1, (0, "left_queue"): 1, (0, "wait_all_ms"): 5_000},
            **{(0, "answered"): 1, (0, "answered_in_sl"): 1, (0, "wait_answered_ms"): 5_000},
        }
    )
    assert "stale_evicted" not in b2.stats
    assert b3.stats == {"applied": 1, "stale_evicted": 1}
    assert b3.sums == expand({(3, "queued"): 1})  # c3's arrival only: c1's figures stay
    assert b3.waiting_removed == {}  # it was not waiting any more
    assert leg("c1") not in partition.legs


def test_stale_eviction_does_not_depend_on_arrival_order() -> None:
    # Default policy (stale 4 h, lateness 10 min). An email waits 3 h 59 min; another contact's event at
    # 4 h + 1 ms moves the watermark. Order A: the answer arrives before it. Order B: the answer arrives
    # just after it, 60.001 s behind the watermark: within the allowed lateness, so it must still count.
    #
    #   t        0          3:59:00          4:00:00.001
    #   e1       q~~~~~~~~~~~a
    #   e2                                   q
    #   order A  q(e1), a(e1), q(e2)
    #   order B  q(e1), q(e2), a(e1)
    hours = 3_600_000
    queued = ev("queued", 0, contact="e1", channel="email")
    answered = ev("answered", 4 * hours - MINUTE, contact="e1", channel="email")
    other = ev("queued", 4 * hours + 1, contact="e2", channel="email")
    _, order_a = run([[queued, answered, other]])
    _, order_b = run([[queued, other, answered]])
    _, split_b = run([[queued, other], [answered]])
    answered_key = (T0 + 4 * hours - MINUTE, SUPPORT_EMAIL, "answered")
    assert accumulate(order_a).sums[answered_key] == 1
    assert accumulate(order_b).nonzero_sums() == accumulate(order_a).nonzero_sums()
    assert accumulate(split_b).nonzero_sums() == accumulate(order_a).nonzero_sums()


def test_closed_contact_is_forgotten_after_the_allowed_lateness() -> None:
    #   s   0 q  10 ab        70     70.001 (c2 q)
    #            |<-- 60 s -->|x forgotten (not "stale": it was complete)
    policy = KpiPolicy(stale_contact_ms=3_600_000, allowed_lateness_ms=60_000)
    partition, (_, b2, b3) = run(
        [
            [ev("queued", 0), ev("abandoned", 10_000)],
            [ev("queued", 70_000, contact="c2")],
            [ev("queued", 70_001, contact="c3")],
        ],
        policy,
    )
    assert leg("c1") not in b2.records_deleted
    assert b3.records_deleted == {leg("c1")}
    assert "stale_evicted" not in b3.stats
    assert leg("c1") not in partition.legs


def test_closed_contacts_leave_no_expiry_entries_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each contact is queued and abandoned a second later: its leg is kept 60 s (the lateness) but its first
    # expiry entry, made while it was open, is 1 h out. Without the heap being rebuilt, 600 contacts 10 s
    # apart leave the last hour's entries (~360) for 6 legs; with a slack of 8 the heap stays within 8 + 2
    # per leg and seen id. The figures are those of the same contacts with no rebuild (a slack larger than
    # the traffic).
    policy = KpiPolicy(stale_contact_ms=3_600_000, allowed_lateness_ms=60_000)
    stories = [
        [ev("queued", n * 10_000, contact=f"c{n}"), ev("abandoned", n * 10_000 + 1_000, contact=f"c{n}")]
        for n in range(600)
    ]
    batches = [list(itertools.chain.from_iterable(stories[n : n + 5])) for n in range(0, 600, 5)]
    monkeypatch.setattr(contact_partition, "EXPIRY_SLACK", 10**9)
    unbounded, plain = run(batches, policy)
    monkeypatch.setattr(contact_partition, "EXPIRY_SLACK", 8)
    bounded, rebuilt = run(batches, policy)
    assert len(unbounded._expiry) > 300
    assert len(bounded._expiry) <= 8 + 2 * (len(bounded.legs) + len(bounded.seen))
    assert set(bounded.legs) == set(unbounded.legs) and len(bounded.legs) < 10
    assert accumulate(rebuilt).nonzero_sums() == accumulate(plain).nonzero_sums()
    assert [b.records_deleted for b in rebuilt] == [b.records_deleted for b in plain]


# ----------------------------------------------------------------------------------------------- holds

#   s     0  10     20====25     40=======50     60  60
#         q--a------hs1   he1    hs2      he2    e   w
#   hold 5 + 10 = 15 s, talk 60 - 10 - 15 = 35 s, handle 50 s; whatever order the holds arrive in
TWO_HOLDS = [
    ev("hold_start", 20_000, event_id="hs1"),
    ev("hold_end", 25_000, event_id="he1"),
    ev("hold_start", 40_000, event_id="hs2"),
    ev("hold_end", 50_000, event_id="he2"),
]


#   s     0  10     20=====30=====40              60  60
#         q--a------hs1    he1    he2             e   w
#                          hs2           (hold 1 ends and hold 2 starts at the same ms)
#   hold 10 + 10 = 20 s, talk 60 - 10 - 20 = 30 s
BACK_TO_BACK = [
    ev("hold_start", 20_000, event_id="hs1"),
    ev("hold_end", 30_000, event_id="he1"),
    ev("hold_start", 30_000, event_id="hs2"),
    ev("hold_end", 40_000, event_id="he2"),
]


@pytest.mark.parametrize(
    ("holds", "hold_ms"),
    [
        *[(order, 15_000) for order in itertools.permutations(TWO_HOLDS)],
        *[(order, 20_000) for order in itertools.permutations(BACK_TO_BACK)],
    ],
    ids=[
        f"{name}:{'-'.join(h['event_id'] for h in order)}"
        for name, holds in (("two", TWO_HOLDS), ("back-to-back", BACK_TO_BACK))
        for order in itertools.permutations(holds)
    ],
)
def test_hold_events_in_any_order_give_the_same_figures(holds: tuple[dict[str, Any], ...], hold_ms: int) -> None:
    events = [ev("queued", 0), ev("answered", 10_000), *holds, ev("ended", 60_000), ev("wrapup_ended", 60_000)]
    _, (changes,) = run([events])
    assert changes.dead_letters == []
    assert changes.sums == expand(
        {
            (0, "queued"): 1,
            (0, "left_queue"): 1,
            (0, "wait_all_ms"): 10_000,
            (0, "answered"): 1,
            (0, "answered_in_sl"): 1,
            (0, "wait_answered_ms"): 10_000,
            (1, "handled"): 1,
            (1, "handle_ms"): 50_000,
            (1, "hold_ms"): hold_ms,
            (1, "talk_ms"): 50_000 - hold_ms,
        }
    )
    assert oracle.figures(events).sums == changes.sums


def test_hold_end_arriving_after_the_end_of_talk_moves_time_from_hold_to_talk() -> None:
    #   s     0  10   20===========(open)===========60 e,w        he 30 s arrives last
    #   before he: hold 40 s (open hold closed at the end), talk 10 s
    #   after he : hold 10 s, talk 40 s -> the batch retracts 30 s of hold and adds 30 s of talk
    first = [
        ev("queued", 0),
        ev("answered", 10_000),
        ev("hold_start", 20_000),
        ev("ended", 60_000),
        ev("wrapup_ended", 60_000),
    ]
    _, (b1, b2) = run([first, [ev("hold_end", 30_000)]])
    assert b1.sums[(T0 + MINUTE, SUPPORT, "hold_ms")] == 40_000
    assert b2.sums == expand({(1, "hold_ms"): -30_000, (1, "talk_ms"): 30_000})


def test_unmatched_hold_end_never_adds_hold_time() -> None:
    # docs/events.md 7: a hold_end with no hold_start before it is ignored, not rejected (a hold_start may
    # still arrive late and pair with it); until then it adds no hold time.
    #   s     0  10     30       60 e,w
    #         q--a      he
    events = [
        ev("queued", 0),
        ev("answered", 10_000),
        ev("hold_end", 30_000),
        ev("ended", 60_000),
        ev("wrapup_ended", 60_000),
    ]
    _, (changes, late) = run([events, [ev("hold_start", 20_000)]])
    assert changes.dead_letters == []
    assert (T0 + MINUTE, SUPPORT, "hold_ms") not in changes.sums
    assert changes.sums[(T0 + MINUTE, SUPPORT, "talk_ms")] == 50_000
    #   the late hold_start at 20 s pairs with it: hold 10 s
    assert late.sums == expand({(1, "hold_ms"): 10_000, (1, "talk_ms"): -10_000})


def test_back_to_back_holds_are_counted() -> None:
    # At the same millisecond a hold ends and the next one starts: both holds count, whatever the ids.
    #   s    0  10   20=====30=====40    50
    #        q--a----hs1    he1    he2   e,w
    #                       hs2              (hold 1 ends and hold 2 starts at 30 s)
    events = [
        ev("queued", 0),
        ev("answered", 10_000),
        ev("hold_start", 20_000),
        ev("hold_end", 30_000),
        ev("hold_start", 30_000),
        ev("hold_end", 40_000),
        ev("ended", 50_000),
        ev("wrapup_ended", 50_000),
    ]
    _, (changes,) = run([events])
    assert changes.dead_letters == []
    assert changes.sums[(T0, SUPPORT, "hold_ms")] == 20_000
    assert changes.sums[(T0, SUPPORT, "talk_ms")] == 20_000


def test_second_hold_start_while_on_hold_adds_nothing() -> None:
    # docs/events.md 7: a hold_start while already on hold is ignored (the hold began at the first one).
    #   s    0  10   20=====30=====40    50
    #        q--a----hs     hs     he    e,w       hold 20 s (20-40), talk 20 s
    events = [
        ev("queued", 0),
        ev("answered", 10_000),
        ev("hold_start", 20_000),
        ev("hold_start", 30_000),
        ev("hold_end", 40_000),
        ev("ended", 50_000),
        ev("wrapup_ended", 50_000),
    ]
    for order in (events, list(reversed(events))):
        _, (changes,) = run([order])
        assert changes.dead_letters == []
        assert changes.sums[(T0, SUPPORT, "hold_ms")] == 20_000
        assert changes.sums[(T0, SUPPORT, "talk_ms")] == 20_000


# ----------------------------------------------------------------------------------- holds at the same ms


@pytest.mark.parametrize("arrival", ["start first", "end first"])
def test_zero_length_hold_adds_nothing(arrival: str) -> None:
    #   s    0  10      20         60
    #        q--a-------hs,he------e,w     (a hold of 0 ms)
    holds = [ev("hold_start", 20_000, event_id="hs"), ev("hold_end", 20_000, event_id="he")]
    if arrival == "end first":
        holds.reverse()
    events = [ev("queued", 0), ev("answered", 10_000), *holds, ev("ended", 60_000), ev("wrapup_ended", 60_000)]
    _, (changes,) = run([events])
    assert (T0 + MINUTE, SUPPORT, "hold_ms") not in changes.sums
    assert changes.sums[(T0 + MINUTE, SUPPORT, "talk_ms")] == 50_000


# ------------------------------------------------------------------------------- resolutions and surveys

#   lateness 60 s. R: a resolution at 0 s (opened at -30 s), kept as seen until 0 + 60 s.
RESOLVED = ev("resolved", 0, contact="r1", event_id="R", opened_at=oracle.iso(T0 - 30_000))
SURVEY = ev("survey", 0, contact="s1", event_id="S", csat=4, nps=9)


def test_standalone_duplicates_are_applied_once() -> None:
    #   batch 1: R, S, R, S        batch 2: R, S again (re-sent, S with a fixed clock)
    resent = {**SURVEY, "event_time": oracle.iso(T0 + 1_000)}
    partition, (b1, b2) = run([[RESOLVED, SURVEY, RESOLVED, SURVEY], [RESOLVED, resent]])
    assert b1.stats == {"applied": 2, "duplicate": 2}
    assert b1.sums == expand(
        {
            **{(0, "resolved"): 1, (0, "resolution_ms"): 30_000},
            **{(0, "csat_responses"): 1, (0, "csat_satisfied"): 1, (0, "csat_score_sum"): 4},
            **{(0, "nps_responses"): 1, (0, "nps_promoters"): 1},
        }
    )
    assert b2.stats == {"duplicate": 2}
    assert b2.sums == {}
    assert b2.dead_letters == []
    assert partition.legs == {}  # no leg is made for them
    assert b1.waiting_added == {}


def test_standalone_event_ids_are_kept_until_a_duplicate_would_be_late() -> None:
    # lateness 60 s. R's id is kept while a copy of it could still be accepted, then forgotten; from then on a
    # copy is late (dead-lettered as late_event), never counted twice.
    #
    #   s     0 R           60 c2 q (watermark 60 s)        60.001 c3 q (watermark 60.001 s)
    #         |<------- 60 s -------->|                           |
    #         R again: duplicate (0 >= 60 - 60)                    R again: late (0 < 0.001), R forgotten
    policy = KpiPolicy(allowed_lateness_ms=60_000)
    seen_key = SEEN_PREFIX + "R"
    partition, (b1, b2, b3) = run(
        [
            [RESOLVED],
            [ev("queued", 60_000, contact="c2"), RESOLVED],
            [ev("queued", 60_001, contact="c3"), RESOLVED],
        ],
        policy,
    )
    assert b1.records_upserted == {seen_key: {"x": T0 + 60_000}}
    assert b2.stats == {"applied": 1, "duplicate": 1}
    assert b2.sums == expand({(1, "queued"): 1})
    assert seen_key not in b2.records_deleted
    assert b3.stats == {"applied": 1, "dead_letter:late_event": 1}
    assert [(d.offset, d.rejection.code) for d in b3.dead_letters] == [(4, RejectReason.LATE_EVENT)]
    assert b3.records_deleted == {seen_key}
    assert b3.sums == expand({(1, "queued"): 1})
    assert partition.seen == {}


def test_standalone_ids_survive_a_restart() -> None:
    # The store rebuilds the partition from its records: the seen ids come back, so a copy is still a duplicate.
    policy = KpiPolicy(allowed_lateness_ms=60_000)
    first = ContactPartition(policy)
    changes = first.apply_batch(records([RESOLVED]))
    seen = {key: record["x"] for key, record in changes.records_upserted.items()}
    again = ContactPartition(policy, seen=seen, offset=changes.last_offset, watermark_ms=changes.watermark_ms)
    second = again.apply_batch(records([RESOLVED], first_offset=1))
    assert second.stats == {"duplicate": 1}
    assert second.sums == {}


def test_late_standalone_event_is_dead_lettered() -> None:
    #   s    0 R ........................................ 700 c0 q (watermark)     lateness 600 s: R is late
    policy = KpiPolicy(allowed_lateness_ms=600_000)
    _, (_, b2) = run([[ev("queued", 700_000, contact="c0")], [RESOLVED, SURVEY]], policy)
    assert [d.rejection.code for d in b2.dead_letters] == [RejectReason.LATE_EVENT, RejectReason.LATE_EVENT]
    assert b2.sums == {}


# ----------------------------------------------------------------------------------- per-agent figures

ALICE = "@demo/alice"
BOB = "@demo/bob"


def test_per_agent_handled_contacts() -> None:
    # With per_agent, handled and handle_ms are also kept under the agent who answered the leg (contract 5.3):
    #   support leg answered by alice: handled at 260 s (min 4), handle 247.5 s
    #   billing leg answered by bob:   handled at 455 s (min 7), handle 180 s
    #   ended/wrap-up carry other agent ids on purpose: the answering agent decides
    events = [
        *CASES[1].events[:4],
        ev("transferred", 240_000, contact="call-7", agent_id="carol", to_queue="billing"),
        *CASES[1].events[5:],
    ]
    policy = KpiPolicy(per_agent=True)
    _, changes = run([events], policy)
    with_agents = accumulate(changes).nonzero_sums()
    per_agent = {key: value for key, value in with_agents.items() if key[1].startswith("@")}
    assert per_agent == expand(
        {
            (4, ALICE, "handled"): 1,
            (4, ALICE, "handle_ms"): 247_500,
            (7, BOB, "handled"): 1,
            (7, BOB, "handle_ms"): 180_000,
        }
    )
    assert {key: value for key, value in with_agents.items() if key not in per_agent} == expand(CASES[1].sums)
    assert oracle.figures(events, oracle.Params(per_agent=True)).sums == with_agents


def test_per_agent_figures_are_off_by_default() -> None:
    _, changes = run([CASES[1].events])
    assert not [key for key in accumulate(changes).sums if key[1].startswith("@")]


def test_per_agent_needs_the_answering_agent() -> None:
    # No agent_id on answered: the leg counts for its queue only, even if ended names an agent.
    #   s   0 q   5 a (no agent)   30 e (alice), w
    events = [ev("queued", 0), ev("answered", 5_000), ev("ended", 30_000, agent_id="alice"), ev("wrapup_ended", 30_000)]
    _, changes = run([events], KpiPolicy(per_agent=True))
    assert not [key for key in accumulate(changes).sums if key[1].startswith("@")]
    assert changes[0].sums[(T0, SUPPORT, "handled")] == 1


def test_per_agent_key_has_the_tenant_of_the_leg() -> None:
    #   acme/desk/email: q 0, a 10 s by alice, e,w 70 s -> handled under @acme/alice (min 1)
    where = {"tenant": "acme", "queue": "desk", "channel": "email"}
    events = [
        ev("queued", 0, **where),
        ev("answered", 10_000, agent_id="alice", **where),
        ev("ended", 70_000, **where),
        ev("wrapup_ended", 70_000, **where),
    ]
    _, changes = run([events], KpiPolicy(per_agent=True))
    assert changes[0].sums[(T0 + MINUTE, "@acme/alice", "handle_ms")] == 60_000
    assert (T0 + MINUTE, ALICE, "handle_ms") not in changes[0].sums


# ------------------------------------------------------------------ fixed bugs, kept as regressions
# Holds of 0 ms touching another hold in the same ms; fixed in 2524dce (same-ms hold events alternate).


def test_zero_length_hold_then_a_new_hold_in_the_same_ms() -> None:
    # A PBX with second resolution: hold, un-hold, hold again within one second.
    #   s    0  10      20 hs1, he1, hs2 ====================== 50 e,w
    #   hold 1: 0 ms; hold 2: open from 20 s, closed at the end -> hold 30 s, talk 10 s
    events = [
        ev("queued", 0),
        ev("answered", 10_000),
        ev("hold_start", 20_000, event_id="hs1"),
        ev("hold_end", 20_000, event_id="he1"),
        ev("hold_start", 20_000, event_id="hs2"),
        ev("ended", 50_000),
        ev("wrapup_ended", 50_000),
    ]
    assert oracle.figures(events).sums[(T0, SUPPORT, "hold_ms")] == 30_000
    _, (changes,) = run([events])
    assert changes.sums.get((T0, SUPPORT, "hold_ms")) == 30_000
    assert changes.sums[(T0, SUPPORT, "talk_ms")] == 10_000


def test_hold_ending_as_a_zero_length_hold_happens() -> None:
    #   s    0  10   15 hs1 ===== 20 he1, hs2, he2 (hold 2: 0 ms) ......... 50 e,w
    #   hold 5 s, talk 35 s
    events = [
        ev("queued", 0),
        ev("answered", 10_000),
        ev("hold_start", 15_000, event_id="hs1"),
        ev("hold_end", 20_000, event_id="he1"),
        ev("hold_start", 20_000, event_id="hs2"),
        ev("hold_end", 20_000, event_id="he2"),
        ev("ended", 50_000),
        ev("wrapup_ended", 50_000),
    ]
    assert oracle.figures(events).sums[(T0, SUPPORT, "hold_ms")] == 5_000
    _, (changes,) = run([events])
    assert changes.sums[(T0, SUPPORT, "hold_ms")] == 5_000
    assert changes.sums[(T0, SUPPORT, "talk_ms")] == 35_000
