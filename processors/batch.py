"""What one batch of records does to one partition's state: the changes the store writes atomically."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from processors.events import Rejection
from processors.figures import BucketKey


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that was not applied, and why; the raw bytes are kept for the dead-letter topic."""

    offset: int
    key: bytes | None
    raw: bytes
    rejection: Rejection
    index: int | None = None  # the event's position in a batch record; None for a single-event record


@dataclass(slots=True)
class BatchChanges:
    """Net changes of a batch of one partition, covering offsets up to ``last_offset``."""

    last_offset: int = -1
    watermark_ms: int = 0
    sums: dict[BucketKey, int] = field(default_factory=dict)
    maxima: dict[BucketKey, int] = field(default_factory=dict)
    waiting_added: dict[str, dict[str, int]] = field(default_factory=dict)  # qid -> {leg key: queued ms}
    waiting_removed: dict[str, set[str]] = field(default_factory=dict)  # qid -> leg keys
    records_upserted: dict[str, dict[str, Any]] = field(default_factory=dict)
    records_deleted: set[str] = field(default_factory=set)
    live_upserted: dict[str, dict[str, Any]] = field(default_factory=dict)  # agents: agent id -> live state
    live_deleted: set[str] = field(default_factory=set)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    forwards: list[tuple[bytes, bytes]] = field(default_factory=list)  # (key, value) for the customers topic
    stats: Counter[str] = field(default_factory=Counter)  # applied, duplicate, dead_letter:<reason>, stale_evicted
    element_index: int | None = None  # position in the batch record being applied (set by the batch loop)

    def add_sums(self, before: dict[BucketKey, int], after: dict[BucketKey, int]) -> None:
        """Add ``after - before`` to the batch's sums (keys whose difference is 0 are left alone)."""
        sums = self.sums
        if not before:  # a new leg or timeline, a standalone event: the usual case
            for key, value in after.items():
                if value:
                    sums[key] = sums.get(key, 0) + value
            return
        # A changed leg or timeline keeps most of its (key, value) pairs: the set differences (in C) leave
        # only the pairs that changed, so the Python loops below touch only those.
        for key, value in after.items() - before.items():
            delta = value - before.get(key, 0)
            if delta:
                sums[key] = sums.get(key, 0) + delta
        for key, value in before.items() - after.items():
            if value and key not in after:
                sums[key] = sums.get(key, 0) - value

    def add_maxima(self, before: dict[BucketKey, int], after: dict[BucketKey, int]) -> None:
        """Keep the maxima that are new in ``after`` (a maximum only ever grows)."""
        for key, value in after.items():
            if before.get(key) != value and value > self.maxima.get(key, -1):
                self.maxima[key] = value

    def reject(self, offset: int, key: bytes | None, raw: bytes, rejection: Rejection) -> None:
        self.dead_letters.append(DeadLetter(offset, key, raw, rejection, self.element_index))
        self.stats[f"dead_letter:{rejection.code.value}"] += 1

    @property
    def is_empty(self) -> bool:
        return self.last_offset < 0
