"""How many contacts wait in each queue of a partition, and since when: one script call per partition.

A partition keeps one sorted set of waiting legs per queue (streams/redis_keys.py ``waiting``). Reading them
with ZCARD + ZRANGE per queue costs two commands per (partition, queue) — 16,000 for 1,000 queues on 8
partitions, most of a scrape's time spent packing and parsing replies. The script below answers for all the
queues of one partition at once. Its keys are passed in KEYS and share the partition's hash tag, so it runs
unchanged on Redis Cluster; it only reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis import Redis
from redis.client import Pipeline
from redis.commands.core import Script

from streams.redis_keys import PartitionKeys

# Per key: its size, then the score of its first member ("" when empty): a flat array of 2 x len(KEYS).
WAITING_SCRIPT = """
local out = {}
for index, key in ipairs(KEYS) do
  local count = redis.call('ZCARD', key)
  local oldest = ''
  if count > 0 then
    oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]
  end
  out[2 * index - 1] = count
  out[2 * index] = oldest
end
return out
"""


class WaitingReader:
    """Queues the script call of each partition on a pipeline; parses its reply."""

    def __init__(self, redis: Redis) -> None:
        self._script: Script = redis.register_script(WAITING_SCRIPT)

    def queue(self, pipe: Pipeline, keys: PartitionKeys, qids: Sequence[str]) -> bool:
        """Add the partition's call to ``pipe``; False (nothing added) when it has no queues."""
        if not qids:
            return False
        self._script(keys=[keys.waiting(qid) for qid in qids], args=[], client=pipe)
        return True


def parse_waiting(reply: Sequence[Any]) -> list[tuple[int, int | None]]:
    """(waiting count, oldest queued ms or None) per key, in the order the keys were given."""
    out = []
    for index in range(0, len(reply), 2):
        oldest = reply[index + 1]
        out.append((int(reply[index]), int(float(oldest)) if oldest not in (b"", "") else None))
    return out
