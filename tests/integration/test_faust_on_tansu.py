"""A Faust 0.15 worker consumes from Tansu: every record once, and at least once across a SIGKILL.

The worker runs ``tests/fixtures/faust_probe_app.py`` as a real subprocess, so startup, the consumer
group protocol and offset commits are those of production.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kafka import KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from callpulse.embedded import ManagedServer, spawn_logged, wait_until

pytestmark = pytest.mark.integration

TESTS_DIR = Path(__file__).resolve().parents[1]
PARTITIONS = 4


class Probe:
    """One probe app id and source topic on the session broker, plus the workers started for it."""

    def __init__(self, kafka: ManagedServer, name: str, workdir: Path) -> None:
        self.kafka = kafka
        self.topic = f"{name}-src"
        self.app_id = name
        self.workdir = workdir
        self.out = workdir / "out.txt"
        self.workers: list[tuple[subprocess.Popen[bytes], Path]] = []
        self.admin = KafkaAdminClient(bootstrap_servers=kafka.url)
        self.admin.create_topics([NewTopic(self.topic, num_partitions=PARTITIONS, replication_factor=1)])
        self.producer = KafkaProducer(bootstrap_servers=kafka.url)

    def start_worker(self, **env: str) -> subprocess.Popen[bytes]:
        """Start a worker with its own datadir and log file (``env`` adds PROBE_* variables)."""
        number = len(self.workers) + 1
        python_path = os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")]))
        variables = {
            **os.environ,
            "PYTHONPATH": python_path,
            "PROBE_APP_ID": self.app_id,
            "PROBE_BROKER": f"kafka://{self.kafka.url}",
            "PROBE_TOPIC": self.topic,
            "PROBE_OUT": str(self.out),
            "PROBE_DATADIR": str(self.workdir / f"data-{number}"),
            **env,
        }
        argv = [sys.executable, "-m", "faust", "-A", "fixtures.faust_probe_app", "worker", "-l", "info"]
        log = self.workdir / f"worker-{number}.log"
        worker = spawn_logged([*argv, "--without-web"], log, env=variables, cwd=self.workdir)
        self.workers.append((worker, log))
        return worker

    def produce(self, first: int, stop: int) -> None:
        """Send values ``v<first>`` .. ``v<stop - 1>``, keyed over 50 contact ids (so over all partitions)."""
        for i in range(first, stop):
            self.producer.send(self.topic, key=f"contact-{i % 50}".encode(), value=f"v{i}".encode())
        self.producer.flush(timeout=10)

    def lines(self) -> list[str]:
        """The ``partition:offset:value`` lines written so far."""
        return self.out.read_text().splitlines() if self.out.exists() else []

    def values(self) -> list[str]:
        """The values written so far, as ``repr(bytes)``, duplicates included."""
        return [line.split(":", 2)[2] for line in self.lines()]

    def committed(self) -> int:
        """Sum over partitions of the group's committed offsets (= records committed, offsets start at 0)."""
        partitions = [TopicPartition(self.topic, p) for p in range(PARTITIONS)]
        offsets = self.admin.list_group_offsets({self.app_id: partitions}).get(self.app_id, {})
        return sum(max(meta.offset, 0) for meta in offsets.values())

    def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
        """``wait_until`` that fails early, with the worker's log, when the newest worker exits."""
        worker, log = self.workers[-1]

        def check() -> bool:
            if worker.poll() is not None:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
                pytest.fail(f"worker exited with {worker.returncode} while waiting for {what}:\n{tail}")
            return predicate()

        wait_until(check, timeout, interval, what)

    def close(self) -> None:
        for worker, _log in self.workers:
            if worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(30)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
        self.producer.close()
        self.admin.close()


def _values(first: int, stop: int) -> list[str]:
    return [repr(f"v{i}".encode()) for i in range(first, stop)]


@pytest.fixture
def probe(kafka_server: ManagedServer, unique_name: str, tmp_path: Path) -> Iterator[Probe]:
    probe = Probe(kafka_server, unique_name, tmp_path)
    try:
        yield probe
    finally:
        probe.close()


def test_worker_delivers_each_record_once(probe: Probe) -> None:
    worker = probe.start_worker()
    probe.produce(0, 200)
    probe.wait_for(lambda: len(probe.lines()) >= 200, 60, "200 records in the probe output")
    probe.wait_for(lambda: probe.committed() == 200, 20, "the worker to commit 200 offsets")

    lines = probe.lines()
    pairs = [tuple(line.split(":", 2)[:2]) for line in lines]
    assert len(lines) == 200
    assert len(set(pairs)) == 200, "a partition:offset pair was delivered twice"
    assert sorted(line.split(":", 2)[2] for line in lines) == sorted(_values(0, 200))
    per_partition = Counter(partition for partition, _offset in pairs)
    assert len(per_partition) >= 2
    for partition, count in per_partition.items():  # fetched offsets are dense from 0 (unlike ListOffsets)
        assert sorted(int(o) for p, o in pairs if p == partition) == list(range(count))

    worker.terminate()
    assert worker.wait(30) == 0


def test_worker_resumes_after_sigkill_at_least_once(probe: Probe) -> None:
    fast = {"PROBE_SESSION_TIMEOUT": "6"}  # Tansu waits session_timeout / 2 before it completes a join
    first = probe.start_worker(**fast)
    probe.produce(0, 200)
    probe.wait_for(lambda: len(probe.lines()) >= 200, 60, "200 records from the first worker")
    probe.wait_for(lambda: probe.committed() == 200, 20, "the first worker to commit 200 offsets")

    probe.produce(200, 400)
    probe.wait_for(lambda: len(probe.lines()) >= 400, 30, "400 records from the first worker", 0.005)
    first.send_signal(signal.SIGKILL)  # most likely before the next commit (every 2.8 s)
    first.wait()
    killed_at = time.monotonic()
    committed_at_kill = probe.committed()
    processed_before_kill = len(probe.lines())
    probe.produce(400, 500)

    probe.start_worker(**fast)
    expected = set(_values(0, 500))
    probe.wait_for(lambda: set(probe.values()) >= expected, 60, "all 500 records")
    resumed_after = time.monotonic() - killed_at
    probe.wait_for(lambda: probe.committed() == 500, 20, "the second worker to commit 500 offsets")

    lines = probe.lines()
    counts = Counter(probe.values())
    redelivered = {value for value, n in counts.items() if n > 1}
    print(
        f"resumed {resumed_after:.1f}s after SIGKILL; committed at kill {committed_at_kill}, "
        f"processed {processed_before_kill}, redelivered {len(redelivered)}"
    )
    assert set(counts) == expected  # nothing lost
    assert len(set(lines)) == len(counts), "a value came back under another partition:offset"
    assert redelivered <= set(_values(200, 400))  # only records processed after the last commit
    assert len(redelivered) == processed_before_kill - committed_at_kill
