"""One contact leg (a contact in one queue): its state, the checks on each new event, and what it contributes.

What a leg contributes to the buckets is a pure function of the events it has seen (``contributions``), so
applying an event is: check it, add it, and emit ``contributions(after) - contributions(before)``. The
result does not depend on the order events arrive in; duplicates (same event id) are applied once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby, pairwise
from typing import Any

from processors.events import ContactEvent, ContactEventType, QueueRef, Rejection, RejectReason
from processors.figures import BucketKey, Figure, KpiPolicy, MaxFigure, agent_key
from processors.windows import bucket_start

_T = ContactEventType
_SINGLE = {
    _T.QUEUED: "queued_ms",
    _T.ANSWERED: "answered_ms",
    _T.ABANDONED: "abandoned_ms",
    _T.TIMEOUT: "timeout_ms",
    _T.ENDED: "ended_ms",
    _T.TRANSFERRED: "transferred_ms",
    _T.WRAPUP_ENDED: "wrapup_ms",
    _T.FIRST_RESPONSE: "first_response_ms",
}
_OUTCOMES = ("answered_ms", "abandoned_ms", "timeout_ms")
_ENDINGS = ("ended_ms", "transferred_ms")
HOLD_START, HOLD_END = 0, 1
_WAIT_MAX_MS = MaxFigure.WAIT_MAX_MS.value


def leg_key(where: QueueRef, contact_id: str) -> str:
    """The key of a leg: ``tenant/queue/channel/contact_id`` (split with ``split('/', 3)``)."""
    return f"{where.qid}/{contact_id}"


@dataclass(slots=True)
class ContactLeg:
    """What is known of one contact in one queue."""

    where: QueueRef
    contact_id: str
    queued_ms: int | None = None
    answered_ms: int | None = None
    abandoned_ms: int | None = None
    timeout_ms: int | None = None
    ended_ms: int | None = None
    transferred_ms: int | None = None
    wrapup_ms: int | None = None
    first_response_ms: int | None = None
    agent_id: str | None = None  # who answered
    holds: list[tuple[int, int, str]] = field(default_factory=list)  # (time, HOLD_START|HOLD_END, event id)
    event_ids: set[str] = field(default_factory=set)
    last_event_ms: int = 0

    def copy(self) -> ContactLeg:
        """A shallow copy (what ``dataclasses.replace`` does, several times faster)."""
        return ContactLeg(
            self.where,
            self.contact_id,
            self.queued_ms,
            self.answered_ms,
            self.abandoned_ms,
            self.timeout_ms,
            self.ended_ms,
            self.transferred_ms,
            self.wrapup_ms,
            self.first_response_ms,
            self.agent_id,
            self.holds,
            self.event_ids,
            self.last_event_ms,
        )

    @property
    def end_ms(self) -> int | None:
        """When talk ended: the ``ended`` event, or the transfer that handed the contact on."""
        return self.ended_ms if self.ended_ms is not None else self.transferred_ms

    @property
    def waiting_since_ms(self) -> int | None:
        """Queued time while the contact still waits in the queue, else None."""
        if self.answered_ms is not None or self.abandoned_ms is not None or self.timeout_ms is not None:
            return None  # left the queue: one of _OUTCOMES
        return self.queued_ms

    @property
    def closed(self) -> bool:
        """No further event is expected: it left the queue unanswered, or its wrap-up is over."""
        return self.abandoned_ms is not None or self.timeout_ms is not None or self.wrapup_ms is not None

    def to_json(self) -> dict[str, Any]:
        holds = self.holds
        return {
            "t": self.where.qid,
            "c": self.contact_id,
            "q": self.queued_ms,
            "a": self.answered_ms,
            "ab": self.abandoned_ms,
            "to": self.timeout_ms,
            "e": self.ended_ms,
            "tr": self.transferred_ms,
            "w": self.wrapup_ms,
            "fr": self.first_response_ms,
            "ag": self.agent_id,
            "h": [list(hold) for hold in holds] if holds else [],  # (most legs have no hold)
            "ids": sorted(self.event_ids),
            "l": self.last_event_ms,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ContactLeg:
        return cls(
            where=QueueRef.from_qid(data["t"]),
            contact_id=data["c"],
            queued_ms=data["q"],
            answered_ms=data["a"],
            abandoned_ms=data["ab"],
            timeout_ms=data["to"],
            ended_ms=data["e"],
            transferred_ms=data["tr"],
            wrapup_ms=data["w"],
            first_response_ms=data.get("fr"),
            agent_id=data.get("ag"),
            holds=[(int(t), int(kind), str(eid)) for t, kind, eid in data["h"]],
            event_ids=set(data["ids"]),
            last_event_ms=data["l"],
        )


def problem(leg: ContactLeg) -> Rejection | None:
    """The first inconsistency of a leg (an event out of the lifecycle or a negative duration), if any."""
    outcomes = [name for name in _OUTCOMES if getattr(leg, name) is not None]
    if len(outcomes) > 1:
        return Rejection(
            RejectReason.CONFLICTING_EVENT,
            f"contact {leg.contact_id} cannot be both {' and '.join(o[:-3] for o in outcomes)}",
        )
    if leg.ended_ms is not None and leg.transferred_ms is not None:
        return Rejection(
            RejectReason.CONFLICTING_EVENT, f"contact {leg.contact_id} cannot be both ended and transferred"
        )
    if (leg.abandoned_ms is not None or leg.timeout_ms is not None) and (leg.end_ms is not None or leg.holds):
        return Rejection(RejectReason.CONFLICTING_EVENT, f"contact {leg.contact_id} left the queue unanswered")
    order = [
        ("queued", leg.queued_ms),
        ("answered", leg.answered_ms),
        ("ended", leg.end_ms),
        ("wrapup_ended", leg.wrapup_ms),
    ]
    for outcome in ("abandoned", "timeout"):
        if getattr(leg, f"{outcome}_ms") is not None:
            order = [("queued", leg.queued_ms), (outcome, getattr(leg, f"{outcome}_ms"))]
    known = [(name, at) for name, at in order if at is not None]
    for (early_name, early), (late_name, late) in pairwise(known):
        if late < early:
            return Rejection(
                RejectReason.NEGATIVE_DURATION,
                f"contact {leg.contact_id}: {late_name} at {late} ms is before {early_name} at {early} ms",
            )
    if leg.first_response_ms is not None and leg.queued_ms is not None and leg.first_response_ms < leg.queued_ms:
        return Rejection(
            RejectReason.NEGATIVE_DURATION,
            f"contact {leg.contact_id}: first_response at {leg.first_response_ms} ms is before queued",
        )
    return _hold_problem(leg)


def consistent(leg: ContactLeg) -> bool:
    """Whether ``problem(leg)`` is None, decided without building any message: the check every event runs."""
    queued, answered, abandoned, timeout = leg.queued_ms, leg.answered_ms, leg.abandoned_ms, leg.timeout_ms
    end = leg.ended_ms
    if end is None:
        end = leg.transferred_ms
    elif leg.transferred_ms is not None:
        return False
    unanswered = abandoned if abandoned is not None else timeout
    if unanswered is not None:
        if answered is not None or (abandoned is not None and timeout is not None) or end is not None or leg.holds:
            return False
        if queued is not None and unanswered < queued:
            return False
    else:
        last = None
        for at in (queued, answered, end, leg.wrapup_ms):
            if at is not None:
                if last is not None and at < last:
                    return False
                last = at
        for at, _kind, _event_id in leg.holds:
            if (answered is not None and at < answered) or (end is not None and at > end):
                return False
    first_response = leg.first_response_ms
    return first_response is None or queued is None or first_response >= queued


def _hold_problem(leg: ContactLeg) -> Rejection | None:
    """Holds must lie inside talk; their pairing is left to ``hold_ms`` so arrival order does not matter."""
    end = leg.end_ms
    for at, _kind, _event_id in leg.holds:
        if leg.answered_ms is not None and at < leg.answered_ms:
            return Rejection(RejectReason.NEGATIVE_DURATION, f"contact {leg.contact_id}: hold at {at} ms before answer")
        if end is not None and at > end:
            return Rejection(RejectReason.NEGATIVE_DURATION, f"contact {leg.contact_id}: hold at {at} ms after the end")
    return None


def apply_event(leg: ContactLeg, event: ContactEvent) -> tuple[ContactLeg, Rejection | None]:
    """The leg with ``event`` added, or the unchanged leg and why the event cannot be applied."""
    candidate = leg.copy()
    candidate.event_ids = set(leg.event_ids)
    rejection = apply_event_in_place(candidate, event)
    return (leg, rejection) if rejection is not None else (candidate, None)


def apply_event_in_place(leg: ContactLeg, event: ContactEvent) -> Rejection | None:
    """Add ``event`` to ``leg`` itself, or leave it as it was and say why the event cannot be applied.

    For a leg only its owner holds (a copy, or one made by the batch being applied): it saves the copy.
    Fields are replaced, never changed in place (``holds`` gets a new list): a copy shares them."""
    attribute = _SINGLE.get(event.type)
    old_holds = leg.holds
    if attribute is not None:
        if getattr(leg, attribute) is not None:
            return Rejection(
                RejectReason.CONFLICTING_EVENT,
                f"contact {leg.contact_id} already has a {event.type.value} event "
                f"(id {event.event_id} is a second one)",
            )
        setattr(leg, attribute, event.time_ms)
    else:
        kind = HOLD_START if event.type is _T.HOLD_START else HOLD_END
        leg.holds = sorted([*old_holds, (event.time_ms, kind, event.event_id)])
    old_agent = leg.agent_id
    if event.type is _T.ANSWERED and event.agent_id is not None:
        leg.agent_id = event.agent_id
    if not consistent(leg):
        rejection = problem(leg)
        if attribute is not None:
            setattr(leg, attribute, None)
        leg.holds, leg.agent_id = old_holds, old_agent
        return rejection
    leg.event_ids.add(event.event_id)
    leg.last_event_ms = max(leg.last_event_ms, event.time_ms)
    return None


def _same_ms_order(starts: int, ends: int, *, on_hold: bool) -> list[int]:
    """Hold events of one millisecond in the order that pairs the most: alternate, beginning with what the
    current state expects (an end while on hold), then whatever is left over."""
    order = []
    expect_end = on_hold
    while starts or ends:
        if expect_end and ends:
            order.append(HOLD_END)
            ends -= 1
        elif not expect_end and starts:
            order.append(HOLD_START)
            starts -= 1
        elif ends:
            order.append(HOLD_END)
            ends -= 1
            continue
        else:
            order.append(HOLD_START)
            starts -= 1
            continue
        expect_end = not expect_end
    return order


def hold_ms(leg: ContactLeg) -> int:
    """Total time on hold once talk has ended; 0 before.

    In time order, each hold_start pairs with the hold_end that follows it; a hold still open at the end
    of talk closes there. Events at the same millisecond alternate, ends first while on hold (back-to-back
    holds) and starts first otherwise (a zero-length hold). An end with no start before it, or a second
    start while on hold, adds nothing.
    """
    end = leg.end_ms
    if end is None:
        return 0
    total, started = 0, None
    for at, group in groupby(leg.holds, key=lambda hold: hold[0]):
        kinds = [kind for _at, kind, _event_id in group]
        for kind in _same_ms_order(kinds.count(HOLD_START), kinds.count(HOLD_END), on_hold=started is not None):
            if kind == HOLD_START:
                started = at if started is None else started
            elif started is not None:
                total += at - started
                started = None
    if started is not None:
        total += end - started
    return total


# figure names as plain strings (keys hold plain strings; a StrEnum's .value is several times slower)
_F = {figure: str(figure) for figure in Figure}


def _queue_figures(leg: ContactLeg, queued: int, policy: KpiPolicy, qid: str, sums: dict[BucketKey, int]) -> int | None:
    """Arrival, first response and the way the contact left the queue; returns the wait once it has left."""
    width = policy.bucket_ms
    sums[(queued - queued % width, qid, _F[Figure.QUEUED])] = 1
    first_response = leg.first_response_ms
    if first_response is not None:
        bucket = first_response - first_response % width
        sums[(bucket, qid, _F[Figure.FIRST_RESPONSES])] = 1
        sums[(bucket, qid, _F[Figure.FIRST_RESPONSE_MS])] = first_response - queued
    left = leg.answered_ms
    if left is None:
        left = leg.abandoned_ms if leg.abandoned_ms is not None else leg.timeout_ms
        if left is None:
            return None
    wait = left - queued
    within = int(wait <= policy.service_level_threshold_ms(leg.where.channel))
    bucket = left - left % width
    sums[(bucket, qid, _F[Figure.LEFT_QUEUE])] = 1
    sums[(bucket, qid, _F[Figure.WAIT_ALL_MS])] = wait
    if leg.answered_ms is not None:
        sums[(bucket, qid, _F[Figure.ANSWERED])] = 1
        sums[(bucket, qid, _F[Figure.WAIT_ANSWERED_MS])] = wait
        sums[(bucket, qid, _F[Figure.ANSWERED_IN_SL])] = within
    elif leg.abandoned_ms is not None and wait < policy.short_abandon_ms:
        sums[(bucket, qid, _F[Figure.SHORT_ABANDONED])] = 1
    elif leg.abandoned_ms is not None:
        sums[(bucket, qid, _F[Figure.ABANDONED])] = 1
        sums[(bucket, qid, _F[Figure.ABANDONED_IN_SL])] = within
    else:
        sums[(bucket, qid, _F[Figure.TIMED_OUT])] = 1
        sums[(bucket, qid, _F[Figure.TIMED_OUT_IN_SL])] = within
    return wait


def _handle_figures(
    leg: ContactLeg, answered: int, end: int, wrapup: int, *, policy: KpiPolicy, qid: str, sums: dict[BucketKey, int]
) -> None:
    on_hold = hold_ms(leg) if leg.holds else 0
    bucket = wrapup - wrapup % policy.bucket_ms
    sums[(bucket, qid, _F[Figure.HANDLED])] = 1
    sums[(bucket, qid, _F[Figure.HANDLE_MS])] = wrapup - answered
    sums[(bucket, qid, _F[Figure.HOLD_MS])] = on_hold
    sums[(bucket, qid, _F[Figure.TALK_MS])] = end - answered - on_hold
    sums[(bucket, qid, _F[Figure.WRAPUP_MS])] = wrapup - end
    if policy.per_agent and leg.agent_id is not None:
        agent = agent_key(leg.where.tenant, leg.agent_id)
        sums[(bucket, agent, _F[Figure.HANDLED])] = 1
        sums[(bucket, agent, _F[Figure.HANDLE_MS])] = wrapup - answered


def contributions(leg: ContactLeg, policy: KpiPolicy) -> tuple[dict[BucketKey, int], dict[BucketKey, int]]:
    """Everything the leg adds to buckets so far: (additive figures, maximum figures).

    Each (bucket, owner, figure) gets at most one value from a leg, so the figures are set, not added up.
    """
    sums: dict[BucketKey, int] = {}
    maxima: dict[BucketKey, int] = {}
    qid = leg.where.qid
    queued = leg.queued_ms
    if queued is not None:
        wait = _queue_figures(leg, queued, policy, qid, sums)
        if wait is not None:
            left = queued + wait
            maxima[(left - left % policy.bucket_ms, qid, _WAIT_MAX_MS)] = wait
    end = leg.end_ms
    if leg.answered_ms is not None and end is not None and leg.wrapup_ms is not None:
        _handle_figures(leg, leg.answered_ms, end, leg.wrapup_ms, policy=policy, qid=qid, sums=sums)
    transferred = leg.transferred_ms
    if transferred is not None:
        sums[(transferred - transferred % policy.bucket_ms, qid, _F[Figure.TRANSFERRED])] = 1
    return sums, maxima


def standalone_contributions(event: ContactEvent, policy: KpiPolicy) -> dict[BucketKey, int]:
    """What a resolution or a survey adds: it needs nothing but itself (it may come days after the contact)."""
    bucket = bucket_start(event.time_ms, policy.bucket_ms)
    qid = event.where.qid
    values: list[tuple[Figure, int]] = []  # zeros are dropped below
    if event.type is _T.RESOLVED and event.opened_ms is not None:
        values = [(Figure.RESOLVED, 1), (Figure.RESOLUTION_MS, event.time_ms - event.opened_ms)]
    elif event.type is _T.SURVEY and event.survey is not None:
        survey = event.survey
        if survey.csat is not None:
            values += (
                (Figure.CSAT_RESPONSES, 1),
                (Figure.CSAT_SATISFIED, int(survey.csat >= 4)),
                (Figure.CSAT_SCORE_SUM, survey.csat),
            )
        if survey.nps is not None:
            values += (
                (Figure.NPS_RESPONSES, 1),
                (Figure.NPS_PROMOTERS, int(survey.nps >= 9)),
                (Figure.NPS_DETRACTORS, int(survey.nps <= 6)),
            )
        if survey.ces is not None:
            values += ((Figure.CES_RESPONSES, 1), (Figure.CES_SCORE_SUM, survey.ces))
    return {(bucket, qid, _F[figure]): value for figure, value in values if value}


STANDALONE = frozenset({_T.RESOLVED, _T.SURVEY})
CLOSING = frozenset({_T.ABANDONED, _T.TIMEOUT, _T.WRAPUP_ENDED})  # the events that make a leg ``closed``
