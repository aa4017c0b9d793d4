"""The batch packer: every event lands once, in order, in its key's partition, within the limits."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.partitioner.default import murmur2

from callpulse.batching import BatchPacker, partition_for
from processors.records import split_record


@pytest.mark.parametrize("key", [b"a", b"b", b"c1", b"agent-7", b"\xff\x00"])
@pytest.mark.parametrize("partitions", [1, 3, 8])
def test_partition_is_kafkas_default_for_keyed_records(key: bytes, partitions: int) -> None:
    assert partition_for(key, partitions) == (murmur2(key) & 0x7FFFFFFF) % partitions


@settings(max_examples=100, deadline=None)
@given(
    keys=st.lists(st.sampled_from([b"c1", b"c2", b"c3", b"c4", b"alice", b"bob"]), max_size=60),
    partitions=st.integers(1, 5),
    max_events=st.integers(1, 7),
    max_bytes=st.integers(10, 200),
)
def test_every_event_once_in_order_in_its_partition(
    keys: list[bytes], partitions: int, max_events: int, max_bytes: int
) -> None:
    packer = BatchPacker(partitions, max_events=max_events, max_bytes=max_bytes)
    sent = [orjson.dumps({"n": n, "k": key.decode()}) for n, key in enumerate(keys)]
    records = [record for key, value in zip(keys, sent, strict=True) for record in packer.add(key, value)]
    records += packer.drain()
    assert packer.pending == 0
    received: dict[int, list[bytes]] = {}
    for record in records:
        elements = split_record(record.value)
        assert isinstance(elements, list)
        assert len(elements) == record.events <= max_events
        for _index, element in elements:
            assert partition_for(orjson.loads(element)["k"].encode(), partitions) == record.partition
            received.setdefault(record.partition, []).append(element)
    for partition, values in received.items():
        expected = [value for key, value in zip(keys, sent, strict=True) if partition_for(key, partitions) == partition]
        assert values == expected
    assert sum(len(values) for values in received.values()) == len(keys)


def test_a_lone_event_is_sent_as_a_plain_record() -> None:
    packer = BatchPacker(4)
    assert packer.add(b"c1", b'{"x":1}') == []
    [record] = packer.drain()
    assert record.value == b'{"x":1}' and record.events == 1


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="partitions"):
        BatchPacker(0)
    with pytest.raises(ValueError, match="max_events"):
        BatchPacker(4, max_events=0)
