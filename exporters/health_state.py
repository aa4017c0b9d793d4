"""Whether the figures in Redis are whole: partitions the worker is rebuilding from Kafka (streams/recovery.py).

The collector asks before and after it reads a snapshot: a rebuild that started or ended while the snapshot
was being read still withholds the KPIs of that scrape.
"""

from __future__ import annotations

from redis import Redis

from streams.redis_keys import rebuilding_key


def rebuilding_partitions(redis: Redis, prefix: str) -> int:
    """How many partitions are replaying Kafka to rebuild lost state (0: the figures are whole)."""
    return int(redis.hlen(rebuilding_key(prefix)))
