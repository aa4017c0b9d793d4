"""How many contacts wait in each queue of a partition, and since when: one script call per partition.

A partition keeps one sorted set of waiting legs per queue (streams/redis_keys.py ``waiting``). Reading them
with ZCARD + ZRANGE per queue costs two commands per (partition, queue) — 16,000 for 1,000 queues on 8
partitions, most of a scrape's time spent packing and parsing replies. The script below answers for all the
queues of one partition at once, listing only those where somebody waits. Its keys are passed in KEYS and
share the partition's hash tag, so it runs unchanged on Redis Cluster; it only reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from redis import Redis
from redis.client import Pipeline
from redis.commands.core import Script

from streams.redis_keys import WAITING_INDEX_OFFSET, PartitionKeys

# For each non-empty key: its position in KEYS, its size and the score of its first member (the oldest).
WAITING_SCRIPT = """
local out = {}
for index, key in ipairs(KEYS) do
  local count = redis.call('ZCARD', key)
  if count > 0 then
    out[#out + 1] = index - 1
    out[#out + 1] = count
    out[#out + 1] = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]
  end
end
return out
"""


class WaitingReader:
    """Queues the script call of each partition on a pipeline; parses its reply."""

    def __init__(self, redis: Redis) -> None:
        self._script: Script = redis.register_script(WAITING_SCRIPT)

    def queue(self, pipe: Pipeline, waiting_keys: Sequence[str]) -> bool:
        """Add one partition's call to ``pipe``; False (nothing added) when it has no queues."""
        if not waiting_keys:
            return False
        self._script(keys=waiting_keys, args=[], client=pipe)
        return True


class WaitingRead(NamedTuple):
    """The queues whose waiting sets a scrape reads in one partition, and their keys."""

    qids: Sequence[str]
    keys: Sequence[str]


def waiting_read(
    keys: PartitionKeys, meta: Mapping[Any, Any], indexed: set[Any] | None, qids: Sequence[str], every_key: list[str]
) -> WaitingRead:
    """Only the queues in the partition's waiting queues' set (``indexed``) when the set is complete (meta
    ``woffset`` equals ``offset``: the last writer kept it), else every queue of the partition."""
    woffset = meta.get(WAITING_INDEX_OFFSET.encode(), meta.get(WAITING_INDEX_OFFSET))
    if indexed is None or woffset != meta.get(b"offset", meta.get("offset")):
        return WaitingRead(qids, every_key)
    listed = sorted(qid.decode() if isinstance(qid, bytes) else qid for qid in indexed)
    return WaitingRead(listed, waiting_keys(keys, listed))


def waiting_keys(keys: PartitionKeys, qids: Sequence[str]) -> list[str]:
    """The queues' waiting sets in the partition: only contacts partitions have any."""
    return [keys.waiting(qid) for qid in qids] if keys.stream == "contacts" else []


def parse_waiting(reply: Sequence[Any]) -> list[tuple[int, int, int]]:
    """(position of the key, waiting count, oldest queued ms) of every key with contacts waiting."""
    return [
        (int(reply[index]), int(reply[index + 1]), int(float(reply[index + 2]))) for index in range(0, len(reply), 3)
    ]


def merge_partitions_waiting(
    waiting: dict[str, tuple[int, int | None]],
    qids: Sequence[str],
    reply: Sequence[Any],
    asked: Sequence[str] | None = None,
) -> None:
    """Add one partition's reply into ``waiting`` (qid -> count, oldest ms); every qid of the partition
    (``qids``) gets an entry, (0, None) when nothing waits in any partition. The reply's positions are those
    of the queues the script was asked about (``asked``, by default ``qids``)."""
    for qid in qids:
        if qid not in waiting:
            waiting[qid] = (0, None)
    asked = qids if asked is None else asked
    for position, count, oldest_ms in parse_waiting(reply):
        qid = asked[position]
        known_count, known_oldest = waiting[qid]
        waiting[qid] = (known_count + count, oldest_ms if known_oldest is None else min(known_oldest, oldest_ms))
