"""Read every partition's state from Redis in three round trips and merge it into one snapshot.

Pure merging (``merge_*``) is separate from the Redis calls so it can be tested with plain dicts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis import Redis

from processors.windows import WindowSpec
from streams.redis_keys import (
    STAT_PREFIX,
    PartitionKeys,
    Stream,
    parse_partition_member,
    partitions_key,
    split_figure_field,
)


@dataclass
class Snapshot:
    """Everything one scrape shows, merged over partitions."""

    now_ms: int
    totals: dict[tuple[str, str], dict[str, int]] = field(
        default_factory=dict
    )  # (qid, window label) -> figure -> value
    waiting: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # qid -> (count, oldest queued ms)
    agents: Counter[tuple[str, str]] = field(default_factory=Counter)  # (qid, state) -> agents
    stats: dict[Stream, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    watermark_ms: dict[Stream, int] = field(default_factory=dict)
    partitions: Counter[str] = field(default_factory=Counter)

    @property
    def queues(self) -> set[str]:
        return {qid for qid, _ in self.totals} | set(self.waiting) | {qid for qid, _ in self.agents}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def merge_bucket(
    snapshot: Snapshot, windows: list[WindowSpec], bucket_ms: int, sums: dict[Any, Any], maxima: list[tuple[Any, float]]
) -> None:
    """Add one bucket's sums and maxima into every window that contains it."""
    for window in windows:
        if not window.contains(bucket_ms, snapshot.now_ms):
            continue
        for raw_field, raw_value in sums.items():
            qid, figure = split_figure_field(_text(raw_field))
            totals = snapshot.totals.setdefault((qid, window.label), {})
            totals[figure] = totals.get(figure, 0) + int(raw_value)
        for raw_field, score in maxima:
            qid, figure = split_figure_field(_text(raw_field))
            totals = snapshot.totals.setdefault((qid, window.label), {})
            totals[figure] = max(totals.get(figure, 0), int(score))


def merge_waiting(snapshot: Snapshot, qid: str, count: int, oldest: list[tuple[Any, float]]) -> None:
    known_count, known_oldest = snapshot.waiting.get(qid, (0, None))
    oldest_ms = int(oldest[0][1]) if oldest else None
    candidates = [ms for ms in (known_oldest, oldest_ms) if ms is not None]
    snapshot.waiting[qid] = (known_count + count, min(candidates) if candidates else None)


def merge_live_agents(snapshot: Snapshot, live: dict[Any, Any]) -> None:
    for raw in live.values():
        state = orjson.loads(raw)
        snapshot.agents[(state["t"], state["s"])] += 1


def merge_meta(snapshot: Snapshot, stream: Stream, meta: dict[Any, Any]) -> None:
    for raw_field, raw_value in meta.items():
        name = _text(raw_field)
        if name.startswith(STAT_PREFIX):
            snapshot.stats[stream][name[len(STAT_PREFIX) :]] += int(raw_value)
        elif name == "watermark_ms":
            snapshot.watermark_ms[stream] = max(snapshot.watermark_ms.get(stream, 0), int(raw_value))


def read_snapshot(redis: Redis, *, prefix: str, now_ms: int, windows: list[WindowSpec]) -> Snapshot:
    """Read all partitions: (1) the partition list, (2) meta, buckets and queue lists, (3) waiting sets."""
    snapshot = Snapshot(now_ms=now_ms)
    members = sorted(_text(member) for member in redis.smembers(partitions_key(prefix)))
    partitions = [PartitionKeys(prefix, *parse_partition_member(member)) for member in members]
    longest = max(windows, key=lambda window: window.length_ms)
    buckets = longest.bucket_starts(now_ms)
    pipe = redis.pipeline(transaction=False)
    for keys in partitions:
        pipe.hgetall(keys.meta)
        pipe.smembers(keys.queues)
        pipe.hgetall(keys.live)
        for bucket in buckets:
            pipe.hgetall(keys.sums(bucket))
            pipe.zrange(keys.maxima(bucket), 0, -1, withscores=True)
    replies = iter(pipe.execute())
    queue_lists: list[tuple[PartitionKeys, list[str]]] = []
    for keys in partitions:
        snapshot.partitions[keys.stream] += 1
        merge_meta(snapshot, keys.stream, next(replies))
        queue_lists.append((keys, sorted(_text(qid) for qid in next(replies))))
        merge_live_agents(snapshot, next(replies))
        for bucket in buckets:
            merge_bucket(snapshot, windows, bucket, next(replies), next(replies))
    pipe = redis.pipeline(transaction=False)
    for keys, qids in queue_lists:
        for qid in qids:
            pipe.zcard(keys.waiting(qid))
            pipe.zrange(keys.waiting(qid), 0, 0, withscores=True)
    replies = iter(pipe.execute())
    for _keys, qids in queue_lists:
        for qid in qids:
            merge_waiting(snapshot, qid, int(next(replies)), next(replies))
    return snapshot
