"""``callpulse demo``: the embedded stack (Tansu, Valkey, worker, exporter, simulator) on loopback, until Ctrl-C."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path

from callpulse.embedded import free_port, spawn_logged, start_kafka, start_redis, wait_until


def _say(message: str) -> None:
    print(f"callpulse demo: {message}", flush=True)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own loopback URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class _Children:
    """The demo's child processes, stopped newest first."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env
        self.running: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def start(self, name: str, *args: str) -> None:
        log_path = self.workdir / f"{name}.log"
        process = spawn_logged([sys.executable, "-m", "callpulse", *args], log_path, env=self.env)
        self.running.append((name, process, log_path))

    def first_exited(self) -> tuple[str, int, Path] | None:
        for name, process, log_path in self.running:
            if process.poll() is not None:
                return name, process.returncode, log_path
        return None

    def stop_all(self, timeout: float = 15.0) -> None:
        for _name, process, _log in reversed(self.running):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _name, process, _log in reversed(self.running):
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run_demo(*, exporter_port: int = 0, scale: float = 1.0, workdir: str | None = None) -> int:
    """Start everything, print where to look, and run until Ctrl-C or a child fails; return an exit code."""
    base = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="callpulse-demo-"))
    base.mkdir(parents=True, exist_ok=True)
    stop_requested = False

    def request_stop(_signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    with ExitStack() as stack:
        _say(f"logs in {base}")
        kafka = stack.enter_context(start_kafka(log_dir=base))
        _say(f"Kafka (Tansu) on {kafka.url}")
        redis = stack.enter_context(start_redis(log_dir=base))
        _say(f"Redis (Valkey) on {redis.url}")
        port = exporter_port or free_port()
        env = {
            **os.environ,
            "CALLPULSE_KAFKA_BOOTSTRAP": kafka.url,
            "CALLPULSE_REDIS_URL": redis.url,
            "CALLPULSE_EXPORTER_PORT": str(port),
            "CALLPULSE_EXPORTER_HOST": "127.0.0.1",
        }
        # A lone worker on the embedded broker: short group timeouts make it join (and resume) in seconds.
        for name in ("CALLPULSE_BROKER_SESSION_TIMEOUT_SECONDS", "CALLPULSE_BROKER_REBALANCE_TIMEOUT_SECONDS"):
            env.setdefault(name, "10")
        env.setdefault("CALLPULSE_CUSTOMER_ID_SALT", secrets.token_hex(16))  # demo only: a fresh secret per run
        children = _Children(base, env)
        stack.callback(children.stop_all)
        children.start("worker", "worker")
        children.start("exporter", "exporter")
        children.start("simulator", "simulate", "--scale", str(scale))
        metrics = f"http://127.0.0.1:{port}/metrics"
        wait_until(
            lambda: _healthy(f"http://127.0.0.1:{port}/health") or children.first_exited() is not None,
            30,
            0.2,
            "the exporter",
        )
        _say(f"metrics at {metrics}  (health: http://127.0.0.1:{port}/health)")
        _say("press Ctrl-C to stop")
        try:
            while not stop_requested:
                exited = children.first_exited()
                if exited is not None:
                    name, code, log_path = exited
                    _say(f"{name} exited with code {code}; its log is {log_path}")
                    return 1
                try:
                    wait_until(lambda: stop_requested or children.first_exited() is not None, 3600, 0.5, "a stop")
                except TimeoutError:
                    continue
        except KeyboardInterrupt:
            pass
        _say("stopping")
    _say("stopped")
    return 0
