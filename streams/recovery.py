"""Finds partition state that Redis lost (or holds from an older snapshot) and rebuilds it from Kafka.

A partition's state in Redis and the worker's position in Kafka must agree: a batch starts at most one past
the offset stored with the state (earlier records are skipped). When a batch starts further on, the records
in between were never applied to this state: Redis was emptied or restored from an older snapshot while
Kafka's committed offset moved on. Applying the batch would silently give wrong figures, so instead:

1. the partition is listed under ``rebuilding_key`` until it passes the last offset it had consumed (the
   exporter withholds KPIs while any partition is listed);
2. the consumer seeks back to the stored offset + 1 (offset 0 when nothing is stored: the whole retained
   topic is replayed, since open contacts, duplicate markers and today's figures can go back that far);
3. records still in flight from before the seek are dropped until the first replayed one arrives (in
   delivery order: the replay comes after them, and its offsets are at most the first one found missing).

The first partition found behind marks at once every other partition this worker applied whose state Redis
no longer has: were they left to the periodic check, a quick rebuild of the first could clear the rebuilding
list while the others are still empty, and the exporter would show their partial figures as whole.

Partitions that get no records are found by ``check``, which the worker runs every few seconds: a partition
whose state this worker applied and Redis no longer has, and a newly assigned one whose consumer-group
committed offset is ahead of the state in Redis (Redis and the worker restarted, no traffic since).
Offsets are assumed contiguous (callpulse's topics are written without transactions); a rewind is never
repeated from the same stored offset, so a real gap cannot loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from processors.partition import Record
from streams.redis_keys import PartitionKeys, Stream, partition_member, rebuilding_key

log = logging.getLogger(__name__)

PartitionId = tuple[Stream, int]
RESEEK_AFTER_SECONDS = 3.0
"""A rewind whose replay has not arrived after this long is sought again (a fetch in flight at the first
seek can move the consumer's read position past the replay, which then never comes)."""


class Consumer(Protocol):
    """What recovery needs of the worker's Kafka consumer (streams/recovery_kafka.py)."""

    async def seek(self, stream: Stream, partition: int, offset: int) -> None: ...

    def assigned(self) -> list[PartitionId]: ...

    def committed(self, stream: Stream, partition: int) -> int | None:
        """The group's committed offset (the next to read), None while unknown."""


class Recovery:
    """Per-partition rewind bookkeeping of one worker."""

    def __init__(
        self, redis: Redis, *, prefix: str, consumer: Consumer, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.consumer = consumer
        self.clock = clock
        self._awaiting: dict[PartitionId, tuple[int, int, float]] = {}  # (replay from, first kept <= this, since)
        self._rewound_from: dict[PartitionId, int] = {}  # stored offset of the last rewind
        self._targets: dict[PartitionId, int | None] = {}  # rebuilding until this offset (Redis, cached)
        self._applied: dict[PartitionId, int] = {}  # offset of the state in memory, for ``check``
        self._lost: set[PartitionId] = set()  # found lost by ``check``: the state in memory must be reloaded
        self._audited: set[PartitionId] = set()  # assigned partitions compared with the committed offset

    def forget(self, stream: Stream, partition: int) -> None:
        """The partition was revoked: its new owner finds what is left to do from Kafka and Redis."""
        key = (stream, partition)
        for table in (self._awaiting, self._rewound_from, self._targets, self._applied):
            table.pop(key, None)
        self._lost.discard(key)
        self._audited.discard(key)

    async def admit(self, stream: Stream, partition: int, offset: int, records: list[Record]) -> list[Record] | None:
        """The records of a batch to apply to state at ``offset`` (maybe none), or None: reload the state first."""
        key = (stream, partition)
        if key in self._lost:
            self._lost.discard(key)
            return None
        records = self._drop_in_flight(key, records)
        if not records:
            return []
        first = records[0][0]
        if first > offset + 1 and self._rewound_from.get(key) != offset:
            await self._rewind(key, offset, first_kept=first, target=max(record[0] for record in records))
            # Redis lost this partition's state: the others it held lost theirs too. Mark them now, not at the
            # next check: else this one could be rebuilt first, and the exporter show its figures as whole.
            await self._check_held()
            return []
        self._applied[key] = offset
        await self._finish_if_done(key, offset)
        return records

    async def applied(self, stream: Stream, partition: int, offset: int) -> None:
        """A batch up to ``offset`` was written."""
        key = (stream, partition)
        self._applied[key] = offset
        await self._finish_if_done(key, offset)

    async def check(self) -> None:
        """Seek again the rewinds whose replay did not come; rewind the partitions whose state this worker
        applied and Redis no longer has, and the newly assigned ones whose committed offset is ahead of their
        state in Redis. Redis errors are logged: the next check tries again."""
        try:
            await self._reseek_stalled()
            await self._check_held()
            await self._audit_assigned()
        except RedisError as exc:
            log.warning("recovery check could not read Redis (%s); next check will try again", exc)

    async def _reseek_stalled(self) -> None:
        now = self.clock()
        for key, (start, kept, since) in list(self._awaiting.items()):
            if now - since >= RESEEK_AFTER_SECONDS:
                log.warning("partition %s:%s: replay from offset %d not seen yet; seeking again", *key, start)
                self._awaiting[key] = (start, kept, now)
                await self.consumer.seek(key[0], key[1], start)

    async def _check_held(self) -> None:
        held = [(key, offset) for key, offset in self._applied.items() if offset >= 0 and key not in self._lost]
        if not held:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for (stream, partition), _offset in held:
                pipe.exists(PartitionKeys(self.prefix, stream, partition).meta)
            present = await pipe.execute()
        for (key, offset), exists in zip(held, present, strict=True):
            # checked again after the await: another partition's task may have marked it meanwhile
            if not exists and key not in self._awaiting and key not in self._lost and self._applied.get(key) == offset:
                log.error("partition %s:%s: Redis lost its state (applied up to %d); rebuilding", *key, offset)
                self._lost.add(key)
                self._applied[key] = -1
                await self._rewind(key, -1, first_kept=offset, target=offset)

    async def _audit_assigned(self) -> None:
        pending = [
            (key, committed)
            for key in self.consumer.assigned()
            if key not in self._applied and key not in self._audited and key not in self._awaiting
            for committed in [self.consumer.committed(*key)]
            if committed is not None
        ]
        if not pending:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for (stream, partition), _committed in pending:
                pipe.hget(PartitionKeys(self.prefix, stream, partition).meta, "offset")
            stored = [int(raw) if raw is not None else -1 for raw in await pipe.execute()]
        for (key, committed), offset in zip(pending, stored, strict=True):
            self._audited.add(key)
            if committed - 1 > offset and key not in self._applied:
                await self._rewind(key, offset, first_kept=committed - 1, target=committed - 1)

    def _drop_in_flight(self, key: PartitionId, records: list[Record]) -> list[Record]:
        awaiting = self._awaiting.get(key)
        if awaiting is None:
            return records
        for index, (offset, _key, _value) in enumerate(records):
            if offset <= awaiting[1]:
                del self._awaiting[key]
                log.info("partition %s:%s: replay arrived at offset %d", *key, offset)
                return records[index:]
        return []

    async def _rewind(self, key: PartitionId, offset: int, *, first_kept: int, target: int) -> None:
        """Mark the partition rebuilding (Redis first: if that fails the caller retries all), then seek."""
        target = max(target, await self._target(key) or -1)
        await self.redis.hset(rebuilding_key(self.prefix), partition_member(*key), target)
        self._targets[key] = target
        self._rewound_from[key] = offset
        self._awaiting[key] = (offset + 1, first_kept, self.clock())
        log.warning(
            "partition %s:%s: state is at offset %d but Kafka delivers from %d; replaying from %d, rebuilding until %d",
            *key,
            offset,
            first_kept,
            offset + 1,
            target,
        )
        await self.consumer.seek(key[0], key[1], offset + 1)

    async def _target(self, key: PartitionId) -> int | None:
        if key not in self._targets:
            raw = await self.redis.hget(rebuilding_key(self.prefix), partition_member(*key))
            self._targets[key] = int(raw) if raw is not None else None
        return self._targets[key]

    async def _finish_if_done(self, key: PartitionId, offset: int) -> None:
        target = await self._target(key)
        if target is not None and offset >= target:
            await self.redis.hdel(rebuilding_key(self.prefix), partition_member(*key))
            self._targets[key] = None
            log.warning("partition %s:%s: rebuilt up to offset %d", *key, offset)
