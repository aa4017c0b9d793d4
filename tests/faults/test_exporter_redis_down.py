"""The exporter with Redis unreachable answers quickly with ``callpulse_exporter_redis_up 0`` and no KPI.

Two ways Redis goes away: a hung server (SIGSTOP: connections open, nothing answers: only socket timeouts
end the wait) and a dead one (SIGKILL: connections refused).
"""

from __future__ import annotations

import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from callpulse.embedded import ManagedServer
from fixtures.faults import simulated_records, wait_for_all
from fixtures.pipeline import Pipeline, produce, sample, scrape

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]

ANSWER_WITHIN_SECONDS = 2.0
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _timed_scrape(url: str) -> tuple[Samples, float]:
    started = time.monotonic()
    samples = scrape(url)
    return samples, time.monotonic() - started


def _health_status(url: str) -> int:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _assert_down(url: str) -> None:
    samples, took = _timed_scrape(url)
    assert took < ANSWER_WITHIN_SECONDS, f"/metrics took {took:.1f}s with Redis unreachable"
    assert sample(samples, "callpulse_exporter_redis_up") == 0
    served = sorted({name for name, _labels in samples if name.startswith("callpulse_")})
    assert served == ["callpulse_exporter_redis_up"], served  # no KPI, stale or otherwise
    started = time.monotonic()
    assert _health_status(url) == 503
    assert time.monotonic() - started < ANSWER_WITHIN_SECONDS


def test_exporter_serves_redis_up_0_and_no_kpi_while_redis_hangs_or_is_dead(
    kafka_server: ManagedServer, own_redis: ManagedServer, unique_name: str, tmp_path: Path
) -> None:
    pipeline = Pipeline(unique_name, kafka_server, own_redis, tmp_path)
    try:
        records = simulated_records(pipeline, minutes=5, scale=1, seed=5)
        worker = pipeline.start_worker()
        url = pipeline.start_exporter()
        wait_for_all(pipeline, produce(kafka_server.url, records, batched=True), timeout=90, watch=[worker])
        healthy = scrape(url)
        assert sample(healthy, "callpulse_exporter_redis_up") == 1
        assert any(name.startswith("callpulse_queue_") for name, _labels in healthy)

        own_redis.process.send_signal(signal.SIGSTOP)  # hung: accepts nothing, answers nothing
        try:
            _assert_down(url)
            _assert_down(url)  # and again: no connection left stuck
        finally:
            own_redis.process.send_signal(signal.SIGCONT)
        assert sample(scrape(url), "callpulse_exporter_redis_up") == 1

        own_redis.process.send_signal(signal.SIGKILL)  # dead: connections refused
        own_redis.process.wait(10)
        _assert_down(url)
    finally:
        pipeline.stop_all()
