"""The ``callpulse top`` wallboard as data: one frame built from a snapshot, with no I/O and no clock.

Every figure comes from the exporter's formulas and ``KpiView`` (abandon treatment per queue, timeouts in
offered), so the wallboard and ``/metrics`` show the same numbers for the same snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import tzinfo
from enum import StrEnum

from exporters.reader import Snapshot
from exporters.view import KpiView
from processors import formulas
from processors.figures import Figure

WAIT_WARN_FRACTION = 0.5  # longest wait at or above half the threshold is a warning
SL_WARN_BAND = 0.1  # service level less than 10 points under target is a warning
AGENT_STATES = ("available", "on_contact", "wrapup", "aux")


class Level(StrEnum):
    """Colour class of a cell: green, yellow, red, or nothing to judge."""

    GOOD = "good"
    WARN = "warn"
    BAD = "bad"
    NONE = "none"


class SortKey(StrEnum):
    WAIT = "wait"  # longest wait first, then most waiting, then name
    NAME = "name"


@dataclass(frozen=True)
class Thresholds:
    wait_seconds: float = 60.0
    sl_target: float = 0.8

    def wait_level(self, waiting: int, longest_s: float) -> Level:
        if waiting == 0:
            return Level.NONE
        if longest_s >= self.wait_seconds:
            return Level.BAD
        return Level.WARN if longest_s >= self.wait_seconds * WAIT_WARN_FRACTION else Level.GOOD

    def sl_level(self, ratio: float | None) -> Level:
        if ratio is None:
            return Level.NONE
        if ratio >= self.sl_target:
            return Level.GOOD
        return Level.WARN if ratio >= round(self.sl_target - SL_WARN_BAND, 9) else Level.BAD


@dataclass(frozen=True)
class Choices:
    """What the supervisor picked: the window and the sort order; keys change them."""

    windows: tuple[str, ...]
    window: str
    sort: SortKey = SortKey.WAIT

    def __post_init__(self) -> None:
        if self.window not in self.windows:
            raise ValueError(f"unknown window {self.window!r}: choose one of {', '.join(self.windows)}")

    @property
    def next_window(self) -> str:
        return self.windows[(self.windows.index(self.window) + 1) % len(self.windows)]

    @property
    def next_sort(self) -> SortKey:
        return SortKey.NAME if self.sort is SortKey.WAIT else SortKey.WAIT

    def on_key(self, key: str) -> Choices | None:
        """The choices after ``key``; None for quit. Unknown keys change nothing."""
        match key.lower():
            case "q":
                return None
            case "w":
                return replace(self, window=self.next_window)
            case "s":
                return replace(self, sort=self.next_sort)
        return self


@dataclass(frozen=True)
class QueueRow:
    qid: str  # tenant/queue/channel
    waiting: int
    longest_wait_s: float
    service_level: float | None
    abandon_ratio: float | None
    asa_s: float | None
    aht_s: float | None
    agents: tuple[int, int, int, int]  # available, on contact, wrap-up, aux
    offered: int
    answered: int
    wait_level: Level
    sl_level: Level


@dataclass(frozen=True)
class Frame:
    now_ms: int
    zone: tzinfo
    choices: Choices
    source: str  # where the figures come from (Redis URL without credentials, prefix)
    interval_s: float  # seconds between refreshes; 0 for a single frame (--once)
    rows: tuple[QueueRow, ...] = ()
    redis_error: str | None = None  # set when Redis could not be read: no figures are shown then


def queue_row(snapshot: Snapshot, view: KpiView, qid: str, window: str, thresholds: Thresholds) -> QueueRow:
    """One queue's row, computed exactly as the exporter computes the same series."""
    totals = snapshot.totals.get((qid, window), {})
    include = view.offered_includes_timeouts
    waiting, oldest_ms = snapshot.waiting.get(qid, (0, None))
    longest = 0.0 if oldest_ms is None else max(snapshot.now_ms - oldest_ms, 0) / 1000
    service_level = formulas.service_level_ratio(totals, view.variant_for(qid), include_timeouts=include)
    agents = tuple(snapshot.agents.get((qid, state), 0) for state in AGENT_STATES)
    return QueueRow(
        qid=qid,
        waiting=waiting,
        longest_wait_s=longest,
        service_level=service_level,
        abandon_ratio=formulas.abandon_ratio(totals, include_timeouts=include),
        asa_s=formulas.average_speed_of_answer_seconds(totals),
        aht_s=formulas.average_handle_seconds(totals),
        agents=(agents[0], agents[1], agents[2], agents[3]),
        offered=formulas.offered(totals, include_timeouts=include),
        answered=totals.get(Figure.ANSWERED.value, 0),
        wait_level=thresholds.wait_level(waiting, longest),
        sl_level=thresholds.sl_level(service_level),
    )


def sort_rows(rows: list[QueueRow], key: SortKey) -> tuple[QueueRow, ...]:
    if key is SortKey.NAME:
        return tuple(sorted(rows, key=lambda row: row.qid))
    return tuple(sorted(rows, key=lambda row: (-row.longest_wait_s, -row.waiting, row.qid)))


def build_rows(snapshot: Snapshot, view: KpiView, choices: Choices, thresholds: Thresholds) -> tuple[QueueRow, ...]:
    rows = [queue_row(snapshot, view, qid, choices.window, thresholds) for qid in snapshot.queues]
    return sort_rows(rows, choices.sort)
