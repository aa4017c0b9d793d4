"""The Redis store on a real server: one transaction per batch, fenced by the stored offset, with TTLs.

Two appliers on one partition stand for a zombie worker and the worker that took the partition over.
"""

from __future__ import annotations

import asyncio

import orjson
import pytest
from redis.asyncio import Redis

from callpulse.embedded import ManagedServer
from fixtures.script import Script
from processors.batch import DeadLetter
from processors.figures import KpiPolicy
from streams.applier import BatchApplier
from streams.store import PartitionStore, WriteOutcome

pytestmark = pytest.mark.integration

BASE_MS = 1_795_424_400_000  # 2026-11-23T09:00:00Z, on a bucket edge


def _records() -> list[tuple[int, bytes, bytes]]:
    script = Script(BASE_MS)
    for n in range(6):
        script.contact(n, "queued", f"c{n}")
        script.contact(n + 30, "answered", f"c{n}", agent_id="a")
    return [(offset, key.encode(), orjson.dumps(event)) for offset, (_s, key, event) in enumerate(script.events)]


async def _no_dead_letters(_stream: str, _partition: int, letters: list[DeadLetter]) -> None:
    assert not letters


async def _answered(redis: Redis, store: PartitionStore) -> int:
    value = await redis.hget(store.keys("contacts", 0).sums(BASE_MS), "acme/support/voice|answered")
    return int(value or 0)


def test_a_fenced_write_changes_nothing_and_a_reload_applies_only_the_rest(redis_server: ManagedServer) -> None:
    async def scenario() -> None:
        redis = Redis.from_url(redis_server.url)
        await redis.flushdb()
        store = PartitionStore(redis, prefix="fence", bucket_ttl_seconds=600)
        policy = KpiPolicy()
        records = _records()

        zombie = BatchApplier(store, policy, _no_dead_letters)
        successor = BatchApplier(store, policy, _no_dead_letters)
        # records alternate queued / answered: offsets 1, 3, 5, 7, 9 are answers
        await zombie.apply("contacts", {0: records[:6]})  # zombie loads and applies offsets 0-5
        assert await _answered(redis, store) == 3
        await successor.apply("contacts", {0: records[:8]})  # successor loads at 5 and applies 6-7
        assert await _answered(redis, store) == 4

        # a writer that still believes the partition is at offset 5 is refused; the zombie applier then
        # meets the same fence, reloads (at 7) and applies only 8-9
        stale = await store.load("contacts", 0, policy)
        stale.offset = 5
        changes = stale.apply_batch(records[6:10])
        assert await store.write("contacts", 0, changes, expected_offset=5) is WriteOutcome.FENCED
        assert await _answered(redis, store) == 4
        await zombie.apply("contacts", {0: records[:10]})
        assert await _answered(redis, store) == 5

        meta = await redis.hgetall(store.keys("contacts", 0).meta)
        assert int(meta[b"offset"]) == 9
        assert int(meta[b"stat:applied"]) == 10  # every record applied exactly once
        ttl = await redis.ttl(store.keys("contacts", 0).sums(BASE_MS))
        assert 0 < ttl <= 600
        assert await redis.ttl(store.keys("contacts", 0).records) == -1  # state, not a cache: no TTL
        await redis.aclose()

    asyncio.run(scenario())


def test_partitions_apply_concurrently_and_a_failure_is_raised_as_itself(redis_server: ManagedServer) -> None:
    """A batch of two partitions: the good one is written; the one whose dead letters cannot be sent raises
    the callback's own error (not an ExceptionGroup), and nothing of it is written."""

    class BrokerDown(Exception):
        pass

    async def refuse(_stream: str, partition: int, letters: list[DeadLetter]) -> None:
        assert partition == 1 and letters
        raise BrokerDown("dead-letter topic unreachable")

    async def scenario() -> None:
        redis = Redis.from_url(redis_server.url)
        await redis.flushdb()
        store = PartitionStore(redis, prefix="tasks", bucket_ttl_seconds=600)
        applier = BatchApplier(store, KpiPolicy(), refuse)
        good = _records()
        bad = [(0, b"c9", b"not json")]
        with pytest.raises(BrokerDown):
            await applier.apply("contacts", {0: good, 1: bad})
        assert await _answered(redis, store) == 6
        assert await redis.hget(store.keys("contacts", 1).meta, "offset") is None
        await redis.aclose()

    asyncio.run(scenario())
