"""Applies batches of Kafka records to partition state and stores them: the worker's loop body.

Per partition of a batch: run the processor, send the rejected records to the dead-letter topic and the
customers' touches to the customers topic (and wait for the broker's acknowledgements), then write the
changes and the offset in one Redis transaction. A write fenced by the stored offset reloads the partition
and applies the batch again; Redis errors are retried with backoff, never raised into the consumer (which
would acknowledge the records and lose them).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from redis.exceptions import RedisError

from processors.batch import BatchChanges, DeadLetter
from processors.figures import KpiPolicy
from processors.partition import AgentPartition, ContactPartition, CustomerPartition, Record
from streams.recovery import Recovery
from streams.redis_keys import Stream
from streams.store import PartitionStore, WriteOutcome

log = logging.getLogger(__name__)
T = TypeVar("T")

SendDeadLetters = Callable[[Stream, int, list[DeadLetter]], Awaitable[None]]
SendForwards = Callable[[list[tuple[bytes, bytes]]], Awaitable[None]]
Processor = ContactPartition | AgentPartition | CustomerPartition


class BatchApplier:
    """Keeps the processors of the partitions this worker owns and applies batches to them."""

    def __init__(
        self,
        store: PartitionStore,
        policy: KpiPolicy,
        send_dead_letters: SendDeadLetters,
        *,
        send_forwards: SendForwards | None = None,
        retry_initial_seconds: float = 0.1,
        retry_max_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
        recovery: Recovery | None = None,
        max_bytes: int = 1 << 20,
    ) -> None:
        self.store = store
        self.max_bytes = max_bytes  # record bytes applied and written at once per partition (see ``chunks``)
        self.policy = policy
        self.send_dead_letters = send_dead_letters
        self.send_forwards = send_forwards
        self.retry_initial_seconds = retry_initial_seconds
        self.retry_max_seconds = retry_max_seconds
        self.clock = clock  # epoch seconds: events too far ahead of it are rejected
        self.recovery = recovery
        self.batches_applied = 0  # calls of ``apply`` that returned (see ``streams.idle``)
        self._processors: dict[tuple[Stream, int], Processor] = {}

    def forget(self, stream: Stream, partition: int) -> None:
        """Drop a partition's in-memory state (it was revoked; Redis keeps the truth)."""
        self._processors.pop((stream, partition), None)

    async def apply(self, stream: Stream, batches: dict[int, list[Record]]) -> None:
        """Apply each partition's records; returns once every partition's write is done (or raises).

        Partitions are independent (their own state, offsets and hash tag), so they run as concurrent tasks:
        while Redis runs one partition's write, the next partition's events are applied in memory.
        """
        if len(batches) == 1:
            [(partition, records)] = batches.items()
            await self._apply_chunks(stream, partition, records)
        else:
            try:
                async with asyncio.TaskGroup() as group:  # a failure cancels the other partitions' tasks
                    for partition, records in sorted(batches.items()):
                        group.create_task(self._apply_chunks(stream, partition, records))
            except* Exception as failures:  # noqa: BLE001 - re-raised, unwrapped from the group
                raise failures.exceptions[0] from None  # what one partition alone would have raised
        self.batches_applied += 1

    async def _apply_chunks(self, stream: Stream, partition: int, records: list[Record]) -> None:
        for chunk in chunks(records, self.max_bytes):
            await self._apply_partition(stream, partition, chunk)

    async def _apply_partition(self, stream: Stream, partition: int, records: list[Record]) -> None:
        while True:
            processor = await self._processor(stream, partition)
            expected = processor.offset
            admitted = await self._admitted(stream, partition, expected, records)
            if admitted is None:  # the state in memory is stale (Redis lost it): reload it
                self.forget(stream, partition)
                continue
            changes = processor.apply_batch(admitted, now_ms=int(self.clock() * 1000))
            if changes.is_empty:
                return
            if changes.dead_letters:
                await self.send_dead_letters(stream, partition, changes.dead_letters)
            if changes.forwards and self.send_forwards is not None:
                await self.send_forwards(changes.forwards)  # repartitioned by customer: acknowledged first
            write = functools.partial(self.store.write, stream, partition, changes, expected_offset=expected)
            outcome = await self._retrying(write)
            if outcome is WriteOutcome.WRITTEN:
                self._log_batch(stream, partition, changes)
                if self.recovery is not None:
                    applied = functools.partial(self.recovery.applied, stream, partition, changes.last_offset)
                    await self._retrying(applied)
                return
            log.info("partition %s:%s moved on in Redis; reloading its state", stream, partition)
            self.forget(stream, partition)

    async def _admitted(
        self, stream: Stream, partition: int, offset: int, records: list[Record]
    ) -> list[Record] | None:
        """The records recovery lets through (all of them without recovery; see ``streams.recovery``)."""
        if self.recovery is None:
            return records
        return await self._retrying(functools.partial(self.recovery.admit, stream, partition, offset, records))

    async def _processor(self, stream: Stream, partition: int) -> Processor:
        processor = self._processors.get((stream, partition))
        if processor is None:
            await self._retrying(lambda: self.store.register(stream, partition))
            processor = await self._retrying(lambda: self.store.load(stream, partition, self.policy))
            if isinstance(processor, ContactPartition):
                loaded = processor
                await self._retrying(lambda: self.store.index_waiting(partition, loaded))
            self._processors[(stream, partition)] = processor
            log.info("loaded partition %s:%s at offset %s", stream, partition, processor.offset)
        return processor

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        delay = self.retry_initial_seconds
        while True:
            try:
                return await call()
            except (RedisError, OSError) as exc:
                log.warning("Redis call failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max_seconds)

    @staticmethod
    def _log_batch(stream: Stream, partition: int, changes: BatchChanges) -> None:
        if changes.dead_letters:
            log.warning(
                "partition %s:%s: %d record(s) dead-lettered up to offset %d",
                stream,
                partition,
                len(changes.dead_letters),
                changes.last_offset,
            )


def chunks(records: list[Record], max_bytes: int) -> Iterable[list[Record]]:
    """Consecutive runs of records, each of at most ``max_bytes`` of values unless one record alone is more.

    A batch of 500 records that each carry hundreds of events would otherwise be decoded, applied and held
    at once: the worker's memory would follow the batch, not the state. Each run is written with its offset,
    like a smaller batch, so the figures are the same."""
    sizes = [len(value) if value else 0 for _offset, _key, value in records]  # (a tombstone has no value)
    if sum(sizes) <= max_bytes:
        yield records
        return
    start, size = 0, 0
    for index, length in enumerate(sizes):
        if size and size + length > max_bytes:
            yield records[start:index]
            start, size = index, 0
        size += length
    yield records[start:]


def group_by_partition(events: Iterable[Any]) -> dict[int, list[Record]]:
    """Faust events -> {partition: [(offset, key, value), ...]} in the order they were delivered.

    Never sorted by offset: after a seek back (``streams.recovery``), records fetched before the seek can
    still arrive ahead of the replay in the same batch. Delivery order tells them apart; sorting would put
    the replay's first records next to the later ones fetched before, and the gap between would be lost."""
    batches: dict[int, list[Record]] = {}
    for event in events:
        message = event.message
        batches.setdefault(message.partition, []).append((message.offset, message.key, message.value))
    return batches
