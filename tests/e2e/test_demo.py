"""``callpulse demo`` as a new user starts it: within 30 seconds /metrics shows non-zero, plausible values
for the five KPIs the system exists for, and Ctrl-C stops every child."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from callpulse.embedded import free_port, wait_until
from fixtures.pipeline import scrape

pytestmark = pytest.mark.e2e

FIVE_KPIS = {
    # metric: (lowest plausible, highest plausible), over the 15-minute window of the warm-started demo
    "callpulse_queue_answer_speed_seconds": (0.01, 600),
    "callpulse_queue_max_wait_seconds": (0.01, 1800),
    "callpulse_queue_abandon_ratio": (0.001, 1.0),
    "callpulse_queue_agent_idle_seconds": (0.001, 3600),
    "callpulse_queue_handle_time_seconds": (10, 3600),
    "callpulse_queue_service_level_ratio": (0.001, 1.0),
}


def test_demo_shows_the_five_kpis_within_30_seconds(tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "demo.out").open("wb")
    demo = subprocess.Popen(
        [sys.executable, "-m", "callpulse", "demo", "--port", str(port), "--workdir", str(tmp_path / "work")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:

        def all_five_present() -> bool:
            assert demo.poll() is None, (tmp_path / "demo.out").read_text()
            try:
                samples = scrape(url)
            except OSError:
                return False
            values = {
                name: [v for (n, labels), v in samples.items() if n == name and ("window", "15m") in labels]
                for name in FIVE_KPIS
            }
            return all(
                any(low <= v <= high for v in found)
                for (low, high), found in zip(FIVE_KPIS.values(), values.values(), strict=True)
            )

        wait_until(all_five_present, 30, 0.5, "the five KPIs on /metrics")
        assert time.monotonic() - started <= 30
        samples = scrape(url)
        for name, (low, high) in FIVE_KPIS.items():
            values = [v for (n, _labels), v in samples.items() if n == name]
            assert values and all(0 <= v <= high for v in values), (name, values)
            assert any(v >= low for v in values), (name, values)
        waiting = [v for (n, _l), v in samples.items() if n == "callpulse_queue_longest_wait_seconds"]
        assert waiting and all(v >= 0 for v in waiting)
        children = psutil.Process(demo.pid).children(recursive=True)
        assert len(children) >= 5  # broker, redis, worker, exporter, simulator
    finally:
        demo.send_signal(signal.SIGINT)
        code = demo.wait(60)
        log.close()
    assert code == 0, (tmp_path / "demo.out").read_text()
    assert "stopped" in (tmp_path / "demo.out").read_text()
    assert not [child for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]
