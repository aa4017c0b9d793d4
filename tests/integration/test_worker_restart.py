"""A worker SIGKILLed in the middle of a stream and restarted ends with exactly the state of a worker that
ran uninterrupted over the same records: nothing counted twice, nothing lost."""

from __future__ import annotations

import dataclasses
import signal
import threading
import time
from typing import Any

import orjson
import pytest
import redis

from callpulse.embedded import wait_until
from callpulse.simulator import DEFAULT_PROFILE, TrafficModel
from fixtures.pipeline import Pipeline, log_of, produce
from streams.redis_keys import PartitionKeys, parse_partition_member, partitions_key

pytestmark = pytest.mark.integration


def _state(client: redis.Redis, prefix: str) -> dict[str, Any]:
    """Everything a prefix holds, per partition, with TTLs and the write bookkeeping (the change indexes and
    their sequences, which count batches) left out."""
    state: dict[str, Any] = {}
    for member in sorted(m.decode() for m in client.smembers(partitions_key(prefix))):
        keys = PartitionKeys(prefix, *parse_partition_member(member))
        for key in sorted(
            k.decode() for k in client.scan_iter(match=f"{keys.tag.replace('{', '[{]').replace('}', '[}]')}:*")
        ):
            kind = client.type(key).decode()
            local = key.removeprefix(keys.tag)
            if key in {keys.changes, keys.live_changes}:
                continue
            if kind == "hash":
                fields = {f.decode(): v.decode() for f, v in client.hgetall(key).items()}
                counted = {"seq", "lseq"} if key == keys.meta else set()
                state[f"{member}{local}"] = {f: v for f, v in fields.items() if f not in counted}
            elif kind == "zset":
                state[f"{member}{local}"] = dict(client.zrange(key, 0, -1, withscores=True))
            elif kind == "set":
                state[f"{member}{local}"] = sorted(client.smembers(key))
    return state


def _events(count_target: int) -> list[tuple[str, bytes, bytes]]:
    model = TrafficModel(seed=11, start_ms=int(time.time() * 1000) - 45 * 60_000, profile=DEFAULT_PROFILE.scaled(3))
    events = model.advance_to(int(time.time() * 1000))
    assert len(events) >= count_target, len(events)
    return [(event.stream, event.key.encode(), orjson.dumps(event.event)) for event in events]


def test_sigkill_mid_stream_then_restart_gives_the_uninterrupted_figures(pipeline: Pipeline) -> None:
    events = _events(3000)
    topics = {"contacts": pipeline.contacts_topic, "agents": pipeline.agents_topic}
    records = [(topics[stream], key, value) for stream, key, value in events]
    total = len(records)
    reference = f"{pipeline.name}-ref"

    producer = threading.Thread(target=produce, args=(pipeline.kafka.url, records), daemon=True)
    producer.start()
    uninterrupted = pipeline.start_worker(CALLPULSE_APP_ID=reference, CALLPULSE_REDIS_PREFIX=reference)
    victim = pipeline.start_worker()

    wait_until(lambda: pipeline.records_seen() >= total // 3, 120, 0.05, "a third of the stream")
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    seen_at_kill = pipeline.records_seen()
    assert seen_at_kill < total, "the kill must land in the middle of the stream"
    restarted = pipeline.start_worker()

    producer.join(180)
    assert not producer.is_alive()
    pipeline.wait_for_records(total, timeout=180, watch=[restarted])
    reference_pipeline = dataclasses.replace(pipeline, name=reference, children=[])
    reference_pipeline.wait_for_records(total, timeout=180, watch=[uninterrupted])

    client = pipeline.redis()
    assert pipeline.records_seen() == total, log_of(restarted)
    assert reference_pipeline.records_seen() == total
    restarted_state = _state(client, pipeline.name)
    reference_state = _state(client, reference)
    assert restarted_state.keys() == reference_state.keys()
    different = [key for key in restarted_state if restarted_state[key] != reference_state[key]]
    assert not different, different[:5]
    assert any(":sum:" in key for key in restarted_state), "the stream must have produced figures"
