"""The raw figures the worker adds into time buckets; every exported KPI is a formula over these.

Sums of durations are integer milliseconds so that a batch recomputation gives bit-identical totals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from processors.events import DEFAULT_LIMITS, Channel
from processors.limits import EventLimits


class Figure(StrEnum):
    """Additive figures, bucketed by the event time that completes them."""

    ANSWERED = "answered"  # at answered time
    ANSWERED_IN_SL = "answered_in_sl"  # wait <= service-level threshold of the channel
    WAIT_ANSWERED_MS = "wait_answered_ms"  # sum of waits of answered contacts (ASA numerator)
    ABANDONED = "abandoned"  # at abandon time; short abandons excluded
    ABANDONED_IN_SL = "abandoned_in_sl"  # abandoned (not short) with wait <= threshold
    SHORT_ABANDONED = "short_abandoned"  # wait < short-abandon threshold
    TIMED_OUT = "timed_out"  # queue max wait reached
    TIMED_OUT_IN_SL = "timed_out_in_sl"
    HANDLED = "handled"  # at wrap-up end: answered, ended (or transferred) and wrapped up
    HANDLE_MS = "handle_ms"  # talk + hold + wrap-up
    TALK_MS = "talk_ms"
    HOLD_MS = "hold_ms"
    WRAPUP_MS = "wrapup_ms"
    TRANSFERRED = "transferred"  # at transfer time
    IDLE_GAPS = "idle_gaps"  # agent went from available to on_contact: one gap between contacts
    IDLE_MS = "idle_ms"  # length of those gaps
    QUEUED = "queued"  # arrivals: volume, at queued time
    LEFT_QUEUE = "left_queue"  # contacts that left the queue: answered, abandoned (short too) or timed out
    WAIT_ALL_MS = "wait_all_ms"  # their waits (average wait)
    FIRST_RESPONSES = "first_responses"  # contacts with a first agent reply, at reply time
    FIRST_RESPONSE_MS = "first_response_ms"  # reply - queued
    RESOLVED = "resolved"  # at resolution time
    RESOLUTION_MS = "resolution_ms"  # resolved - opened
    CSAT_RESPONSES = "csat_responses"
    CSAT_SATISFIED = "csat_satisfied"  # answers 4 or 5
    CSAT_SCORE_SUM = "csat_score_sum"
    NPS_RESPONSES = "nps_responses"
    NPS_PROMOTERS = "nps_promoters"  # 9-10
    NPS_DETRACTORS = "nps_detractors"  # 0-6
    CES_RESPONSES = "ces_responses"
    CES_SCORE_SUM = "ces_score_sum"
    FCR_RESOLVED = "fcr_resolved"  # resolutions of contacts with a customer id, at resolution time
    FCR_REPEATED = "fcr_repeated"  # ... followed by a contact of the same customer within N days


def state_figure(state: str) -> str:
    """The figure holding milliseconds spent in an agent state (``state_ms.available`` ...)."""
    return f"state_ms.{state}"


def agent_key(tenant: str, agent_id: str) -> str:
    """Where per-agent figures are kept in place of a queue id: ``@tenant/agent``."""
    return f"@{tenant}/{agent_id}"


class MaxFigure(StrEnum):
    """Figures kept as the largest value seen in a bucket."""

    WAIT_MAX_MS = "wait_max_ms"  # longest wait of contacts answered, abandoned or timed out


@dataclass(frozen=True)
class KpiPolicy:
    """The parts of the configuration that decide what a contact contributes."""

    bucket_ms: int = 60_000
    short_abandon_ms: int = 5_000
    service_level_ms: Mapping[Channel, int] = field(
        default_factory=lambda: {
            Channel.VOICE: 20_000,
            Channel.CHAT: 60_000,
            Channel.EMAIL: 3_600_000,
            Channel.SOCIAL: 900_000,
        }
    )
    allowed_lateness_ms: int = 600_000
    stale_contact_ms: int = 4 * 3_600_000
    per_agent: bool = False  # also keep figures per agent (behind CALLPULSE_PER_AGENT_METRICS)
    customer_salt: bytes = b""  # secret for hashing customer ids; empty: customer ids are not used
    fcr_window_ms: int = 7 * 86_400_000  # a repeat contact within this long after a resolution fails FCR
    limits: EventLimits = DEFAULT_LIMITS  # what the decoder accepts (sizes, names, times)

    def __post_init__(self) -> None:
        if self.bucket_ms < 1:
            raise ValueError("bucket_ms must be >= 1")
        if self.short_abandon_ms < 0 or self.allowed_lateness_ms < 0 or self.stale_contact_ms < 1:
            raise ValueError("thresholds must not be negative")
        missing = [channel.value for channel in Channel if channel not in self.service_level_ms]
        if missing:
            raise ValueError(f"no service-level threshold for channel(s) {', '.join(missing)}")

    def service_level_threshold_ms(self, channel: Channel) -> int:
        return self.service_level_ms[channel]


# (bucket start ms, qid, figure name) -> value
BucketKey = tuple[int, str, str]
