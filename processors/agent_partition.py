"""Agent timelines of one partition of the agents topic."""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from processors import agents
from processors.batch import BatchChanges
from processors.events import (
    AgentEvent,
    Rejection,
    decode_agent_event,
)
from processors.figures import KpiPolicy
from processors.partition_base import PartitionBase


class AgentPartition(PartitionBase):
    """Agent timelines of one partition of the agents topic."""

    def __init__(
        self,
        policy: KpiPolicy,
        *,
        timelines: dict[str, agents.AgentTimeline] | None = None,
        offset: int = -1,
        watermark_ms: int = 0,
    ) -> None:
        super().__init__(policy, offset=offset, watermark_ms=watermark_ms)
        self.timelines: dict[str, agents.AgentTimeline] = dict(timelines or {})
        self._prune_at: dict[str, int] = {}  # agents changed by the batch -> the horizon after their last event
        # agent -> its timeline when last seen and the ids of that timeline's transitions, kept across batches
        # (a timeline is never changed once a batch is over: the next one changes a copy; see ``_ids_of``)
        self._event_ids: dict[str, tuple[agents.AgentTimeline | None, set[str]]] = {}
        # agents changed by the batch -> how many of their first transitions the batch left as they were
        self._unchanged: dict[str, int] = {}

    def _apply_one(
        self, offset: int, key: bytes | None, raw: bytes, changes: BatchChanges, touched: dict[str, Any]
    ) -> None:
        event = decode_agent_event(raw, limits=self.policy.limits, now_ms=self.now_ms)
        # ``_admit`` only for what may be dead-lettered: the usual case (valid, in time) goes without a call
        doubtful = isinstance(event, Rejection) or event.time_ms < self.watermark_ms - self.policy.allowed_lateness_ms
        if (doubtful and not self._admit(event, offset, key, raw, changes)) or isinstance(event, Rejection):
            return
        self._apply_event(event, changes, touched)

    def _apply_event(self, event: AgentEvent, changes: BatchChanges, touched: dict[str, Any]) -> None:
        agent_id = event.agent_id
        timeline = self.timelines.get(agent_id)
        event_ids = self._ids_of(agent_id, timeline)
        if event.event_id in event_ids:
            changes.stats["duplicate"] += 1
            return
        event_ids.add(event.event_id)
        if agent_id not in touched:  # keep the timeline as it was before the batch, change a copy
            touched[agent_id] = timeline
            timeline = agents.AgentTimeline(agent_id, list(timeline.transitions) if timeline else [])
            self.timelines[agent_id] = timeline
            self._event_ids[agent_id] = (timeline, event_ids)
        assert timeline is not None
        transitions = timeline.transitions
        transition = agents.transition_of(event)
        if not transitions or transitions[-1].time_ms < event.time_ms:  # the usual case: the newest
            at = len(transitions)
            transitions.append(transition)
        else:
            at = bisect_right(transitions, transition)
            transitions.insert(at, transition)
        if at < self._unchanged.get(agent_id, at + 1):
            self._unchanged[agent_id] = at
        self.watermark_ms = max(self.watermark_ms, event.time_ms)
        self._prune_at[agent_id] = self.watermark_ms - self.policy.allowed_lateness_ms
        changes.stats["applied"] += 1

    def _ids_of(self, agent_id: str, timeline: agents.AgentTimeline | None) -> set[str]:
        """The ids of the timeline's transitions: kept from an earlier event if it is that very timeline."""
        kept = self._event_ids.get(agent_id)
        if kept is not None and kept[0] is timeline:
            return kept[1]
        event_ids = {transition.event_id for transition in timeline.transitions} if timeline else set()
        self._event_ids[agent_id] = (timeline, event_ids)
        return event_ids

    def _forget_pruned(self, agent_id: str, timeline: agents.AgentTimeline, pruned: agents.AgentTimeline) -> None:
        """Keep the ids of the pruned timeline: those of ``timeline`` less the dropped transitions' ids (not
        made again from every transition at the agent's next event)."""
        kept = self._event_ids.get(agent_id)
        if kept is None or kept[0] is not timeline:
            self._event_ids.pop(agent_id, None)
            return
        event_ids = kept[1]
        for transition in timeline.transitions[: len(timeline.transitions) - len(pruned.transitions)]:
            event_ids.discard(transition.event_id)
        self._event_ids[agent_id] = (pruned, event_ids)

    def _evict(self, changes: BatchChanges, touched: dict[str, Any]) -> None:
        """Nothing to do per record: a timeline is pruned when it changes (see ``_apply_event``)."""

    def _finish(self, changes: BatchChanges, touched: dict[str, Any]) -> None:
        """One difference per changed timeline: its contributions now minus before the batch.

        Contributions are a function of the transitions, so the per-event differences telescope; what the
        transitions before the batch's first insertion contribute is the same before and after, so only the
        rest is computed (``agents.contributions``' ``start``). Pruning
        waits for the end of the batch: what it drops is older than every event the batch could still
        admit, so pruning later changes no figure. Each timeline is pruned at the horizon of its own last
        event, so what is stored does not depend on where batches are cut either."""
        for agent_id, first in touched.items():
            timeline = self.timelines[agent_id]
            start = self._unchanged.pop(agent_id)
            before = agents.contributions(first, self.policy, start) if first is not None else {}
            changes.add_sums(before, agents.contributions(timeline, self.policy, start))
            pruned = agents.prune(timeline, self._prune_at.pop(agent_id))
            if pruned is not timeline:
                self._forget_pruned(agent_id, timeline, pruned)
                timeline = self.timelines[agent_id] = pruned
            changes.records_upserted[agent_id] = timeline.to_json()
            live = agents.live_state(timeline)
            if live is not None:
                changes.live_upserted[agent_id] = live
