"""Scrape time over real Redis state: N queues with an hour of per-minute buckets in 8 partitions.

    python3 bench/scrape_redis.py --queues 10 100 1000     # starts an embedded Valkey

Before: ``read_snapshot`` (every bucket of the hour) + prometheus_client families + ``generate_latest``.
After: ``CallpulseCollector.render`` (incremental reader + direct writers), first scrape and then a scrape
after one more batch per partition. Agents and staffing models are left out (no agent state written).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import redis
from prometheus_client import generate_latest
from prometheus_client.core import Metric
from scrape_profile import VIEW, qids

from callpulse.embedded import start_redis
from exporters.collector import CallpulseCollector
from exporters.reader import read_snapshot
from processors.batch import BatchChanges
from streams.batch_script import BATCH_SCRIPT
from streams.redis_keys import partition_member, partitions_key
from streams.store import PartitionStore

MINUTE = 60_000
PARTITIONS = 8
FIGURES = ("queued", "answered", "answered_in_sl", "wait_answered_ms", "abandoned", "handled", "handle_ms")


def populate(client: redis.Redis, prefix: str, queues: list[str], now_ms: int) -> tuple[PartitionStore, dict[int, int]]:
    store = PartitionStore(client, prefix=prefix, bucket_ttl_seconds=86_400)  # type: ignore[arg-type]
    script = client.register_script(BATCH_SCRIPT)
    offsets = dict.fromkeys(range(PARTITIONS), -1)
    rng = random.Random(7)
    for minute in range(-62, 1):
        for partition in range(PARTITIONS):
            write(store, script, partition, offsets, queues, now_ms + minute * MINUTE, rng)
    for partition in range(PARTITIONS):
        client.sadd(partitions_key(prefix), partition_member("contacts", partition))
    return store, offsets


def write(  # type: ignore[no-untyped-def]  # noqa: PLR0917
    store, script, partition, offsets, queues, at_ms, rng
) -> None:
    bucket = at_ms - at_ms % MINUTE
    changes = BatchChanges(last_offset=offsets[partition] + 1, watermark_ms=at_ms)
    for qid in queues:
        for figure in FIGURES:
            changes.sums[(bucket, qid, figure)] = rng.randint(1, 50)
        changes.maxima[(bucket, qid, "wait_max_ms")] = rng.randint(1, 300_000)
    plan = store.plan(store.keys("contacts", partition), changes)
    script(keys=plan.keys, args=plan.arguments(offsets[partition]))
    offsets[partition] += 1


class _Families:
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> list[Metric]:
        return self.metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queues", type=int, nargs="+", default=[10, 100, 1000])
    args = parser.parse_args()
    with start_redis(log_dir=Path(tempfile.mkdtemp())) as server:
        client = redis.Redis.from_url(server.url)
        for count in args.queues:
            prefix, now_ms = f"bench{count}", int(time.time() * 1000)
            store, offsets = populate(client, prefix, qids(count), now_ms)
            collector = CallpulseCollector(client, prefix=prefix, view=VIEW, clock=lambda now_ms=now_ms: now_ms / 1000)
            started = time.perf_counter()
            snapshot = read_snapshot(
                client, prefix=prefix, now_ms=now_ms, windows=list(VIEW.windows), calendar=VIEW.calendar
            )
            read_s = time.perf_counter() - started
            families = [*collector._families(snapshot)]
            from exporters import queue_metrics

            text = generate_latest(_Families([*queue_metrics.windowed(snapshot, VIEW), *families]))  # type: ignore[arg-type]
            before_s = time.perf_counter() - started
            started = time.perf_counter()
            first = b"".join(collector.render())
            first_s = time.perf_counter() - started
            rng = random.Random(8)
            for partition in range(PARTITIONS):
                write(store, client.register_script(BATCH_SCRIPT), partition, offsets, qids(count), now_ms, rng)
            started = time.perf_counter()
            warm = b"".join(collector.render())
            warm_s = time.perf_counter() - started
            print(
                f"{count:>5} queues, {len(text) / 1e6:5.1f} MB: "
                f"before {before_s * 1000:7.0f} ms (read {read_s * 1000:5.0f})"
                f" | after: first scrape {first_s * 1000:6.0f} ms, next scrape {warm_s * 1000:5.0f} ms"
                f" ({len(first) / 1e6:.1f} / {len(warm) / 1e6:.1f} MB)"
            )


if __name__ == "__main__":
    main()
