"""The Redis table store: loads a partition's state and writes each batch's changes in one transaction.

A write is fenced by the partition's last applied offset: it goes through only if Redis still holds the
offset the caller's state was built from. Otherwise (another worker took the partition over, or our last
write succeeded but its answer was lost) the caller reloads the partition and applies the batch again;
the offsets in it that are already applied are skipped, so nothing is counted twice.
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from enum import Enum
from typing import Any

import orjson
from redis.asyncio import Redis

from processors.agents import AgentTimeline
from processors.batch import BatchChanges
from processors.contacts import ContactLeg
from processors.customers import CustomerHistory
from processors.figures import KpiPolicy
from processors.partition import SEEN_PREFIX, AgentPartition, ContactPartition, CustomerPartition
from processors.windows import local_day
from streams.batch_script import BATCH_SCRIPT, WritePlan
from streams.redis_keys import (
    STAT_PREFIX,
    WAITING_INDEX_OFFSET,
    PartitionKeys,
    Stream,
    figure_field,
    partition_member,
    partitions_key,
)


def bucket_ttl_seconds(longest_window_seconds: int, policy: KpiPolicy) -> int:
    """How long a minute bucket lives after its last write: the longest window, the lateness, two buckets and
    five minutes of margin, so it outlives every window that can still read it."""
    return longest_window_seconds + policy.allowed_lateness_ms // 1000 + 2 * policy.bucket_ms // 1000 + 300


class WriteOutcome(Enum):
    WRITTEN = "written"
    FENCED = "fenced"


class PartitionStore:
    """Reads and writes the state of partitions in Redis under ``prefix``."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        bucket_ttl_seconds: int,
        interval_ms: int = 900_000,
        interval_ttl_seconds: int = 7 * 86_400,
        zone: tzinfo = UTC,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.bucket_ttl_seconds = bucket_ttl_seconds
        self.interval_ms = interval_ms
        self.interval_ttl_seconds = interval_ttl_seconds
        self.day_ttl_seconds = 2 * 86_400 + bucket_ttl_seconds
        self.zone = zone
        self._batch_script = redis.register_script(BATCH_SCRIPT)
        self._periods: dict[tuple[PartitionKeys, int], tuple[Period, ...]] = {}  # see ``_granularities``

    def keys(self, stream: Stream, partition: int) -> PartitionKeys:
        return PartitionKeys(self.prefix, stream, partition)

    async def load(
        self, stream: Stream, partition: int, policy: KpiPolicy
    ) -> ContactPartition | AgentPartition | CustomerPartition:
        """Rebuild the partition's processor from what Redis holds (an empty one if nothing)."""
        keys = self.keys(stream, partition)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hmget(keys.meta, ["offset", "watermark_ms"])
            pipe.hgetall(keys.records)
            (offset_raw, watermark_raw), records = await pipe.execute()
        offset = int(offset_raw) if offset_raw is not None else -1
        watermark = int(watermark_raw) if watermark_raw is not None else 0
        documents = {field.decode(): orjson.loads(value) for field, value in records.items()}
        if stream == "contacts":
            legs = {key: ContactLeg.from_json(doc) for key, doc in documents.items() if not key.startswith(SEEN_PREFIX)}
            seen = {key: int(doc["x"]) for key, doc in documents.items() if key.startswith(SEEN_PREFIX)}
            return ContactPartition(policy, legs=legs, seen=seen, offset=offset, watermark_ms=watermark)
        if stream == "customers":
            histories = {key: CustomerHistory.from_json(doc) for key, doc in documents.items()}
            return CustomerPartition(policy, histories=histories, offset=offset, watermark_ms=watermark)
        timelines = {key: AgentTimeline.from_json(doc) for key, doc in documents.items()}
        return AgentPartition(policy, timelines=timelines, offset=offset, watermark_ms=watermark)

    async def register(self, stream: Stream, partition: int) -> None:
        """Make the partition known to the exporter (idempotent; its own key, outside the hash tag)."""
        await self.redis.sadd(partitions_key(self.prefix), partition_member(stream, partition))

    async def write(
        self, stream: Stream, partition: int, changes: BatchChanges, *, expected_offset: int
    ) -> WriteOutcome:
        """Write the batch atomically if Redis still holds ``expected_offset`` for the partition."""
        keys = self.keys(stream, partition)
        plan = self.plan(keys, changes)
        done = await self._batch_script(keys=plan.keys, args=plan.arguments(expected_offset))
        return WriteOutcome.WRITTEN if done else WriteOutcome.FENCED

    def plan(self, keys: PartitionKeys, changes: BatchChanges) -> WritePlan:
        """The batch's writes (pure): bucket sums and maxima at three granularities, waiting sets, records,
        live states, counters, and last the offset and watermark."""
        plan = WritePlan(keys.meta, keys.changes, keys.live_changes)
        queues: set[str] = set(changes.waiting_added)
        bucket_sums: dict[int, dict[str, int]] = {}  # bucket -> field -> delta
        for (bucket, qid, figure), delta in changes.sums.items():
            fields = bucket_sums.get(bucket)
            if fields is None:
                fields = bucket_sums[bucket] = {}
            name = f"{qid}|{figure}"  # figure_field, inlined: this runs for every figure of every batch
            fields[name] = fields.get(name, 0) + delta
            if qid[0] != "@":
                queues.add(qid)
        bucket_maxima: dict[int, dict[str, int]] = {}
        for (bucket, qid, figure), value in changes.maxima.items():
            fields = bucket_maxima.setdefault(bucket, {})
            name = figure_field(qid, figure)
            fields[name] = max(fields.get(name, value), value)
        periods: dict[int, tuple[tuple[str, str, int], ...]] = {}  # bucket -> its three granularities
        for bucket in bucket_sums.keys() | bucket_maxima.keys():
            periods[bucket] = self._granularities(keys, bucket)
        # (sums key, maxima key, ttl) -> field -> delta (or maximum), summed over the buckets of the period
        sums = _merge(bucket_sums, periods, largest=False)
        maxima = _merge(bucket_maxima, periods, largest=True)
        for (sums_key, _maxima_key, ttl), fields in sums.items():
            plan.increment(sums_key, fields, ttl)
            plan.mark_changed(keys.period_name(sums_key))
        for (_sums_key, maxima_key, ttl), fields in maxima.items():
            plan.raise_to(maxima_key, fields, ttl)
            plan.mark_changed(keys.period_name(maxima_key))
        if queues:
            plan.call("SADD", keys.queues, *sorted(queues))
        for qid, added in changes.waiting_added.items():
            plan.call("ZADD", keys.waiting(qid), *(item for leg, at in added.items() for item in (at, leg)))
        if changes.waiting_added:
            plan.call("SADD", keys.waiting_queues, *sorted(changes.waiting_added))
        for qid, removed in changes.waiting_removed.items():
            plan.remove_waiting(keys.waiting(qid), keys.waiting_queues, qid, sorted(removed))
        self._hash_changes(plan, keys.records, changes.records_upserted, changes.records_deleted)
        self._hash_changes(plan, keys.live, changes.live_upserted, changes.live_deleted)
        plan.live_changed.extend(changes.live_upserted)
        plan.live_changed.extend(sorted(changes.live_deleted))
        plan.increment(keys.meta, {STAT_PREFIX + name: count for name, count in changes.stats.items()}, None)
        plan.call("HSET", keys.meta, "offset", changes.last_offset, "watermark_ms", changes.watermark_ms)
        if keys.stream == "contacts":  # its waiting queues' set is complete as of this offset
            plan.call("HSET", keys.meta, WAITING_INDEX_OFFSET, changes.last_offset)
        return plan

    async def index_waiting(self, partition: int, processor: ContactPartition) -> None:
        """Make the partition's set of waiting queues complete, from the waiting legs just loaded (a worker
        from before the set, or one that wrote without it, may have left it short); fenced by the offset."""
        if processor.offset < 0:  # nothing written yet: nothing waits, and meta stays absent
            return
        keys = self.keys("contacts", partition)
        plan = WritePlan(keys.meta, keys.changes, keys.live_changes)
        qids = sorted({leg.where.qid for leg in processor.legs.values() if leg.waiting_since_ms is not None})
        if qids:
            plan.call("SADD", keys.waiting_queues, *qids)
        plan.call("HSET", keys.meta, WAITING_INDEX_OFFSET, processor.offset)
        await self._batch_script(keys=plan.keys, args=plan.arguments(processor.offset))

    @staticmethod
    def _hash_changes(plan: WritePlan, key: str, upserted: dict[str, Any], deleted: set[str]) -> None:
        if upserted:
            plan.call(
                "HSET", key, *(item for name, doc in upserted.items() for item in (name, orjson.dumps(doc).decode()))
            )
        if deleted:
            plan.call("HDEL", key, *sorted(deleted))

    def _granularities(self, keys: PartitionKeys, bucket: int) -> tuple[Period, ...]:
        """(sums key, maxima key, TTL) of the minute bucket, its report interval and its local day; kept for
        the next batches (they mostly write the same few buckets), forgotten by the thousand."""
        periods = self._periods.get((keys, bucket))
        if periods is None:
            if len(self._periods) >= _PERIODS_KEPT:
                self._periods.clear()
            periods = self._periods[(keys, bucket)] = self._periods_of(keys, bucket)
        return periods

    def _periods_of(self, keys: PartitionKeys, bucket: int) -> tuple[Period, ...]:
        interval = bucket - bucket % self.interval_ms
        day = local_day(bucket, self.zone)
        return (
            (keys.sums(bucket), keys.maxima(bucket), self.bucket_ttl_seconds),
            (keys.interval_sums(interval), keys.interval_maxima(interval), self.interval_ttl_seconds),
            (keys.day_sums(day), keys.day_maxima(day), self.day_ttl_seconds),
        )


Period = tuple[str, str, int]  # (sums key, maxima key, TTL)
_PERIODS_KEPT = 1_024  # (partition, bucket) periods ``PartitionStore._granularities`` keeps: minutes of each partition


def _merge(
    by_bucket: dict[int, dict[str, int]], periods: dict[int, tuple[Period, ...]], *, largest: bool
) -> dict[Period, dict[str, int]]:
    """Each bucket's fields added (or, if ``largest``, the largest kept) into its three periods (minute,
    interval, day), in bucket order of first use."""
    merged: dict[Period, dict[str, int]] = {}
    for bucket, fields in by_bucket.items():
        for period in periods[bucket]:
            into = merged.get(period)
            if into is None:
                merged[period] = dict(fields)
            elif largest:
                for name, value in fields.items():
                    old = into.get(name)
                    if old is None or value > old:
                        into[name] = value
            else:  # a loop per kind, not a combine function: this runs for every field of every batch
                for name, value in fields.items():
                    into[name] = into.get(name, 0) + value
    return merged
