"""The traffic simulator: deterministic, ordered, valid under contract v1, lifecycle-consistent, realistic."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from callpulse.simulator import (
    DEFAULT_PROFILE,
    QueueProfile,
    SimulatedEvent,
    TrafficModel,
    TrafficProfile,
    event_line,
    run_simulation,
    simulated_now_ms,
    write_events_file,
)
from processors.timeutil import parse_event_time_ms

START = 1_795_000_000_000  # 2026-11-18T...Z, a fixed epoch-ms start
MINUTE = 60_000
HOUR = 60 * MINUTE
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "docs" / "schema"
SCHEMA_FILES = {"contacts": "contact-event-v1.json", "agents": "agent-event-v1.json"}


def _validators() -> dict[str, Draft202012Validator]:
    result = {}
    for stream, name in SCHEMA_FILES.items():
        schema = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
        result[stream] = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return result


def at(event: SimulatedEvent) -> int:
    return parse_event_time_ms(str(event.event["event_time"]))


def types(events: list[SimulatedEvent]) -> Counter[str]:
    return Counter(str(event.event["type"]) for event in events)


@pytest.fixture(scope="module")
def hour() -> list[SimulatedEvent]:
    """One simulated hour of the default profile."""
    return TrafficModel(7, START).advance_to(START + HOUR)


@pytest.fixture(scope="module")
def closed_run() -> list[SimulatedEvent]:
    """Two simulated hours, then everything wound down: every leg is complete, every agent offline."""
    model = TrafficModel(11, START)
    return model.advance_to(START + 2 * HOUR) + model.close(START + 2 * HOUR)


# --- determinism and order ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 7, 123_456_789])
def test_same_seed_gives_identical_events(seed: int) -> None:
    first = TrafficModel(seed, START).advance_to(START + 20 * MINUTE)
    second = TrafficModel(seed, START).advance_to(START + 20 * MINUTE)
    assert first
    assert first == second


def test_other_seed_gives_other_traffic() -> None:
    first = TrafficModel(1, START).advance_to(START + 20 * MINUTE)
    second = TrafficModel(2, START).advance_to(START + 20 * MINUTE)
    assert [e.event["event_time"] for e in first] != [e.event["event_time"] for e in second]


@pytest.mark.parametrize("step_ms", [250, 7_919, MINUTE, 10 * MINUTE])
def test_slicing_of_advance_to_does_not_matter(step_ms: int) -> None:
    horizon = START + 10 * MINUTE
    whole = TrafficModel(3, START).advance_to(horizon)
    model = TrafficModel(3, START)
    sliced: list[SimulatedEvent] = []
    for t in range(START, horizon + step_ms, step_ms):
        batch = model.advance_to(min(t, horizon))
        assert all(at(event) <= min(t, horizon) for event in batch)
        sliced += batch
    assert sliced == whole


def test_events_are_in_non_decreasing_time_order(hour: list[SimulatedEvent]) -> None:
    times = [at(event) for event in hour]
    assert times == sorted(times)
    assert times[0] >= START and times[-1] <= START + HOUR


def test_time_never_goes_back() -> None:
    model = TrafficModel(5, START)
    assert model.advance_to(START + 5 * MINUTE)
    assert model.now_ms == START + 5 * MINUTE
    assert model.advance_to(START + MINUTE) == []
    assert model.now_ms == START + 5 * MINUTE


# --- the contract -------------------------------------------------------------------------------------


@pytest.mark.parametrize("run", ["hour", "closed_run"])
def test_every_event_validates_against_the_schemas(run: str, request: pytest.FixtureRequest) -> None:
    events: list[SimulatedEvent] = request.getfixturevalue(run)
    validators = _validators()
    for event in events:
        errors = [error.message for error in validators[event.stream].iter_errors(event.event)]
        assert errors == [], (event, errors)
        id_field = "contact_id" if event.stream == "contacts" else "agent_id"
        assert event.key == event.event[id_field]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(event.event["event_time"]))


def test_event_ids_are_unique(closed_run: list[SimulatedEvent]) -> None:
    ids = [event.event["event_id"] for event in closed_run]
    assert len(ids) == len(set(ids))


def test_runs_with_other_start_share_no_identifier() -> None:
    def identifiers(model: TrafficModel) -> set[object]:
        events = model.advance_to(START + 30 * MINUTE)
        return {e.event[name] for e in events for name in ("event_id", "contact_id", "agent_id") if name in e.event}

    earlier = identifiers(TrafficModel.warm_started(9, START, warm_seconds=900))
    later = identifiers(TrafficModel.warm_started(9, START + 1, warm_seconds=900))
    assert earlier
    assert earlier.isdisjoint(later)


# --- lifecycles ---------------------------------------------------------------------------------------

LETTER = {
    "queued": "Q",
    "answered": "A",
    "abandoned": "B",
    "timeout": "T",
    "hold_start": "H",
    "hold_end": "E",
    "transferred": "X",
    "ended": "N",
    "wrapup_ended": "W",
}
COMPLETE_LEG = re.compile(r"Q(A(HE)*[NX]W|[BT])")
STARTED_LEG = re.compile(r"Q(A(HE)*(H|[NX]W?)?|[BT])?")  # every prefix of a complete leg


def legs(events: list[SimulatedEvent]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    """Contact events per leg (tenant, queue, channel, contact id), in order."""
    result: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        if event.stream == "contacts":
            e = event.event
            result[(str(e["tenant"]), str(e["queue"]), str(e["channel"]), str(e["contact_id"]))].append(e)
    return result


@pytest.mark.parametrize(("run", "pattern"), [("hour", STARTED_LEG), ("closed_run", COMPLETE_LEG)])
def test_each_contact_leg_follows_the_lifecycle(
    run: str, pattern: re.Pattern[str], request: pytest.FixtureRequest
) -> None:
    events: list[SimulatedEvent] = request.getfixturevalue(run)
    for key, leg in legs(events).items():
        word = "".join(LETTER[e["type"]] for e in leg)
        assert pattern.fullmatch(word), (key, word)
        leg_times = [parse_event_time_ms(e["event_time"]) for e in leg]
        assert leg_times == sorted(leg_times)
        times = {e["type"]: parse_event_time_ms(e["event_time"]) for e in leg}
        if "wrapup_ended" in times:
            assert times["wrapup_ended"] >= times.get("ended", times.get("transferred", 0))
        if "hold_start" in times:
            end = times.get("ended", times.get("transferred", 2**62))
            assert times["answered"] < times["hold_start"] <= times["hold_end"] <= end
        unanswered = {"queued", "abandoned", "timeout"}
        agents = {e.get("agent_id") for e in leg if e["type"] not in unanswered}
        assert len(agents) <= 1 and None not in agents, (key, agents)  # one agent, named on every event
        assert all("agent_id" not in e for e in leg if e["type"] in unanswered)
        assert all("to_queue" not in e for e in leg if e["type"] != "transferred")


def test_a_transfer_opens_a_new_leg_in_the_target_queue(closed_run: list[SimulatedEvent]) -> None:
    transfers = [e.event for e in closed_run if e.event["type"] == "transferred"]
    assert transfers
    queued = {
        (e.event["contact_id"], e.event["queue"], e.event["event_time"])
        for e in closed_run
        if e.event["type"] == "queued"
    }
    for transfer in transfers:
        assert transfer["to_queue"] != transfer["queue"]
        assert (transfer["contact_id"], transfer["to_queue"], transfer["event_time"]) in queued


NEXT_STATES = {
    None: {"available"},
    "available": {"on_contact", "aux", "offline"},
    "on_contact": {"wrapup", "offline"},
    "wrapup": {"available", "aux", "offline"},
    "aux": {"available", "offline"},
    "offline": {"available"},
}


def test_each_agent_changes_state_sensibly(closed_run: list[SimulatedEvent]) -> None:
    state: dict[str, str | None] = defaultdict(lambda: None)
    for event in closed_run:
        e = event.event
        if event.stream == "agents":
            agent = str(e["agent_id"])
            assert e["type"] in NEXT_STATES[state[agent]], (agent, state[agent], e["type"])
            assert ("reason" in e) == (e["type"] == "aux")
            state[agent] = str(e["type"])
        elif e["type"] == "answered":
            assert state[str(e["agent_id"])] == "on_contact", e
        elif e["type"] in ("ended", "transferred"):
            assert state[str(e["agent_id"])] == "on_contact", e  # wrapup follows, in the same ms
    assert len(state) == sum(queue.agents for queue in DEFAULT_PROFILE.queues)
    assert set(state.values()) == {"offline"}


def test_close_winds_everything_down() -> None:
    model = TrafficModel(4, START)
    model.advance_to(START + 30 * MINUTE)
    closing = model.close(START + 30 * MINUTE)
    assert {at(event) for event in closing} == {START + 30 * MINUTE}
    assert types(closing)["offline"] == sum(queue.agents for queue in DEFAULT_PROFILE.queues)
    assert sum(model.waiting().values()) == 0
    assert model.advance_to(START + 2 * HOUR) == []


# --- realism ------------------------------------------------------------------------------------------


def test_an_hour_has_every_kind_of_traffic(hour: list[SimulatedEvent]) -> None:
    counts = types(hour)
    for kind in (
        "queued",
        "answered",
        "abandoned",
        "hold_start",
        "hold_end",
        "ended",
        "wrapup_ended",
        "available",
        "on_contact",
        "wrapup",
        "aux",
    ):
        assert counts[kind] > 0, kind
    assert {e.event["channel"] for e in hour} == {"voice", "chat"}
    assert {e.event["queue"] for e in hour} == {"support", "sales", "billing"}
    assert {e.event["reason"] for e in hour if e.event["type"] == "aux"} <= set(DEFAULT_PROFILE.aux_reasons)


def test_waits_are_both_short_and_long_and_service_level_is_mixed(hour: list[SimulatedEvent]) -> None:
    waits: dict[str, list[int]] = {"answered": [], "abandoned": []}
    for leg in legs(hour).values():
        queued = parse_event_time_ms(leg[0]["event_time"])
        for e in leg[1:2]:
            if e["type"] in waits:
                waits[e["type"]].append(parse_event_time_ms(e["event_time"]) - queued)
    answered, abandoned = waits["answered"], waits["abandoned"]
    assert any(wait < 20_000 for wait in answered) and any(wait > 20_000 for wait in answered)
    assert any(wait > 20_000 for wait in abandoned)
    service_level = sum(wait <= 20_000 for wait in answered) / (len(answered) + len(abandoned))
    assert 0.3 < service_level < 0.95
    assert 0.02 < len(abandoned) / (len(answered) + len(abandoned)) < 0.35


def test_warm_start_yields_recent_history_at_once() -> None:
    model = TrafficModel.warm_started(3, now_ms=START, warm_seconds=900)
    assert model.start_ms == START - 900_000
    history = model.advance_to(START)
    assert all(START - 900_000 <= at(event) <= START for event in history)
    counts = types(history)
    assert counts["answered"] > 10 and counts["wrapup_ended"] > 10 and counts["abandoned"] > 0
    assert model.advance_to(START) == []


# --- runner and file ----------------------------------------------------------------------------------


class SteppingClock:
    """A wall clock moving ``step`` seconds at each reading; it sets ``stop`` once it reaches ``until``."""

    def __init__(self, start: float, step: float, until: float, stop: asyncio.Event) -> None:
        self.now, self.step, self.until, self.stop = start, step, until, stop
        self.readings: list[float] = []

    def __call__(self) -> float:
        value = self.now
        self.readings.append(value)
        self.now += self.step
        if value >= self.until:
            self.stop.set()
        return value


@pytest.mark.parametrize(
    ("speed", "start_ms", "warm_seconds"),
    [(1.0, None, 900.0), (60.0, None, 0.0), (0.5, START - 5 * MINUTE, 60.0)],
)
def test_run_simulation_sends_what_the_model_makes(speed: float, start_ms: int | None, warm_seconds: float) -> None:
    wall_start = START / 1000

    async def main() -> tuple[list[tuple[int, SimulatedEvent]], SteppingClock, int]:
        stop = asyncio.Event()
        clock = SteppingClock(wall_start, step=0.5, until=wall_start + 120, stop=stop)
        model = TrafficModel.warm_started(8, now_ms=START if start_ms is None else start_ms, warm_seconds=warm_seconds)
        sent: list[tuple[int, SimulatedEvent]] = []

        async def send(event: SimulatedEvent) -> None:
            sent.append((len(clock.readings), event))

        count = await run_simulation(
            send, clock=clock, model=model, speed=speed, stop=stop, tick_seconds=0, start_ms=start_ms
        )
        return sent, clock, count

    sent, clock, count = asyncio.run(main())
    sim_start = START if start_ms is None else start_ms
    sim_end = simulated_now_ms(start_ms=sim_start, wall_start=wall_start, wall_now=clock.readings[-1], speed=speed)
    reference = TrafficModel.warm_started(8, now_ms=sim_start, warm_seconds=warm_seconds).advance_to(sim_end)
    assert count == len(sent) == len(reference) > 0
    assert [event for _, event in sent] == reference
    assert all(tick == 2 for tick, event in sent if at(event) <= sim_start)  # history goes out in the first tick


@pytest.mark.parametrize(("speed", "tick_seconds"), [(0.0, 0.1), (-1.0, 0.1), (1.0, -0.1)])
def test_run_simulation_rejects_bad_arguments(speed: float, tick_seconds: float) -> None:
    async def main() -> None:
        async def send(event: SimulatedEvent) -> None:
            raise AssertionError("nothing should be sent")

        await run_simulation(
            send,
            clock=lambda: 0.0,
            model=TrafficModel(1, START),
            speed=speed,
            stop=asyncio.Event(),
            tick_seconds=tick_seconds,
        )

    with pytest.raises(ValueError):
        asyncio.run(main())


@pytest.mark.parametrize(
    ("wall_now", "speed", "expected"),
    [
        (100.0, 1.0, START),
        (101.5, 1.0, START + 1_500),
        (101.0, 60.0, START + 60_000),
        (99.0, 1.0, START),
        (100.004, 0.5, START + 2),
    ],
)
def test_simulated_now(wall_now: float, speed: float, expected: int) -> None:
    assert simulated_now_ms(start_ms=START, wall_start=100.0, wall_now=wall_now, speed=speed) == expected


def test_write_events_file(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    written = write_events_file(path, TrafficModel(6, START), START + 25 * MINUTE + 1)
    expected = TrafficModel(6, START).advance_to(START + 25 * MINUTE + 1)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert written == len(lines) == len(expected)
    assert lines == [event_line(event) for event in expected]
    first = json.loads(lines[0])
    assert set(first) == {"stream", "key", "event"}
    assert SimulatedEvent(first["stream"], first["key"], first["event"]) == expected[0]


# --- profile validation -------------------------------------------------------------------------------


def _voice(queue: str = "support", **changes: Any) -> QueueProfile:
    return QueueProfile(queue, "voice", **{"arrivals_per_minute": 1.0, "agents": 2, **changes})


BAD_PROFILES: list[tuple[str, Any]] = [
    ("queue name with slash", lambda: _voice("support/voice")),
    ("no arrivals", lambda: _voice(arrivals_per_minute=0.0)),
    ("no agents", lambda: _voice(agents=0)),
    ("ring range reversed", lambda: _voice(ring_seconds=(5.0, 2.0))),
    ("hold probability above 1", lambda: _voice(hold_probability=1.5)),
    ("negative wrap-up", lambda: _voice(wrapup_mean_seconds=-1.0)),
    ("zero max wait", lambda: _voice(max_wait_seconds=0.0)),
    ("transfer to itself", lambda: _voice(transfer_to=("support",))),
    ("bad tenant", lambda: TrafficProfile(tenant="de mo")),
    ("no queues", lambda: TrafficProfile(queues=())),
    ("same queue twice", lambda: TrafficProfile(queues=(_voice(), _voice()))),
    ("unknown transfer target", lambda: TrafficProfile(queues=(_voice(transfer_to=("billing",)),))),
    (
        "transfer target on another channel",
        lambda: TrafficProfile(queues=(_voice(transfer_to=("billing",)), QueueProfile("billing", "chat", 1.0, 1))),
    ),
    ("aux reason with space", lambda: TrafficProfile(aux_reasons=("lunch break",))),
    ("aux without reasons", lambda: TrafficProfile(aux_reasons=())),
]


@pytest.mark.parametrize("build", [b for _, b in BAD_PROFILES], ids=[name for name, _ in BAD_PROFILES])
def test_bad_profiles_are_refused(build: Any) -> None:
    with pytest.raises(ValueError):
        build()


def test_small_custom_profile_runs() -> None:
    profile = TrafficProfile(tenant="acme", queues=(_voice("desk", wrapup_mean_seconds=0.0),), aux_probability=0.0)
    events = TrafficModel(1, START, profile).advance_to(START + 30 * MINUTE)
    assert {e.event["tenant"] for e in events} == {"acme"}
    by_leg = legs(events)
    ended = [leg for leg in by_leg.values() if leg[-1]["type"] == "wrapup_ended"]
    assert ended
    for leg in ended:  # no after-contact work: wrapup_ended at the time of ended
        assert leg[-1]["event_time"] == leg[-2]["event_time"]


@pytest.mark.parametrize(("factor", "agents", "rate"), [(1.0, 6, 1.5), (10.0, 60, 15.0), (0.1, 1, 0.15)])
def test_scaled_profile(factor: float, agents: int, rate: float) -> None:
    support = DEFAULT_PROFILE.scaled(factor).queues[0]
    assert (support.queue, support.channel, support.agents) == ("support", "voice", agents)
    assert support.arrivals_per_minute == pytest.approx(rate)
