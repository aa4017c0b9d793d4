"""The Redis prefix ``callpulse recompute`` writes to: checked, claimed with a marker, emptied on request.

A recompute never writes under the live prefix, and never into a prefix that already holds state unless
asked to replace it; even then it only deletes a prefix that an earlier recompute marked as its own, so a
mistyped ``--prefix --replace`` cannot wipe another deployment's live state.
"""

from __future__ import annotations

import re
from typing import TextIO

import orjson
from redis import Redis

from streams.redis_keys import partitions_key

PREFIX_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,128}")


class RecomputeError(RuntimeError):
    """The recompute cannot run as asked; the message says why and what to do."""


def marker_key(prefix: str) -> str:
    """String key that says a recompute wrote this prefix (and from what); outside every hash tag."""
    return f"{prefix}:recompute"


def check_prefix(prefix: str, live_prefix: str) -> None:
    if not PREFIX_PATTERN.fullmatch(prefix):
        raise RecomputeError(f"--prefix {prefix!r}: use 1-128 letters, digits, '_', '.' or '-'")
    if prefix == live_prefix:
        raise RecomputeError(
            f"--prefix {prefix!r} is the live prefix (CALLPULSE_REDIS_PREFIX): a recompute never writes "
            "there; choose another prefix"
        )


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def prefix_keys(client: Redis, prefix: str) -> list[bytes]:
    """Every key of ``prefix``: the keys named ``<prefix>:...`` and those under its hash tags ``{<prefix>:...}``."""
    escaped = _glob_escape(prefix)
    keys: set[bytes] = set()
    for pattern in (f"{escaped}:*", f"{{{escaped}:*"):
        keys.update(client.scan_iter(match=pattern, count=1000))
    return sorted(keys)


def claim_prefix(client: Redis, prefix: str, *, replace: bool, source: str, err: TextIO) -> None:
    """Make sure ``prefix`` is empty (deleting an earlier recompute's keys if ``replace``), then mark it."""
    keys = prefix_keys(client, prefix)
    if [key for key in keys if key != marker_key(prefix).encode()]:  # a marker alone: a run that wrote nothing
        partitions = client.scard(partitions_key(prefix))
        held = f"prefix {prefix!r} already holds state ({len(keys)} keys, {partitions} partitions)"
        if not replace:
            raise RecomputeError(f"{held}; pass --replace to delete it first, or choose another --prefix")
        if not client.exists(marker_key(prefix)):
            raise RecomputeError(
                f"{held} that no recompute wrote (no {marker_key(prefix)} key): it may be a worker's live state, "
                "so --replace leaves it alone; choose another --prefix"
            )
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
        print(f"recompute: deleted {len(keys)} keys of prefix {prefix!r}", file=err)
    client.set(marker_key(prefix), orjson.dumps({"source": source}))
