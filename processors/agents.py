"""One agent's recent state transitions, their idle gaps between contacts, and the agent's live state.

An idle gap is a stretch in ``available`` that ends when the agent goes ``on_contact``; it is bucketed at
the moment the contact starts, under the queue of that contact. As for contacts, contributions are a pure
function of the transitions, so arrival order does not matter; transitions older than the allowed lateness
are pruned (their contributions are final) except the newest of them, which still starts a gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from processors.events import AgentEvent, AgentState, QueueRef
from processors.figures import BucketKey, Figure, KpiPolicy
from processors.windows import bucket_start


@dataclass(frozen=True, slots=True, order=True)
class Transition:
    time_ms: int
    event_id: str
    state: AgentState = field(compare=False)
    qid: str = field(compare=False)
    reason: str | None = field(compare=False, default=None)


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
            "tr": [[t.time_ms, t.event_id, t.state.value, t.qid, t.reason] for t in self.transitions],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AgentTimeline:
        return cls(
            agent_id=data["a"],
            transitions=[
                Transition(int(at), str(eid), AgentState(state), str(qid), reason)
                for at, eid, state, qid, reason in data["tr"]
            ],
        )


def add_transition(timeline: AgentTimeline, event: AgentEvent) -> AgentTimeline:
    """The timeline with the event's transition inserted in time order."""
    transition = Transition(event.time_ms, event.event_id, event.state, event.where.qid, event.reason)
    return AgentTimeline(timeline.agent_id, sorted([*timeline.transitions, transition]))


def prune(timeline: AgentTimeline, horizon_ms: int) -> AgentTimeline:
    """Drop transitions before ``horizon_ms``, keeping the newest of them and the start of its stretch
    in ``available`` (a later contact still needs to know when that idle stretch began)."""
    keep_from = sum(1 for t in timeline.transitions if t.time_ms < horizon_ms) - 1
    while keep_from > 0 and _both_available(timeline.transitions[keep_from - 1], timeline.transitions[keep_from]):
        keep_from -= 1
    if keep_from <= 0:
        return timeline
    return AgentTimeline(timeline.agent_id, timeline.transitions[keep_from:])


def _both_available(first: Transition, second: Transition) -> bool:
    return first.state is AgentState.AVAILABLE and second.state is AgentState.AVAILABLE


def contributions(timeline: AgentTimeline, policy: KpiPolicy) -> dict[BucketKey, int]:
    """Idle gaps between contacts, as (bucket, qid, figure) sums.

    A gap runs from the first of consecutive ``available`` transitions (an agent may re-announce it, say
    on a queue switch) to the ``on_contact`` that follows them.
    """
    sums: dict[BucketKey, int] = {}
    idle_since: int | None = None
    for transition in timeline.transitions:
        if transition.state is AgentState.AVAILABLE:
            idle_since = transition.time_ms if idle_since is None else idle_since
            continue
        if transition.state is AgentState.ON_CONTACT and idle_since is not None:
            bucket = bucket_start(transition.time_ms, policy.bucket_ms)
            gaps = (bucket, transition.qid, Figure.IDLE_GAPS.value)
            idle = (bucket, transition.qid, Figure.IDLE_MS.value)
            sums[gaps] = sums.get(gaps, 0) + 1
            sums[idle] = sums.get(idle, 0) + transition.time_ms - idle_since
        idle_since = None
    return sums


def live_state(timeline: AgentTimeline) -> dict[str, Any] | None:
    """What the exporter shows of the agent now: queue, state, reason and since when."""
    current = timeline.current
    if current is None:
        return None
    where = QueueRef.from_qid(current.qid)
    return {"t": where.qid, "s": current.state.value, "r": current.reason, "since": current.time_ms}
