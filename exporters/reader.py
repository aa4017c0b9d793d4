"""Read every partition's state from Redis in three round trips and merge it into one snapshot.

Pure merging (``merge_*``) is separate from the Redis calls so it can be tested with plain dicts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any

import orjson
from redis import Redis

from exporters.live_totals import owners_of
from exporters.waiting_sets import WaitingReader, merge_partitions_waiting, waiting_keys
from processors.figures import agent_key, state_figure
from processors.windows import FixedWindow, WindowSpec, calendar_windows, local_day
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
    per_agent: bool = False
    totals: MutableMapping[tuple[str, str], dict[str, int]] = field(
        default_factory=dict
    )  # (qid, window label) -> figure -> value
    waiting: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # qid -> (count, oldest queued ms)
    agents: Counter[tuple[str, str]] = field(default_factory=Counter)  # (qid, state) -> agents
    stats: dict[Stream, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    watermark_ms: dict[Stream, int] = field(default_factory=dict)
    partitions: Counter[str] = field(default_factory=Counter)

    @property
    def queues(self) -> set[str]:
        """Queue ids with any figure (per-agent keys, starting with '@', left out)."""
        known = owners_of(self.totals) | set(self.waiting) | {qid for qid, _ in self.agents}
        return {qid for qid in known if not qid.startswith("@")}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def merge_period(snapshot: Snapshot, labels: list[str], sums: dict[Any, Any], maxima: list[tuple[Any, float]]) -> None:
    """Add one bucket's (or interval's, or day's) sums and maxima into the windows named ``labels``."""
    for label in labels:
        for raw_field, raw_value in sums.items():
            qid, figure = split_figure_field(_text(raw_field))
            _add(snapshot, qid, label, figure, int(raw_value))
        for raw_field, score in maxima:
            qid, figure = split_figure_field(_text(raw_field))
            totals = snapshot.totals.setdefault((qid, label), {})
            totals[figure] = max(totals.get(figure, 0), int(score))


def _add(snapshot: Snapshot, owner: str, label: str, figure: str, value: int) -> None:
    totals = snapshot.totals.setdefault((owner, label), {})
    totals[figure] = totals.get(figure, 0) + value


def merge_live_agents(
    snapshot: Snapshot, live: dict[Any, Any], windows: list[WindowSpec], calendar: tuple[FixedWindow, ...]
) -> None:
    """Count agents by state in every queue they serve, and add the time in their current state so far."""
    spans = [(window.label, window.first_bucket(snapshot.now_ms), snapshot.now_ms) for window in windows]
    spans += [(window.label, window.start_ms, min(window.end_ms, snapshot.now_ms)) for window in calendar]
    for raw_agent, raw in live.items():
        state = orjson.loads(raw)
        for qid in state.get("m") or [state["t"]]:
            snapshot.agents[(qid, state["s"])] += 1
        if state["s"] == "offline":
            continue
        figure = state_figure(state["s"])
        owners = [state["t"]]
        if snapshot.per_agent:
            owners.append(agent_key(state["t"].split("/")[0], _text(raw_agent)))
        for label, start, end in spans:
            spent = end - max(start, int(state["since"]))
            if spent > 0:
                for owner in owners:
                    _add(snapshot, owner, label, figure, spent)


def merge_meta(snapshot: Snapshot, stream: Stream, meta: dict[Any, Any]) -> None:
    for raw_field, raw_value in meta.items():
        name = _text(raw_field)
        if name.startswith(STAT_PREFIX):
            snapshot.stats[stream][name[len(STAT_PREFIX) :]] += int(raw_value)
        elif name == "watermark_ms":
            snapshot.watermark_ms[stream] = max(snapshot.watermark_ms.get(stream, 0), int(raw_value))


def _periods(
    keys: PartitionKeys, now_ms: int, windows: list[WindowSpec], calendar: Calendar
) -> list[tuple[str, str, list[str]]]:
    """(sums key, maxima key, window labels) of every stored period the windows are made of."""
    longest = max(windows, key=lambda window: window.length_ms)
    periods = []
    for bucket in longest.bucket_starts(now_ms):
        labels = [window.label for window in windows if window.contains(bucket, now_ms)]
        periods.append((keys.sums(bucket), keys.maxima(bucket), labels))
    today = local_day(now_ms, calendar.zone)
    periods.append((keys.day_sums(today), keys.day_maxima(today), ["today"]))
    for window in calendar.windows(now_ms):
        if window.label != "today":
            periods.append((keys.interval_sums(window.start_ms), keys.interval_maxima(window.start_ms), [window.label]))
    return periods


@dataclass(frozen=True)
class Calendar:
    """The fixed windows: 'today' in ``zone`` and the aligned report intervals of ``interval_ms``."""

    interval_ms: int = 900_000
    zone: tzinfo = UTC

    def windows(self, now_ms: int) -> tuple[FixedWindow, ...]:
        return calendar_windows(now_ms, interval_ms=self.interval_ms, zone=self.zone)


def read_snapshot(
    redis: Redis,
    *,
    prefix: str,
    now_ms: int,
    windows: list[WindowSpec],
    calendar: Calendar | None = None,
    per_agent: bool = False,
) -> Snapshot:
    """Read all partitions: (1) the partition list, (2) meta, periods and queue lists, (3) waiting sets (one
    script call per partition)."""
    calendar = calendar or Calendar()
    snapshot = Snapshot(now_ms=now_ms, per_agent=per_agent)
    members = sorted(_text(member) for member in redis.smembers(partitions_key(prefix)))
    partitions = [PartitionKeys(prefix, *parse_partition_member(member)) for member in members]
    periods = {keys: _periods(keys, now_ms, windows, calendar) for keys in partitions}
    pipe = redis.pipeline(transaction=False)
    for keys in partitions:
        pipe.hgetall(keys.meta)
        pipe.smembers(keys.queues)
        pipe.hgetall(keys.live)
        for sums_key, maxima_key, _labels in periods[keys]:
            pipe.hgetall(sums_key)
            pipe.zrange(maxima_key, 0, -1, withscores=True)
    replies = iter(pipe.execute())
    queue_lists: list[tuple[PartitionKeys, list[str]]] = []
    calendar_now = calendar.windows(now_ms)
    for keys in partitions:
        snapshot.partitions[keys.stream] += 1
        merge_meta(snapshot, keys.stream, next(replies))
        queue_lists.append((keys, sorted(_text(qid) for qid in next(replies))))
        merge_live_agents(snapshot, next(replies), windows, calendar_now)
        for _sums_key, _maxima_key, labels in periods[keys]:
            merge_period(snapshot, labels, next(replies), next(replies))
    read_waiting(redis, snapshot, queue_lists)
    return snapshot


def read_waiting(redis: Redis, snapshot: Snapshot, queue_lists: list[tuple[PartitionKeys, list[str]]]) -> None:
    """Merge the waiting sets of every listed (partition, queues) into ``snapshot``: one round trip."""
    if not any(qids for _keys, qids in queue_lists):
        return
    reader = WaitingReader(redis)
    pipe = redis.pipeline(transaction=False)
    called = [(qids, reader.queue(pipe, waiting_keys(keys, qids))) for keys, qids in queue_lists]
    replies = iter(pipe.execute() if any(call for _qids, call in called) else [])
    for qids, call in called:
        merge_partitions_waiting(snapshot.waiting, qids, next(replies) if call else [])
