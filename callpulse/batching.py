"""Packing events into batch records (see ``processors.records``): one record per partition per flush.

A batch record goes to the partition its events' keys hash to with Kafka's default partitioner, so a
contact's (or an agent's) events meet in the same partition whether they came one per record from a third
party or many per record from us. The packer is pure bookkeeping; the caller sends what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from aiokafka.partitioner import DefaultPartitioner

from processors.records import MAX_BATCH_EVENTS, batch_value

_PARTITIONER = DefaultPartitioner()


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2) gives a keyed record, as every Kafka client does."""
    every = list(range(partitions))
    return int(_PARTITIONER(key, every, every))


class PackedRecord(NamedTuple):
    partition: int
    key: bytes  # the first event's key (informative: the partition is explicit)
    value: bytes  # one event, or a JSON array of events
    events: int


@dataclass
class BatchPacker:
    """Collects encoded events per partition and hands out batch records of at most ``max_events`` events
    or about ``max_bytes`` bytes; ``drain`` hands out what is left (call it when a send window closes)."""

    partitions: int
    max_events: int = 500
    max_bytes: int = 512 * 1024
    _open: dict[int, tuple[bytes, list[bytes], int]] = field(default_factory=dict)  # partition -> key, events, bytes

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ValueError(f"partitions must be >= 1, got {self.partitions}")
        if not 1 <= self.max_events <= MAX_BATCH_EVENTS:
            raise ValueError(f"max_events must be 1-{MAX_BATCH_EVENTS}, got {self.max_events}")

    def add(self, key: bytes, value: bytes) -> list[PackedRecord]:
        """Add one encoded event; return the record of its partition if that became full."""
        partition = partition_for(key, self.partitions)
        first_key, events, size = self._open.get(partition, (key, [], 0))
        events.append(value)
        size += len(value) + 1
        if len(events) >= self.max_events or size >= self.max_bytes:
            self._open.pop(partition, None)
            return [_record(partition, first_key, events)]
        self._open[partition] = (first_key, events, size)
        return []

    def drain(self) -> list[PackedRecord]:
        """Every partition's open record, in partition order."""
        records = [_record(partition, key, events) for partition, (key, events, _) in sorted(self._open.items())]
        self._open.clear()
        return records

    @property
    def pending(self) -> int:
        return sum(len(events) for _, events, _ in self._open.values())


def _record(partition: int, key: bytes, events: list[bytes]) -> PackedRecord:
    value = events[0] if len(events) == 1 else batch_value(events)
    return PackedRecord(partition, key, value, len(events))
