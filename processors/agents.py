"""One agent's recent state transitions, their idle gaps between contacts, and the agent's live state.

An idle gap is a stretch in ``available`` that ends when the agent goes ``on_contact``; it is bucketed at
the moment the contact starts, under the queue of that contact. As for contacts, contributions are a pure
function of the transitions, so arrival order does not matter; transitions older than the allowed lateness
are pruned (their contributions are final) except the newest of them, which still starts a gap.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass, field
from functools import lru_cache
from operator import attrgetter
from typing import Any

from processors.events import AgentEvent, AgentState, QueueRef
from processors.figures import BucketKey, Figure, KpiPolicy, agent_key, state_figure

JsonRow = tuple[int, str, str, str, str | None, tuple[str, ...]]  # [time, event id, state, qid, reason, members]


@dataclass(slots=True, order=True)
class Transition:
    """One change of an agent's state. Never changed once made (timelines share them), but not frozen: a
    frozen dataclass is made through ``object.__setattr__`` per field, several times slower (one per agent event)."""

    time_ms: int
    event_id: str
    state: AgentState = field(compare=False)
    qid: str = field(compare=False)
    reason: str | None = field(compare=False, default=None)
    members: tuple[str, ...] = field(compare=False, default=())  # qids the agent serves; () means (qid,)
    _row: JsonRow | None = field(compare=False, default=None, init=False, repr=False)  # see ``json_row``

    def json_row(self) -> JsonRow:
        """The transition as ``AgentTimeline.to_json`` stores it: made once, a transition never changes
        (a tuple, so the timelines' documents that share it cannot change it either)."""
        row = self._row
        if row is None:
            row = (self.time_ms, self.event_id, str(self.state), self.qid, self.reason, self.members)
            self._row = row  # a cache, not a change
        return row


@dataclass(slots=True)
class AgentTimeline:
    agent_id: str
    transitions: list[Transition] = field(default_factory=list)

    @property
    def current(self) -> Transition | None:
        return self.transitions[-1] if self.transitions else None

    @property
    def last_event_ms(self) -> int:
        return self.transitions[-1].time_ms if self.transitions else 0

    def has_event(self, event_id: str) -> bool:
        return any(transition.event_id == event_id for transition in self.transitions)

    def to_json(self) -> dict[str, Any]:
        return {
            "a": self.agent_id,
            "tr": [transition.json_row() for transition in self.transitions],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AgentTimeline:
        return cls(
            agent_id=data["a"],
            transitions=[
                Transition(
                    int(item[0]),
                    str(item[1]),
                    AgentState(item[2]),
                    str(item[3]),
                    item[4],
                    tuple(item[5]) if len(item) > 5 else (),
                )
                for item in data["tr"]
            ],
        )


def transition_of(event: AgentEvent) -> Transition:
    members = event.member_qids if event.queues else ()
    return Transition(event.time_ms, event.event_id, event.state, event.where.qid, event.reason, members)


def add_transition(timeline: AgentTimeline, event: AgentEvent) -> AgentTimeline:
    """The timeline with the event's transition inserted in time order (``timeline`` is left as it was)."""
    copy = AgentTimeline(timeline.agent_id, list(timeline.transitions))
    insort(copy.transitions, transition_of(event))
    return copy


_TIME = attrgetter("time_ms")


def prune(timeline: AgentTimeline, horizon_ms: int) -> AgentTimeline:
    """Drop transitions before ``horizon_ms``, keeping the newest of them and the start of its stretch
    in ``available`` (a later contact still needs to know when that idle stretch began)."""
    keep_from = bisect_left(timeline.transitions, horizon_ms, key=_TIME) - 1  # in time order: those before
    while keep_from > 0 and _both_available(timeline.transitions[keep_from - 1], timeline.transitions[keep_from]):
        keep_from -= 1
    if keep_from <= 0:
        return timeline
    return AgentTimeline(timeline.agent_id, timeline.transitions[keep_from:])


def _both_available(first: Transition, second: Transition) -> bool:
    return first.state is AgentState.AVAILABLE and second.state is AgentState.AVAILABLE


_IDLE_GAPS, _IDLE_MS = Figure.IDLE_GAPS.value, Figure.IDLE_MS.value


def contributions(timeline: AgentTimeline, policy: KpiPolicy, start: int = 0) -> dict[BucketKey, int]:
    """Idle gaps between contacts and time in each state, as (bucket, qid, figure) sums.

    A gap runs from the first of consecutive ``available`` transitions (an agent may re-announce it, say
    on a queue switch) to the ``on_contact`` that follows them, bucketed at the contact's start. Time in a
    state runs from its transition to the next one, cut at bucket edges, under the queue of the transition
    that began it; the current state is not counted here (the exporter adds it up to the scrape).
    With ``policy.per_agent`` every figure is also kept under the agent's own key.

    With ``start`` > 0, only what ends at a transition from index ``start`` on (the stretches ending there
    and the gaps closed there): the rest is the same for every timeline whose first ``start`` transitions
    are these, so the difference of two such timelines' contributions is that of these parts.
    """
    sums: dict[BucketKey, int] = {}
    transitions = timeline.transitions
    if start >= len(transitions):  # nothing ends at ``start`` or later (the timeline before a batch appended to it)
        return sums
    owners_of: dict[str, tuple[str, ...]] = {}  # qid -> the owners its figures count under
    bucket_ms = policy.bucket_ms
    per_agent, agent_id = policy.per_agent, timeline.agent_id
    available, offline = AgentState.AVAILABLE, AgentState.OFFLINE
    get = sums.get  # (adding to ``sums`` is inlined below: this runs for every transition of every batch)

    before = transitions[max(start - 1, 0)]
    for after in transitions[max(start, 1) :]:
        state = before.state
        if state is not offline:
            qid = before.qid
            owners = owners_of.get(qid) or _owners(owners_of, qid, agent_id, per_agent)
            figure = _STATE_FIGURES[state]
            at, end = before.time_ms, after.time_ms
            while at < end:  # split_by_bucket, inlined
                bucket = at - at % bucket_ms
                piece_end = min(end, bucket + bucket_ms)
                for owner in owners:
                    key = (bucket, owner, figure)
                    sums[key] = get(key, 0) + piece_end - at
                at = piece_end
        before = after
    idle_since: int | None = None
    index = start
    while index > 0 and transitions[index - 1].state is available:  # the idle stretch into ``start``
        index -= 1
        idle_since = transitions[index].time_ms
    for transition in transitions[start:]:
        state = transition.state
        if state is available:
            if idle_since is None:
                idle_since = transition.time_ms
            continue
        if state is AgentState.ON_CONTACT and idle_since is not None:
            at = transition.time_ms
            bucket = at - at % bucket_ms
            qid = transition.qid
            owners = owners_of.get(qid) or _owners(owners_of, qid, agent_id, per_agent)
            for owner in owners:
                key = (bucket, owner, _IDLE_GAPS)
                sums[key] = get(key, 0) + 1
            for owner in owners:
                key = (bucket, owner, _IDLE_MS)
                sums[key] = get(key, 0) + at - idle_since
        idle_since = None
    return {key: value for key, value in sums.items() if value}


_STATE_FIGURES = {state: state_figure(str(state)) for state in AgentState}  # str() of a StrEnum is its value


def _owners(owners_of: dict[str, tuple[str, ...]], qid: str, agent_id: str, per_agent: bool) -> tuple[str, ...]:
    """The queue, and with ``per_agent`` the agent under the queue's tenant; kept in ``owners_of``."""
    owners = owners_of[qid] = (qid, agent_key(_tenant_of(qid), agent_id)) if per_agent else (qid,)
    return owners


@lru_cache(maxsize=4096)  # a handful of queues, in every agent's contributions
def _tenant_of(qid: str) -> str:
    return QueueRef.from_qid(qid).tenant


def live_state(timeline: AgentTimeline) -> dict[str, Any] | None:
    """What the exporter shows of the agent now: queue, state, reason and since when."""
    current = timeline.current
    if current is None:
        return None
    return {
        "t": current.qid,
        "s": str(current.state),
        "r": current.reason,
        "since": current.time_ms,
        "m": list(current.members or (current.qid,)),
    }
