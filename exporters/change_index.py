"""Reading a partition's change index (streams/batch_script.py): a sorted set of names scored by the write
sequence that last changed them, that sequence in meta, and only the newest entries kept.

Shared by the periods' index (``seq``, ``changes``) and the live agents' (``lseq``, ``livechanges``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def since(cached_seq: int | None) -> str:
    """The lowest score to read (exclusive), or "+inf" (nothing) when nothing is cached."""
    return "+inf" if cached_seq is None else f"({cached_seq}"


def meta_seq(meta: Mapping[Any, Any], name: str) -> int | None:
    raw = meta.get(name.encode(), meta.get(name))
    return None if raw is None else int(raw)


def changed_since(
    cached_seq: int | None,
    seq: int | None,
    changed: Sequence[tuple[Any, float]],
    lowest: Sequence[tuple[Any, float]],
    full_index: bool,
) -> tuple[int | None, list[Any] | None]:
    """(the sequence read up to, the names changed since ``cached_seq``), or (``seq``, None) when everything
    must be read: nothing cached, no sequence (a writer without the index), a sequence gone backwards (Redis
    flushed), or an index trimmed past ``cached_seq`` (``full_index`` and its lowest entry is newer)."""
    if cached_seq is None or seq is None or seq < cached_seq:
        return seq, None
    if full_index and lowest and lowest[0][1] > cached_seq:  # entries past it may be gone
        return seq, None
    return max([seq, *(int(score) for _name, score in changed)]), [name for name, _score in changed]
