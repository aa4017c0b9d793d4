"""The state one Kafka partition owns, and how a batch of its records changes it.

A partition processor is rebuilt from what the store holds (``records``, ``watermark_ms``, ``offset``) and
then fed batches in offset order. Records at or below ``offset`` were applied before and are skipped, which
is what makes a replay after a crash harmless. Each batch returns the ``BatchChanges`` to write atomically.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Any

from processors import agents, contacts, customers
from processors.batch import BatchChanges
from processors.events import (
    AgentEvent,
    ContactEvent,
    ContactEventType,
    Rejection,
    RejectReason,
    decode_agent_event,
    decode_contact_event,
)
from processors.figures import KpiPolicy

Record = tuple[int, bytes | None, bytes]  # (offset, key, value)
SEEN_PREFIX = "#"  # record keys of standalone event ids (leg keys start with a tenant name: never '#')


class _PartitionBase:
    def __init__(self, policy: KpiPolicy, *, offset: int = -1, watermark_ms: int = 0) -> None:
        self.policy = policy
        self.offset = offset
        self.watermark_ms = watermark_ms
        self._expiry: list[tuple[int, str]] = []  # (expires at watermark ms, record key), lazily cleaned

    def _too_late(self, time_ms: int) -> Rejection | None:
        horizon = self.watermark_ms - self.policy.allowed_lateness_ms
        if self.watermark_ms and time_ms < horizon:
            return Rejection(
                RejectReason.LATE_EVENT,
                f"event time is {self.watermark_ms - time_ms} ms behind the partition's newest event, "
                f"more than the allowed lateness of {self.policy.allowed_lateness_ms} ms",
            )
        return None

    def apply_batch(self, records: Iterable[Record]) -> BatchChanges:
        """Apply the records not applied yet; return the net changes."""
        changes = BatchChanges(last_offset=-1, watermark_ms=self.watermark_ms)
        touched: dict[str, Any] = {}
        for offset, key, raw in records:
            if offset <= self.offset:
                continue
            self.offset = offset
            changes.last_offset = offset
            self._apply_one(offset, key, raw, changes, touched)
            self._evict(changes, touched)  # after every record, so the result does not depend on batching
        if changes.last_offset >= 0:
            self._finish(changes, touched)
        changes.watermark_ms = self.watermark_ms
        return changes

    def _advance_watermark(self, time_ms: int) -> None:
        self.watermark_ms = max(self.watermark_ms, time_ms)

    def _apply_one(
        self, offset: int, key: bytes | None, raw: bytes, changes: BatchChanges, touched: dict[str, Any]
    ) -> None:
        raise NotImplementedError

    def _evict(self, changes: BatchChanges, touched: dict[str, Any]) -> None:
        raise NotImplementedError

    def _finish(self, changes: BatchChanges, touched: dict[str, Any]) -> None:
        raise NotImplementedError


class ContactPartition(_PartitionBase):
    """Contact legs of one partition of the contacts topic."""

    def __init__(
        self,
        policy: KpiPolicy,
        *,
        legs: dict[str, contacts.ContactLeg] | None = None,
        seen: dict[str, int] | None = None,
        offset: int = -1,
        watermark_ms: int = 0,
    ) -> None:
        super().__init__(policy, offset=offset, watermark_ms=watermark_ms)
        self.legs: dict[str, contacts.ContactLeg] = dict(legs or {})
        # ids of standalone events (resolutions, surveys) -> until when a duplicate could still arrive
        self.seen: dict[str, int] = dict(seen or {})
        for leg_id, leg in self.legs.items():
            heapq.heappush(self._expiry, (self._expires_at(leg), leg_id))
        for record_key, expires_at in self.seen.items():
            heapq.heappush(self._expiry, (expires_at, record_key))

    def _expires_at(self, leg: contacts.ContactLeg) -> int:
        # an open leg also waits out the lateness, so an event of it that is not late still finds it
        keep = 0 if leg.closed else self.policy.stale_contact_ms
        return leg.last_event_ms + keep + self.policy.allowed_lateness_ms

    def _apply_one(
        self, offset: int, key: bytes | None, raw: bytes, changes: BatchChanges, touched: dict[str, Any]
    ) -> None:
        event = decode_contact_event(raw)
        if isinstance(event, Rejection):
            changes.reject(offset, key, raw, event)
            return
        late = self._too_late(event.time_ms)
        if late is not None:
            changes.reject(offset, key, raw, late)
            return
        self._apply_event(event, offset=offset, key=key, raw=raw, changes=changes, touched=touched)

    def _apply_event(
        self,
        event: ContactEvent,
        *,
        offset: int,
        key: bytes | None,
        raw: bytes,
        changes: BatchChanges,
        touched: dict[str, Any],
    ) -> None:
        if event.type in contacts.STANDALONE:
            self._apply_standalone(event, changes, touched)
            return
        leg_id = contacts.leg_key(event.where, event.contact_id)
        before = self.legs.get(leg_id) or contacts.ContactLeg(event.where, event.contact_id)
        if event.event_id in before.event_ids:
            changes.stats["duplicate"] += 1
            return
        after, rejection = contacts.apply_event(before, event)
        if rejection is not None:
            changes.reject(offset, key, raw, rejection)
            return
        touched.setdefault(leg_id, self.legs.get(leg_id))
        if event.type is ContactEventType.QUEUED:
            self._forward(event, customers.CONTACT, changes)
        sums_before, max_before = contacts.contributions(before, self.policy)
        sums_after, max_after = contacts.contributions(after, self.policy)
        changes.add_sums(sums_before, sums_after)
        changes.add_maxima(max_before, max_after)
        self.legs[leg_id] = after
        heapq.heappush(self._expiry, (self._expires_at(after), leg_id))
        self._advance_watermark(event.time_ms)
        changes.stats["applied"] += 1

    def _forward(self, event: ContactEvent, kind: str, changes: BatchChanges) -> None:
        """Send the customer's touch to the customers topic, by hashed id (FCR is judged there)."""
        if event.customer_id is None or not self.policy.customer_salt:
            return
        customer = customers.hash_customer(event.customer_id, self.policy.customer_salt)
        record = customers.forward_record(
            customer, kind=kind, time_ms=event.time_ms, event_id=event.event_id, qid=event.where.qid
        )
        changes.forwards.append(record)

    def _apply_standalone(self, event: ContactEvent, changes: BatchChanges, touched: dict[str, Any]) -> None:
        record_key = SEEN_PREFIX + event.event_id
        if record_key in self.seen:
            changes.stats["duplicate"] += 1
            return
        changes.add_sums({}, contacts.standalone_contributions(event, self.policy))
        if event.type is ContactEventType.RESOLVED:
            self._forward(event, customers.RESOLUTION, changes)
        self.seen[record_key] = event.time_ms + self.policy.allowed_lateness_ms
        heapq.heappush(self._expiry, (self.seen[record_key], record_key))
        touched[record_key] = None
        self._advance_watermark(event.time_ms)
        changes.stats["applied"] += 1

    def _evict(self, changes: BatchChanges, touched: dict[str, Any]) -> None:
        while self._expiry and self._expiry[0][0] < self.watermark_ms:
            expires_at, leg_id = heapq.heappop(self._expiry)
            if leg_id.startswith(SEEN_PREFIX):
                if self.seen.get(leg_id) == expires_at:
                    del self.seen[leg_id]
                    touched[leg_id] = None
                continue
            leg = self.legs.get(leg_id)
            if leg is None or self._expires_at(leg) != expires_at:
                continue  # superseded by a newer entry
            touched.setdefault(leg_id, leg)
            del self.legs[leg_id]
            if not leg.closed:
                changes.stats["stale_evicted"] += 1

    def _finish(self, changes: BatchChanges, touched: dict[str, Any]) -> None:
        for leg_id, first in touched.items():
            if leg_id.startswith(SEEN_PREFIX):
                if leg_id in self.seen:
                    changes.records_upserted[leg_id] = {"x": self.seen[leg_id]}
                else:
                    changes.records_deleted.add(leg_id)
                continue
            now = self.legs.get(leg_id)
            was_waiting = first.waiting_since_ms if first is not None else None
            is_waiting = now.waiting_since_ms if now is not None else None
            qid = "/".join(leg_id.split("/", 3)[:3])
            if is_waiting is not None and was_waiting != is_waiting:
                changes.waiting_added.setdefault(qid, {})[leg_id] = is_waiting
            elif is_waiting is None and was_waiting is not None:
                changes.waiting_removed.setdefault(qid, set()).add(leg_id)
            if now is None:
                changes.records_deleted.add(leg_id)
            else:
                changes.records_upserted[leg_id] = now.to_json()


class AgentPartition(_PartitionBase):
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
        if isinstance(event, Rejection):
            changes.reject(offset, key, raw, event)
            return
        late = self._too_late(event.time_ms)
        if late is not None:
            changes.reject(offset, key, raw, late)
            return
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


class CustomerPartition(_PartitionBase):
    """Customer histories of one partition of the customers topic (for first contact resolution).

    Records come from callpulse's own contacts worker, from many partitions at their own pace, so only a
    touch more than twice the FCR window behind the newest one is late (it could no longer be told from a
    forgotten duplicate); older touches are forgotten.
    """

    def __init__(
        self,
        policy: KpiPolicy,
        *,
        histories: dict[str, customers.CustomerHistory] | None = None,
        offset: int = -1,
        watermark_ms: int = 0,
    ) -> None:
        super().__init__(policy, offset=offset, watermark_ms=watermark_ms)
        self.histories: dict[str, customers.CustomerHistory] = dict(histories or {})

    def _apply_one(
        self, offset: int, key: bytes | None, raw: bytes, changes: BatchChanges, touched: dict[str, Any]
    ) -> None:
        decoded = customers.decode_forward(raw)
        if isinstance(decoded, Rejection):
            changes.reject(offset, key, raw, decoded)
            return
        customer, touch = decoded
        horizon = self.watermark_ms - 2 * self.policy.fcr_window_ms
        if self.watermark_ms and touch.time_ms < horizon:
            late = Rejection(RejectReason.LATE_EVENT, "customer touch is older than twice the FCR window: forgotten")
            changes.reject(offset, key, raw, late)
            return
        before = self.histories.get(customer) or customers.CustomerHistory()
        if before.has_event(touch.event_id):
            changes.stats["duplicate"] += 1
            return
        after = customers.CustomerHistory(sorted([*before.touches, touch]))
        window = self.policy.fcr_window_ms
        changes.add_sums(
            customers.contributions(before, self.policy, window), customers.contributions(after, self.policy, window)
        )
        self._advance_watermark(touch.time_ms)
        self.histories[customer] = customers.prune(after, self.watermark_ms - 2 * window)
        touched[customer] = True
        changes.stats["applied"] += 1

    def _evict(self, changes: BatchChanges, touched: dict[str, Any]) -> None:
        """Histories are pruned when they change (see ``_apply_one``)."""

    def _finish(self, changes: BatchChanges, touched: dict[str, Any]) -> None:
        for customer in touched:
            history = self.histories[customer]
            if history.touches:
                changes.records_upserted[customer] = history.to_json()
            else:
                del self.histories[customer]
                changes.records_deleted.add(customer)
