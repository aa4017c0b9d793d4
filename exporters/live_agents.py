"""The live agents of every partition, kept between scrapes and updated by what changed.

The worker records, per agents partition, a live sequence ``lseq`` in meta and the sequence that last set or
deleted each agent's live state in ``livechanges`` (streams/batch_script.py). A scrape then reads only the
agents changed since the cached sequence instead of the whole ``live`` hash, and keeps what a scrape needs
of all agents up to date by difference: agents per (queue, state), and per agent a slot in numpy columns of
(time group, since) that ``time_so_far`` sums with one ``bincount`` per window.

A partition is read in full (``HGETALL``) when it is new, when its ``lseq`` is missing (a worker from before
the index) or went backwards (Redis flushed), or when its index was trimmed past the cached sequence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from redis.client import Pipeline

from exporters.change_index import changed_since, meta_seq, since
from exporters.live_totals import GROUPS_KEPT, LiveAgent, LiveAgentParser, LiveTime, Span
from streams.redis_keys import PartitionKeys

GROUPS_PER_AGENT = 2  # its team queue, and itself with per-agent figures


@dataclass
class _Partition:
    lseq: int | None  # None: read in full at every scrape (no index)
    agents: dict[bytes | str, tuple[bytes | str, int]] = field(default_factory=dict)  # agent -> (raw, slot)


class LiveRead(NamedTuple):
    """What a scrape reads of one agents partition's live states: ``agents`` None means the whole hash."""

    keys: PartitionKeys
    lseq: int | None
    agents: list[Any] | None


class LiveAgents:
    """One per reader. Per scrape: ``ask_changes`` (first round trip), ``plan`` from its replies,
    ``ask_states`` (second round trip), ``take_states``; then ``counts`` and ``time_so_far``."""

    def __init__(self, *, per_agent: bool, changes_kept: int) -> None:
        self.changes_kept = changes_kept
        self.parser = LiveAgentParser(per_agent=per_agent)
        self._partitions: dict[PartitionKeys, _Partition] = {}
        self._counted: Counter[tuple[str, str]] = Counter()  # (queue, state) -> agents
        self._parsed: list[LiveAgent | None] = []  # slot -> the agent in it
        self._free: list[int] = []
        self._groups: npt.NDArray[np.intp] = np.full((0, GROUPS_PER_AGENT), -1, dtype=np.intp)
        self._since: npt.NDArray[np.int64] = np.zeros((0, GROUPS_PER_AGENT), dtype=np.int64)

    def ask_changes(self, pipe: Pipeline, keys: PartitionKeys) -> None:
        """Queue the reads of the partition's change index: since the cached sequence, lowest entry, size."""
        cached = self._partitions.get(keys)
        after = since(None if cached is None else cached.lseq)
        pipe.zrange(keys.live_changes, after, "+inf", byscore=True, withscores=True)
        pipe.zrange(keys.live_changes, 0, 0, withscores=True)
        pipe.zcard(keys.live_changes)

    def plan(self, keys: PartitionKeys, meta: Mapping[Any, Any], replies: Iterator[Any]) -> LiveRead:
        """What to read of the partition, from its meta and the three replies ``ask_changes`` queued."""
        changed, lowest, size = next(replies), next(replies), next(replies)
        cached = self._partitions.get(keys)
        lseq, agents = changed_since(
            None if cached is None else cached.lseq, meta_seq(meta, "lseq"), changed, lowest, size >= self.changes_kept
        )
        return LiveRead(keys, lseq, agents)

    @staticmethod
    def ask_states(pipe: Pipeline, reads: Sequence[LiveRead]) -> None:
        for read in reads:
            if read.agents is None:
                pipe.hgetall(read.keys.live)
            elif read.agents:
                pipe.hmget(read.keys.live, read.agents)

    def take_states(self, reads: Sequence[LiveRead], replies: Iterator[Any]) -> None:
        """Apply the replies ``ask_states`` queued; partitions not in ``reads`` are gone."""
        for keys, lseq, agents in reads:
            if agents is None:
                self._replace(keys, lseq, next(replies))
            else:
                self._update(keys, lseq, agents, next(replies) if agents else [])
        self._keep_only({read.keys for read in reads})

    def _replace(self, keys: PartitionKeys, lseq: int | None, live: Mapping[Any, Any]) -> None:
        """The partition's agents are exactly ``live`` (agent -> raw state)."""
        cached = self._partitions.setdefault(keys, _Partition(lseq))
        cached.lseq = lseq
        for agent in [agent for agent in cached.agents if agent not in live]:
            self._remove(cached, agent)
        for agent, raw in live.items():
            self._set(cached, agent, raw)

    def _update(self, keys: PartitionKeys, lseq: int | None, agents: Sequence[Any], raws: Sequence[Any]) -> None:
        """Set each of ``agents`` to its raw state (None: it has none any more)."""
        cached = self._partitions[keys]
        cached.lseq = lseq
        for agent, raw in zip(agents, raws, strict=True):
            if raw is None:
                self._remove(cached, agent)
            else:
                self._set(cached, agent, raw)

    def _keep_only(self, listed: set[PartitionKeys]) -> None:
        """Forget the partitions not listed (gone from Redis), and renumber the time groups if too many."""
        for keys in [keys for keys in self._partitions if keys not in listed]:
            gone = self._partitions.pop(keys)
            for agent in list(gone.agents):
                self._remove(gone, agent)
        if len(self.parser.groups) > GROUPS_KEPT:
            self._renumber()

    def counts(self) -> Counter[tuple[str, str]]:
        """(queue, state) -> agents, every state including offline."""
        return Counter(self._counted)

    def time_so_far(self, window_spans: Sequence[Span]) -> LiveTime:
        """Per (owner, state) and window, every non-offline agent's time in its state within the window."""
        labels = tuple(label for label, _start, _end in window_spans)
        groups, since = self._groups.ravel(), self._since.ravel()
        present_slots = groups >= 0
        ids, since_ms = groups[present_slots], since[present_slots]
        if not len(ids):
            return LiveTime(labels, [], np.zeros((0, len(window_spans)), dtype=np.int64))
        present, index = np.unique(ids, return_inverse=True)
        spent = np.zeros((len(present), len(window_spans)), dtype=np.int64)
        for column, (_label, start, end) in enumerate(window_spans):
            each = np.maximum(end - np.maximum(start, since_ms), 0)
            spent[:, column] = np.bincount(index, weights=each, minlength=len(present))  # ints < 2**53: exact
        return LiveTime(labels, [self.parser.groups[group] for group in present.tolist()], spent)

    def _set(self, cached: _Partition, agent: bytes | str, raw: bytes | str) -> None:
        known = cached.agents.get(agent)
        if known is not None and known[0] == raw:
            return
        if known is not None:
            self._forget(known[1])
            slot = known[1]
        else:
            slot = self._free.pop() if self._free else self._grow()
        cached.agents[agent] = (raw, slot)
        self._fill(slot, self.parser.parse(agent, raw))

    def _remove(self, cached: _Partition, agent: bytes | str) -> None:
        known = cached.agents.pop(agent, None)
        if known is not None:
            self._forget(known[1])
            self._free.append(known[1])

    def _fill(self, slot: int, parsed: LiveAgent) -> None:
        self._parsed[slot] = parsed
        self._counted.update(parsed.counted)
        count = len(parsed.groups)
        self._groups[slot, :count] = parsed.groups
        self._since[slot, :count] = parsed.since_each

    def _forget(self, slot: int) -> None:
        parsed = self._parsed[slot]
        assert parsed is not None
        self._parsed[slot] = None
        self._counted.subtract(parsed.counted)
        for counted in parsed.counted:
            if self._counted[counted] <= 0:
                del self._counted[counted]
        self._groups[slot] = -1

    def _grow(self) -> int:
        slot = len(self._parsed)
        if slot == len(self._groups):
            more = max(1024, slot)
            self._groups = np.concatenate([self._groups, np.full((more, GROUPS_PER_AGENT), -1, dtype=np.intp)])
            self._since = np.concatenate([self._since, np.zeros((more, GROUPS_PER_AGENT), dtype=np.int64)])
        self._parsed.append(None)
        return slot

    def _renumber(self) -> None:
        """Parse every agent again with a fresh numbering of time groups (those of agents gone are dropped)."""
        self.parser.forget_groups()
        for cached in self._partitions.values():
            for agent, (raw, slot) in cached.agents.items():
                self._forget(slot)
                self._fill(slot, self.parser.parse(agent, raw))
