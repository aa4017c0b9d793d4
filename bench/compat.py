"""The worker's record decoder and our producers' batch packer, whichever this checkout has.

``processors.records.decode_record`` (a record value is one event or a JSON array of events) and
``callpulse.batching.BatchPacker`` are used when present; otherwise single-event records decoded with
``processors.events``. Switching to direct imports once they are on every branch is a one-line change here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from processors.events import AgentEvent, ContactEvent, Rejection, decode_agent_event, decode_contact_event

Decoded = ContactEvent | AgentEvent | Rejection
Decoder = Callable[[str, bytes], list[Decoded]]


ROOT = Path(__file__).resolve().parents[1]


def _optional(name: str) -> Any:
    """The module if this checkout has it. The editable install's finder would otherwise fall back to
    another checkout's file for a module missing here, so a module from outside ``ROOT`` counts as absent."""
    try:
        module = importlib.import_module(name)
    except ImportError:
        return None
    return module if Path(module.__file__ or "/").resolve().is_relative_to(ROOT) else None


_RECORDS = _optional("processors.records")
_BATCHING = _optional("callpulse.batching")


def _decode_single(stream: str, raw: bytes) -> list[Decoded]:
    return [decode_contact_event(raw) if stream == "contacts" else decode_agent_event(raw)]


def record_decoder() -> Decoder:
    """The worker's decoder of one record into its events (contacts or agents stream)."""
    if _RECORDS is not None:
        decode: Decoder = _RECORDS.decode_record
        return decode
    return _decode_single


def decoder_name() -> str:
    return "processors.records.decode_record" if _RECORDS is not None else "processors.events.decode_*_event"


class OutRecord(NamedTuple):
    """A record to send: ``partition`` None lets the producer hash ``key``."""

    partition: int | None
    key: bytes
    value: bytes
    events: int


class Packer:
    """Groups encoded events into batch records per partition when ``callpulse.batching`` exists."""

    def __init__(self, partitions: int, *, max_events: int = 500) -> None:
        self._packer = None if _BATCHING is None else _BATCHING.BatchPacker(partitions, max_events=max_events)

    @property
    def batching(self) -> bool:
        return self._packer is not None

    def add(self, key: bytes, value: bytes) -> list[OutRecord]:
        if self._packer is None:
            return [OutRecord(None, key, value, 1)]
        return [OutRecord(r.partition, r.key, r.value, r.events) for r in self._packer.add(key, value)]

    def drain(self) -> list[OutRecord]:
        if self._packer is None:
            return []
        return [OutRecord(r.partition, r.key, r.value, r.events) for r in self._packer.drain()]


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` (murmur2), as the producer would."""
    from aiokafka.partitioner import DefaultPartitioner

    every = list(range(partitions))
    return int(DefaultPartitioner()(key, every, every))
