"""Probes: ``queued`` events of new contacts on a queue of their own, and the thread that watches them on
``/metrics``. All probes share one key, hence one partition, so they are applied in the order sent and the
queue's ``callpulse_queue_waiting_contacts`` is the number of probes applied so far."""

from __future__ import annotations

import re
import threading
import time
import urllib.request

import orjson

from bench.stack import BenchError
from processors.timeutil import format_ms

PROBE_TENANT, PROBE_QUEUE = "benchprobe", "probe"
PROBE_KEY = b"bench-probe"
_WAITING = re.compile(
    r'^callpulse_queue_waiting_contacts\{[^}]*queue="' + PROBE_QUEUE + r'"[^}]*\} (\S+)$', re.MULTILINE
)


def probe_event(name: str, at_ms: int) -> bytes:
    return orjson.dumps(
        {
            "schema_version": 1,
            "event_id": name,
            "event_time": format_ms(at_ms),
            "type": "queued",
            "tenant": PROBE_TENANT,
            "queue": PROBE_QUEUE,
            "channel": "voice",
            "contact_id": name,
        }
    )


class Poller(threading.Thread):
    """Scrapes ``/metrics`` every ``every`` s (less often when scrapes are slow), keeping (end time, probes
    visible) and the duration of every scrape."""

    def __init__(self, url: str, *, every: float = 0.05) -> None:
        super().__init__(name="bench-poller", daemon=True)
        self.url = f"{url}/metrics"
        self.every = every
        self.durations: list[float] = []
        self.seen: list[tuple[float, float, int]] = []  # (started, ended, probes visible) of each scrape
        self.stopping = threading.Event()

    def visible(self) -> int:
        return self.seen[-1][2] if self.seen else 0

    def run(self) -> None:
        while not self.stopping.is_set():
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url, timeout=10) as response:  # noqa: S310 - our loopback URL
                    text = response.read().decode()
            except OSError:  # the exporter is busy or restarting: the next scrape tells
                time.sleep(0.05)
                continue
            match = _WAITING.search(text)
            ended = time.perf_counter()
            self.seen.append((started, ended, int(float(match.group(1))) if match else 0))
            self.durations.append(ended - started)
            self.stopping.wait(max(started + self.every - ended, 2 * (ended - started)))


def latency_bounds(seen: list[tuple[float, float, int]], count: int, sent: float) -> tuple[float, float]:
    """(lower, upper) bound of the probe's latency: from ``sent`` to the start of the last scrape that did not
    show it (its value was read after that start) and to the end of the first scrape that did."""
    last_without = sent
    for started, ended, visible in seen:
        if visible >= count and ended >= sent:
            return max(0.0, last_without - sent), ended - sent
        if visible < count:
            last_without = max(last_without, started)
    raise BenchError(f"probe {count - 1} never showed on /metrics")
