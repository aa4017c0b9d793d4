"""The embedded stack the benchmark runs on, and isolated deployments on it (topics, group, Redis prefix).

Workers and exporters are the real ``callpulse`` commands, run as child processes with this worktree's
code first on their path, exactly as the test fixtures start them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from callpulse.embedded import ManagedServer, free_port, spawn_logged, start_kafka, start_redis, wait_until
from streams.redis_keys import STAT_PREFIX, PartitionKeys, parse_partition_member, partitions_key

ROOT = Path(__file__).resolve().parents[1]
GROUP_TIMEOUT_SECONDS = "10"  # Tansu completes a join after half the session timeout (see README)


class BenchError(RuntimeError):
    """A benchmark step could not be measured; the message says which and where its log is."""


@dataclass
class Child:
    """A callpulse command running as a child process, with its log."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise BenchError(f"{self.name} exited with code {self.process.returncode}; log {self.log_path}:\n{tail}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 20.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Stack:
    """Tansu and Valkey on free loopback ports; ``workdir`` holds every log."""

    kafka: ManagedServer
    redis_server: ManagedServer
    workdir: Path

    def deployment(self, role: str, partitions: int = 8) -> Deployment:
        """A fresh deployment: its own topics, consumer group and Redis prefix."""
        return Deployment(f"bench-{role}-{uuid.uuid4().hex[:6]}", self, partitions)

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_server.url)


@contextmanager
def embedded_stack(workdir: Path) -> Iterator[Stack]:
    workdir.mkdir(parents=True, exist_ok=True)
    with start_kafka(log_dir=workdir, silent=True) as kafka, start_redis(log_dir=workdir) as redis_server:
        yield Stack(kafka, redis_server, workdir)


@dataclass
class Deployment:
    """One isolated callpulse deployment on the stack; ``group`` and ``prefix`` can be renewed per run."""

    name: str
    stack: Stack
    partitions: int = 8
    runs: int = 0
    prefix: str = ""
    children: list[Child] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.prefix = self.name

    @property
    def topics(self) -> dict[str, str]:
        return {"contacts": f"{self.name}.contacts", "agents": f"{self.name}.agents"}

    def fresh_run(self) -> str:
        """A new consumer group and Redis prefix on the same topics (the worker reads them from the start)."""
        self.runs += 1
        self.prefix = f"{self.name}-r{self.runs}"
        return self.prefix

    def env(self, **overrides: str) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "CALLPULSE_KAFKA_BOOTSTRAP": self.stack.kafka.url,
            "CALLPULSE_REDIS_URL": self.stack.redis_server.url,
            "CALLPULSE_REDIS_PREFIX": self.prefix,
            "CALLPULSE_APP_ID": self.prefix,
            "CALLPULSE_CONTACTS_TOPIC": self.topics["contacts"],
            "CALLPULSE_AGENTS_TOPIC": self.topics["agents"],
            "CALLPULSE_DEAD_LETTER_TOPIC": f"{self.name}.dead-letter",
            "CALLPULSE_CUSTOMERS_TOPIC": f"{self.name}.customers",
            "CALLPULSE_TOPIC_PARTITIONS": str(self.partitions),
            "CALLPULSE_BROKER_SESSION_TIMEOUT_SECONDS": GROUP_TIMEOUT_SECONDS,
            "CALLPULSE_BROKER_REBALANCE_TIMEOUT_SECONDS": GROUP_TIMEOUT_SECONDS,
            **overrides,
        }

    def start(self, command: str, **env: str) -> Child:
        name = f"{command}-{self.prefix}-{len(self.children)}"
        log_path = self.stack.workdir / f"{name}.log"
        argv = [sys.executable, "-m", "callpulse", command]
        child = Child(name, spawn_logged(argv, log_path, env=self.env(**env), cwd=ROOT), log_path)
        self.children.append(child)
        return child

    def spawn_exporter(self) -> tuple[Child, str]:
        """Start an exporter on this deployment's prefix; return it and its base URL (see ``wait_healthy``)."""
        port = free_port()
        return self.start("exporter", CALLPULSE_EXPORTER_PORT=str(port)), f"http://127.0.0.1:{port}"

    def start_exporter(self) -> str:
        """Start an exporter on this deployment's prefix; return its base URL once ``/health`` answers."""
        child, url = self.spawn_exporter()
        wait_healthy(child, url)
        return url

    def stop_all(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()

    def stats(self) -> dict[str, int]:
        """The ``stat:`` counters of every partition of the current prefix, summed per ``<stream>:<name>``."""
        client = self.stack.redis()
        try:
            raw = client.smembers(partitions_key(self.prefix))
            members = [parse_partition_member(m.decode() if isinstance(m, bytes) else m) for m in raw]
            pipe = client.pipeline(transaction=False)
            for stream, partition in members:
                pipe.hgetall(PartitionKeys(self.prefix, stream, partition).meta)
            totals: dict[str, int] = {}
            for (stream, _partition), meta in zip(members, pipe.execute(), strict=True):
                for raw_field, raw_value in meta.items():
                    name = raw_field.decode()
                    if name.startswith(STAT_PREFIX):
                        key = f"{stream}:{name.removeprefix(STAT_PREFIX)}"
                        totals[key] = totals.get(key, 0) + int(raw_value)
            return totals
        finally:
            client.close()


def events_seen(stats: dict[str, int]) -> int:
    """Events the worker has accounted for: applied, duplicate or dead-lettered."""
    return sum(
        value for key, value in stats.items() if key.endswith((":applied", ":duplicate")) or ":dead_letter:" in key
    )


def wait_healthy(child: Child, url: str, timeout: float = 60.0) -> None:
    def healthy() -> bool:
        child.check_alive()
        return http_ok(f"{url}/health")

    wait_until(healthy, timeout, 0.1, f"{child.name}'s /health")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own loopback URL
            return bool(response.status == 200)
    except OSError:
        return False
