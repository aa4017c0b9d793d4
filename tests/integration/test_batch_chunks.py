"""A batch applied in runs of a few records (``BatchApplier(max_bytes=...)``) leaves the same state in Redis,
and the same figures on a scrape, as the batch applied at once; the offset stored is the batch's last."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
import redis
from redis.asyncio import Redis

from callpulse.embedded import ManagedServer
from exporters.reader import read_snapshot
from fixtures.script import Script
from processors.batch import DeadLetter
from processors.figures import KpiPolicy
from processors.windows import WindowSpec
from streams.applier import BatchApplier
from streams.redis_keys import STAT_PREFIX, PartitionKeys
from streams.store import PartitionStore

pytestmark = pytest.mark.integration

BASE_MS = 1_795_424_400_000  # 2026-11-23T09:00:00Z
WINDOWS = [WindowSpec(15 * 60_000, 60_000)]


def _records() -> list[tuple[int, bytes, bytes]]:
    script = Script(BASE_MS)
    for n in range(12):
        queue = ("support", "sales", "billing")[n % 3]
        script.contact(n, "queued", f"c{n}", queue=queue)
        if n % 4 != 3:  # a quarter keep waiting
            script.contact(n + 20, "answered" if n % 2 else "abandoned", f"c{n}", queue=queue, agent_id=f"a{n}")
    script.contact(40, "ended", "c1", queue="sales", agent_id="a1")
    records = [(offset, key.encode(), orjson.dumps(event)) for offset, (_s, key, event) in enumerate(script.events)]
    records.insert(5, (len(records), b"bad", b"{not json"))  # a dead letter inside a run
    return [(offset, key, value) for offset, (_o, key, value) in enumerate(records)]


class CountingStore(PartitionStore):
    """The real store, counting its writes (one per run)."""

    writes = 0

    async def write(self, *args: Any, **kwargs: Any) -> Any:
        self.writes += 1
        return await super().write(*args, **kwargs)


def test_a_batch_applied_in_runs_leaves_what_the_whole_batch_leaves(redis_server: ManagedServer) -> None:
    records = _records()
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    dead: dict[str, list[int]] = {"whole": [], "runs": []}
    writes: dict[str, int] = {}

    async def apply(prefix: str, max_bytes: int) -> None:
        async def keep(_stream: str, _partition: int, letters: list[DeadLetter]) -> None:
            dead[prefix].extend(letter.offset for letter in letters)

        async with Redis.from_url(redis_server.url) as async_client:
            store = CountingStore(async_client, prefix=prefix, bucket_ttl_seconds=3600)
            applier = BatchApplier(store, KpiPolicy(), keep, max_bytes=max_bytes)
            await applier.apply("contacts", {0: records})
            writes[prefix] = store.writes

    asyncio.run(apply("whole", 1 << 20))
    asyncio.run(apply("runs", 600))  # two or three records a run
    assert writes["whole"] == 1 and writes["runs"] >= len(records) // 3
    assert dead == {"whole": [5], "runs": [5]}
    now_ms = BASE_MS + 60_000
    whole = read_snapshot(client, prefix="whole", now_ms=now_ms, windows=WINDOWS)
    runs = read_snapshot(client, prefix="runs", now_ms=now_ms, windows=WINDOWS)
    assert whole == runs
    assert sum(count for count, _since in whole.waiting.values()) == 3
    metas = {prefix: client.hgetall(PartitionKeys(prefix, "contacts", 0).meta) for prefix in ("whole", "runs")}
    counters = {
        prefix: {name: value for name, value in meta.items() if name.startswith(STAT_PREFIX.encode())}
        for prefix, meta in metas.items()
    }
    assert counters["runs"] == counters["whole"]
    assert counters["whole"][f"{STAT_PREFIX}applied".encode()] == str(len(records) - 1).encode()
    assert metas["runs"][b"offset"] == metas["whole"][b"offset"] == str(len(records) - 1).encode()
