"""Workers SIGKILLed at random moments under load end with exactly the figures of an uninterrupted run.

The reference is ``callpulse recompute --from-kafka``: the same records applied again by processors that
never crashed, compared figure by figure at one fixed time (see fixtures/faults.py).
"""

from __future__ import annotations

import random
import time

import pytest

from callpulse.embedded import wait_until
from fixtures.faults import (
    BackgroundProducer,
    assert_recompute_matches,
    log_count,
    sigkill,
    simulated_records,
    wait_for_all,
    wait_for_log,
)
from fixtures.pipeline import Pipeline

pytestmark = [pytest.mark.faults, pytest.mark.timeout(420)]

KILLS = 10
# a SIGKILLed member stays in the group until its session times out: short timeouts keep restarts quick
QUICK_GROUP = {"CALLPULSE_BROKER_SESSION_TIMEOUT_SECONDS": "4", "CALLPULSE_BROKER_REBALANCE_TIMEOUT_SECONDS": "4"}


def test_worker_sigkilled_ten_times_during_100k_events_gives_the_uninterrupted_figures(pipeline: Pipeline) -> None:
    pipeline.extra_env.update(QUICK_GROUP)
    records = simulated_records(pipeline, minutes=60, scale=48, seed=23)
    total = len(records)
    assert total >= 100_000, total
    producer = BackgroundProducer(pipeline.kafka.url, records)
    rng = random.Random(8)
    # each kill lands once the worker has made some progress past a random point of the stream, then a
    # random moment later (mid-batch, mid-write or between batches)
    marks = sorted(rng.uniform(0.03, 0.85) for _ in range(KILLS))
    started = time.monotonic()
    worker = pipeline.start_worker()
    for number, mark in enumerate(marks, start=1):
        target = max(int(total * mark), pipeline.records_seen() + 1)
        wait_until(lambda target=target: pipeline.records_seen() >= target, 120, 0.02, f"kill {number} at {target}")
        time.sleep(rng.uniform(0, 0.3))
        sigkill(worker)
        print(f"kill {number} at {time.monotonic() - started:.1f}s seen {pipeline.records_seen()}", flush=True)
        assert pipeline.records_seen() < total, f"kill {number} came after the end of the stream"
        worker = pipeline.start_worker()
    producer.join(120)
    print(f"produced at {time.monotonic() - started:.1f}s", flush=True)
    wait_for_all(pipeline, total, timeout=240, watch=[worker])
    print(f"consumed at {time.monotonic() - started:.1f}s", flush=True)
    assert_recompute_matches(pipeline)
    print(f"recomputed at {time.monotonic() - started:.1f}s", flush=True)


def test_two_workers_one_killed_and_restarted_under_load_rebalance_twice_and_figures_stay_exact(
    pipeline: Pipeline,
) -> None:
    pipeline.extra_env.update(QUICK_GROUP)
    records = simulated_records(pipeline, minutes=30, scale=24, seed=29)
    total = len(records)
    producer = BackgroundProducer(pipeline.kafka.url, records, over_seconds=90)
    steady = pipeline.start_worker()
    victim = pipeline.start_worker()
    for worker in (steady, victim):
        wait_for_log(worker, "loaded partition", 90)  # both own partitions
    wait_until(lambda: pipeline.records_seen() >= total // 5, 120, 0.02, "a fifth of the stream")
    loaded = log_count(steady, "loaded partition")
    sigkill(victim)  # rebalance 1: the survivor takes the victim's partitions over
    wait_for_log(steady, "loaded partition", 60, more_than=loaded)
    seen = pipeline.records_seen()
    wait_until(lambda: pipeline.records_seen() >= seen + total // 10, 120, 0.05, "the survivor to apply more")
    assert pipeline.records_seen() < total, "the restart must come during the stream"
    restarted = pipeline.start_worker()  # rebalance 2: partitions move back
    wait_for_log(restarted, "loaded partition", 90)
    assert pipeline.records_seen() < total, "the second rebalance must come during the stream"
    producer.join(150)
    wait_for_all(pipeline, total, timeout=180, watch=[steady, restarted])
    assert_recompute_matches(pipeline)
