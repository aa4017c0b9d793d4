"""The latency load: simulator events restamped to the time they are due, so they arrive at a set rate."""

from __future__ import annotations

import bisect
import time

import orjson

from bench.traffic import default_model, minutes_of
from callpulse.simulator import SimulatedEvent
from processors.timeutil import format_ms, parse_event_time_ms


def load_events(seed: int, count: int) -> list[SimulatedEvent]:
    now_ms = int(time.time() * 1000)
    model = default_model(seed, events=count, span_minutes=20, end_ms=now_ms)
    return [event for chunk in minutes_of(model, limit=count) for event in chunk]


def restamped(event: SimulatedEvent, due_ms: int, times: list[int], start_ms: int, rate: float) -> bytes:
    """The event stamped ``due_ms``; its ``opened_at`` moved by the same monotone map of simulated times."""
    body = dict(event.event, event_time=format_ms(due_ms))
    if "opened_at" in body:
        index = bisect.bisect_left(times, parse_event_time_ms(str(body["opened_at"])))
        body["opened_at"] = format_ms(min(due_ms, start_ms + int(index * 1000 / rate)))
    return orjson.dumps(body)
