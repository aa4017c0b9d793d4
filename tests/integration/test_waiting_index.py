"""The set of queues with a contact waiting (streams/store.py): kept by every batch, trusted by the exporter
only when complete (meta ``woffset`` equals ``offset``), and completed again when a worker loads a partition
that a writer without the set changed (a worker from before it)."""

from __future__ import annotations

import asyncio

import orjson
import pytest
import redis
from redis.asyncio import Redis

from callpulse.embedded import ManagedServer
from exporters.incremental import IncrementalReader
from exporters.reader import read_snapshot
from fixtures.script import Script
from processors.batch import DeadLetter
from processors.figures import KpiPolicy
from processors.windows import WindowSpec
from streams.applier import BatchApplier
from streams.redis_keys import WAITING_INDEX_OFFSET, PartitionKeys
from streams.store import PartitionStore

pytestmark = pytest.mark.integration

BASE_MS = 1_795_424_400_000  # 2026-11-23T09:00:00Z
PREFIX = "waitq"
WINDOWS = [WindowSpec(15 * 60_000, 60_000)]


def _records() -> list[tuple[int, bytes, bytes]]:
    script = Script(BASE_MS)
    for n in range(4):
        script.contact(n, "queued", f"c{n}", queue="sales" if n % 2 else "support")
    script.contact(10, "answered", "c1", queue="sales", agent_id="a")
    script.contact(11, "answered", "c3", queue="sales", agent_id="b")  # sales: nobody waits any more
    script.contact(12, "queued", "c9", queue="billing")
    return [(offset, key.encode(), orjson.dumps(event)) for offset, (_s, key, event) in enumerate(script.events)]


async def _no_dead_letters(_stream: str, _partition: int, letters: list[DeadLetter]) -> None:
    assert not letters


def _waiting(client: redis.Redis, reader: IncrementalReader) -> dict[str, tuple[int, int | None]]:
    now_ms = BASE_MS + 60_000
    incremental = reader.read(client, now_ms)
    full = read_snapshot(client, prefix=PREFIX, now_ms=now_ms, windows=WINDOWS)
    assert incremental == full
    return incremental.waiting


def test_the_waiting_queues_set_is_kept_trusted_only_when_complete_and_completed_on_load(
    redis_server: ManagedServer,
) -> None:
    records = _records()
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    keys = PartitionKeys(PREFIX, "contacts", 0)

    async def apply(batch: list[tuple[int, bytes, bytes]]) -> None:
        async with Redis.from_url(redis_server.url) as async_client:
            store = PartitionStore(async_client, prefix=PREFIX, bucket_ttl_seconds=3600)
            await BatchApplier(store, KpiPolicy(), _no_dead_letters).apply("contacts", {0: batch})

    asyncio.run(apply(records[:6]))
    assert client.smembers(keys.waiting_queues) == {b"acme/support/voice"}  # sales' only contact was answered
    assert client.hget(keys.meta, WAITING_INDEX_OFFSET) == b"5" == client.hget(keys.meta, "offset")
    reader = IncrementalReader(prefix=PREFIX, windows=WINDOWS)
    assert _waiting(client, reader)["acme/support/voice"] == (2, BASE_MS)

    # Data written by a worker from before the set: no set, no ``woffset``. Every queue is read: all seen.
    client.delete(keys.waiting_queues)
    client.hdel(keys.meta, WAITING_INDEX_OFFSET)
    assert _waiting(client, IncrementalReader(prefix=PREFIX, windows=WINDOWS))["acme/support/voice"] == (2, BASE_MS)
    assert _waiting(client, reader)["acme/support/voice"] == (2, BASE_MS)

    # A worker loading the partition completes the set from the legs it loaded (support's two), then keeps
    # it: billing's contact c9 queues at offset 6.
    asyncio.run(apply(records[6:]))
    assert client.smembers(keys.waiting_queues) == {b"acme/support/voice", b"acme/billing/voice"}
    assert client.hget(keys.meta, WAITING_INDEX_OFFSET) == b"6" == client.hget(keys.meta, "offset")
    waiting = _waiting(client, reader)
    assert (waiting["acme/support/voice"], waiting["acme/billing/voice"]) == ((2, BASE_MS), (1, BASE_MS + 12_000))
