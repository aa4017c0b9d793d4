"""A brute-force reference for the figures callpulse adds into buckets, plus event builders for tests.

Written from ``/work/shared/kpi-reference.md`` and ``docs/events.md`` (contract v1) only: it imports nothing
from ``processors`` so that the processors can be checked against it. It is deliberately naive: it sees the
whole stream at once, groups it, de-duplicates it, sorts it and computes every figure from scratch.

Scope: well-formed input (every leg follows the lifecycle of contract section 5, every agent's events
have distinct times). Malformed input raises ``ValueError`` rather than guessing.

Figures are keyed like the processors' buckets, ``(bucket start ms, "tenant/queue/channel", figure)``,
and only non-zero values are kept (a zero and an absent figure mean the same to every formula). With
``Params.per_agent`` the agent figures and the handled contacts are also keyed ``"@tenant/agent"`` (the tenant
of the queue the figure is counted under).
"""

from __future__ import annotations

import calendar
import json
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Event = dict[str, Any]
Key = tuple[int, str, str]
Record = tuple[int, bytes, bytes]

LEG_TYPES = frozenset(
    {
        "queued",
        "answered",
        "abandoned",
        "timeout",
        "hold_start",
        "hold_end",
        "transferred",
        "ended",
        "wrapup_ended",
        "first_response",
    }
)
STANDALONE_TYPES = frozenset({"resolved", "survey"})  # not part of a leg: each counts on its own
CONTACT_TYPES = LEG_TYPES | STANDALONE_TYPES
AGENT_TYPES = frozenset({"available", "on_contact", "wrapup", "aux", "offline"})
ONE_PER_LEG = (
    "queued",
    "answered",
    "abandoned",
    "timeout",
    "transferred",
    "ended",
    "wrapup_ended",
    "first_response",
)
TIMED_STATES = ("available", "on_contact", "wrapup", "aux")  # time in state is kept for these, not offline

# 2026-11-23T09:00:00Z: a multiple of one hour, so of every bucket width used in the tests.
T0 = 1_795_424_400_000
SECOND = 1_000
MINUTE = 60_000


@dataclass(frozen=True)
class Params:
    """The knobs the reference needs (mirrors the KPI reference, not ``KpiPolicy``)."""

    bucket_ms: int = MINUTE
    short_abandon_ms: int = 5 * SECOND
    service_level_ms: Mapping[str, int] = field(
        default_factory=lambda: {
            "voice": 20 * SECOND,
            "chat": 60 * SECOND,
            "email": 3_600 * SECOND,
            "social": 900 * SECOND,
        }
    )
    per_agent: bool = False


def agent_owner(tenant: str, agent: str) -> str:
    """The key per-agent figures are kept under in place of a queue: ``@tenant/agent``."""
    return f"@{tenant}/{agent}"


@dataclass
class Figures:
    """What the reference computes: additive sums, maxima and the contacts still waiting."""

    sums: dict[Key, int] = field(default_factory=dict)
    maxima: dict[Key, int] = field(default_factory=dict)
    waiting: set[tuple[str, str, int]] = field(default_factory=set)  # (qid, contact id, queued ms)

    def sums_by_figure(self) -> dict[str, int]:
        """Each additive figure summed over every bucket and queue."""
        totals: dict[str, int] = {}
        for (_bucket, owner, figure), value in self.sums.items():
            if not owner.startswith("@"):  # per-agent copies would count twice
                totals[figure] = totals.get(figure, 0) + value
        return totals


# ---------------------------------------------------------------------------------------------- time text

_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})")


def parse_ms(text: str) -> int:
    """RFC 3339 text with an offset -> epoch milliseconds (fraction truncated to the millisecond)."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 time with an offset: {text!r}")
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    fraction, offset = match.group(7) or "", match.group(8)
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if offset != "Z":
        sign = 1 if offset[0] == "+" else -1
        seconds -= sign * (int(offset[1:3]) * 3600 + int(offset[4:6]) * 60)
    return seconds * 1000 + int((fraction + "000")[:3])


def iso(ms: int) -> str:
    """Epoch milliseconds -> ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    seconds, millis = divmod(ms, 1000)
    year, month, day, hour, minute, second = time.gmtime(seconds)[:6]
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z"


# ------------------------------------------------------------------------------------------- event builders

_counter = iter(range(1, 10**9))


def contact_event(
    kind: str,
    at_ms: int,
    *,
    contact: str = "c1",
    queue: str = "support",
    tenant: str = "demo",
    channel: str = "voice",
    event_id: str | None = None,
    **extra: Any,
) -> Event:
    """A contact event at ``T0 + at_ms``; ids are made up when not given."""
    return {
        "schema_version": 1,
        "event_id": event_id or f"{contact}-{kind}-{next(_counter)}",
        "event_time": iso(T0 + at_ms),
        "type": kind,
        "tenant": tenant,
        "queue": queue,
        "channel": channel,
        "contact_id": contact,
        **extra,
    }


def agent_event(
    state: str,
    at_ms: int,
    *,
    agent: str = "alice",
    queue: str = "support",
    tenant: str = "demo",
    channel: str = "voice",
    event_id: str | None = None,
    **extra: Any,
) -> Event:
    """An agent event at ``T0 + at_ms``."""
    return {
        "schema_version": 1,
        "event_id": event_id or f"{agent}-{state}-{next(_counter)}",
        "event_time": iso(T0 + at_ms),
        "type": state,
        "tenant": tenant,
        "queue": queue,
        "channel": channel,
        "agent_id": agent,
        **extra,
    }


def encode(event: Event) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def records(events: Iterable[Event], first_offset: int = 0) -> list[Record]:
    """Kafka-like records (offset, key, value), offsets counting up from ``first_offset``."""
    result = []
    for offset, event in enumerate(events, start=first_offset):
        key = str(event.get("contact_id") or event.get("agent_id") or "").encode()
        result.append((offset, key, encode(event)))
    return result


def qid(event: Event) -> str:
    return f"{event['tenant']}/{event['queue']}/{event['channel']}"


# ---------------------------------------------------------------------------------------------- the oracle


def _unique(events: Iterable[Event]) -> list[Event]:
    """First occurrence of each event id (a duplicate is the same event sent again)."""
    seen: set[str] = set()
    kept = []
    for event in events:
        if event["event_id"] not in seen:
            seen.add(event["event_id"])
            kept.append(event)
    return kept


def hold_total_ms(holds: list[tuple[int, str]], end_ms: int) -> int:
    """Sum of hold intervals; an open hold is closed at ``end_ms``.

    Walks the holds in time order. At equal times it takes the kind that keeps the sequence valid (an end
    first while on hold, a start first otherwise), so back-to-back holds and zero-length holds both work.
    """
    pending = sorted(holds)
    total, since = 0, None
    while pending:
        now = pending[0][0]
        wanted = "hold_end" if since is not None else "hold_start"
        same_time = [index for index, (at, _kind) in enumerate(pending) if at == now]
        picks = [index for index in same_time if pending[index][1] == wanted]
        if not picks:
            raise ValueError(f"holds are not well-formed: {holds}")
        at, kind = pending.pop(picks[0])
        if kind == "hold_start":
            since = at
        else:
            assert since is not None
            total += at - since
            since = None
    if since is not None:
        total += end_ms - since
    return total


def _bucket(at: int, params: Params) -> int:
    return at - at % params.bucket_ms


def _add(out: Figures, key: Key, value: int) -> None:
    out.sums[key] = out.sums.get(key, 0) + value


def _leg_figures(events: list[Event], params: Params, out: Figures) -> None:
    """Add one leg's figures (events of one tenant/queue/channel/contact, duplicates removed)."""
    times: dict[str, int] = {}
    holds: list[tuple[int, str]] = []
    answered_by: str | None = None
    for event in events:
        at = parse_ms(event["event_time"])
        if event["type"] in ("hold_start", "hold_end"):
            holds.append((at, event["type"]))
        elif event["type"] in times:
            raise ValueError(f"two {event['type']} events on one leg")
        else:
            times[event["type"]] = at
        if event["type"] == "answered":
            answered_by = event.get("agent_id")
    where = qid(events[0])
    tenant = events[0]["tenant"]
    threshold = params.service_level_ms[events[0]["channel"]]

    def add(at: int, figure: str, value: int) -> None:
        _add(out, (_bucket(at, params), where, figure), value)

    def longest(at: int, wait: int) -> None:
        key = (_bucket(at, params), where, "wait_max_ms")
        out.maxima[key] = max(out.maxima.get(key, wait), wait)

    queued = times.get("queued")
    outcomes = [name for name in ("answered", "abandoned", "timeout") if name in times]
    if len(outcomes) > 1:
        raise ValueError(f"a leg with two outcomes: {outcomes}")
    if queued is not None:
        add(queued, "queued", 1)  # volume: arrivals at their arrival time
    if queued is not None and not outcomes:
        out.waiting.add((where, events[0]["contact_id"], queued))
    if queued is not None and outcomes:  # it left the queue: every outcome has a wait (short abandons too)
        left = times[outcomes[0]]
        if left < queued:
            raise ValueError("a leg that left the queue before it entered it")
        add(left, "left_queue", 1)
        add(left, "wait_all_ms", left - queued)
    if queued is not None and "first_response" in times:  # FRT = first agent reply - contact created
        replied = times["first_response"]
        if replied < queued:
            raise ValueError("a first response before the contact was queued")
        add(replied, "first_responses", 1)
        add(replied, "first_response_ms", replied - queued)
    if queued is not None and "answered" in times:
        wait = times["answered"] - queued
        add(times["answered"], "answered", 1)
        add(times["answered"], "wait_answered_ms", wait)
        if wait <= threshold:
            add(times["answered"], "answered_in_sl", 1)
        longest(times["answered"], wait)
    if queued is not None and "abandoned" in times:
        wait = times["abandoned"] - queued
        if wait < params.short_abandon_ms:
            add(times["abandoned"], "short_abandoned", 1)
        else:
            add(times["abandoned"], "abandoned", 1)
            if wait <= threshold:
                add(times["abandoned"], "abandoned_in_sl", 1)
        longest(times["abandoned"], wait)
    if queued is not None and "timeout" in times:
        wait = times["timeout"] - queued
        add(times["timeout"], "timed_out", 1)
        if wait <= threshold:
            add(times["timeout"], "timed_out_in_sl", 1)
        longest(times["timeout"], wait)
    if "transferred" in times:
        add(times["transferred"], "transferred", 1)
    end = times.get("ended", times.get("transferred"))
    if "answered" in times and end is not None and "wrapup_ended" in times:
        answered, wrapup = times["answered"], times["wrapup_ended"]
        hold = hold_total_ms(holds, end)
        add(wrapup, "handled", 1)
        add(wrapup, "handle_ms", wrapup - answered)
        add(wrapup, "hold_ms", hold)
        add(wrapup, "talk_ms", end - answered - hold)
        add(wrapup, "wrapup_ms", wrapup - end)
        if params.per_agent and answered_by is not None:  # the agent who answered this leg handled it
            owner = agent_owner(tenant, answered_by)
            _add(out, (_bucket(wrapup, params), owner, "handled"), 1)
            _add(out, (_bucket(wrapup, params), owner, "handle_ms"), wrapup - answered)


def survey_figures(csat: int | None = None, nps: int | None = None, ces: int | None = None) -> dict[str, int]:
    """What one survey answer adds (kpi-reference: CSAT share of 4-5, NPS promoters 9-10 and detractors 0-6,
    CES mean); zeros left out."""
    values: dict[str, int] = {}
    if csat is not None:
        if not 1 <= csat <= 5:
            raise ValueError(f"csat {csat} is not 1-5")
        values |= {"csat_responses": 1, "csat_score_sum": csat, "csat_satisfied": int(csat in (4, 5))}
    if nps is not None:
        if not 0 <= nps <= 10:
            raise ValueError(f"nps {nps} is not 0-10")
        values |= {"nps_responses": 1, "nps_promoters": int(nps in (9, 10)), "nps_detractors": int(nps <= 6)}
    if ces is not None:
        if not 1 <= ces <= 7:
            raise ValueError(f"ces {ces} is not 1-7")
        values |= {"ces_responses": 1, "ces_score_sum": ces}
    if not values:
        raise ValueError("a survey without an answer")
    return {name: value for name, value in values.items() if value}


def _standalone_figures(event: Event, params: Params, out: Figures) -> None:
    """A resolution or a survey answer: it counts at its own time, under its own queue, on its own."""
    at = parse_ms(event["event_time"])
    where = qid(event)
    if event["type"] == "resolved":
        opened = parse_ms(event["opened_at"])
        if opened > at:
            raise ValueError("resolved before it was opened")
        values = {"resolved": 1, "resolution_ms": at - opened}  # ART = resolved_at - created_at
    else:
        values = survey_figures(event.get("csat"), event.get("nps"), event.get("ces"))
    for figure, value in values.items():
        _add(out, (_bucket(at, params), where, figure), value)


def _overlaps(start: int, end: int, width: int) -> list[tuple[int, int]]:
    """(bucket start, ms of [start, end) inside it) for every bucket the interval touches."""
    first = start - start % width
    pieces = []
    for bucket in range(first, end, width):
        inside = min(end, bucket + width) - max(start, bucket)
        if inside > 0:
            pieces.append((bucket, inside))
    return pieces


def _agent_figures(events: list[Event], params: Params, out: Figures) -> None:
    """Idle gaps and time in each state of one agent.

    docs/events.md 6.1: each event is the state the agent enters and stays in until its next event, so
    consecutive ``available`` events (a queue switch, a re-announcement) are one stretch, from the first.
    The gap counts at the ``on_contact`` time, under that event's queue. Time in a state (not ``offline``)
    runs from its event to the agent's next event, split over the buckets it covers, under the queue of the
    event that began it; the newest state is still running and counts nothing yet.
    """
    timeline = sorted((parse_ms(event["event_time"]), index) for index, event in enumerate(events))
    if len({at for at, _ in timeline}) != len(timeline):
        raise ValueError("two events of one agent at the same time: their order is not defined")

    def add(at_bucket: int, event: Event, figure: str, value: int) -> None:
        _add(out, (at_bucket, qid(event), figure), value)
        if params.per_agent:
            _add(out, (at_bucket, agent_owner(event["tenant"], event["agent_id"]), figure), value)

    for position in range(len(timeline) - 1):
        (start, index), (end, _next) = timeline[position], timeline[position + 1]
        event = events[index]
        if event["type"] in TIMED_STATES:
            for bucket, spent in _overlaps(start, end, params.bucket_ms):
                add(bucket, event, f"state_ms.{event['type']}", spent)
    stretch_start: int | None = None
    for at, index in timeline:
        kind = events[index]["type"]
        if kind == "available":
            stretch_start = at if stretch_start is None else stretch_start
            continue
        if kind == "on_contact" and stretch_start is not None:
            add(_bucket(at, params), events[index], "idle_gaps", 1)
            add(_bucket(at, params), events[index], "idle_ms", at - stretch_start)
        stretch_start = None


def figures(events: Iterable[Event], params: Params | None = None) -> Figures:
    """Every figure of a stream of contact and agent events, in any order, duplicates allowed."""
    params = params or Params()
    legs: dict[tuple[str, str], list[Event]] = defaultdict(list)
    standalone: list[Event] = []
    agents: dict[str, list[Event]] = defaultdict(list)
    everything = list(events)
    for event in everything:
        if event["type"] in LEG_TYPES:
            legs[(qid(event), event["contact_id"])].append(event)
        elif event["type"] in STANDALONE_TYPES:
            standalone.append(event)
        elif event["type"] in AGENT_TYPES:
            agents[event["agent_id"]].append(event)
        else:
            raise ValueError(f"unknown event type {event['type']!r}")
    out = Figures()
    for leg_events in legs.values():
        _leg_figures(_unique(leg_events), params, out)
    for event in _unique(standalone):
        _standalone_figures(event, params, out)
    for agent_events in agents.values():
        _agent_figures(_unique(agent_events), params, out)
    out.sums = {key: value for key, value in out.sums.items() if value}
    return out


def latest_agent_states(events: Iterable[Event]) -> dict[str, str]:
    """Each agent's state after its newest event."""
    return {agent: live["s"] for agent, live in live_states(events).items()}


def live_states(events: Iterable[Event]) -> dict[str, dict[str, Any]]:
    """Each agent's live state after its newest event: queue ``t``, state ``s``, aux reason ``r``, ``since``
    (epoch ms) and the queues it serves ``m`` (its ``queues``, de-duplicated, in the same tenant and channel;
    else just its own queue)."""
    newest: dict[str, Event] = {}
    for event in events:
        if event["type"] in AGENT_TYPES:
            agent = event["agent_id"]
            if agent not in newest or parse_ms(event["event_time"]) > parse_ms(newest[agent]["event_time"]):
                newest[agent] = event
    live = {}
    for agent, event in newest.items():
        names = event.get("queues") or [event["queue"]]
        members = []
        for name in names:
            member = f"{event['tenant']}/{name}/{event['channel']}"
            if member not in members:
                members.append(member)
        live[agent] = {
            "t": qid(event),
            "s": event["type"],
            "r": event.get("reason", "unspecified") if event["type"] == "aux" else None,
            "since": parse_ms(event["event_time"]),
            "m": members,
        }
    return live


# ------------------------------------------------------------------------------- adding up batch changes


@dataclass
class Accumulated:
    """The sum of what successive batches of one partition said (read duck-typed from ``BatchChanges``)."""

    sums: dict[Key, int] = field(default_factory=dict)
    maxima: dict[Key, int] = field(default_factory=dict)
    waiting: dict[str, dict[str, int]] = field(default_factory=dict)  # qid -> {leg key: queued ms}
    live: dict[str, dict[str, Any]] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)

    def add(self, changes: Any) -> None:
        for key, delta in changes.sums.items():
            self.sums[key] = self.sums.get(key, 0) + delta
        for key, value in changes.maxima.items():
            self.maxima[key] = max(self.maxima.get(key, value), value)
        for where, legs in changes.waiting_added.items():
            self.waiting.setdefault(where, {}).update(legs)
        for where, legs in changes.waiting_removed.items():
            for leg in legs:
                self.waiting.get(where, {}).pop(leg, None)
        self.live.update(changes.live_upserted)
        for name, count in changes.stats.items():
            self.stats[name] = self.stats.get(name, 0) + count

    def nonzero_sums(self) -> dict[Key, int]:
        return {key: value for key, value in self.sums.items() if value}

    def waiting_set(self) -> set[tuple[str, str, int]]:
        """(qid, contact id, queued ms) of every waiting leg; a leg key is ``qid/contact_id``."""
        return {
            (where, leg.split("/", 3)[3], queued)
            for where, legs in self.waiting.items()
            for leg, queued in legs.items()
        }


def accumulate(batches: Iterable[Any]) -> Accumulated:
    total = Accumulated()
    for changes in batches:
        total.add(changes)
    return total
