"""KPI formulas over the figures summed across a window (see ../shared/kpi-reference.md).

Each function takes the summed figures of one queue and window and returns the KPI, or ``None`` when its
denominator is zero (the exporter then leaves the series out rather than invent a value).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from processors.figures import Figure, MaxFigure, state_figure

Totals = Mapping[str, int]


class ServiceLevelVariant(StrEnum):
    """How abandoned contacts count in the service level (short abandons never count)."""

    ABANDONS_AGAINST = "abandons_against"  # answered in T / (answered + abandoned)            (Genesys default)
    ABANDONS_AFTER_THRESHOLD_AGAINST = (
        "abandons_after_threshold_against"  # / (answered + abandoned after T) (Twilio Flex)
    )
    ABANDONS_WITHIN_THRESHOLD_MET = (
        "abandons_within_threshold_met"  # (answered in T + abandoned in T) / (answered + abandoned) (Amazon Connect)
    )
    ABANDONS_IGNORED = (
        "abandons_ignored"  # answered in T / answered                             (Asterisk SL, VICIdial)
    )


def _get(totals: Totals, figure: Figure | MaxFigure) -> int:
    return totals.get(figure.value, 0)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def _unanswered(totals: Totals, include_timeouts: bool) -> tuple[int, int]:
    """(abandoned, abandoned within the threshold), with timeouts counted as abandons when configured."""
    abandoned = _get(totals, Figure.ABANDONED)
    within = _get(totals, Figure.ABANDONED_IN_SL)
    if include_timeouts:
        abandoned += _get(totals, Figure.TIMED_OUT)
        within += _get(totals, Figure.TIMED_OUT_IN_SL)
    return abandoned, within


def offered(totals: Totals, *, include_timeouts: bool) -> int:
    """Answered + abandoned (+ timeouts), short abandons excluded."""
    return _get(totals, Figure.ANSWERED) + _unanswered(totals, include_timeouts)[0]


def abandon_ratio(totals: Totals, *, include_timeouts: bool) -> float | None:
    """Abandoned / offered, short abandons excluded from both."""
    return _ratio(_unanswered(totals, include_timeouts)[0], offered(totals, include_timeouts=include_timeouts))


def average_speed_of_answer_seconds(totals: Totals) -> float | None:
    """Sum of waits of answered contacts / answered."""
    return _ratio(_get(totals, Figure.WAIT_ANSWERED_MS) / 1000, _get(totals, Figure.ANSWERED))


def max_wait_seconds(totals: Totals) -> float | None:
    """Longest wait of a contact that left the queue (answered, abandoned or timed out) in the window."""
    value = totals.get(MaxFigure.WAIT_MAX_MS.value)
    return None if value is None else value / 1000


def service_level_ratio(totals: Totals, variant: ServiceLevelVariant, *, include_timeouts: bool) -> float | None:
    """Share of contacts served within the channel's threshold, abandons treated as ``variant`` says."""
    answered = _get(totals, Figure.ANSWERED)
    answered_in = _get(totals, Figure.ANSWERED_IN_SL)
    abandoned, abandoned_in = _unanswered(totals, include_timeouts)
    match variant:
        case ServiceLevelVariant.ABANDONS_AGAINST:
            return _ratio(answered_in, answered + abandoned)
        case ServiceLevelVariant.ABANDONS_AFTER_THRESHOLD_AGAINST:
            return _ratio(answered_in, answered + abandoned - abandoned_in)
        case ServiceLevelVariant.ABANDONS_WITHIN_THRESHOLD_MET:
            return _ratio(answered_in + abandoned_in, answered + abandoned)
        case ServiceLevelVariant.ABANDONS_IGNORED:
            return _ratio(answered_in, answered)
    raise ValueError(f"unknown service-level variant {variant!r}")


def average_handle_seconds(totals: Totals, part: Figure = Figure.HANDLE_MS) -> float | None:
    """Mean of ``part`` (handle, talk, hold or wrap-up ms) over handled contacts, in seconds."""
    return _ratio(_get(totals, part) / 1000, _get(totals, Figure.HANDLED))


def average_idle_seconds(totals: Totals) -> float | None:
    """Mean agent idle time between contacts."""
    return _ratio(_get(totals, Figure.IDLE_MS) / 1000, _get(totals, Figure.IDLE_GAPS))


def transfer_ratio(totals: Totals) -> float | None:
    """Transferred / handled."""
    return _ratio(_get(totals, Figure.TRANSFERRED), _get(totals, Figure.HANDLED))


def _mean(totals: Totals, numerator: Figure, denominator: Figure, scale: float = 1.0) -> float | None:
    return _ratio(_get(totals, numerator) * scale, _get(totals, denominator))


def average_wait_seconds(totals: Totals) -> float | None:
    """Mean wait of every contact that left the queue (answered, abandoned or timed out)."""
    return _mean(totals, Figure.WAIT_ALL_MS, Figure.LEFT_QUEUE, 1 / 1000)


def first_response_seconds(totals: Totals) -> float | None:
    """Mean first response time: first agent reply - contact queued."""
    return _mean(totals, Figure.FIRST_RESPONSE_MS, Figure.FIRST_RESPONSES, 1 / 1000)


def resolution_seconds(totals: Totals) -> float | None:
    """Average resolution time: resolved - opened."""
    return _mean(totals, Figure.RESOLUTION_MS, Figure.RESOLVED, 1 / 1000)


def csat_ratio(totals: Totals) -> float | None:
    """CSAT as the share of answers 4 or 5 on the 1-5 scale."""
    return _mean(totals, Figure.CSAT_SATISFIED, Figure.CSAT_RESPONSES)


def csat_mean_score(totals: Totals) -> float | None:
    return _mean(totals, Figure.CSAT_SCORE_SUM, Figure.CSAT_RESPONSES)


def net_promoter_score(totals: Totals) -> float | None:
    """% promoters (9-10) - % detractors (0-6), from -100 to 100."""
    promoters_minus_detractors = _get(totals, Figure.NPS_PROMOTERS) - _get(totals, Figure.NPS_DETRACTORS)
    return _ratio(100 * promoters_minus_detractors, _get(totals, Figure.NPS_RESPONSES))


def customer_effort_score(totals: Totals) -> float | None:
    """Mean CES answer."""
    return _mean(totals, Figure.CES_SCORE_SUM, Figure.CES_RESPONSES)


def first_contact_resolution_ratio(totals: Totals) -> float | None:
    """Resolutions not followed by a repeat contact of the same customer within N days (as known now)."""
    resolved = _get(totals, Figure.FCR_RESOLVED)
    return _ratio(resolved - _get(totals, Figure.FCR_REPEATED), resolved)


def _state_ms(totals: Totals, *states: str) -> int:
    return sum(totals.get(state_figure(state), 0) for state in states)


def occupancy_ratio(totals: Totals) -> float | None:
    """Handling time (on contact + wrap-up) / (handling + available idle time)."""
    handling = _state_ms(totals, "on_contact", "wrapup")
    return _ratio(handling, handling + _state_ms(totals, "available"))


def utilization_ratio(totals: Totals) -> float | None:
    """Handling time / logged-in time (every state but offline)."""
    handling = _state_ms(totals, "on_contact", "wrapup")
    return _ratio(handling, handling + _state_ms(totals, "available", "aux"))
