"""Workers SIGKILLed at random moments under load end with exactly the figures of an uninterrupted run.

The reference is ``callpulse recompute --from-kafka``: the same records applied again by processors that
never crashed, compared figure by figure at one fixed time (see fixtures/faults.py).
"""

from __future__ import annotations

import random
import time

import pytest

from callpulse.embedded import wait_until
from fixtures.faults import BackgroundProducer, assert_recompute_matches, sigkill, simulated_records, wait_for_all
from fixtures.pipeline import Pipeline

pytestmark = [pytest.mark.faults, pytest.mark.timeout(420)]

KILLS = 10


def test_worker_sigkilled_ten_times_during_100k_events_gives_the_uninterrupted_figures(pipeline: Pipeline) -> None:
    # a SIGKILLed member stays in the group until its session times out: short timeouts keep restarts quick
    pipeline.extra_env.update(
        CALLPULSE_BROKER_SESSION_TIMEOUT_SECONDS="4", CALLPULSE_BROKER_REBALANCE_TIMEOUT_SECONDS="4"
    )
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
