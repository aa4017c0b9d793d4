"""Batch records: a JSON array of events in one Kafka record, applied whole under the record's offset."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from oracle import MINUTE, T0, agent_event, contact_event, encode
from processors.events import AgentEvent, ContactEvent, Rejection, RejectReason
from processors.figures import Figure, KpiPolicy
from processors.partition import AgentPartition, ContactPartition
from processors.records import MAX_BATCH_EVENTS, batch_value, decode_record, is_batch, split_record

POLICY = KpiPolicy()
QUEUED = contact_event("queued", 0)
ANSWERED = contact_event("answered", 20_000, agent="alice")


@pytest.mark.parametrize(
    ("raw", "batch"),
    [
        (b'{"a": 1}', False),
        (b"[]", True),
        (b"  \n[1]", True),
        (b"", False),
        (b'"["', False),
    ],
)
def test_is_batch(raw: bytes, batch: bool) -> None:
    assert is_batch(raw) is batch


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"[1, 2", RejectReason.INVALID_JSON),
        (b"[]", RejectReason.INVALID_VALUE),
        (b"[" + b",".join([b"1"] * (MAX_BATCH_EVENTS + 1)) + b"]", RejectReason.TOO_LARGE),
    ],
)
def test_bad_batch_records_are_rejected_whole(raw: bytes, code: RejectReason) -> None:
    rejection = split_record(raw)
    assert isinstance(rejection, Rejection)
    assert rejection.code is code and rejection.detail


def test_split_keeps_order_and_indexes() -> None:
    raw = batch_value([encode(QUEUED), encode(ANSWERED)])
    elements = split_record(raw)
    assert not isinstance(elements, Rejection)
    assert [(index, orjson.loads(element)) for index, element in elements] == [(0, QUEUED), (1, ANSWERED)]
    assert split_record(encode(QUEUED)) == [(None, encode(QUEUED))]


def test_decode_record_decodes_every_element_as_the_worker_does() -> None:
    decoded = decode_record("contacts", batch_value([encode(QUEUED), b'{"schema_version": 1}']))
    assert isinstance(decoded[0], ContactEvent) and decoded[0].contact_id == "c1"
    assert isinstance(decoded[1], Rejection) and decoded[1].code is RejectReason.MISSING_FIELD
    agents = decode_record("agents", encode(agent_event("available", 0)))
    assert len(agents) == 1 and isinstance(agents[0], AgentEvent)


def totals(partition_changes: list[Any]) -> dict[tuple[int, str, str], int]:
    summed: dict[tuple[int, str, str], int] = {}
    for changes in partition_changes:
        for key, value in changes.sums.items():
            summed[key] = summed.get(key, 0) + value
    return {key: value for key, value in summed.items() if value}


def test_a_bad_element_is_dead_lettered_with_its_index_and_the_rest_applied() -> None:
    bad = {**ANSWERED, "event_time": "yesterday"}
    record = batch_value([encode(QUEUED), encode(bad), encode(contact_event("abandoned", 5_000))])
    changes = ContactPartition(POLICY).apply_batch([(4, b"c1", record)])
    assert [(d.offset, d.index, d.rejection.code, orjson.loads(d.raw)) for d in changes.dead_letters] == [
        (4, 1, RejectReason.INVALID_VALUE, bad)
    ]
    assert changes.stats == {"applied": 2, "dead_letter:invalid_value": 1}
    assert changes.last_offset == 4
    bucket = T0 - T0 % MINUTE
    assert totals([changes])[(bucket, "demo/support/voice", Figure.ABANDONED.value)] == 1


def test_a_batch_record_counts_once_when_replayed() -> None:
    record = (9, b"c1", batch_value([encode(QUEUED), encode(ANSWERED)]))
    partition = ContactPartition(POLICY)
    first = partition.apply_batch([record])
    again = partition.apply_batch([record])
    assert first.stats == {"applied": 2}
    assert again.is_empty and again.sums == {}


def test_batch_and_single_records_give_the_same_figures() -> None:
    events = [
        agent_event("available", 0),
        agent_event("on_contact", 30_000),
        agent_event("wrapup", 200_000),
        agent_event("available", 230_000),
    ]
    singles = AgentPartition(POLICY).apply_batch([(i, b"alice", encode(e)) for i, e in enumerate(events)])
    batched = AgentPartition(POLICY).apply_batch(
        [(0, b"alice", batch_value([encode(e) for e in events[:3]])), (1, b"alice", encode(events[3]))]
    )
    assert totals([batched]) == totals([singles]) != {}
    assert batched.live_upserted == singles.live_upserted


def test_a_deeply_nested_batch_is_refused_before_parsing() -> None:
    hostile = b"[" * 200_000 + b"]" * 200_000  # parsed, this depth could exhaust the parser's stack
    rejection = split_record(hostile)
    assert isinstance(rejection, Rejection) and rejection.code is RejectReason.TOO_DEEP


def test_events_too_far_ahead_of_the_workers_clock_are_dead_lettered() -> None:
    far = {**contact_event("queued", 3_600_000, contact="c9"), "event_id": "far"}
    record = batch_value([encode(QUEUED), encode(far)])
    changes = ContactPartition(POLICY).apply_batch([(0, b"c1", record)], now_ms=T0 + 60_000)
    assert [(d.index, d.rejection.code) for d in changes.dead_letters] == [(1, RejectReason.FUTURE_EVENT)]
    replayed_without_clock = ContactPartition(POLICY).apply_batch([(0, b"c1", record)])
    assert replayed_without_clock.dead_letters == []
