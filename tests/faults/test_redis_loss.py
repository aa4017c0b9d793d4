"""Redis killed and started again empty: the worker finds the lost state, replays Kafka to rebuild it, and
the exporter shows ``callpulse_rebuilding 1`` and no KPI until the figures are whole again.

Twice: with the worker running on (it notices when a write is fenced or by its periodic check), and with
the worker restarted too (it notices that Kafka's committed offset is ahead of the empty state).
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from callpulse.embedded import ManagedServer, free_port, start_redis, wait_until
from fixtures.faults import BackgroundProducer, assert_recompute_matches, sigkill, simulated_records, wait_for_all
from fixtures.pipeline import Pipeline, log_of, produce, sample, scrape

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

CONFIGURATION = {"callpulse_queue_service_level_threshold_seconds"}  # from settings, not from events


class ScrapeWatch:
    """Scrapes until the rebuild is over and every record is applied, checking each scrape: KPIs withheld,
    or made of at least the ``whole`` records applied before Redis was lost (after the rebuild the worker may
    still be catching up with records that came meanwhile: that is lag, not lost state)."""

    def __init__(self, url: str, *, whole: int, total: int) -> None:
        self.url = url
        self.whole = whole
        self.total = total
        self.rebuilding_seen = 0
        self.whole_seen = 0
        self.finished = False
        self.error: BaseException | None = None
        self.last = "nothing scraped yet"

    def start(self) -> ScrapeWatch:
        """Scrape from now on in a thread, so that a rebuild faster than the test's next step is still seen."""

        def step() -> bool:
            self.finished = self.done()
            return self.finished

        def run() -> None:
            try:
                wait_until(step, 300, 0.1, "the rebuild to be over")
            except BaseException as exc:  # noqa: BLE001 - raised again by wait()
                self.error = exc

        threading.Thread(target=run, name="scrape-watch", daemon=True).start()
        return self

    def done(self) -> bool:
        samples = scrape(self.url)
        if sample(samples, "callpulse_exporter_redis_up") != 1:
            self.last = "exporter: Redis down"
            return False
        kpis = sorted(
            {name for name, _labels in samples if name.startswith(("callpulse_queue_", "callpulse_agent"))}
            - CONFIGURATION
        )
        if sample(samples, "callpulse_rebuilding") == 1:
            assert not kpis, f"KPIs served while rebuilding: {kpis[:5]}"
            self.rebuilding_seen += 1
            self.last = f"rebuilding (seen {self.rebuilding_seen} times)"
            return False
        if not kpis:
            self.last = "no KPIs and not rebuilding"
            return False  # Redis came back empty and the worker has not noticed yet: nothing shown
        accounted = sum(
            sample(samples, name, stream=stream) or 0
            for name in ("callpulse_events_applied_total", "callpulse_duplicate_events_total")
            for stream in ("contacts", "agents")
        )
        assert accounted >= self.whole, f"KPIs {kpis[:8]} from partial state: {accounted} of {self.whole} records"
        self.whole_seen += 1
        self.last = f"KPIs of {accounted} of {self.total} records, rebuilding seen {self.rebuilding_seen} times"
        return self.rebuilding_seen > 0 and accounted == self.total

    def wait(self, timeout: float, watch: list[subprocess.Popen[bytes]]) -> None:
        def check() -> bool:
            for process in watch:
                assert process.poll() is None, log_of(process)
            if self.error is not None:
                raise self.error
            return self.finished

        try:
            wait_until(check, timeout, 0.2, "the rebuild to be over")
        except TimeoutError as exc:
            logs = "\n".join(log_of(process) for process in watch)
            raise TimeoutError(f"{exc}; last scrape: {self.last}\n{logs}") from None


def _restart_empty(server: ManagedServer, workdir: Path) -> ManagedServer:
    server.process.kill()
    server.process.wait(10)
    return start_redis(port=server.port, log_dir=workdir)


def test_redis_lost_is_rebuilt_from_kafka_while_the_exporter_withholds_kpis(
    kafka_server: ManagedServer, unique_name: str, tmp_path: Path
) -> None:
    redis_dir = tmp_path / "redis"
    servers = [start_redis(port=free_port(), log_dir=redis_dir)]
    pipeline = Pipeline(unique_name, kafka_server, servers[0], tmp_path)
    try:
        records = simulated_records(pipeline, minutes=30, scale=12, seed=31)
        before, during = records[: len(records) * 2 // 3], records[len(records) * 2 // 3 :]
        worker = pipeline.start_worker()
        url = pipeline.start_exporter()
        wait_for_all(pipeline, produce(kafka_server.url, before, batched=True), timeout=120, watch=[worker])
        assert sample(scrape(url), "callpulse_rebuilding") == 0

        # 1. Redis dies under load and comes back empty; the worker runs on
        producer = BackgroundProducer(kafka_server.url, during)
        scrapes = ScrapeWatch(url, whole=len(before), total=len(records)).start()
        servers.append(_restart_empty(servers[-1], redis_dir))
        producer.join(60)
        scrapes.wait(120, [worker])
        assert_recompute_matches(pipeline)

        # 2. Redis dies again and the worker with it; both start again
        scrapes = ScrapeWatch(url, whole=len(records), total=len(records)).start()
        sigkill(worker)
        servers.append(_restart_empty(servers[-1], redis_dir))
        worker = pipeline.start_worker()
        scrapes.wait(120, [worker])
        assert_recompute_matches(pipeline)
    finally:
        pipeline.stop_all()
        for server in servers:
            server.stop()
