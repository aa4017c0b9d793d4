"""The incremental reader (exporters/incremental.py) equals the full ``read_snapshot`` after any sequence of
real batch writes (PartitionStore's plan run by the worker's Lua script) on a real Redis, clock advances
(windows sliding, intervals and days rolling over), Redis flushes and a trimmed change index::

    buckets  ... | b-61 | ... | b-15 | ... | b-4 | ... | b | b+1 (ahead)     now in b
    1h            [------------------------------------------now)
    15m                          [----------------------------now)
    5m                                        [---------------now)
    interval / last_interval: the aligned 15-minute intervals; today: since local midnight (Europe/Paris)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporters import live_agents
from exporters.incremental import IncrementalReader
from exporters.reader import Calendar, read_snapshot
from exporters.view import KpiView
from exporters.windowed_text import WindowedWriter
from processors.batch import BatchChanges
from processors.formulas import ServiceLevelVariant
from streams.batch_script import BATCH_SCRIPT
from streams.redis_keys import partition_member, partitions_key
from streams.store import PartitionStore

pytestmark = pytest.mark.integration

MINUTE = 60_000
ZONE = ZoneInfo("Europe/Paris")
START = int(datetime(2026, 3, 28, 23, 40, tzinfo=ZONE).timestamp() * 1000)  # 20 min before a local midnight

PREFIX = "inc"
KEPT = 6  # a tiny change index, so that trimming happens
OWNERS = ["acme/sales/voice", "acme/support/chat", "@acme/a1"]


def _windows() -> list[Any]:
    from processors.windows import WindowSpec

    return [WindowSpec(minutes * MINUTE, MINUTE) for minutes in (5, 15, 60)]


live_state = st.tuples(
    st.sampled_from([f"a{n}" for n in range(1, 10)]),  # more than KEPT: the live index is trimmed too
    st.sampled_from(["available", "on_contact", "wrapup", "aux", "offline", "deleted"]),
    st.integers(0, 80 * MINUTE),  # in that state since this long before now
    st.sampled_from([None, ["acme/sales/voice", "acme/support/chat"]]),  # memberships
)
write = st.tuples(
    st.just("write"),
    st.sampled_from([("contacts", 0), ("contacts", 1), ("agents", 0)]),
    st.lists(
        st.tuples(
            st.integers(-75, 2),  # bucket, relative to now's
            st.sampled_from(OWNERS),
            st.sampled_from(["answered", "handled", "state_ms.available"]),
            st.integers(-3, 5),  # sum delta (0 and net-zero fields too)
            st.one_of(st.none(), st.integers(0, 900_000)),  # a maximum
        ),
        min_size=1,
        max_size=4,
    ),
    st.one_of(st.none(), live_state),  # a live agent state (agents partition) / a waiting contact (contacts)
)
advance = st.tuples(st.just("advance"), st.integers(0, 25 * MINUTE))
flush = st.tuples(st.just("flush"))
steps = st.lists(st.one_of(write, write, advance, advance, st.just(("scrape",)), flush), min_size=1, max_size=25)


class World:
    def __init__(self, client: redis.Redis, kept: int) -> None:
        self.client = client
        self.kept = kept
        self.store = PartitionStore(
            client,  # type: ignore[arg-type]  # plan() is pure; the script is run with this sync client
            prefix=PREFIX,
            bucket_ttl_seconds=10 * 86_400,
            interval_ttl_seconds=10 * 86_400,
            zone=ZONE,
        )
        self.script = client.register_script(BATCH_SCRIPT)
        self.offsets: dict[tuple[str, int], int] = {}
        self.waiting: dict[tuple[tuple[str, int], str], list[str]] = {}  # legs waiting per (partition, queue)
        self.now = START

    def write(self, partition: tuple[str, int], items: list[Any], extra: Any) -> None:
        stream, number = partition
        offset = self.offsets.get(partition, -1)
        changes = BatchChanges(last_offset=offset + 1, watermark_ms=self.now)
        bucket = self.now - self.now % MINUTE
        for relative, owner, figure, delta, maximum in items:
            key = (bucket + relative * MINUTE, owner, figure)
            changes.sums[key] = changes.sums.get(key, 0) + delta
            if maximum is not None:
                changes.maxima[(key[0], owner, "wait_max_ms")] = maximum
        if extra and stream == "agents":
            agent, state, back, members = extra
            live = {"s": state, "since": self.now - back, "t": "acme/sales/voice"}
            if state == "deleted":
                changes.live_deleted.add(agent)
            else:
                changes.live_upserted[agent] = {**live, "m": members} if members else live
        elif extra:  # a contact starts or stops waiting (the queues with one waiting are kept in a set)
            agent, state, _back, members = extra
            qid = OWNERS[int(agent[1:]) % 2]
            waiting = self.waiting.setdefault((partition, qid), [])
            if state in {"offline", "deleted"} and waiting:
                changes.waiting_removed[qid] = {waiting.pop(0 if members else -1)}
            else:
                waiting.append(f"leg{self.now}-{len(waiting)}")
                changes.waiting_added[qid] = {waiting[-1]: self.now - 5_000}
        changes.stats["applied"] += 1
        plan = self.store.plan(self.store.keys(stream, number), changes)  # type: ignore[arg-type]
        done = self.script(keys=plan.keys, args=plan.arguments(offset, self.kept))
        assert done == 1
        self.offsets[partition] = offset + 1
        self.client.sadd(partitions_key(PREFIX), partition_member(stream, number))  # type: ignore[arg-type]

    def flush(self) -> None:
        self.client.flushdb()
        self.offsets.clear()
        self.waiting.clear()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_incremental_reader_equals_the_full_read(redis_client: redis.Redis, steps: list[Any]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(live_agents, "GROUPS_KEPT", 4)  # live time groups are renumbered now and then
        _check_incremental_reader(redis_client, steps)


def _check_incremental_reader(redis_client: redis.Redis, steps: list[Any], changes_kept: int = KEPT) -> None:
    redis_client.flushdb()
    world = World(redis_client, changes_kept)
    windows = _windows()
    calendar = Calendar(interval_ms=15 * MINUTE, zone=ZONE)
    reader = IncrementalReader(
        prefix=PREFIX, windows=windows, calendar=calendar, per_agent=True, changes_kept=changes_kept
    )
    writer = WindowedWriter()
    kept: tuple[Any, dict[Any, Any]] | None = None
    view = KpiView(
        windows=tuple(windows),
        service_level_variant=ServiceLevelVariant.ABANDONS_AGAINST,
        offered_includes_timeouts=True,
        service_level_seconds={"voice": 20.0, "chat": 60.0},
        calendar=calendar,
        per_agent=True,
    )
    for step in [*steps, ("scrape",)]:
        if step[0] == "write":
            world.write(step[1], step[2], step[3])
        elif step[0] == "advance":
            world.now += step[1]
        elif step[0] == "flush":
            # A flush is noticed by a scrape that sees the partition gone or its seq lower than cached; a
            # worker that wrote more batches after the flush than before it, between two scrapes, would hide
            # it (exporters/incremental.py), so a scrape follows the flush here.
            world.flush()
            assert reader.read(redis_client, world.now) == read_snapshot(
                redis_client, prefix=PREFIX, now_ms=world.now, windows=windows, calendar=calendar, per_agent=True
            )
        else:
            full = read_snapshot(
                redis_client, prefix=PREFIX, now_ms=world.now, windows=windows, calendar=calendar, per_agent=True
            )
            incremental = reader.read(redis_client, world.now)
            assert incremental == full
            if kept is not None:  # a later read leaves the stored rows handed out before as they were
                assert {row: dict(figures) for row, figures in kept[0].items()} == kept[1]
            stored = incremental.totals.stored  # type: ignore[attr-defined]
            kept = (stored, {row: dict(figures) for row, figures in stored.items()})
            # The windowed writer takes the incremental snapshot's stored rows (only those that changed) and
            # live time apart; written text equals that of the full snapshot by a fresh writer.
            assert writer.write(incremental, view, openmetrics=False) == WindowedWriter().write(
                full, view, openmetrics=False
            )


agent_write = st.tuples(
    st.just("write"),
    st.sampled_from([("agents", 0), ("agents", 1)]),
    st.just([(0, "acme/sales/voice", "handled", 1, None)]),
    live_state,
)
agent_steps = st.lists(
    st.one_of(agent_write, agent_write, agent_write, st.just(("scrape",)), advance), min_size=10, max_size=60
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=agent_steps)
def test_incremental_live_agents_equal_the_full_read(redis_client: redis.Redis, steps: list[Any]) -> None:
    """Mostly agents' live states set, changed and deleted between scrapes: read by the change index."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(live_agents, "GROUPS_KEPT", 6)
        _check_incremental_reader(redis_client, steps, changes_kept=2)  # indexes trimmed past a scrape at times
