"""A scrape reads Redis in a fixed number of round trips, however many contacts wait and agents are live
(issue 7: "the exporter reads all state for a scrape in a bounded number of Redis round trips, independent of
the number of contacts"). Round trips are counted on the client: each command sent alone and each pipeline
executed is one, and so is each command a pipeline sends on its own (redis-py checks that the scripts it
runs are loaded: ``SCRIPT EXISTS``)."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from redis.client import Pipeline

from callpulse.embedded import ManagedServer
from exporters.incremental import IncrementalReader
from processors.batch import BatchChanges
from processors.windows import WindowSpec
from streams.batch_script import BATCH_SCRIPT
from streams.redis_keys import partition_member, partitions_key
from streams.store import PartitionStore

pytestmark = pytest.mark.integration

NOW_MS = 1_795_424_400_000  # 2026-11-23T09:00:00Z
QUEUES = [f"acme/q{n}/voice" for n in range(5)]


class CountingRedis(redis.Redis):
    """A client that counts its round trips."""

    round_trips = 0

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.round_trips += 1
        return super().execute_command(*args, **options)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Pipeline:
        client = self

        class CountingPipeline(Pipeline):
            def execute(self, raise_on_error: bool = True) -> list[Any]:
                client.round_trips += 1
                return super().execute(raise_on_error)

            def immediate_execute_command(self, *args: Any, **options: Any) -> Any:
                client.round_trips += 1
                return super().immediate_execute_command(*args, **options)

        return CountingPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)


def _write(client: redis.Redis, prefix: str, contacts: int, offset: int) -> None:
    """One batch per partition: ``contacts`` contacts waiting over the queues, as many agents live."""
    store = PartitionStore(client, prefix=prefix, bucket_ttl_seconds=3600)  # type: ignore[arg-type]
    script = client.register_script(BATCH_SCRIPT)
    for stream in ("contacts", "agents"):
        changes = BatchChanges(last_offset=offset, watermark_ms=NOW_MS)
        changes.sums[(NOW_MS, QUEUES[0], "offered")] = contacts
        for n in range(contacts):
            qid = QUEUES[n % len(QUEUES)]
            if stream == "contacts":
                changes.waiting_added.setdefault(qid, {})[f"{qid}/c{offset}-{n}"] = NOW_MS - n
            else:
                changes.live_upserted[f"a{n}"] = {"s": "available", "since": NOW_MS - n, "t": qid}
        plan = store.plan(store.keys(stream, 0), changes)  # type: ignore[arg-type]
        assert script(keys=plan.keys, args=plan.arguments(offset - 1)) == 1
        client.sadd(partitions_key(prefix), partition_member(stream, 0))


def _round_trips(url: str, contacts: int) -> tuple[int, int]:
    """Round trips of a first scrape (nothing cached) and of one after as many contacts again."""
    client = CountingRedis.from_url(url)
    prefix = f"trips{contacts}"
    _write(client, prefix, contacts, offset=0)
    reader = IncrementalReader(prefix=prefix, windows=[WindowSpec(15 * 60_000, 60_000)])
    client.round_trips = 0
    first = reader.read(client, NOW_MS + 1_000)
    first_trips = client.round_trips
    assert sum(count for count, _oldest in first.waiting.values()) == contacts
    assert sum(first.agents.values()) == contacts
    _write(client, prefix, contacts, offset=1)  # read through the change indexes this time
    client.round_trips = 0
    second = reader.read(client, NOW_MS + 2_000)
    assert sum(count for count, _oldest in second.waiting.values()) == 2 * contacts
    assert sum(second.agents.values()) == contacts  # the same agents, their states set again
    return first_trips, client.round_trips


def test_a_scrape_takes_the_same_few_round_trips_whatever_the_number_of_contacts(
    redis_server: ManagedServer,
) -> None:
    _round_trips(redis_server.url, 1)  # the very first script call also loads the script: one more round trip
    few, many = _round_trips(redis_server.url, 10), _round_trips(redis_server.url, 2_000)
    assert few == many
    assert max(few) <= 4  # partitions; meta, indexes and queues; periods, agents and waiting (+ SCRIPT EXISTS)
