"""Every figure a prefix holds in Redis, summed over partitions: to prove two runs computed the same state.

Sums (minute buckets, report intervals, days) are added up per (kind, period, ``qid|figure``) over all
partitions, maxima kept per the same key, waiting sets and in-progress records counted. Counters and
offsets are left out: offsets differ with batching, counters are compared on their own.
"""

from __future__ import annotations

import hashlib
from collections import Counter

import orjson
import redis

SUM_KINDS = ("sum", "isum", "dsum")
MAX_KINDS = ("max", "imax", "dmax")


def _split(key: str) -> tuple[str, str]:
    """``{prefix:stream:partition}:kind:rest`` -> (kind, rest)."""
    _tag, _, tail = key.partition("}:")
    kind, _, rest = tail.partition(":")
    return kind, rest


def figures(client: redis.Redis, prefix: str) -> dict[str, int]:
    """The merged state of ``prefix`` as {``kind/period/name``: value}."""
    merged: Counter[str] = Counter()
    keys = sorted(key.decode() for key in client.scan_iter(match=f"{{{prefix}:*", count=1000))
    pipe = client.pipeline(transaction=False)
    wanted = []
    for key in keys:
        kind, rest = _split(key)
        if kind in SUM_KINDS or kind in {"records", "live"}:
            pipe.hgetall(key)
        elif kind in MAX_KINDS:
            pipe.zrange(key, 0, -1, withscores=True)
        elif kind == "wait":
            pipe.zcard(key)
        else:
            continue
        wanted.append((kind, rest))
    for (kind, rest), reply in zip(wanted, pipe.execute(), strict=True):
        _merge(merged, kind, rest, reply)
    return dict(merged)


def _merge(merged: Counter[str], kind: str, rest: str, reply: object) -> None:
    if kind in SUM_KINDS:
        assert isinstance(reply, dict)
        for name, value in reply.items():
            merged[f"{kind}/{rest}/{name.decode()}"] += int(value)
    elif kind in MAX_KINDS:
        assert isinstance(reply, list)
        for name, score in reply:
            key = f"{kind}/{rest}/{name.decode()}"
            merged[key] = max(merged.get(key, 0), int(score))
    elif kind == "wait":
        merged[f"wait/{rest}"] += int(str(reply))
    else:
        assert isinstance(reply, dict)
        merged[f"{kind}/count"] += len(reply)


def digest(state: dict[str, int]) -> str:
    return hashlib.sha256(orjson.dumps(state, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def differences(left: dict[str, int], right: dict[str, int], limit: int = 5) -> list[str]:
    """A few of the figures that differ, for the report."""
    names = sorted(name for name in left.keys() | right.keys() if left.get(name) != right.get(name))
    return [f"{name}: {left.get(name)} != {right.get(name)}" for name in names[:limit]]
