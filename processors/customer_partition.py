"""Customer histories of one partition of the customers topic (first contact resolution)."""

from __future__ import annotations

from typing import Any

from processors import customers
from processors.batch import BatchChanges
from processors.events import (
    Rejection,
    RejectReason,
)
from processors.figures import KpiPolicy
from processors.partition_base import PartitionBase
from processors.records import Element


class CustomerPartition(PartitionBase):
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

    def _split(self, raw: bytes) -> list[Element] | Rejection:
        return [(None, raw)]  # callpulse's own single-touch records

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
