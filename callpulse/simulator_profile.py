"""Parameters of the simulated contact center: queues, their traffic and their agents (contract v1 names)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal

Channel = Literal["voice", "chat", "email", "social"]
TalkDistribution = Literal["lognormal", "exponential"]
TALK_DISTRIBUTIONS: tuple[TalkDistribution, ...] = ("lognormal", "exponential")

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""Tenant, queue and aux-reason names (contract v1)."""


def _check_name(what: str, value: str) -> None:
    if not NAME_PATTERN.fullmatch(value):
        raise ValueError(f"{what} {value!r} does not match {NAME_PATTERN.pattern}")


def _check_probability(what: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{what} must be within 0..1, got {value}")


def _check_positive(what: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{what} must be > 0, got {value}")


def _check_range(what: str, value: tuple[float, float]) -> None:
    low, high = value
    if not 0 <= low <= high:
        raise ValueError(f"{what} must be (low, high) with 0 <= low <= high, got {value}")


def _check_weights(what: str, weights: tuple[float, ...], size: int) -> None:
    if len(weights) != size or any(w < 0 for w in weights) or not sum(weights) > 0:
        raise ValueError(f"{what} must be {size} weights >= 0 with a positive sum, got {weights}")


@dataclass(frozen=True)
class QueueProfile:
    """One queue on one channel, with its arrivals and its own pool of agents.

    Times are seconds. Talk time is lognormal with the given mean and log-space sigma (at least 10 s);
    ``talk_distribution="exponential"`` makes it exponential with that mean instead (no floor, ``talk_sigma``
    unused). Patience, hold and wrap-up are exponential / lognormal around their means (see ``TrafficModel``).
    With exponential talk, ``hold_probability=0``, ``wrapup_mean_seconds=0``, ``ring_seconds=(0, 0)``, no
    transfers, no ``max_wait_seconds`` and a patience far beyond any wait (say 1e9 s), a voice queue is an
    M/M/N queue (Erlang C): the agent is seized and the contact ``answered`` at the same instant, so the
    measured wait is the M/M/N wait and the handle time the exponential service time (give the
    ``TrafficProfile`` ``aux_probability=0`` and ``login_spread_seconds=0`` too). On every channel but
    voice the agent's first reply (``first_response``) comes a lognormal time around
    ``first_response_mean_seconds`` after the answer. Of the contacts that end here (not transferred on),
    ``resolve_probability`` are ``resolved`` and ``survey_probability`` get a ``survey`` (see
    ``TrafficProfile``). The first ``second_queue_agents`` agents also serve ``second_queue`` (a queue of the
    same channel): they take its contacts too and announce both queues.
    """

    queue: str
    channel: Channel
    arrivals_per_minute: float
    agents: int
    talk_mean_seconds: float = 180.0
    talk_sigma: float = 0.6
    talk_distribution: TalkDistribution = "lognormal"
    patience_mean_seconds: float = 90.0
    max_wait_seconds: float | None = None
    ring_seconds: tuple[float, float] = (2.0, 8.0)
    hold_probability: float = 0.2
    hold_mean_seconds: float = 40.0
    wrapup_mean_seconds: float = 30.0
    transfer_probability: float = 0.0
    transfer_to: tuple[str, ...] = ()
    first_response_mean_seconds: float = 30.0
    resolve_probability: float = 0.7
    survey_probability: float = 0.3
    second_queue: str | None = None
    second_queue_agents: int = 0

    def __post_init__(self) -> None:
        _check_name("queue", self.queue)
        _check_positive(f"{self.queue}: arrivals_per_minute", self.arrivals_per_minute)
        if self.agents < 1:
            raise ValueError(f"{self.queue}: agents must be >= 1, got {self.agents}")
        for what, value in (
            ("talk_mean_seconds", self.talk_mean_seconds),
            ("patience_mean_seconds", self.patience_mean_seconds),
            ("hold_mean_seconds", self.hold_mean_seconds),
            ("first_response_mean_seconds", self.first_response_mean_seconds),
        ):
            _check_positive(f"{self.queue}: {what}", value)
        if self.talk_sigma < 0 or self.wrapup_mean_seconds < 0:
            raise ValueError(f"{self.queue}: talk_sigma and wrapup_mean_seconds must be >= 0")
        if self.talk_distribution not in TALK_DISTRIBUTIONS:
            raise ValueError(
                f"{self.queue}: talk_distribution must be one of {TALK_DISTRIBUTIONS}, got {self.talk_distribution!r}"
            )
        if self.max_wait_seconds is not None:
            _check_positive(f"{self.queue}: max_wait_seconds", self.max_wait_seconds)
        _check_range(f"{self.queue}: ring_seconds", self.ring_seconds)
        for what, probability in (
            ("hold_probability", self.hold_probability),
            ("transfer_probability", self.transfer_probability),
            ("resolve_probability", self.resolve_probability),
            ("survey_probability", self.survey_probability),
        ):
            _check_probability(f"{self.queue}: {what}", probability)
        for target in self.transfer_to:
            _check_name(f"{self.queue}: transfer target", target)
            if target == self.queue:
                raise ValueError(f"{self.queue}: a queue cannot transfer to itself")
        if self.second_queue is not None:
            _check_name(f"{self.queue}: second queue", self.second_queue)
            if self.second_queue == self.queue:
                raise ValueError(f"{self.queue}: the second queue must be another queue")
        if not 0 <= self.second_queue_agents <= self.agents:
            raise ValueError(
                f"{self.queue}: second_queue_agents must be within 0..agents, got {self.second_queue_agents}"
            )
        if self.second_queue_agents and self.second_queue is None:
            raise ValueError(f"{self.queue}: second_queue_agents needs a second_queue")

    @property
    def key(self) -> tuple[str, Channel]:
        """Queue and channel: together they name the queue's series and its agent pool."""
        return (self.queue, self.channel)


DEFAULT_QUEUES: tuple[QueueProfile, ...] = (
    QueueProfile(
        "support",
        "voice",
        arrivals_per_minute=1.5,
        agents=6,
        transfer_probability=0.05,
        transfer_to=("billing",),
        second_queue="billing",
        second_queue_agents=2,
    ),
    QueueProfile(
        "sales",
        "voice",
        arrivals_per_minute=0.8,
        agents=4,
        talk_mean_seconds=150.0,
        patience_mean_seconds=75.0,
        transfer_probability=0.04,
        transfer_to=("billing", "support"),
        resolve_probability=0.8,
        second_queue="support",
        second_queue_agents=1,
    ),
    QueueProfile(
        "billing",
        "voice",
        arrivals_per_minute=0.5,
        agents=3,
        talk_mean_seconds=200.0,
        patience_mean_seconds=120.0,
        hold_probability=0.3,
    ),
    QueueProfile(
        "support",
        "chat",
        arrivals_per_minute=1.0,
        agents=5,
        talk_mean_seconds=240.0,
        patience_mean_seconds=180.0,
        max_wait_seconds=300.0,
        ring_seconds=(1.0, 4.0),
        hold_probability=0.0,
        wrapup_mean_seconds=20.0,
        first_response_mean_seconds=20.0,
    ),
    QueueProfile(  # emails wait for hours rather than leave: a week of mean patience never runs out here
        "support",
        "email",
        arrivals_per_minute=0.3,
        agents=4,  # about 45 % busy: replies stay within minutes instead of piling up behind a backlog
        talk_mean_seconds=300.0,
        talk_sigma=0.5,
        patience_mean_seconds=7 * 86_400.0,
        ring_seconds=(0.5, 2.0),
        hold_probability=0.0,
        wrapup_mean_seconds=45.0,
        first_response_mean_seconds=120.0,  # a few minutes, not hours, so a 15-minute warm start shows it
        resolve_probability=0.6,
        survey_probability=0.2,
    ),
)


@dataclass(frozen=True)
class SurveyProfile:
    """How surveyed customers answer: each score is given with its probability, drawn from its weights.

    Weights are per answer, lowest first: ``csat_weights`` for 1-5, ``nps_weights`` for 0-10 and
    ``ces_weights`` for 1-7. A survey holds at least one score (if the draws give none, it holds the most
    likely one). The defaults give a CSAT ratio (4 or 5) of 0.8, an NPS of +30 (50 % promoters 9-10,
    20 % detractors 0-6) and a mean CES of about 2.7.
    """

    csat_probability: float = 0.9
    nps_probability: float = 0.6
    ces_probability: float = 0.5
    csat_weights: tuple[float, ...] = (0.04, 0.06, 0.10, 0.35, 0.45)
    nps_weights: tuple[float, ...] = (0.01, 0.01, 0.01, 0.02, 0.03, 0.05, 0.07, 0.12, 0.18, 0.22, 0.28)
    ces_weights: tuple[float, ...] = (0.25, 0.30, 0.20, 0.12, 0.07, 0.04, 0.02)

    def __post_init__(self) -> None:
        probabilities = (self.csat_probability, self.nps_probability, self.ces_probability)
        for name, probability in zip(("csat", "nps", "ces"), probabilities, strict=True):
            _check_probability(f"survey {name}_probability", probability)
        if not any(probabilities):
            raise ValueError("a survey needs at least one score with a probability > 0")
        _check_weights("csat_weights", self.csat_weights, 5)
        _check_weights("nps_weights", self.nps_weights, 11)
        _check_weights("ces_weights", self.ces_weights, 7)

    @property
    def scales(self) -> tuple[tuple[str, float, int, tuple[float, ...]], ...]:
        """(field, answer probability, lowest answer, weights) of each score, in the order they are drawn."""
        return (
            ("csat", self.csat_probability, 1, self.csat_weights),
            ("nps", self.nps_probability, 0, self.nps_weights),
            ("ces", self.ces_probability, 1, self.ces_weights),
        )


@dataclass(frozen=True)
class TrafficProfile:
    """The whole simulated contact center of one tenant.

    After each wrap-up an agent takes an aux break with ``aux_probability`` (reason drawn from
    ``aux_reasons``, exponential length around ``aux_mean_seconds``). Agents log in during the first
    ``login_spread_seconds`` of the simulation. A resolution comes uniformly within ``resolve_delay_seconds``
    after the wrap-up of the contact's last leg, a survey within ``survey_delay_seconds``, answered as
    ``survey`` says.
    """

    tenant: str = "demo"
    queues: tuple[QueueProfile, ...] = DEFAULT_QUEUES
    aux_probability: float = 0.07
    aux_reasons: tuple[str, ...] = ("break", "coaching", "training")
    aux_mean_seconds: float = 240.0
    login_spread_seconds: float = 30.0
    hourly_arrival_factors: tuple[float, ...] | None = None  # 24 multipliers of every arrival rate, by UTC hour
    shift_hours: float | None = None  # agents log off after about this long (when next idle), then back on
    off_hours: float = 1.0  # ... after about this long off
    resolve_delay_seconds: tuple[float, float] = (5.0, 90.0)
    survey_delay_seconds: tuple[float, float] = (30.0, 180.0)
    survey: SurveyProfile = field(default_factory=SurveyProfile)

    def __post_init__(self) -> None:
        _check_name("tenant", self.tenant)
        if not self.queues:
            raise ValueError("a traffic profile needs at least one queue")
        keys = [queue.key for queue in self.queues]
        if len(set(keys)) != len(keys):
            raise ValueError(f"queue/channel pairs must be unique, got {keys}")
        for queue in self.queues:
            where = f"{queue.queue}/{queue.channel}"
            for target in queue.transfer_to:
                if (target, queue.channel) not in keys:
                    raise ValueError(f"{where}: no queue {target}/{queue.channel} to transfer to")
            if queue.second_queue is not None and (queue.second_queue, queue.channel) not in keys:
                raise ValueError(f"{where}: no queue {queue.second_queue}/{queue.channel} to serve as well")
        _check_probability("aux_probability", self.aux_probability)
        if self.aux_probability > 0 and not self.aux_reasons:
            raise ValueError("aux_reasons must not be empty when aux_probability > 0")
        for reason in self.aux_reasons:
            _check_name("aux reason", reason)
        _check_positive("aux_mean_seconds", self.aux_mean_seconds)
        if self.hourly_arrival_factors is not None:
            factors = self.hourly_arrival_factors
            if len(factors) != 24 or min(factors) < 0 or max(factors) <= 0:
                raise ValueError("hourly_arrival_factors must be 24 numbers >= 0, not all 0")
        if self.shift_hours is not None:
            _check_positive("shift_hours", self.shift_hours)
            _check_positive("off_hours", self.off_hours)
        if self.login_spread_seconds < 0:
            raise ValueError("login_spread_seconds must be >= 0")
        _check_range("resolve_delay_seconds", self.resolve_delay_seconds)
        _check_range("survey_delay_seconds", self.survey_delay_seconds)

    def scaled(self, factor: float) -> TrafficProfile:
        """The same contact center ``factor`` times as big: arrivals and agents (at least 1) of every queue,
        and the agents serving a second queue (at most all of them).

        Occupancy stays about the same, so the queues stay busy without running away (unlike raising the
        arrival rate alone).
        """
        _check_positive("scale factor", factor)
        queues = []
        for q in self.queues:
            agents = max(1, round(q.agents * factor))
            second = min(agents, round(q.second_queue_agents * factor))
            if q.second_queue_agents and not second:
                second = 1  # keep the multi-queue agents a scaled-down center still shows
            queues.append(
                replace(
                    q,
                    arrivals_per_minute=q.arrivals_per_minute * factor,
                    agents=agents,
                    second_queue_agents=second,
                )
            )
        return replace(self, queues=tuple(queues))


DEFAULT_PROFILE = TrafficProfile()


DAY_CURVE: tuple[float, ...] = (
    0.05,
    0.03,
    0.02,
    0.02,
    0.03,
    0.08,
    0.25,
    0.6,
    1.1,
    1.5,
    1.6,
    1.45,
    1.2,
    1.35,
    1.5,
    1.4,
    1.2,
    1.0,
    0.75,
    0.5,
    0.35,
    0.25,
    0.15,
    0.08,
)
"""A typical intraday arrival curve (mean about 0.7): quiet nights, a morning peak at 10:00, a second one at 14:00."""


def shaped(
    profile: TrafficProfile, *, scale: float = 1.0, day_curve: bool = False, shift_hours: float | None = None
) -> TrafficProfile:
    """``profile`` scaled, with the intraday arrival curve and agents' shifts when asked."""
    result = profile.scaled(scale)
    if day_curve:
        result = replace(result, hourly_arrival_factors=DAY_CURVE)
    if shift_hours is not None:
        result = replace(result, shift_hours=shift_hours)
    return result
