"""Properties: the partitions' summed batch changes equal the brute-force reference, whatever happens in transit.

Random well-formed contact legs (several queues and channels, transfers, holds, first responses, partial
legs still in progress), resolutions and survey answers, and agent timelines (with and without queue
membership) are shuffled, sprinkled with duplicates, cut into random batches with increasing offsets and fed
to one partition, with per-agent figures on or off. The allowed lateness and the stale-contact limit are
huge, so nothing is late or evicted. Then:

- the sum of ``BatchChanges.sums`` over the batches equals ``oracle.figures`` exactly (per-agent keys
  included), and so do the maxima, the waiting set, the agents' live states and the applied/duplicate counts;
- replaying the same records (same offsets) changes nothing;
- cutting the same arrival order into batches differently gives identical totals.

Holds of 0 ms and holds back to back (one ends in the ms the next starts) are generated, also together
(several hold events of one leg in the same ms). With per-agent figures on, each agent stays in one
tenant: an agent working for two tenants is a known bug (``test_per_agent_figures_of_an_agent_in_two_
tenants`` in test_processors_agents.py).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import oracle
from oracle import Accumulated, accumulate, agent_event, contact_event, encode
from processors import contacts
from processors.events import Channel, QueueRef
from processors.figures import KpiPolicy
from processors.partition import AgentPartition, ContactPartition
from processors.records import batch_value

NEVER = 10**12  # lateness and staleness so large that nothing is late or evicted
QUEUES = [
    ("demo", "support", "voice"),
    ("demo", "sales", "voice"),
    ("demo", "support", "chat"),
    ("acme", "desk", "email"),
]
QUEUE_NAMES = ["support", "sales", "billing", "desk"]
EXAMPLES = settings(max_examples=200, deadline=None)


SURVEY_SCALES = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}
DAY = 86_400_000


@dataclass(frozen=True)
class Setup:
    policy: KpiPolicy
    params: oracle.Params


@st.composite
def setups(draw: st.DrawFn) -> Setup:
    bucket = draw(st.sampled_from([1_000, 15_000, 60_000]))
    short = draw(st.sampled_from([0, 5_000, 10_000]))
    thresholds = {
        "voice": draw(st.sampled_from([10_000, 20_000])),
        "chat": draw(st.sampled_from([30_000, 60_000])),
        "email": 45_000,
        "social": 90_000,
    }
    per_agent = draw(st.booleans())
    policy = KpiPolicy(
        bucket_ms=bucket,
        short_abandon_ms=short,
        service_level_ms={Channel(name): ms for name, ms in thresholds.items()},
        allowed_lateness_ms=NEVER,
        stale_contact_ms=NEVER,
        per_agent=per_agent,
    )
    params = oracle.Params(bucket_ms=bucket, short_abandon_ms=short, service_level_ms=thresholds, per_agent=per_agent)
    return Setup(policy, params)


def durations(draw: st.DrawFn, setup: Setup, channel: str) -> int:
    """A wait: often exactly on a threshold or 1 ms beside it, otherwise anything up to 2 minutes."""
    short, sl = setup.params.short_abandon_ms, setup.params.service_level_ms[channel]
    edges = sorted({0, max(short - 1, 0), short, sl - 1, sl, sl + 1})
    return draw(st.one_of(st.sampled_from(edges), st.integers(0, 120_000)))


def gap(draw: st.DrawFn, low: int, high: int) -> int:
    """A time step: often the smallest allowed (events in the same ms) or 1 ms more, else anything."""
    return draw(st.one_of(st.sampled_from([low, low + 1]), st.integers(low, high)))


def survey_answers(draw: st.DrawFn) -> dict[str, int]:
    """One to three of csat, nps, ces, often on the edges of their scale or of a bucket of answers."""
    names = draw(st.lists(st.sampled_from(sorted(SURVEY_SCALES)), min_size=1, max_size=3, unique=True))
    return {name: draw(st.integers(*SURVEY_SCALES[name])) for name in names}


@st.composite
def contact_stories(draw: st.DrawFn, setup: Setup) -> list[dict[str, Any]]:
    """Events of 1-8 contacts, in time order per leg; a transferred leg may continue in a second queue.
    Then 0-4 resolutions and survey answers, of these contacts or of others."""
    events: list[dict[str, Any]] = []
    ids = iter(range(10**6))

    def add(where: dict[str, str], kind: str, time: int, **extra: Any) -> None:
        event_id = f"{where['contact']}-{next(ids)}-{kind}"
        events.append(contact_event(kind, time, event_id=event_id, **where, **extra))

    for number in range(draw(st.integers(1, 8))):
        tenant, queue, channel = draw(st.sampled_from(QUEUES))
        where = {"contact": f"c{number}", "tenant": tenant, "queue": queue, "channel": channel}
        at = draw(st.integers(0, 4 * setup.params.bucket_ms + 30_000))
        for leg_number in range(2):
            add(where, "queued", at)
            if draw(st.booleans()):  # an agent's first reply: any time from the queued time on
                add(where, "first_response", at + gap(draw, 0, 150_000), agent_id="a1")
            outcome = draw(st.sampled_from(["waiting", "answered", "answered", "abandoned", "timeout"]))
            if outcome in ("abandoned", "timeout"):
                add(where, outcome, at + durations(draw, setup, channel))
            if outcome != "answered":
                break
            at += durations(draw, setup, channel)
            agent = draw(st.sampled_from([{"agent_id": "a1"}, {"agent_id": "a2"}, {}]))  # {}: no agent given
            add(where, "answered", at, **agent)
            for _hold in range(draw(st.integers(0, 3))):
                at += gap(draw, 0, 40_000)  # 0: at the answer, or right as the last hold ended
                add(where, "hold_start", at)
                if draw(st.booleans()):  # else: left open (closed at the end, or still on hold)
                    at += gap(draw, 0, 40_000)  # 0: a hold of 0 ms
                    add(where, "hold_end", at)
                else:
                    break
            stage = draw(st.sampled_from(["talking", "ended", "transferred"]))
            if stage == "talking":
                break
            at += gap(draw, 0, 200_000)
            next_queue = draw(st.sampled_from([name for name in QUEUE_NAMES if name != where["queue"]]))
            if stage == "ended":
                add(where, "ended", at, agent_id="a1")
            else:
                add(where, "transferred", at, agent_id="a1", to_queue=next_queue)
            if draw(st.booleans()):
                add(where, "wrapup_ended", at + gap(draw, 0, 30_000))
            if stage == "ended" or leg_number == 1 or not draw(st.booleans()):
                break
            where = {**where, "queue": next_queue}  # the new leg: same contact, same tenant and channel, new queue
    for number in range(draw(st.integers(0, 4))):
        tenant, queue, channel = draw(st.sampled_from(QUEUES))
        contact = draw(st.sampled_from([f"c{number}", f"done-{number}"]))
        where = {"contact": contact, "tenant": tenant, "queue": queue, "channel": channel}
        at = draw(st.integers(0, 6 * setup.params.bucket_ms))
        if draw(st.booleans()):
            opened = at - draw(st.one_of(st.just(0), st.integers(0, 3 * DAY)))  # 0: resolved at once
            add(where, "resolved", at, opened_at=oracle.iso(oracle.T0 + opened))
        else:
            add(where, "survey", at, **survey_answers(draw))
    return events


@st.composite
def agent_stories(draw: st.DrawFn, setup: Setup) -> list[dict[str, Any]]:
    """1-4 agents, each a timeline of 1-10 states at distinct times, each under a random queue (of one tenant
    when per-agent figures are on), some naming the queues the agent serves."""
    events: list[dict[str, Any]] = []
    for number in range(draw(st.integers(1, 4))):
        agent = f"agent-{number}"
        queues = QUEUES
        if setup.params.per_agent:
            own_tenant = draw(st.sampled_from(sorted({tenant for tenant, _, _ in QUEUES})))
            queues = [where for where in QUEUES if where[0] == own_tenant]
        at = draw(st.integers(0, 2 * setup.params.bucket_ms))
        for step in range(draw(st.integers(1, 10))):
            at += gap(draw, 1, 90_000)
            state = draw(st.sampled_from(["available", "available", "on_contact", "wrapup", "aux", "offline"]))
            tenant, queue, channel = draw(st.sampled_from(queues))
            extra: dict[str, Any] = {}
            if state == "aux" and draw(st.booleans()):  # else: no reason, "unspecified"
                extra["reason"] = draw(st.sampled_from(["lunch", "training"]))
            if draw(st.booleans()):  # membership, duplicates allowed
                extra["queues"] = draw(st.lists(st.sampled_from(QUEUE_NAMES), min_size=1, max_size=4))
            events.append(
                agent_event(
                    state,
                    at,
                    agent=agent,
                    queue=queue,
                    tenant=tenant,
                    channel=channel,
                    event_id=f"{agent}-{step}",
                    **extra,
                )
            )
    return events


@dataclass(frozen=True)
class Transit:
    """What arrives: the events in arrival order (duplicates included) and where batches are cut."""

    arrivals: list[dict[str, Any]]
    duplicates: int
    records: list[tuple[int, bytes, bytes]]
    cuts: list[int]
    other_cuts: list[int]

    def batches(self, cuts: list[int] | None = None) -> list[list[tuple[int, bytes, bytes]]]:
        bounds = [0, *(self.cuts if cuts is None else cuts), len(self.records)]
        return [self.records[start:end] for start, end in itertools.pairwise(bounds)]

    def packed(self) -> list[tuple[int, bytes, bytes]]:
        """The same events carried by batch records (JSON arrays), cut where ``other_cuts`` says."""
        packs = self.batches(self.other_cuts)
        return [(pack[0][0], pack[0][1], batch_value([value for _, _, value in pack])) for pack in packs if pack]


@st.composite
def transits(draw: st.DrawFn, events: list[dict[str, Any]]) -> Transit:
    copies = draw(st.lists(st.sampled_from(events), max_size=6)) if events else []
    arrivals = draw(st.permutations([*events, *copies]))
    offset, records = draw(st.integers(0, 1_000)), []
    for event in arrivals:
        key = str(event.get("contact_id") or event["agent_id"]).encode()
        records.append((offset, key, encode(event)))
        offset += draw(st.integers(1, 3))
    positions = st.lists(st.integers(1, max(len(records) - 1, 1)), unique=True, max_size=8).map(sorted)
    return Transit(arrivals, len(copies), records, draw(positions), draw(positions))


def feed(partition: ContactPartition | AgentPartition, batches: list[list[tuple[int, bytes, bytes]]]) -> Accumulated:
    changes = [partition.apply_batch(batch) for batch in batches]
    for change in changes:
        assert change.dead_letters == [], [str(d.rejection) for d in change.dead_letters]
    return accumulate(changes)


# ----------------------------------------------------------------------------------------------- contacts


@st.composite
def contact_cases(draw: st.DrawFn) -> tuple[Setup, list[dict[str, Any]], Transit]:
    setup = draw(setups())
    events = draw(contact_stories(setup))
    return setup, events, draw(transits(events))


@EXAMPLES
@given(contact_cases())
def test_contact_figures_equal_the_reference(case: tuple[Setup, list[dict[str, Any]], Transit]) -> None:
    setup, events, transit = case
    total = feed(ContactPartition(setup.policy), transit.batches())
    reference = oracle.figures(events, setup.params)
    assert total.nonzero_sums() == reference.sums
    assert total.maxima == reference.maxima
    if not setup.params.per_agent:
        assert not any(owner.startswith("@") for _, owner, _ in total.sums)
    assert total.waiting_set() == reference.waiting
    assert total.stats == {"applied": len(events), **({"duplicate": transit.duplicates} if transit.duplicates else {})}


@EXAMPLES
@given(contact_cases())
def test_contact_replay_changes_nothing(case: tuple[Setup, list[dict[str, Any]], Transit]) -> None:
    setup, _, transit = case
    partition = ContactPartition(setup.policy)
    feed(partition, transit.batches())
    legs_before = {key: leg.to_json() for key, leg in partition.legs.items()}
    for batch in transit.batches(transit.other_cuts):  # replayed, even cut differently
        again = partition.apply_batch(batch)
        assert again.is_empty
        assert again.sums == {} and again.maxima == {} and not again.stats
        assert again.waiting_added == {} and again.waiting_removed == {}
    assert {key: leg.to_json() for key, leg in partition.legs.items()} == legs_before


@EXAMPLES
@given(contact_cases())
def test_contact_totals_do_not_depend_on_batching(case: tuple[Setup, list[dict[str, Any]], Transit]) -> None:
    setup, _, transit = case
    one = feed(ContactPartition(setup.policy), transit.batches())
    other = feed(ContactPartition(setup.policy), transit.batches(transit.other_cuts))
    single = feed(ContactPartition(setup.policy), [transit.records])
    packed = feed(ContactPartition(setup.policy), [transit.packed()])
    for total in (other, single, packed):
        assert total.nonzero_sums() == one.nonzero_sums()
        assert total.maxima == one.maxima
        assert total.waiting_set() == one.waiting_set()
        assert total.stats == one.stats


# ------------------------------------------------------------------------------------------------- agents


@st.composite
def agent_cases(draw: st.DrawFn) -> tuple[Setup, list[dict[str, Any]], Transit]:
    setup = draw(setups())
    events = draw(agent_stories(setup))
    return setup, events, draw(transits(events))


@EXAMPLES
@given(agent_cases())
def test_agent_figures_equal_the_reference(case: tuple[Setup, list[dict[str, Any]], Transit]) -> None:
    setup, events, transit = case
    total = feed(AgentPartition(setup.policy), transit.batches())
    reference = oracle.figures(events, setup.params).sums
    assert total.nonzero_sums() == reference
    assert total.live == oracle.live_states(events)
    if not setup.params.per_agent:
        assert not any(owner.startswith("@") for _, owner, _ in total.sums)
    assert total.stats == {"applied": len(events), **({"duplicate": transit.duplicates} if transit.duplicates else {})}


@EXAMPLES
@given(agent_cases())
def test_agent_replay_and_batching_change_nothing(case: tuple[Setup, list[dict[str, Any]], Transit]) -> None:
    setup, _, transit = case
    partition = AgentPartition(setup.policy)
    one = feed(partition, transit.batches())
    for batch in transit.batches(transit.other_cuts):
        again = partition.apply_batch(batch)
        assert again.is_empty and again.sums == {} and not again.stats
    other = feed(AgentPartition(setup.policy), transit.batches(transit.other_cuts))
    packed = feed(AgentPartition(setup.policy), [transit.packed()])
    for total in (other, packed):
        assert total.nonzero_sums() == one.nonzero_sums()
        assert total.live == one.live
        assert total.stats == one.stats


# ------------------------------------------------------------------------------------ the reference itself


@EXAMPLES
@given(st.data())
def test_reference_ignores_order_and_duplicates(data: st.DataObject) -> None:
    """The oracle is order-free by construction; check it anyway, so a bug there cannot hide one here."""
    setup = data.draw(setups())
    events = data.draw(contact_stories(setup)) + data.draw(agent_stories(setup))
    transit = data.draw(transits(events))
    a, b = oracle.figures(events, setup.params), oracle.figures(transit.arrivals, setup.params)
    assert (a.sums, a.maxima, a.waiting) == (b.sums, b.maxima, b.waiting)


def _optional_ms() -> st.SearchStrategy[int | None]:
    return st.one_of(st.none(), st.integers(0, 6))


@given(
    times=st.tuples(*[_optional_ms() for _ in range(8)]),
    holds=st.lists(st.tuples(st.integers(0, 6), st.sampled_from([0, 1]), st.just("h")), max_size=3),
)
@settings(max_examples=2_000, deadline=None)
def test_the_fast_consistency_check_agrees_with_the_full_one(
    times: tuple[int | None, ...], holds: list[tuple[int, int, str]]
) -> None:
    """``contacts.consistent`` (run for every event) says yes exactly when ``contacts.problem`` finds nothing."""
    where = QueueRef("demo", "support", Channel.VOICE)
    leg = contacts.ContactLeg(where, "c1", *times, holds=sorted(holds))
    assert contacts.consistent(leg) is (contacts.problem(leg) is None)
