"""The traffic simulator: deterministic, ordered, valid under contract v1, lifecycle-consistent, realistic.

The simulated center covers the whole KPI catalogue: first responses (chat, email), resolutions, surveys
(CSAT, NPS, CES) and agents serving two queues, beside the waits, holds, transfers and agent states.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
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
from callpulse.simulator_profile import SurveyProfile
from processors import formulas
from processors.events import (
    SURVEY_SCALES,
    AgentEvent,
    ContactEvent,
    ContactEventType,
    decode_agent_event,
    decode_contact_event,
)
from processors.figures import KpiPolicy
from processors.partition import AgentPartition, ContactPartition
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
def test_every_event_decodes_under_the_contract(run: str, request: pytest.FixtureRequest) -> None:
    """What callpulse itself accepts (processors.events) is the reference; two hours in ``closed_run``."""
    events: list[SimulatedEvent] = request.getfixturevalue(run)
    for event in events:
        raw = orjson.dumps(event.event)
        decoded = decode_contact_event(raw) if event.stream == "contacts" else decode_agent_event(raw)
        assert isinstance(decoded, ContactEvent | AgentEvent), (event, decoded)
        assert decoded.time_ms == at(event)
        id_field = "contact_id" if event.stream == "contacts" else "agent_id"
        assert event.key == event.event[id_field]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(event.event["event_time"]))
        if isinstance(decoded, AgentEvent):
            assert decoded.queues == tuple(event.event["queues"])  # type: ignore[arg-type]
        elif decoded.type is ContactEventType.RESOLVED:
            assert decoded.opened_ms is not None and decoded.opened_ms <= decoded.time_ms
        elif decoded.type is ContactEventType.SURVEY:
            assert decoded.survey is not None


@pytest.mark.parametrize("run", ["hour", "closed_run"])
def test_every_event_validates_against_the_schemas(run: str, request: pytest.FixtureRequest) -> None:
    """Events of the types the JSON Schemas list must validate; the schemas are updated separately for
    first_response, resolved and survey, so until then those are left out and the test is an expected failure."""
    events: list[SimulatedEvent] = request.getfixturevalue(run)
    validators = _validators()
    unknown: set[str] = set()
    for event in events:
        known = validators[event.stream].schema["properties"]["type"]["enum"]
        if event.event["type"] not in known:
            unknown.add(str(event.event["type"]))
            continue
        errors = [error.message for error in validators[event.stream].iter_errors(event.event)]
        assert errors == [], (event, errors)
    if unknown:
        pytest.xfail(f"docs/schema does not list the event types {sorted(unknown)} yet")


def test_the_processors_accept_every_event(closed_run: list[SimulatedEvent]) -> None:
    """Fed to the pure processors, two hours of traffic break no lifecycle rule: nothing is dead-lettered."""
    policy = KpiPolicy()
    for stream, partition in (("contacts", ContactPartition(policy)), ("agents", AgentPartition(policy))):
        records = [
            (offset, event.key.encode(), orjson.dumps(event.event))
            for offset, event in enumerate(e for e in closed_run if e.stream == stream)
        ]
        changes = partition.apply_batch(records)
        assert changes.dead_letters == [], changes.dead_letters[:3]
        assert changes.stats["applied"] == len(records)


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
    "first_response": "F",
    "abandoned": "B",
    "timeout": "T",
    "hold_start": "H",
    "hold_end": "E",
    "transferred": "X",
    "ended": "N",
    "wrapup_ended": "W",
}
COMPLETE_LEG = re.compile(r"Q(AF?(HE)*[NX]W|[BT])")
STARTED_LEG = re.compile(r"Q(AF?(HE)*(H|[NX]W?)?|[BT])?")  # every prefix of a complete leg
STANDALONE = ("resolved", "survey")  # after a leg, not part of its lifecycle


def legs(events: list[SimulatedEvent]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    """Contact events per leg (tenant, queue, channel, contact id), in order; resolutions and surveys left out."""
    result: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        if event.stream == "contacts" and event.event["type"] not in STANDALONE:
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


def test_first_response_comes_on_every_channel_but_voice_between_answer_and_end(hour: list[SimulatedEvent]) -> None:
    replied = Counter()
    for (_, _, channel, _), leg in legs(hour).items():
        times = {e["type"]: parse_event_time_ms(e["event_time"]) for e in leg}
        if channel == "voice" or "answered" not in times:
            assert "first_response" not in times
            continue
        end = times.get("ended", times.get("transferred"))
        if end is not None:  # talk lasts past the first reply
            assert times["answered"] < times["first_response"] < end
            replied[channel] += 1
        if "first_response" in times:
            assert times["first_response"] - times["answered"] <= 10 * MINUTE
    assert replied["chat"] > 10 and replied["email"] > 5


def test_resolutions_and_surveys_follow_an_ended_contact(closed_run: list[SimulatedEvent]) -> None:
    by_leg = legs(closed_run)
    opened: dict[str, int] = {}
    for (_, _, _, contact), leg in by_leg.items():
        queued = parse_event_time_ms(leg[0]["event_time"])
        opened[contact] = min(opened.get(contact, queued), queued)
    after: Counter[tuple[str, str]] = Counter()
    delays: dict[str, list[int]] = defaultdict(list)
    for event in closed_run:
        e = event.event
        if e["type"] not in STANDALONE:
            continue
        leg = by_leg[(str(e["tenant"]), str(e["queue"]), str(e["channel"]), str(e["contact_id"]))]
        assert [x["type"] for x in leg[-2:]] == ["ended", "wrapup_ended"]  # the contact's last leg, not a transfer
        assert e["agent_id"] == leg[-1]["agent_id"]
        delays[str(e["type"])].append(at(event) - parse_event_time_ms(leg[-1]["event_time"]))
        after[(str(e["contact_id"]), str(e["type"]))] += 1
        if e["type"] == "resolved":
            assert parse_event_time_ms(str(e["opened_at"])) == opened[str(e["contact_id"])]
        else:
            scores = {name: e[name] for name in SURVEY_SCALES if name in e}
            assert scores
            for name, score in scores.items():
                low, high = SURVEY_SCALES[name]
                assert type(score) is int and low <= score <= high, (name, score)
    assert set(after.values()) == {1}  # at most one of each per contact
    low, high = DEFAULT_PROFILE.resolve_delay_seconds
    assert all(low * 1000 <= d <= high * 1000 for d in delays["resolved"])
    low, high = DEFAULT_PROFILE.survey_delay_seconds
    assert all(low * 1000 <= d <= high * 1000 for d in delays["survey"])
    ended = sum(1 for leg in by_leg.values() if leg[-1]["type"] == "wrapup_ended" and leg[-2]["type"] == "ended")
    assert 0.5 < len(delays["resolved"]) / ended < 0.9
    assert 0.15 < len(delays["survey"]) / ended < 0.45


def test_agents_announce_the_queues_they_serve(closed_run: list[SimulatedEvent]) -> None:
    queues: dict[str, list[str]] = {}
    home: dict[str, tuple[str, str]] = {}
    keys = {queue.key for queue in DEFAULT_PROFILE.queues}
    took: dict[str, set[str]] = defaultdict(set)
    for event in closed_run:
        e = event.event
        agent = str(e.get("agent_id"))
        if event.stream == "contacts":
            if e["type"] == "answered":
                assert e["queue"] in queues[agent]  # agents only take contacts of queues they serve
                took[agent].add(str(e["queue"]))
            continue
        assert isinstance(e["queues"], list) and e["queues"], e
        assert queues.setdefault(agent, e["queues"]) == e["queues"]  # the same on every event of the agent
        assert e["queue"] in e["queues"]
        assert all((name, e["channel"]) in keys for name in e["queues"])
        if e["type"] not in ("on_contact", "wrapup"):
            assert home.setdefault(agent, (str(e["queue"]), str(e["channel"]))) == (e["queue"], e["channel"])
    assert all(queues[agent][0] == queue for agent, (queue, _) in home.items())
    two = [agent for agent, names in queues.items() if len(names) == 2]
    expected = sum(queue.second_queue_agents for queue in DEFAULT_PROFILE.queues)
    assert len(two) == expected == 3 and not [names for names in queues.values() if len(names) > 2]
    assert any(len(took[agent]) == 2 for agent in two)  # some of them do take contacts of their second queue


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
        "first_response",
        "resolved",
        "survey",
        "available",
        "on_contact",
        "wrapup",
        "aux",
    ):
        assert counts[kind] > 0, kind
    assert {e.event["channel"] for e in hour} == {"voice", "chat", "email"}
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


def test_email_waits_without_abandoning(hour: list[SimulatedEvent]) -> None:
    email = [leg for (_, _, channel, _), leg in legs(hour).items() if channel == "email"]
    assert len(email) > 5
    assert all(e["type"] not in ("abandoned", "timeout") for leg in email for e in leg)


def test_warm_start_yields_recent_history_at_once() -> None:
    model = TrafficModel.warm_started(3, now_ms=START, warm_seconds=900)
    assert model.start_ms == START - 900_000
    history = model.advance_to(START)
    assert all(START - 900_000 <= at(event) <= START for event in history)
    counts = types(history)
    assert counts["answered"] > 10 and counts["wrapup_ended"] > 10 and counts["abandoned"] > 0
    assert counts["resolved"] > 0 and counts["survey"] > 0
    replied = {e.event["channel"] for e in history if e.event["type"] == "first_response"}
    assert replied == {"chat", "email"}  # email replies come within minutes, so 15 minutes show them
    assert model.advance_to(START) == []


def _totals(events: list[SimulatedEvent]) -> dict[str, int]:
    """The figures the processors make of ``events``, summed over every queue and bucket."""
    records = [(n, e.key.encode(), orjson.dumps(e.event)) for n, e in enumerate(events) if e.stream == "contacts"]
    changes = ContactPartition(KpiPolicy()).apply_batch(records)
    assert changes.dead_letters == []
    totals: Counter[str] = Counter()
    for (_, _, figure), value in changes.sums.items():
        totals[figure] += value
    return dict(totals)


@pytest.mark.parametrize(
    ("profile", "surveys", "slack"), [(DEFAULT_PROFILE, 40, 2.0), (DEFAULT_PROFILE.scaled(5), 250, 1.0)]
)
def test_an_hour_gives_plausible_experience_figures(profile: TrafficProfile, surveys: int, slack: float) -> None:
    """First response within a few minutes, resolution within minutes, CSAT ~0.8, NPS ~+30, CES ~2-3.

    ``slack`` widens the survey bounds for the smaller sample (an hour of the default center has ~50 surveys).
    """
    totals = _totals(TrafficModel(7, START, profile).advance_to(START + HOUR))
    assert totals["csat_responses"] > surveys
    first_response = formulas.first_response_seconds(totals)
    resolution = formulas.resolution_seconds(totals)
    csat, nps, ces = (
        formulas.csat_ratio(totals),
        formulas.net_promoter_score(totals),
        formulas.customer_effort_score(totals),
    )
    assert first_response is not None and 20 < first_response < 240
    assert resolution is not None and 120 < resolution < 600
    assert csat is not None and abs(csat - 0.8) < 0.08 * slack
    assert nps is not None and abs(nps - 30) < 15 * slack
    assert ces is not None and abs(ces - 2.65) < 0.4 * slack


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
    ("zero first response", lambda: _voice(first_response_mean_seconds=0.0)),
    ("resolve probability above 1", lambda: _voice(resolve_probability=1.1)),
    ("negative survey probability", lambda: _voice(survey_probability=-0.1)),
    ("second queue is itself", lambda: _voice(second_queue="support")),
    ("second queue with slash", lambda: _voice(second_queue="a/b")),
    ("more second-queue agents than agents", lambda: _voice(second_queue="billing", second_queue_agents=3)),
    ("second-queue agents without a second queue", lambda: _voice(second_queue_agents=1)),
    ("unknown second queue", lambda: TrafficProfile(queues=(_voice(second_queue="billing"),))),
    (
        "second queue on another channel",
        lambda: TrafficProfile(queues=(_voice(second_queue="billing"), QueueProfile("billing", "chat", 1.0, 1))),
    ),
    ("resolve delay reversed", lambda: TrafficProfile(resolve_delay_seconds=(60.0, 5.0))),
    ("negative survey delay", lambda: TrafficProfile(survey_delay_seconds=(-1.0, 5.0))),
    ("csat weights of 1-10", lambda: SurveyProfile(csat_weights=(1.0,) * 10)),
    ("negative nps weight", lambda: SurveyProfile(nps_weights=(-1.0,) + (1.0,) * 10)),
    ("zero ces weights", lambda: SurveyProfile(ces_weights=(0.0,) * 7)),
    ("survey answer probability above 1", lambda: SurveyProfile(nps_probability=1.5)),
    ("a survey that never has a score", lambda: SurveyProfile(0.0, 0.0, 0.0)),
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


def test_social_replies_and_a_survey_has_at_least_one_score() -> None:
    social = QueueProfile("care", "social", 1.0, 3, hold_probability=0.0, survey_probability=1.0)
    survey = SurveyProfile(csat_probability=0.0, nps_probability=0.0, ces_probability=0.01)
    profile = TrafficProfile(tenant="acme", queues=(social,), aux_probability=0.0, survey=survey)
    events = TrafficModel(2, START, profile).advance_to(START + HOUR)
    counts = types(events)
    assert counts["first_response"] > 10
    surveys = [e.event for e in events if e.event["type"] == "survey"]
    assert len(surveys) > 10
    assert all("ces" in e and "csat" not in e and "nps" not in e for e in surveys)  # never an empty survey
    assert {e.event["queues"] == ["care"] for e in events if e.stream == "agents"} == {True}


@pytest.mark.parametrize(
    ("factor", "agents", "rate", "second"), [(1.0, 6, 1.5, 2), (10.0, 60, 15.0, 20), (0.1, 1, 0.15, 1)]
)
def test_scaled_profile(factor: float, agents: int, rate: float, second: int) -> None:
    support = DEFAULT_PROFILE.scaled(factor).queues[0]
    assert (support.queue, support.channel, support.agents) == ("support", "voice", agents)
    assert support.arrivals_per_minute == pytest.approx(rate)
    assert (support.second_queue, support.second_queue_agents) == ("billing", second)
