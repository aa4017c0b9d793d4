"""Simulated contact-center traffic: drive a ``TrafficModel`` in (scaled) real time, or write it to a file.

The model itself is in ``callpulse.simulator_model`` and its parameters in ``callpulse.simulator_profile``;
both are re-exported here. This module does no Kafka: the caller passes ``send``.

Typical demo use (15 minutes of history first, then live traffic)::

    model = TrafficModel.warm_started(seed=7, now_ms=int(time.time() * 1000), warm_seconds=900)
    await run_simulation(send, clock=time.time, model=model, stop=stop)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from callpulse.simulator_model import EventDict, SimulatedEvent, Stream, TrafficModel
from callpulse.simulator_profile import (
    DAY_CURVE,
    DEFAULT_PROFILE,
    DEFAULT_QUEUES,
    Channel,
    QueueProfile,
    TrafficProfile,
    shaped,
)

__all__ = [
    "DAY_CURVE",
    "DEFAULT_PROFILE",
    "DEFAULT_QUEUES",
    "Channel",
    "EventDict",
    "QueueProfile",
    "SimulatedEvent",
    "Stream",
    "TrafficModel",
    "TrafficProfile",
    "event_line",
    "run_simulation",
    "shaped",
    "simulated_now_ms",
    "write_events_file",
]

FILE_CHUNK_MS = 60_000
"""``write_events_file`` advances the model a simulated minute at a time, so memory stays small."""


def simulated_now_ms(*, start_ms: int, wall_start: float, wall_now: float, speed: float) -> int:
    """The simulated time at wall time ``wall_now`` (seconds), ``start_ms`` having been at ``wall_start``."""
    return start_ms + max(0, round((wall_now - wall_start) * 1000 * speed))


async def run_simulation(
    send: Callable[[SimulatedEvent], Awaitable[None]],
    *,
    clock: Callable[[], float],
    model: TrafficModel,
    speed: float = 1.0,
    stop: asyncio.Event,
    tick_seconds: float = 0.1,
    start_ms: int | None = None,
) -> int:
    """Send the model's events as simulated time passes, until ``stop`` is set; return how many were sent.

    ``clock`` gives wall time in epoch seconds (``time.time``). Simulated time starts at ``start_ms``
    (default: the wall clock at the first tick, so a warm-started model first sends its history at once)
    and runs ``speed`` times as fast as the wall clock. Every ``tick_seconds`` the model is advanced to
    the simulated now and each event is awaited through ``send`` in order; a slow ``send`` only makes the
    next tick bigger. ``stop`` is checked between ticks (a started tick is sent whole).
    """
    if speed <= 0:
        raise ValueError(f"speed must be > 0, got {speed}")
    if tick_seconds < 0:
        raise ValueError(f"tick_seconds must be >= 0, got {tick_seconds}")
    wall_start = clock()
    sim_start = round(wall_start * 1000) if start_ms is None else start_ms
    sent = 0
    while not stop.is_set():
        now = simulated_now_ms(start_ms=sim_start, wall_start=wall_start, wall_now=clock(), speed=speed)
        for event in model.advance_to(now):
            await send(event)
            sent += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=tick_seconds)
    return sent


def event_line(event: SimulatedEvent) -> str:
    """One JSON line ``{"stream": ..., "key": ..., "event": {...}}`` (no trailing newline)."""
    return json.dumps({"stream": event.stream, "key": event.key, "event": event.event}, separators=(",", ":"))


def write_events_file(
    path: str | Path, model: TrafficModel, until_ms: int, progress: Callable[[int, int], None] | None = None
) -> int:
    """Write the model's events up to ``until_ms`` to ``path`` as JSON lines; return how many were written.

    ``progress(simulated ms reached, events written)`` is called after every simulated minute."""
    written = 0
    with Path(path).open("w", encoding="utf-8") as out:
        at = model.now_ms
        while True:
            at = min(until_ms, at + FILE_CHUNK_MS)
            for event in model.advance_to(at):
                out.write(event_line(event) + "\n")
                written += 1
            if progress is not None:
                progress(at, written)
            if at >= until_ms:
                return written
