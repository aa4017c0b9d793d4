"""Agent timelines of one partition of the agents topic."""

from __future__ import annotations

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

    def _apply_one(
        self, offset: int, key: bytes | None, raw: bytes, changes: BatchChanges, touched: dict[str, Any]
    ) -> None:
        event = decode_agent_event(raw)
        if self._admit(event, (offset, key, raw), changes) and not isinstance(event, Rejection):
            self._apply_event(event, changes, touched)

    def _apply_event(self, event: AgentEvent, changes: BatchChanges, touched: dict[str, Any]) -> None:
        before = self.timelines.get(event.agent_id) or agents.AgentTimeline(event.agent_id)
        if before.has_event(event.event_id):
            changes.stats["duplicate"] += 1
            return
        after = agents.add_transition(before, event)
        changes.add_sums(agents.contributions(before, self.policy), agents.contributions(after, self.policy))
        self._advance_watermark(event.time_ms)
        self.timelines[event.agent_id] = agents.prune(after, self.watermark_ms - self.policy.allowed_lateness_ms)
        touched[event.agent_id] = True
        changes.stats["applied"] += 1

    def _evict(self, changes: BatchChanges, touched: dict[str, Any]) -> None:
        """Nothing to do per record: a timeline is pruned when it changes (see ``_apply_event``)."""

    def _finish(self, changes: BatchChanges, touched: dict[str, Any]) -> None:
        for agent_id in touched:
            timeline = self.timelines[agent_id]
            changes.records_upserted[agent_id] = timeline.to_json()
            live = agents.live_state(timeline)
            if live is not None:
                changes.live_upserted[agent_id] = live
