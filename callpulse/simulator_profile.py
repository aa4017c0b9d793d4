"""Parameters of the simulated contact center: queues, their traffic and their agents (contract v1 names)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

Channel = Literal["voice", "chat", "email", "social"]

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


@dataclass(frozen=True)
class QueueProfile:
    """One queue on one channel, with its arrivals and its own pool of agents.

    Times are seconds. Talk time is lognormal with the given mean and log-space sigma; patience, hold and
    wrap-up are exponential / lognormal around their means (see ``TrafficModel``).
    """

    queue: str
    channel: Channel
    arrivals_per_minute: float
    agents: int
    talk_mean_seconds: float = 180.0
    talk_sigma: float = 0.6
    patience_mean_seconds: float = 90.0
    max_wait_seconds: float | None = None
    ring_seconds: tuple[float, float] = (2.0, 8.0)
    hold_probability: float = 0.2
    hold_mean_seconds: float = 40.0
    wrapup_mean_seconds: float = 30.0
    transfer_probability: float = 0.0
    transfer_to: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_name("queue", self.queue)
        _check_positive(f"{self.queue}: arrivals_per_minute", self.arrivals_per_minute)
        if self.agents < 1:
            raise ValueError(f"{self.queue}: agents must be >= 1, got {self.agents}")
        for what, value in (
            ("talk_mean_seconds", self.talk_mean_seconds),
            ("patience_mean_seconds", self.patience_mean_seconds),
            ("hold_mean_seconds", self.hold_mean_seconds),
        ):
            _check_positive(f"{self.queue}: {what}", value)
        if self.talk_sigma < 0 or self.wrapup_mean_seconds < 0:
            raise ValueError(f"{self.queue}: talk_sigma and wrapup_mean_seconds must be >= 0")
        if self.max_wait_seconds is not None:
            _check_positive(f"{self.queue}: max_wait_seconds", self.max_wait_seconds)
        low, high = self.ring_seconds
        if not 0 <= low <= high:
            raise ValueError(f"{self.queue}: ring_seconds must be (low, high) with 0 <= low <= high")
        _check_probability(f"{self.queue}: hold_probability", self.hold_probability)
        _check_probability(f"{self.queue}: transfer_probability", self.transfer_probability)
        for target in self.transfer_to:
            _check_name(f"{self.queue}: transfer target", target)
            if target == self.queue:
                raise ValueError(f"{self.queue}: a queue cannot transfer to itself")

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
    ),
)


@dataclass(frozen=True)
class TrafficProfile:
    """The whole simulated contact center of one tenant.

    After each wrap-up an agent takes an aux break with ``aux_probability`` (reason drawn from
    ``aux_reasons``, exponential length around ``aux_mean_seconds``). Agents log in during the first
    ``login_spread_seconds`` of the simulation.
    """

    tenant: str = "demo"
    queues: tuple[QueueProfile, ...] = DEFAULT_QUEUES
    aux_probability: float = 0.07
    aux_reasons: tuple[str, ...] = ("break", "coaching", "training")
    aux_mean_seconds: float = 240.0
    login_spread_seconds: float = 30.0

    def __post_init__(self) -> None:
        _check_name("tenant", self.tenant)
        if not self.queues:
            raise ValueError("a traffic profile needs at least one queue")
        keys = [queue.key for queue in self.queues]
        if len(set(keys)) != len(keys):
            raise ValueError(f"queue/channel pairs must be unique, got {keys}")
        for queue in self.queues:
            for target in queue.transfer_to:
                if (target, queue.channel) not in keys:
                    where = f"{queue.queue}/{queue.channel}"
                    raise ValueError(f"{where}: no queue {target}/{queue.channel} to transfer to")
        _check_probability("aux_probability", self.aux_probability)
        if self.aux_probability > 0 and not self.aux_reasons:
            raise ValueError("aux_reasons must not be empty when aux_probability > 0")
        for reason in self.aux_reasons:
            _check_name("aux reason", reason)
        _check_positive("aux_mean_seconds", self.aux_mean_seconds)
        if self.login_spread_seconds < 0:
            raise ValueError("login_spread_seconds must be >= 0")

    def scaled(self, factor: float) -> TrafficProfile:
        """The same contact center ``factor`` times as big: arrivals and agents (at least 1) of every queue.

        Occupancy stays about the same, so the queues stay busy without running away (unlike raising the
        arrival rate alone).
        """
        _check_positive("scale factor", factor)
        queues = tuple(
            replace(q, arrivals_per_minute=q.arrivals_per_minute * factor, agents=max(1, round(q.agents * factor)))
            for q in self.queues
        )
        return replace(self, queues=queues)


DEFAULT_PROFILE = TrafficProfile()
