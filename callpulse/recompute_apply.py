"""Feeds source batches to fresh partition processors and writes their changes with the worker's store.

The same pure processors (``processors.partition``) and the same ``PartitionStore.write`` as the live
worker, so the recomputed keys have the layout, and the figures the values, the worker would have written.
Rejected records are counted (``stat:dead_letter:<reason>``) but sent nowhere. The customers' touches a
contacts batch forwards (first contact resolution, only with a customer-id salt) go straight to one
customers partition instead of through the customers topic: that topic is derived, not an input.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from processors.batch import BatchChanges
from processors.figures import KpiPolicy
from processors.partition import AgentPartition, ContactPartition, CustomerPartition, Record
from streams.redis_keys import Stream
from streams.store import PartitionStore, WriteOutcome

Processor = ContactPartition | AgentPartition | CustomerPartition
MAX_EXAMPLES = 5
CUSTOMERS_PARTITION = 0


class FencedError(RuntimeError):
    """Another process wrote to the recompute's prefix while it ran."""


@dataclass
class RecomputeTally:
    """What the recompute did, per stream: records read and the processors' counters."""

    read: Counter[Stream] = field(default_factory=Counter)
    stats: dict[Stream, Counter[str]] = field(default_factory=dict)
    batches: int = 0
    bad_lines: int = 0
    examples: list[str] = field(default_factory=list)  # the first rejected records, for the summary
    seen: set[tuple[Stream, int]] = field(default_factory=set)  # (stream, partition) written

    def count(self, stream: Stream, name: str) -> int:
        return self.stats.get(stream, Counter()).get(name, 0)

    def partitions(self) -> Counter[Stream]:
        """Partitions written, per stream."""
        return Counter(stream for stream, _partition in self.seen)

    def dead_letters(self) -> Counter[str]:
        """Dead-lettered records by reason, over every stream."""
        reasons: Counter[str] = Counter()
        for counters in self.stats.values():
            for name, value in counters.items():
                if name.startswith("dead_letter:"):
                    reasons[name.removeprefix("dead_letter:")] += value
        return reasons

    def add(self, stream: Stream, partition: int, changes: BatchChanges) -> None:
        self.stats.setdefault(stream, Counter()).update(changes.stats)
        for letter in changes.dead_letters:
            if len(self.examples) < MAX_EXAMPLES:
                self.examples.append(f"{stream} partition {partition} offset {letter.offset}: {letter.rejection}")


class Recomputer:
    """One fresh processor per (stream, partition), fed in offset order; every batch stored atomically."""

    def __init__(self, store: PartitionStore, policy: KpiPolicy) -> None:
        self.store = store
        self.policy = policy
        self.tally = RecomputeTally()
        self._processors: dict[tuple[Stream, int], Processor] = {}
        self._customer_offset = -1

    async def apply(self, stream: Stream, partition: int, records: list[Record]) -> None:
        """Apply records of one partition read from the source (in offset order) and store the result."""
        self.tally.read[stream] += len(records)
        changes = await self._apply(stream, partition, records)
        if changes.forwards:
            first = self._customer_offset + 1
            self._customer_offset += len(changes.forwards)
            touches: list[Record] = [(first + i, key, value) for i, (key, value) in enumerate(changes.forwards)]
            await self._apply("customers", CUSTOMERS_PARTITION, touches)

    async def _apply(self, stream: Stream, partition: int, records: list[Record]) -> BatchChanges:
        processor = await self._processor(stream, partition)
        expected = processor.offset
        changes = processor.apply_batch(records)
        if changes.is_empty:
            return changes
        outcome = await self.store.write(stream, partition, changes, expected_offset=expected)
        if outcome is WriteOutcome.FENCED:
            raise FencedError(
                f"partition {stream}:{partition} under prefix {self.store.prefix!r} moved past offset {expected} "
                "while the recompute was writing it: is another recompute (or a worker) using that prefix?"
            )
        self.tally.batches += 1
        self.tally.add(stream, partition, changes)
        return changes

    async def _processor(self, stream: Stream, partition: int) -> Processor:
        processor = self._processors.get((stream, partition))
        if processor is None:
            await self.store.register(stream, partition)
            processor = self._new_processor(stream)
            self._processors[(stream, partition)] = processor
            self.tally.seen.add((stream, partition))
        return processor

    def _new_processor(self, stream: Stream) -> Processor:
        if stream == "contacts":
            return ContactPartition(self.policy)
        if stream == "agents":
            return AgentPartition(self.policy)
        return CustomerPartition(self.policy)
