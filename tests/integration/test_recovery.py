"""Recovery's bookkeeping (streams/recovery.py) on a real Redis: which records a batch may apply after Redis
lost a partition's state, where the consumer is sent, and when the partition is listed as rebuilding.

The Kafka consumer is a recording stand-in for its three calls; the whole path against Kafka and a Redis
that really restarts is tests/faults/test_redis_loss.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import pytest
from redis.asyncio import Redis

from callpulse.embedded import ManagedServer
from processors.partition import Record
from streams.applier import group_by_partition
from streams.recovery import RESEEK_AFTER_SECONDS, PartitionId, Recovery
from streams.redis_keys import PartitionKeys, Stream, rebuilding_key

pytestmark = pytest.mark.integration


@dataclass
class RecordingConsumer:
    """The consumer as recovery sees it: seeks are recorded, assignment and committed offsets are set."""

    seeks: list[tuple[Stream, int, int]] = field(default_factory=list)
    assignment: list[PartitionId] = field(default_factory=list)
    committed_offsets: dict[PartitionId, int] = field(default_factory=dict)

    async def seek(self, stream: Stream, partition: int, offset: int) -> None:
        self.seeks.append((stream, partition, offset))

    def assigned(self) -> list[PartitionId]:
        return list(self.assignment)

    def committed(self, stream: Stream, partition: int) -> int | None:
        return self.committed_offsets.get((stream, partition))


@dataclass
class Clock:
    now: float = 1_000.0

    def __call__(self) -> float:
        return self.now


def records(*offsets: int) -> list[Record]:
    return [(offset, None, b"{}") for offset in offsets]


def offsets(batch: list[Record] | None) -> list[int] | None:
    return None if batch is None else [offset for offset, _key, _value in batch]


@pytest.fixture
def run(redis_server: ManagedServer, unique_name: str) -> Iterator[Callable[..., None]]:
    """Run ``scenario(recovery, consumer, redis, clock)`` against the session's Redis under a fresh prefix."""

    def runner(scenario: Callable[[Recovery, RecordingConsumer, Redis, Clock], Awaitable[None]]) -> None:
        async def main() -> None:
            redis = Redis.from_url(redis_server.url, decode_responses=True)
            consumer, clock = RecordingConsumer(), Clock()
            try:
                recovery = Recovery(redis, prefix=unique_name, consumer=consumer, clock=clock)
                await scenario(recovery, consumer, redis, clock)
            finally:
                await redis.aclose()

        asyncio.run(main())

    yield runner


async def store_offset(redis: Redis, recovery: Recovery, stream: Stream, partition: int, offset: int) -> None:
    """What a written batch leaves in Redis: the partition's meta with its offset."""
    await redis.hset(PartitionKeys(recovery.prefix, stream, partition).meta, "offset", offset)


async def rebuilding(redis: Redis, recovery: Recovery) -> dict[str, str]:
    return dict(await redis.hgetall(rebuilding_key(recovery.prefix)))


def test_a_batch_that_follows_the_state_is_applied_as_it_came(run: Callable[..., None]) -> None:
    async def scenario(recovery: Recovery, consumer: RecordingConsumer, redis: Redis, _clock: Clock) -> None:
        assert offsets(await recovery.admit("contacts", 0, -1, records(0, 1, 2))) == [0, 1, 2]
        assert offsets(await recovery.admit("contacts", 0, 2, records(3, 4))) == [3, 4]
        assert offsets(await recovery.admit("contacts", 0, 4, records(2, 3, 4, 5))) == [2, 3, 4, 5]  # redelivered
        assert consumer.seeks == [] and await rebuilding(redis, recovery) == {}

    run(scenario)


def test_a_batch_past_the_state_rewinds_and_the_replay_after_records_in_flight_is_applied(
    run: Callable[..., None],
) -> None:
    async def scenario(recovery: Recovery, consumer: RecordingConsumer, redis: Redis, _clock: Clock) -> None:
        # Redis came back empty (state at -1) while Kafka delivers from 720: nothing applied, seek to 0
        assert offsets(await recovery.admit("agents", 2, -1, records(720, 721, 734))) == []
        assert consumer.seeks == [("agents", 2, 0)]
        assert await rebuilding(redis, recovery) == {"agents:2": "734"}

        # fetched before the seek, still delivered: dropped
        assert offsets(await recovery.admit("agents", 2, -1, records(735, 736))) == []
        # in one batch, records in flight first and then the replay: only the replay is applied. (Sorted
        # by offset, 0, 1 and 737 would be applied together and 2..736 skipped later as already applied.)
        assert offsets(await recovery.admit("agents", 2, -1, records(737, 0, 1))) == [0, 1]
        await recovery.applied("agents", 2, 1)
        assert await rebuilding(redis, recovery) == {"agents:2": "734"}

        assert offsets(await recovery.admit("agents", 2, 1, records(*range(2, 740)))) == list(range(2, 740))
        await recovery.applied("agents", 2, 739)
        assert await rebuilding(redis, recovery) == {}  # past the target: whole again
        assert consumer.seeks == [("agents", 2, 0)]

    run(scenario)


def test_the_batches_of_a_partition_keep_their_delivery_order() -> None:
    @dataclass
    class Message:
        partition: int
        offset: int
        key: bytes | None = None
        value: bytes = b"{}"

    @dataclass
    class Event:
        message: Message

    delivered = [Event(Message(2, 737)), Event(Message(1, 5)), Event(Message(2, 0)), Event(Message(2, 1))]
    batches = group_by_partition(delivered)
    assert {partition: offsets(batch) for partition, batch in batches.items()} == {2: [737, 0, 1], 1: [5]}


def test_the_first_partition_found_lost_marks_the_others_this_worker_held(run: Callable[..., None]) -> None:
    async def scenario(recovery: Recovery, consumer: RecordingConsumer, redis: Redis, _clock: Clock) -> None:
        for stream, partition, last in (("contacts", 0, 9), ("contacts", 1, 19), ("agents", 0, 29)):
            assert offsets(await recovery.admit(stream, partition, -1, records(*range(last + 1))))
            await store_offset(redis, recovery, stream, partition, last)
            await recovery.applied(stream, partition, last)

        # Redis lost agents:0 and contacts:0 (contacts:1 is still there): contacts:0's next batch finds it
        await redis.delete(PartitionKeys(recovery.prefix, "agents", 0).meta)
        await redis.delete(PartitionKeys(recovery.prefix, "contacts", 0).meta)
        assert offsets(await recovery.admit("contacts", 0, -1, records(10, 11))) == []

        assert await rebuilding(redis, recovery) == {"contacts:0": "11", "agents:0": "29"}
        assert sorted(consumer.seeks) == [("agents", 0, 0), ("contacts", 0, 0)]
        # agents:0's state in memory is stale: the applier must reload it before its next batch
        assert await recovery.admit("agents", 0, 29, records(30)) is None
        assert offsets(await recovery.admit("agents", 0, -1, records(30, 31))) == []  # in flight
        assert offsets(await recovery.admit("agents", 0, -1, records(0, 1))) == [0, 1]  # the replay

    run(scenario)


def test_the_periodic_check_finds_a_lost_partition_without_traffic(run: Callable[..., None]) -> None:
    async def scenario(recovery: Recovery, consumer: RecordingConsumer, redis: Redis, _clock: Clock) -> None:
        assert offsets(await recovery.admit("contacts", 3, -1, records(0, 1, 2)))
        await store_offset(redis, recovery, "contacts", 3, 2)
        await recovery.applied("contacts", 3, 2)
        await recovery.check()
        assert consumer.seeks == [] and await rebuilding(redis, recovery) == {}

        await redis.delete(PartitionKeys(recovery.prefix, "contacts", 3).meta)
        await recovery.check()
        assert consumer.seeks == [("contacts", 3, 0)]
        assert await rebuilding(redis, recovery) == {"contacts:3": "2"}

    run(scenario)


def test_a_replay_that_does_not_come_is_sought_again(run: Callable[..., None]) -> None:
    async def scenario(recovery: Recovery, consumer: RecordingConsumer, redis: Redis, clock: Clock) -> None:
        await store_offset(redis, recovery, "contacts", 0, 40)
        assert offsets(await recovery.admit("contacts", 0, 40, records(50, 51))) == []  # 41..49 missing
        assert consumer.seeks == [("contacts", 0, 41)]

        clock.now += RESEEK_AFTER_SECONDS - 0.5
        await recovery.check()
        assert consumer.seeks == [("contacts", 0, 41)]
        clock.now += 1.0
        await recovery.check()
        assert consumer.seeks == [("contacts", 0, 41), ("contacts", 0, 41)]

        assert offsets(await recovery.admit("contacts", 0, 40, records(41, 42))) == [41, 42]
        clock.now += RESEEK_AFTER_SECONDS * 2
        await recovery.check()
        assert len(consumer.seeks) == 2  # the replay came: no more seeks

    run(scenario)


def test_a_gap_already_rewound_from_is_accepted_so_it_cannot_loop(run: Callable[..., None]) -> None:
    async def scenario(recovery: Recovery, consumer: RecordingConsumer, redis: Redis, _clock: Clock) -> None:
        await store_offset(redis, recovery, "agents", 1, 4)
        assert offsets(await recovery.admit("agents", 1, 4, records(8, 9))) == []
        # the replay starts past the stored offset too (the records in between no longer exist)
        assert offsets(await recovery.admit("agents", 1, 4, records(7, 8, 9))) == [7, 8, 9]
        assert consumer.seeks == [("agents", 1, 5)]
        await recovery.applied("agents", 1, 9)
        assert await rebuilding(redis, recovery) == {}

    run(scenario)


def test_a_new_assignment_whose_committed_offset_is_ahead_of_redis_is_rebuilt(run: Callable[..., None]) -> None:
    async def scenario(recovery: Recovery, consumer: RecordingConsumer, redis: Redis, _clock: Clock) -> None:
        consumer.assignment = [("contacts", 0), ("contacts", 1), ("agents", 0)]
        consumer.committed_offsets = {("contacts", 0): 100, ("contacts", 1): 21}  # agents:0: nothing committed
        await store_offset(redis, recovery, "contacts", 1, 20)  # consistent: the next to read is 21
        await recovery.check()
        assert consumer.seeks == [("contacts", 0, 0)]
        assert await rebuilding(redis, recovery) == {"contacts:0": "99"}
        await recovery.check()
        assert consumer.seeks == [("contacts", 0, 0)]  # audited once per assignment

    run(scenario)
