"""Arrivals shaped by the hour of day (a non-homogeneous Poisson process), and agents working shifts."""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter

import orjson
import pytest

from callpulse.simulator import DAY_CURVE, DEFAULT_PROFILE, TrafficModel, TrafficProfile, shaped
from processors.events import Rejection, decode_agent_event, decode_contact_event

DAY_MS = 86_400_000
MIDNIGHT = 1_795_392_000_000  # 2026-11-23T00:00:00Z


def test_arrivals_follow_the_curve() -> None:
    model = TrafficModel(5, MIDNIGHT, shaped(DEFAULT_PROFILE, scale=2, day_curve=True))
    counts: Counter[int] = Counter()
    for event in model.advance_to(MIDNIGHT + 3 * DAY_MS):
        if event.stream == "contacts" and event.event["type"] == "queued":
            counts[(event.time_ms // 3_600_000) % 24] += 1
    night = sum(counts[hour] for hour in range(1, 5))  # factors 0.02-0.03
    peak = sum(counts[hour] for hour in (9, 10, 14))  # factors 1.5-1.6
    assert peak > 20 * max(night, 1)
    # the mid-morning hours against the early afternoon: ratio of the curve, within Poisson noise
    ratio = counts[10] / counts[12]
    assert ratio == pytest.approx(DAY_CURVE[10] / DAY_CURVE[12], rel=0.25)


def test_a_flat_profile_is_unchanged_and_bad_curves_are_refused() -> None:
    plain = TrafficModel(5, MIDNIGHT, DEFAULT_PROFILE).advance_to(MIDNIGHT + 3_600_000)
    again = TrafficModel(5, MIDNIGHT, shaped(DEFAULT_PROFILE)).advance_to(MIDNIGHT + 3_600_000)
    assert plain == again
    with pytest.raises(ValueError, match="24 numbers"):
        TrafficProfile(hourly_arrival_factors=(1.0,) * 23)
    with pytest.raises(ValueError, match="24 numbers"):
        TrafficProfile(hourly_arrival_factors=(0.0,) * 24)


def test_agents_work_shifts_log_off_and_back_on() -> None:
    profile = dataclasses.replace(DEFAULT_PROFILE, shift_hours=2.0, off_hours=0.5)
    events = TrafficModel(9, MIDNIGHT, profile).advance_to(MIDNIGHT + 6 * 3_600_000)
    states: dict[str, list[tuple[int, str]]] = {}
    for event in events:
        if event.stream == "agents":
            states.setdefault(event.key, []).append((event.time_ms, str(event.event["type"])))
        decoded = (decode_agent_event if event.stream == "agents" else decode_contact_event)(orjson.dumps(event.event))
        assert not isinstance(decoded, Rejection), decoded
    for agent, timeline in states.items():
        kinds = [kind for _at, kind in timeline]
        assert kinds.count("offline") >= 2, agent  # at least two shifts ended in six hours
        for (_at, kind), (_next_at, next_kind) in itertools.pairwise(timeline):
            if kind == "offline":
                assert next_kind == "available", (agent, timeline)  # back on, never straight onto a contact
        offline_at = [at for at, kind in timeline if kind == "offline"]
        first_shift = offline_at[0] - timeline[0][0]
        assert 1.7 * 3_600_000 <= first_shift <= 3.5 * 3_600_000  # about 2 h (+ the contact in progress)
