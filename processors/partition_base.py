"""What every partition processor shares: offsets, the watermark, lateness, and the batch loop."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from processors.batch import BatchChanges
from processors.events import (
    Rejection,
    RejectReason,
)
from processors.figures import KpiPolicy
from processors.records import Element, split_record

Record = tuple[int, bytes | None, bytes]  # (offset, key, value)


class _Timed(Protocol):
    @property
    def time_ms(self) -> int: ...


SEEN_PREFIX = "#"  # record keys of standalone event ids (leg keys start with a tenant name: never '#')


class PartitionBase:
    def __init__(self, policy: KpiPolicy, *, offset: int = -1, watermark_ms: int = 0) -> None:
        self.policy = policy
        self.offset = offset
        self.watermark_ms = watermark_ms
        self.now_ms: int | None = None  # the wall clock of the batch being applied (see ``apply_batch``)
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

    def apply_batch(self, records: Iterable[Record], *, now_ms: int | None = None) -> BatchChanges:
        """Apply the records not applied yet; return the net changes.

        ``now_ms`` is the wall clock the worker read for this batch: events further ahead of it than the
        policy's ``limits.max_future_ms`` are rejected (None, as in a recomputation: no such check)."""
        self.now_ms = now_ms
        changes = BatchChanges(last_offset=-1, watermark_ms=self.watermark_ms)
        touched: dict[str, Any] = {}
        expiry = self._expiry
        for offset, key, raw in records:
            if offset <= self.offset:
                continue
            self.offset = offset
            changes.last_offset = offset
            elements = self._split(raw)
            if isinstance(elements, Rejection):
                changes.reject(offset, key, raw, elements)
                continue
            for index, element in elements:
                changes.element_index = index
                self._apply_one(offset, key, element, changes, touched)
                # after every event, so the result does not depend on batching (only when something expired)
                if expiry and expiry[0][0] < self.watermark_ms:
                    self._evict(changes, touched)
            changes.element_index = None
        if changes.last_offset >= 0:
            self._finish(changes, touched)
        changes.watermark_ms = self.watermark_ms
        return changes

    def _split(self, raw: bytes) -> list[Element] | Rejection:
        """The events of a record: a batch record's elements, or the record itself."""
        return split_record(raw)

    def _admit(
        self, decoded: _Timed | Rejection, offset: int, key: bytes | None, raw: bytes, changes: BatchChanges
    ) -> bool:
        """Whether a decoded record may be applied: it is valid and not late; else it is dead-lettered."""
        if isinstance(decoded, Rejection):
            changes.reject(offset, key, raw, decoded)
            return False
        if self.watermark_ms and decoded.time_ms < self.watermark_ms - self.policy.allowed_lateness_ms:
            late = self._too_late(decoded.time_ms)
            assert late is not None
            changes.reject(offset, key, raw, late)
            return False
        return True

    def _advance_watermark(self, time_ms: int) -> None:
        self.watermark_ms = max(self.watermark_ms, time_ms)

    def _apply_one(
        self, offset: int, key: bytes | None, raw: bytes, changes: BatchChanges, touched: dict[str, Any]
    ) -> None:
        raise NotImplementedError

    def _evict(self, changes: BatchChanges, touched: dict[str, Any]) -> None:
        """Drop what expired: called after an event when the first entry of ``_expiry`` is before the watermark."""
        raise NotImplementedError

    def _finish(self, changes: BatchChanges, touched: dict[str, Any]) -> None:
        raise NotImplementedError
