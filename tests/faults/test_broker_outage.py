"""The broker unreachable for 30 s under load: the simulator buffers and retries without losing an event it
counted as sent, the worker resumes, the figures are exact.

Tansu keeps its data in memory (it would lose it on exit), so the outage is a SIGSTOP: connections stay
open and nothing answers, the harder case for clients (only their timeouts notice).
"""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import pytest

from callpulse.embedded import ManagedServer, wait_until
from fixtures.faults import assert_recompute_matches, wait_for_all
from fixtures.pipeline import Pipeline, log_of

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

OUTAGE_SECONDS = 30


def test_broker_stopped_for_30s_loses_no_sent_event_and_the_worker_resumes(
    own_kafka: ManagedServer, redis_server: ManagedServer, unique_name: str, tmp_path: Path
) -> None:
    pipeline = Pipeline(unique_name, own_kafka, redis_server, tmp_path)
    try:
        worker = pipeline.start_worker()
        simulator = pipeline.start(
            "simulate", "--scale", "3", "--speed", "5", "--warm-start", "300", "--seed", "3", "--duration", "50"
        )
        wait_until(lambda: pipeline.records_seen() > 500, 90, 0.1, "the worker to apply traffic")
        own_kafka.process.send_signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        try:
            # the outage itself is the point of the test: wait it out, checking nobody gave up meanwhile
            def outage_over() -> bool:
                for process in (worker, simulator):
                    assert process.poll() is None, log_of(process)
                return time.monotonic() - stopped_at >= OUTAGE_SECONDS

            wait_until(outage_over, OUTAGE_SECONDS + 5, 0.5, "the outage to pass")
        finally:
            own_kafka.process.send_signal(signal.SIGCONT)
        assert simulator.wait(90) == 0, log_of(simulator)
        found = re.search(r"simulator sent (\d+) events", Path(simulator.log_path).read_text())  # type: ignore[attr-defined]
        assert found, log_of(simulator)
        wait_for_all(pipeline, int(found.group(1)), timeout=120, watch=[worker])
        assert_recompute_matches(pipeline)
    finally:
        pipeline.stop_all()
