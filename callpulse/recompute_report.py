"""The figures ``callpulse recompute`` shows: pure functions from a ``Snapshot`` to rows, text and JSON.

The KPIs come from the exporter's own tables (``exporters.queue_metrics``) and ``processors.formulas``,
with the operator's choices from the ``KpiView``, so a row shows what ``/metrics`` serves for the same
snapshot: the same queues (those with summed figures), the same windows, the same formulas.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from exporters import catalog, queue_metrics
from exporters.reader import Snapshot
from exporters.view import KpiView
from processors import formulas


@dataclass(frozen=True, slots=True)
class WindowRow:
    """The main figures of one queue in one window; ``None`` where the exporter leaves the series out."""

    queue: str
    window: str
    arrived: int
    offered: int
    answered: int
    abandoned: int
    asa_seconds: float | None
    max_wait_seconds: float | None
    abandon_ratio: float | None
    service_level_ratio: float | None
    aht_seconds: float | None
    idle_seconds: float | None


@dataclass(frozen=True, slots=True)
class LiveRow:
    """What is true of a queue at ``now``: contacts waiting, the longest current wait, agents by state."""

    queue: str
    waiting: int
    longest_wait_seconds: float
    agents: dict[str, int]


def window_rows(snapshot: Snapshot, view: KpiView) -> list[WindowRow]:
    """One row per queue with figures and per window of the view (rolling windows, then the calendar ones)."""
    include = view.offered_includes_timeouts
    counts = queue_metrics.COUNTS
    rows = []
    for qid in sorted({qid for qid, _ in snapshot.totals if not qid.startswith("@")}):
        variant = view.variant_for(qid)
        for label in view.window_labels:
            totals = snapshot.totals.get((qid, label), {})
            rows.append(
                WindowRow(
                    queue=qid,
                    window=label,
                    arrived=totals.get(counts[catalog.QUEUE_ARRIVED].value, 0),
                    offered=formulas.offered(totals, include_timeouts=include),
                    answered=totals.get(counts[catalog.QUEUE_ANSWERED].value, 0),
                    abandoned=totals.get(counts[catalog.QUEUE_ABANDONED].value, 0),
                    asa_seconds=queue_metrics.MEANS[catalog.QUEUE_ASA](totals),
                    max_wait_seconds=queue_metrics.MEANS[catalog.QUEUE_MAX_WAIT](totals),
                    abandon_ratio=formulas.abandon_ratio(totals, include_timeouts=include),
                    service_level_ratio=formulas.service_level_ratio(totals, variant, include_timeouts=include),
                    aht_seconds=formulas.average_handle_seconds(totals, queue_metrics.HANDLE_PARTS[catalog.QUEUE_AHT]),
                    idle_seconds=queue_metrics.MEANS[catalog.QUEUE_AGENT_IDLE](totals),
                )
            )
    return rows


def live_rows(snapshot: Snapshot) -> list[LiveRow]:
    """One row per queue known to the snapshot, as the exporter's live gauges show it."""
    rows = []
    for qid in sorted(snapshot.queues):
        count, oldest_ms = snapshot.waiting.get(qid, (0, None))
        longest = 0.0 if oldest_ms is None else max(snapshot.now_ms - oldest_ms, 0) / 1000
        agents = {state: n for (owner, state), n in sorted(snapshot.agents.items()) if owner == qid}
        rows.append(LiveRow(queue=qid, waiting=count, longest_wait_seconds=longest, agents=agents))
    return rows


def figures_document(snapshot: Snapshot, view: KpiView) -> dict[str, Any]:
    """The figures of a snapshot as plain JSON data: ``{"windows": [...], "live": [...]}``."""
    return {
        "windows": [asdict(row) for row in window_rows(snapshot, view)],
        "live": [asdict(row) for row in live_rows(snapshot)],
    }


def _cell(value: float | None, *, percent: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value * 100:.1f}" if percent else f"{value:.1f}"


WINDOW_HEADER = (
    "queue",
    "window",
    "arrived",
    "offered",
    "answered",
    "abandoned",
    "ASA s",
    "max wait s",
    "abandon %",
    "SL %",
    "AHT s",
    "idle s",
)
LIVE_HEADER = ("queue", "waiting", "longest wait s", "agents")


def _table(header: Sequence[str], body: Iterable[Sequence[str]], *, left: frozenset[int]) -> list[str]:
    """Aligned columns: those in ``left`` to the left (names), the others to the right (numbers)."""
    lines = [list(header), *(list(row) for row in body)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = []
    for number, line in enumerate(lines):
        cells = [
            cell.ljust(width) if i in left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        text.append("  ".join(cells).rstrip())
        if number == 0:
            text.append("  ".join("-" * width for width in widths))
    return text


def render_tables(figures: dict[str, Any]) -> str:
    """A ``figures_document`` as two aligned tables: windowed figures, then the live state of each queue."""
    window_body = [
        (
            row["queue"],
            row["window"],
            *(_cell(row[name]) for name in ("arrived", "offered", "answered", "abandoned")),
            _cell(row["asa_seconds"]),
            _cell(row["max_wait_seconds"]),
            _cell(row["abandon_ratio"], percent=True),
            _cell(row["service_level_ratio"], percent=True),
            _cell(row["aht_seconds"]),
            _cell(row["idle_seconds"]),
        )
        for row in figures["windows"]
    ]
    live_body = [
        (
            row["queue"],
            str(row["waiting"]),
            _cell(row["longest_wait_seconds"]),
            ", ".join(f"{state} {n}" for state, n in row["agents"].items()) or "-",
        )
        for row in figures["live"]
    ]
    if not window_body and not live_body:
        return "(no figures: the prefix holds no queue)\n"
    return (
        "\n".join(
            [
                *_table(WINDOW_HEADER, window_body, left=frozenset({0, 1})),
                "",
                *_table(LIVE_HEADER, live_body, left=frozenset({0, 3})),
            ]
        )
        + "\n"
    )


def compare_figures(live: dict[str, Any], recomputed: dict[str, Any]) -> list[str]:
    """Every difference between two ``figures_document``s, one line each (nothing: identical)."""
    differences = []
    for section, key_fields in (("windows", ("queue", "window")), ("live", ("queue",))):
        mine = {tuple(row[name] for name in key_fields): row for row in live[section]}
        theirs = {tuple(row[name] for name in key_fields): row for row in recomputed[section]}
        for key in sorted(mine.keys() | theirs.keys()):
            where = " ".join(key)
            if key not in mine or key not in theirs:
                differences.append(f"{where}: only in the {'recomputed' if key not in mine else 'live'} figures")
                continue
            for name, value in mine[key].items():
                if theirs[key].get(name) != value:
                    differences.append(f"{where} {name}: live {value}, recomputed {theirs[key].get(name)}")
    return differences
