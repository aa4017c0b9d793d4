"""An incremental ``read_snapshot``: keeps the periods the windows need and their window totals between
scrapes, and re-reads only the periods the worker changed since (streams/batch_script.py keeps, per
partition, a write sequence ``seq`` in meta and the sequence that last changed each period in ``changes``).

A scrape makes three round trips whatever the history: (1) the partition list, (2) per partition meta, the
changes since the cached ``seq``, queue list and the agents whose live state changed (exporters/live_agents.py),
(3) the periods that changed or entered a window, those agents' live states, and the waiting sets (one script
call per partition, exporters/waiting_sets.py). Window totals are
kept up to date by difference: a period entering a window adds its fields, one leaving subtracts them, one
re-read adds new - old. A maximum only grows while its period is in a window; it is recomputed from the
cached periods only when the period holding it leaves.
The result equals ``read_snapshot`` exactly (tests/integration/test_incremental_reader.py), including which
(queue, window) rows and figures exist.

A partition is read in full again when it is new, when its ``seq`` went backwards or its meta vanished
(Redis flushed or restarted), when the change index was trimmed past the cached ``seq``, or when its meta
has no ``seq`` (a worker from before the change index). A flush is noticed by the first scrape after it
(the partition or its meta is gone, or its ``seq`` is lower); only a worker writing more batches after the
flush than it had written before it, between two scrapes, could hide one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redis import Redis
from redis.client import Pipeline

from exporters.change_index import changed_since, meta_seq, since
from exporters.live_agents import LiveAgents, LiveRead
from exporters.live_totals import LiveTotals, spans
from exporters.reader import Calendar, Snapshot, merge_meta
from exporters.waiting_sets import WaitingRead, WaitingReader, merge_partitions_waiting, waiting_keys, waiting_read
from exporters.window_totals import Contents, WindowTotals
from processors.windows import WindowSpec, local_day
from streams.batch_script import CHANGED_KEPT
from streams.redis_keys import PartitionKeys, parse_partition_member, partitions_key


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass
class _Partition:
    seq: int | None = None  # None: read every needed period at every scrape
    periods: dict[str, Contents] = field(default_factory=dict)  # period name -> field -> value


def window_periods(
    keys: PartitionKeys, now_ms: int, windows: list[WindowSpec], calendar: Calendar
) -> dict[str, frozenset[str]]:
    """Window label -> the period names (sums and maxima) it sums at ``now_ms``, as ``read_snapshot`` reads."""
    longest = max(windows, key=lambda window: window.length_ms)
    out: dict[str, set[str]] = {window.label: set() for window in windows}
    for bucket in longest.bucket_starts(now_ms):
        names = {keys.period_name(keys.sums(bucket)), keys.period_name(keys.maxima(bucket))}
        for window in windows:
            if window.contains(bucket, now_ms):
                out[window.label] |= names
    today = local_day(now_ms, calendar.zone)
    out["today"] = {keys.period_name(keys.day_sums(today)), keys.period_name(keys.day_maxima(today))}
    for fixed in calendar.windows(now_ms):
        if fixed.label != "today":
            sums, maxima = keys.interval_sums(fixed.start_ms), keys.interval_maxima(fixed.start_ms)
            out[fixed.label] = {keys.period_name(sums), keys.period_name(maxima)}
    return {label: frozenset(names) for label, names in out.items()}


def is_maxima(name: str) -> bool:
    return name.split(":", 1)[0] in {"max", "imax", "dmax"}


class IncrementalReader:
    """One per collector; ``read`` is not thread-safe (the collector serialises scrapes)."""

    def __init__(
        self,
        *,
        prefix: str,
        windows: list[WindowSpec],
        calendar: Calendar | None = None,
        per_agent: bool = False,
        changes_kept: int = CHANGED_KEPT,
    ) -> None:
        self.prefix = prefix
        self.changes_kept = changes_kept
        self.windows = windows
        self.calendar = calendar or Calendar()
        self.per_agent = per_agent
        self._partitions: dict[PartitionKeys, _Partition] = {}
        self._membership: dict[str, frozenset[str]] = {}
        self._totals = WindowTotals(is_maxima)
        self._waiting: WaitingReader | None = None
        self._live = LiveAgents(per_agent=per_agent, changes_kept=changes_kept)
        self._queues: dict[PartitionKeys, tuple[frozenset[Any], list[str], list[str]]] = {}

    def read(self, redis: Redis, now_ms: int) -> Snapshot:
        if self._waiting is None:
            self._waiting = WaitingReader(redis)
        members = sorted(_text(member) for member in redis.smembers(partitions_key(self.prefix)))
        partitions = [PartitionKeys(self.prefix, *parse_partition_member(member)) for member in members]
        pipe = redis.pipeline(transaction=False)
        for keys in partitions:
            self._ask(pipe, keys)
        replies = iter(pipe.execute())
        membership = window_periods(PartitionKeys(self.prefix, "contacts", 0), now_ms, self.windows, self.calendar)
        needed = frozenset().union(*membership.values())
        snapshot = Snapshot(now_ms=now_ms, per_agent=self.per_agent)
        reads: list[tuple[PartitionKeys, str]] = []
        queue_lists: list[tuple[list[str], WaitingRead]] = []  # (queues, what to read of their waiting) per partition
        lives: list[LiveRead] = []
        fresh: dict[PartitionKeys, _Partition] = {}
        for keys in partitions:
            meta, changed, lowest, size, queues = (next(replies) for _ in range(5))
            waiting_now = next(replies) if keys.stream == "contacts" else None
            if keys.stream == "agents":
                lives.append(self._live.plan(keys, meta, replies))
            snapshot.partitions[keys.stream] += 1
            merge_meta(snapshot, keys.stream, meta)
            qids, every_key = self._queue_list(keys, queues)
            queue_lists.append((qids, waiting_read(keys, meta, waiting_now, qids, every_key)))
            fresh[keys], stale = self._plan(
                self._partitions.get(keys), meta, changed, lowest, size >= self.changes_kept
            )
            reads += [(keys, name) for name in sorted(needed) if name in stale or name not in fresh[keys].periods]
        pipe = redis.pipeline(transaction=False)
        for keys, name in reads:
            if is_maxima(name):
                pipe.zrange(keys.period_key(name), 0, -1, withscores=True)
            else:
                pipe.hgetall(keys.period_key(name))
        self._live.ask_states(pipe, lives)
        waiting = [(qids, read, self._waiting.queue(pipe, read.keys)) for qids, read in queue_lists]
        replies = iter(pipe.execute())
        for keys, name in reads:
            fresh[keys].periods[name] = _contents(name, next(replies))
        self._live.take_states(lives, replies)
        for qids, read, called in waiting:
            merge_partitions_waiting(snapshot.waiting, qids, next(replies) if called else [], read.qids)
        for cached in fresh.values():
            for name in [name for name in cached.periods if name not in needed]:
                del cached.periods[name]
        self._totals.update(
            old={keys: cached.periods for keys, cached in self._partitions.items()},
            new={keys: cached.periods for keys, cached in fresh.items()},
            old_membership=self._membership,
            new_membership=membership,
        )
        self._partitions, self._membership = fresh, membership
        snapshot.agents = self._live.counts()
        time_so_far = self._live.time_so_far(spans(now_ms, self.windows, self.calendar.windows(now_ms)))
        stored, versions, owners = self._totals.shared_rows()
        snapshot.totals = LiveTotals(stored, time_so_far, versions, stored_owners=owners)
        return snapshot

    def _ask(self, pipe: Pipeline, keys: PartitionKeys) -> None:
        """Queue the partition's first-round reads: meta, change index, queues, waiting queues, live changes."""
        cached = self._partitions.get(keys)
        pipe.hgetall(keys.meta)
        pipe.zrange(keys.changes, since(None if cached is None else cached.seq), "+inf", byscore=True, withscores=True)
        pipe.zrange(keys.changes, 0, 0, withscores=True)
        pipe.zcard(keys.changes)
        pipe.smembers(keys.queues)
        if keys.stream == "contacts":
            pipe.smembers(keys.waiting_queues)
        if keys.stream == "agents":
            self._live.ask_changes(pipe, keys)

    def _queue_list(self, keys: PartitionKeys, raw: set[Any]) -> tuple[list[str], list[str]]:
        """The partition's queues, sorted, and their waiting keys (kept while the set does not change)."""
        members = frozenset(raw)
        known = self._queues.get(keys)
        if known is None or known[0] != members:
            qids = sorted(_text(qid) for qid in members)
            known = self._queues[keys] = (members, qids, waiting_keys(keys, qids))
        return known[1], known[2]

    @staticmethod
    def _plan(
        cached: _Partition | None,
        meta: dict[Any, Any],
        changed: list[tuple[Any, float]],
        lowest: list[tuple[Any, float]],
        full_index: bool,
    ) -> tuple[_Partition, set[str]]:
        """The partition's cache for this scrape (its periods still to be completed) and the names to re-read."""
        newest, names = changed_since(
            None if cached is None else cached.seq, meta_seq(meta, "seq"), changed, lowest, full_index
        )
        if cached is None or names is None:
            return _Partition(newest), set()
        return _Partition(newest, dict(cached.periods)), {_text(name) for name in names}


def _contents(name: str, reply: Any) -> Contents:
    if is_maxima(name):
        return {_text(member): int(score) for member, score in reply}
    return {_text(raw_field): int(raw_value) for raw_field, raw_value in reply.items()}
