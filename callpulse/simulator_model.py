"""A seeded discrete-event model of contact-center traffic that emits contract-v1 events.

Pure: no clock reads and no I/O. ``TrafficModel.advance_to(t_ms)`` runs the simulation up to ``t_ms``
(epoch milliseconds) and returns the events that happened, in event-time order. The same seed, start time
and profile always give the same events, however the calls to ``advance_to`` are sliced.

The model, per queue (a queue name on one channel, with its own agent pool):

* contacts arrive as a Poisson process (``arrivals_per_minute``) and wait in FIFO order;
* each caller has exponential patience and leaves (``abandoned``) if not taken in time; a queue with
  ``max_wait_seconds`` removes the contact (``timeout``) when that comes first;
* the agent idle longest takes the oldest waiting contact: the agent goes ``on_contact`` (ringing) and
  the contact is ``answered`` after a short ring; a few agents serve a second queue of their channel and
  take its contacts too (every agent event lists the agent's ``queues``);
* on every channel but voice the agent's first reply is a ``first_response`` event, a little after the
  answer and before the end of talk;
* talk time is lognormal (or exponential, ``talk_distribution``); some contacts are put on hold once; a few
  are ``transferred`` to another queue of the same channel (a new leg: ``queued`` there with the same contact
  id), the rest ``ended``;
* the agent then does wrap-up (``wrapup`` state, contact ``wrapup_ended``), sometimes takes an ``aux``
  break with a reason, and is ``available`` again;
* after the wrap-up of an ``ended`` leg, some contacts are ``resolved`` (with ``opened_at``, the time the
  contact was first queued) and some get a ``survey`` (csat, nps and/or ces), each a separate event of
  that leg's queue.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from callpulse.simulator_profile import DEFAULT_PROFILE, QueueProfile, TrafficProfile
from processors.timeutil import format_ms, parse_event_time_ms

Stream = Literal["contacts", "agents"]
EventValue = str | int | list[str]
EventDict = dict[str, EventValue]

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class SimulatedEvent:
    """One contract-v1 event and where it goes: ``stream`` names the topic, ``key`` is the Kafka key."""

    stream: Stream
    key: str
    event: EventDict

    @property
    def time_ms(self) -> int:
        """The event time in epoch milliseconds."""
        return parse_event_time_ms(str(self.event["event_time"]))


@dataclass
class _Agent:
    agent_id: str
    home: QueueProfile
    serves: tuple[QueueProfile, ...]  # the home queue first, then a second queue of the same channel, if any
    shift_ends_ms: int | None = None  # with shifts: when the agent logs off (at the first idle moment after)

    @property
    def queue_names(self) -> list[str]:
        return [queue.queue for queue in self.serves]


REPEAT_CUSTOMER_PROBABILITY = 0.2
"""Share of new contacts from a customer who contacted the center recently (what FCR measures)."""

Phase = Literal["waiting", "ringing", "talking", "wrapup"]


@dataclass
class _Leg:
    """One contact in one queue, while it is open (until it leaves the queue or its wrap-up ends)."""

    serial: int
    contact_id: str
    queue: QueueProfile
    opened_ms: int  # when the contact was first queued (its first leg)
    number: int = 1
    customer_id: str = ""
    phase: Phase = "waiting"
    agent: _Agent | None = None
    on_hold: bool = False


@dataclass
class _Pool:
    profile: QueueProfile
    waiting: deque[_Leg] = field(default_factory=deque)
    idle: deque[_Agent] = field(default_factory=deque)


Action = Callable[[int], None]


class TrafficModel:
    """The simulated contact center of ``profile``, starting empty at ``start_ms`` with agents logging in.

    Identifiers carry a run tag made of the seed and the start time, so two runs (say the demo restarted
    with a new warm start) never share an ``event_id``, ``contact_id`` or ``agent_id``.
    """

    def __init__(self, seed: int, start_ms: int, profile: TrafficProfile = DEFAULT_PROFILE) -> None:
        self.seed = seed
        self.start_ms = start_ms
        self.profile = profile
        self._rng = random.Random(seed)
        self._customer_rng = random.Random(seed + 1)  # its own stream: the rest of the traffic is unchanged
        self._recent_customers: deque[str] = deque(maxlen=200)
        self._tag = f"{seed}-{start_ms:x}"
        self._now = start_ms
        self._heap: list[tuple[int, int, Action]] = []
        self._scheduled = 0
        self._event_count = 0
        self._contact_count = 0
        self._leg_count = 0
        self._out: list[SimulatedEvent] = []
        self._pools = {queue.key: _Pool(queue) for queue in profile.queues}
        self._agents: list[_Agent] = []
        self._open: dict[int, _Leg] = {}  # by serial, in the order the legs were opened
        for queue in profile.queues:
            second = () if queue.second_queue is None else (self._pools[(queue.second_queue, queue.channel)].profile,)
            for number in range(1, queue.agents + 1):
                serves = (queue, *second) if number <= queue.second_queue_agents else (queue,)
                agent = _Agent(f"{queue.queue}-{queue.channel}-{number:02d}.{self._tag}", queue, serves)
                self._agents.append(agent)
                login = start_ms + self._ms(self._rng.uniform(0, profile.login_spread_seconds))
                self._schedule(
                    login, self._login_action(agent) if profile.shift_hours else self._available_action(agent)
                )
            self._schedule(start_ms + self._interarrival_ms(queue, start_ms), self._arrival_action(queue))

    @classmethod
    def warm_started(
        cls, seed: int, now_ms: int, warm_seconds: float = 900.0, profile: TrafficProfile = DEFAULT_PROFILE
    ) -> TrafficModel:
        """A model started ``warm_seconds`` before ``now_ms``: ``advance_to(now_ms)`` yields that history."""
        return cls(seed, now_ms - round(warm_seconds * 1000), profile)

    @property
    def now_ms(self) -> int:
        """The simulated time the model has reached."""
        return self._now

    def waiting(self) -> dict[tuple[str, str], int]:
        """Contacts waiting now, per (queue, channel)."""
        return {key: len(pool.waiting) for key, pool in self._pools.items()}

    def advance_to(self, t_ms: int) -> list[SimulatedEvent]:
        """Run the simulation up to ``t_ms`` inclusive; return its events in non-decreasing time order.

        A ``t_ms`` earlier than ``now_ms`` yields nothing (the model never goes back).
        """
        while self._heap and self._heap[0][0] <= t_ms:
            at, _, action = heapq.heappop(self._heap)
            self._now = at
            action(at)
        self._now = max(self._now, t_ms)
        events, self._out = self._out, []
        return events

    def close(self, t_ms: int) -> list[SimulatedEvent]:
        """Advance to ``t_ms``, then wind everything down at once; nothing happens after this.

        Waiting and ringing contacts are ``abandoned``, talks end (a hold first ends), wrap-ups end, and every
        agent goes ``offline``: a consumer is left with no open contact and no logged-in agent. Resolutions
        and surveys still to come are dropped.
        """
        events = self.advance_to(t_ms)
        at = self._now
        self._heap.clear()
        for leg in list(self._open.values()):
            if leg.phase in ("waiting", "ringing"):
                self._leave(at, leg, "abandoned")
                continue
            if leg.phase == "talking":
                if leg.on_hold:
                    self._leg_event(at, leg, "hold_end")
                self._leg_event(at, leg, "ended")
            self._leg_event(at, leg, "wrapup_ended")
            del self._open[leg.serial]
        for agent in self._agents:
            self._agent_event(at, agent, "offline")
        for pool in self._pools.values():
            pool.waiting.clear()
            pool.idle.clear()
        return events + self.advance_to(at)

    # --- random draws, in milliseconds ---------------------------------------------------------------

    @staticmethod
    def _ms(seconds: float) -> int:
        return max(0, round(seconds * 1000))

    def _interarrival_ms(self, queue: QueueProfile, at: int) -> int:
        """Time to the next arrival after ``at``: Poisson, its rate shaped by the hour of day when the profile
        has a curve (non-homogeneous, by thinning: candidates at the peak rate, kept by factor / peak)."""
        curve = self.profile.hourly_arrival_factors
        if curve is None:
            return max(1, self._ms(self._rng.expovariate(queue.arrivals_per_minute / 60.0)))
        peak = max(curve)
        t = at
        while True:
            t += max(1, self._ms(self._rng.expovariate(queue.arrivals_per_minute * peak / 60.0)))
            if self._rng.random() * peak < curve[(t // 3_600_000) % 24]:
                return t - at

    def _lognormal_ms(self, mean_seconds: float, sigma: float, floor_seconds: float) -> int:
        if mean_seconds <= 0:
            return 0
        mu = math.log(mean_seconds) - sigma * sigma / 2
        return self._ms(max(floor_seconds, self._rng.lognormvariate(mu, sigma)))

    # --- scheduling and emitting ---------------------------------------------------------------------

    def _schedule(self, at: int, action: Action) -> None:
        self._scheduled += 1
        heapq.heappush(self._heap, (at, self._scheduled, action))

    def _emit(self, at: int, stream: Stream, key: str, kind: str, queue: QueueProfile, **extra: EventValue) -> None:
        self._event_count += 1
        event: EventDict = {
            "schema_version": SCHEMA_VERSION,
            "event_id": f"sim-{self._tag}-{self._event_count}",
            "event_time": format_ms(at),
            "type": kind,
            "tenant": self.profile.tenant,
            "queue": queue.queue,
            "channel": queue.channel,
        }
        event.update(extra)
        self._out.append(SimulatedEvent(stream, key, event))

    def _leg_event(self, at: int, leg: _Leg, kind: str, **extra: EventValue) -> None:
        if leg.agent is not None and kind != "abandoned":
            extra = {"agent_id": leg.agent.agent_id, **extra}
        self._emit(at, "contacts", leg.contact_id, kind, leg.queue, contact_id=leg.contact_id, **extra)

    def _agent_event(
        self, at: int, agent: _Agent, kind: str, queue: QueueProfile | None = None, **extra: EventValue
    ) -> None:
        """An agent event under ``queue`` (default: the agent's home queue), announcing the agent's queues."""
        where = agent.home if queue is None else queue
        self._emit(
            at, "agents", agent.agent_id, kind, where, agent_id=agent.agent_id, queues=agent.queue_names, **extra
        )

    # --- the model -----------------------------------------------------------------------------------

    def _arrival_action(self, queue: QueueProfile) -> Action:
        def arrive(at: int) -> None:
            self._schedule(at + self._interarrival_ms(queue, at), arrive)
            self._contact_count += 1
            self._enqueue(
                at, f"sim-{self._tag}-c{self._contact_count}", queue, opened_ms=at, number=1, customer=self._customer()
            )

        return arrive

    def _customer(self) -> str:
        """A customer for a new contact: one who called recently (a repeat contact) or a new one."""
        if self._recent_customers and self._customer_rng.random() < REPEAT_CUSTOMER_PROBABILITY:
            return self._customer_rng.choice(self._recent_customers)
        customer = f"cust-{self._tag}-{self._contact_count}"
        self._recent_customers.append(customer)
        return customer

    def _enqueue(
        self, at: int, contact_id: str, queue: QueueProfile, *, opened_ms: int, number: int, customer: str
    ) -> None:
        self._leg_count += 1
        leg = _Leg(self._leg_count, contact_id, queue, opened_ms, number, customer_id=customer)
        self._open[leg.serial] = leg
        self._leg_event(at, leg, "queued", customer_id=customer)
        self._pools[queue.key].waiting.append(leg)
        patience = self._ms(self._rng.expovariate(1.0 / queue.patience_mean_seconds))
        limit = None if queue.max_wait_seconds is None else self._ms(queue.max_wait_seconds)
        if limit is not None and limit <= patience:
            self._schedule(at + limit, self._leave_action(leg, "timeout"))
        else:
            self._schedule(at + patience, self._leave_action(leg, "abandoned"))
        self._dispatch(at, self._pools[queue.key])

    def _leave_action(self, leg: _Leg, kind: str) -> Action:
        def leave(at: int) -> None:
            if leg.phase == "waiting":  # else an agent took it in the meantime
                self._leave(at, leg, kind)

        return leave

    def _leave(self, at: int, leg: _Leg, kind: str) -> None:
        if leg.phase == "waiting":
            self._pools[leg.queue.key].waiting.remove(leg)
        self._leg_event(at, leg, kind)
        del self._open[leg.serial]

    def _dispatch(self, at: int, pool: _Pool) -> None:
        while pool.waiting and pool.idle:
            leg = pool.waiting.popleft()
            agent = pool.idle.popleft()
            for queue in agent.serves:  # the agent is no longer idle in its other queue either
                if queue is not pool.profile:
                    self._pools[queue.key].idle.remove(agent)
            leg.phase, leg.agent = "ringing", agent
            self._agent_event(at, agent, "on_contact", leg.queue)
            low, high = pool.profile.ring_seconds
            self._schedule(at + self._ms(self._rng.uniform(low, high)), self._answer_action(leg))

    def _answer_action(self, leg: _Leg) -> Action:
        def answer(at: int) -> None:
            queue = leg.queue
            leg.phase = "talking"
            self._leg_event(at, leg, "answered")
            if queue.talk_distribution == "exponential":  # M/M/N service: memoryless, no floor
                talk = self._ms(self._rng.expovariate(1.0 / queue.talk_mean_seconds))
            else:
                talk = self._lognormal_ms(queue.talk_mean_seconds, queue.talk_sigma, floor_seconds=10.0)
            replied = 0  # the first reply, after the answer; voice has none
            if queue.channel != "voice":
                replied = self._lognormal_ms(queue.first_response_mean_seconds, 0.5, floor_seconds=2.0)
                talk = max(talk, replied + 5000)  # the conversation goes on a little after the first reply
                self._schedule(at + replied, self._first_response_action(leg))
            hold = 0
            if self._rng.random() < queue.hold_probability:
                hold_at = at + replied + max(1, round((talk - replied) * self._rng.uniform(0.2, 0.7)))
                hold = max(1000, self._ms(self._rng.expovariate(1.0 / queue.hold_mean_seconds)))
                self._schedule(hold_at, self._hold_action(leg, "hold_start"))
                self._schedule(hold_at + hold, self._hold_action(leg, "hold_end"))
            target = None
            if leg.number == 1 and queue.transfer_to and self._rng.random() < queue.transfer_probability:
                target = self._pools[(self._rng.choice(queue.transfer_to), queue.channel)].profile
            self._schedule(at + talk + hold, self._end_action(leg, target))

        return answer

    def _first_response_action(self, leg: _Leg) -> Action:
        def first_response(at: int) -> None:
            self._leg_event(at, leg, "first_response")

        return first_response

    def _hold_action(self, leg: _Leg, kind: str) -> Action:
        def hold(at: int) -> None:
            leg.on_hold = kind == "hold_start"
            self._leg_event(at, leg, kind)

        return hold

    def _end_action(self, leg: _Leg, target: QueueProfile | None) -> Action:
        def end(at: int) -> None:
            leg.phase = "wrapup"
            if target is None:
                self._leg_event(at, leg, "ended")
            else:
                self._leg_event(at, leg, "transferred", to_queue=target.queue)
            assert leg.agent is not None
            self._agent_event(at, leg.agent, "wrapup", leg.queue)
            wrapup = self._lognormal_ms(leg.queue.wrapup_mean_seconds, 0.5, floor_seconds=2.0)
            self._schedule(at + wrapup, self._wrapup_done_action(leg, ended=target is None))
            if target is not None:
                self._enqueue(
                    at, leg.contact_id, target, opened_ms=leg.opened_ms, number=leg.number + 1, customer=leg.customer_id
                )

        return end

    def _wrapup_done_action(self, leg: _Leg, *, ended: bool) -> Action:
        def wrapup_done(at: int) -> None:
            self._leg_event(at, leg, "wrapup_ended")
            del self._open[leg.serial]
            agent, profile = leg.agent, self.profile
            assert agent is not None
            if ended:  # the contact's last leg: what the customer thinks of it comes after
                self._aftermath(at, leg)
            if agent.shift_ends_ms is not None and at >= agent.shift_ends_ms:
                self._log_off(at, agent)
            elif self._rng.random() < profile.aux_probability:
                self._agent_event(at, agent, "aux", reason=self._rng.choice(profile.aux_reasons))
                pause = max(1000, self._ms(self._rng.expovariate(1.0 / profile.aux_mean_seconds)))
                self._schedule(at + pause, self._available_action(agent))
            else:
                self._available_action(agent)(at)

        return wrapup_done

    def _aftermath(self, at: int, leg: _Leg) -> None:
        """Schedule the resolution and the survey a contact whose last leg ``leg`` is wrapped up may get."""
        queue, profile = leg.queue, self.profile
        if self._rng.random() < queue.resolve_probability:
            resolved_at = at + self._ms(self._rng.uniform(*profile.resolve_delay_seconds))
            opened_at = format_ms(leg.opened_ms)
            self._schedule(
                resolved_at,
                lambda t: self._leg_event(t, leg, "resolved", opened_at=opened_at, customer_id=leg.customer_id),
            )
        if self._rng.random() < queue.survey_probability:
            surveyed_at = at + self._ms(self._rng.uniform(*profile.survey_delay_seconds))
            scores = self._survey_scores()
            self._schedule(surveyed_at, lambda t: self._leg_event(t, leg, "survey", **scores))

    def _survey_scores(self) -> dict[str, EventValue]:
        """The answers of one survey: each score with its probability, at least one."""
        scales = self.profile.survey.scales
        given = [scale for scale in scales if self._rng.random() < scale[1]]
        if not given:  # nothing drawn: the most likely score is given
            given = [max(scales, key=lambda scale: scale[1])]
        return {
            name: lowest + self._rng.choices(range(len(weights)), weights=weights)[0]
            for name, _, lowest, weights in given
        }

    def _login_action(self, agent: _Agent) -> Action:
        """Start a shift: available now, off again after about ``shift_hours`` (the first idle moment after)."""

        def login(at: int) -> None:
            hours = self.profile.shift_hours or 0.0
            length = self._ms(hours * 3600 * self._rng.uniform(0.9, 1.1))
            agent.shift_ends_ms = at + length
            self._schedule(at + length, self._shift_over_action(agent))
            self._available_action(agent)(at)

        return login

    def _shift_over_action(self, agent: _Agent) -> Action:
        def shift_over(at: int) -> None:
            pools = [self._pools[queue.key] for queue in agent.serves]
            if any(agent in pool.idle for pool in pools):  # idle now: leave at once; else after the contact
                for pool in pools:
                    pool.idle.remove(agent)
                self._log_off(at, agent)

        return shift_over

    def _log_off(self, at: int, agent: _Agent) -> None:
        agent.shift_ends_ms = None
        self._agent_event(at, agent, "offline")
        off = self._ms(self.profile.off_hours * 3600 * self._rng.uniform(0.9, 1.1))
        self._schedule(at + off, self._login_action(agent))

    def _available_action(self, agent: _Agent) -> Action:
        def available(at: int) -> None:
            self._agent_event(at, agent, "available")
            pools = [self._pools[queue.key] for queue in agent.serves]
            for pool in pools:
                pool.idle.append(agent)
            for pool in pools:  # the home queue first
                self._dispatch(at, pool)

        return available
