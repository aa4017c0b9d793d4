"""Contact legs of one partition of the contacts topic, and the standalone events' ids."""

from __future__ import annotations

import heapq
from typing import Any

from processors import contacts, customers
from processors.batch import BatchChanges
from processors.events import (
    ContactEvent,
    ContactEventType,
    Rejection,
    decode_contact_event,
)
from processors.figures import BucketKey, KpiPolicy
from processors.partition_base import SEEN_PREFIX, PartitionBase

EXPIRY_SLACK = 1024  # heap entries beyond two per leg or seen id before the heap is rebuilt
_SETTLED: Any = object()  # what ``_unsettled`` gives for a leg the batch has not changed since it was settled
Contributions = tuple[dict[BucketKey, int], dict[BucketKey, int]]  # (sums, maxima) of ``contacts.contributions``


class ContactPartition(PartitionBase):
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
        # legs changed by the batch being applied -> their state before it (None: new); see ``_settle``
        self._unsettled: dict[str, contacts.ContactLeg | None] = {}
        # open leg's key -> the leg as last settled and its contributions: the next batch's ``first`` (a settled
        # leg is never changed, a batch changes a copy), so they are not computed again
        self._contributed: dict[str, tuple[contacts.ContactLeg, Contributions]] = {}
        self._rebuild_expiry()

    def _rebuild_expiry(self) -> None:
        """One heap entry per leg and per seen id, at its current expiry (what ``_evict`` would keep)."""
        self._expiry = [(self._expires_at(leg), leg_id) for leg_id, leg in self.legs.items()]
        self._expiry.extend((expires_at, record_key) for record_key, expires_at in self.seen.items())
        heapq.heapify(self._expiry)

    def _expires_at(self, leg: contacts.ContactLeg) -> int:
        # an open leg also waits out the lateness, so an event of it that is not late still finds it
        keep = 0 if leg.closed else self.policy.stale_contact_ms
        return leg.last_event_ms + keep + self.policy.allowed_lateness_ms

    def _apply_one(
        self, offset: int, key: bytes | None, raw: bytes, changes: BatchChanges, touched: dict[str, Any]
    ) -> None:
        event = decode_contact_event(raw, limits=self.policy.limits, now_ms=self.now_ms)
        # ``_admit`` only for what may be dead-lettered: the usual case (valid, in time) goes without a call
        doubtful = isinstance(event, Rejection) or event.time_ms < self.watermark_ms - self.policy.allowed_lateness_ms
        if (doubtful and not self._admit(event, offset, key, raw, changes)) or isinstance(event, Rejection):
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
        leg_id = f"{event.where.qid}/{event.contact_id}"  # contacts.leg_key, inlined
        existing = self.legs.get(leg_id)
        owned = False  # whether the leg is this batch's own copy: changed in place, already in its books
        if existing is None:
            after = contacts.ContactLeg(event.where, event.contact_id)
            closes = False
            rejection = contacts.apply_event_in_place(after, event)
        elif event.event_id in existing.event_ids:
            changes.stats["duplicate"] += 1
            return
        else:
            closes = event.type in contacts.CLOSING and not existing.closed
            owned = touched.get(leg_id, existing) is not existing  # made by this batch: nobody else holds it
            if owned:
                after = existing
                rejection = contacts.apply_event_in_place(after, event)
            else:
                after, rejection = contacts.apply_event(existing, event)
        if rejection is not None:
            changes.reject(offset, key, raw, rejection)
            return
        if not owned:
            if leg_id not in touched:
                touched[leg_id] = existing
            if leg_id not in self._unsettled:
                self._unsettled[leg_id] = existing
            self.legs[leg_id] = after
        if event.type is ContactEventType.QUEUED:
            self._forward(event, customers.CONTACT, changes)
        # The heap holds, for every leg, an entry no later than the leg's expiry (``_evict`` moves an early
        # one on). Expiry only moves later, except when the leg closes: only a new or closing leg needs one.
        if existing is None or closes:
            heapq.heappush(self._expiry, (self._expires_at(after), leg_id))
        self.watermark_ms = max(self.watermark_ms, event.time_ms)
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
        expires_at = self.seen[record_key] = event.time_ms + self.policy.allowed_lateness_ms
        heapq.heappush(self._expiry, (expires_at, record_key))
        touched[record_key] = None
        self.watermark_ms = max(self.watermark_ms, event.time_ms)
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
            if leg is None:
                continue
            leg_expires_at = self._expires_at(leg)
            if leg_expires_at != expires_at:
                if leg_expires_at > expires_at:  # the leg had events since: wait for its current expiry
                    heapq.heappush(self._expiry, (leg_expires_at, leg_id))
                continue  # (an earlier entry of a closing leg came first)
            touched.setdefault(leg_id, leg)
            self._settle(leg_id, leg, changes)
            del self.legs[leg_id]
            self._contributed.pop(leg_id, None)
            if not leg.closed:
                changes.stats["stale_evicted"] += 1

    def _settle(self, leg_id: str, now: contacts.ContactLeg, changes: BatchChanges) -> None:
        """Add what the leg contributes now minus what it contributed when the batch first changed it.

        Contributions are a function of the leg's events, so the per-event differences telescope: one
        difference per leg per batch (and at eviction) gives the same sums, and the maxima of the states
        the stored figures ever showed."""
        first = self._unsettled.pop(leg_id, _SETTLED)
        if first is _SETTLED:
            return
        sums_before, max_before = self._contributions(leg_id, first) if first is not None else ({}, {})
        sums_after, max_after = after = contacts.contributions(now, self.policy)
        if now.closed:  # no further event is expected: keep nothing (memory stays bounded by the open legs)
            self._contributed.pop(leg_id, None)
        else:
            self._contributed[leg_id] = (now, after)
        changes.add_sums(sums_before, sums_after)
        changes.add_maxima(max_before, max_after)

    def _contributions(self, leg_id: str, leg: contacts.ContactLeg) -> Contributions:
        """``contacts.contributions(leg)``, kept from when the leg was settled if it is that very leg."""
        settled = self._contributed.get(leg_id)
        if settled is not None and settled[0] is leg:
            return settled[1]
        return contacts.contributions(leg, self.policy)

    def _finish(self, changes: BatchChanges, touched: dict[str, Any]) -> None:
        for leg_id in list(self._unsettled):
            self._settle(leg_id, self.legs[leg_id], changes)
        # A closing leg gets a second, earlier entry; its first stays until the stale horizon passes (hours).
        # Rebuilt once the heap is mostly such entries, so memory follows the open legs, not the traffic.
        if len(self._expiry) > EXPIRY_SLACK + 2 * (len(self.legs) + len(self.seen)):
            self._rebuild_expiry()
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
            if is_waiting is not None and was_waiting != is_waiting:
                changes.waiting_added.setdefault(_qid_of(leg_id), {})[leg_id] = is_waiting
            elif is_waiting is None and was_waiting is not None:
                changes.waiting_removed.setdefault(_qid_of(leg_id), set()).add(leg_id)
            if now is None:
                changes.records_deleted.add(leg_id)
            else:
                changes.records_upserted[leg_id] = now.to_json()


def _qid_of(leg_id: str) -> str:
    """The queue id of a leg key (``tenant/queue/channel/contact_id``)."""
    return "/".join(leg_id.split("/", 3)[:3])
