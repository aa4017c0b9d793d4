"""``callpulse top`` frames as text: cell formatting, header and footer lines, and the ``--once`` output."""

from __future__ import annotations

from datetime import UTC, datetime

from callpulse.top_frame import Frame, QueueRow, SortKey

MISSING = "-"
SORT_TITLES = {SortKey.WAIT: "longest wait", SortKey.NAME: "queue name"}


def mmss(seconds: float | None) -> str:
    """Whole seconds as ``mm:ss`` (minutes go past 59: ``75:03``); ``-`` when there is no value."""
    if seconds is None:
        return MISSING
    minutes, rest = divmod(int(max(seconds, 0.0)), 60)
    return f"{minutes:02d}:{rest:02d}"


def percent(ratio: float | None) -> str:
    return MISSING if ratio is None else f"{ratio * 100:.1f}%"


COLUMNS = (
    "Queue",
    "Waiting",
    "Longest",
    "SL",
    "Abandon",
    "ASA",
    "AHT",
    "Avail",
    "On contact",
    "Wrap-up",
    "Aux",
    "Offered",
    "Answered",
)
LEVEL_COLUMNS = {"Longest": "wait_level", "SL": "sl_level"}  # cells coloured by a level


def cells(row: QueueRow) -> tuple[str, ...]:
    """The row's cells, in ``COLUMNS`` order, as shown on screen and in ``--once``."""
    return (
        row.qid,
        str(row.waiting),
        mmss(row.longest_wait_s),
        percent(row.service_level),
        percent(row.abandon_ratio),
        mmss(row.asa_s),
        mmss(row.aht_s),
        *(str(count) for count in row.agents),
        str(row.offered),
        str(row.answered),
    )


def header_text(frame: Frame) -> str:
    when = datetime.fromtimestamp(frame.now_ms / 1000, UTC).astimezone(frame.zone)
    status = "Redis ok" if frame.redis_error is None else f"Redis unreachable ({frame.redis_error})"
    if frame.redis_error is not None and frame.interval_s > 0:
        status += f", retrying every {frame.interval_s:g}s"
    return f"callpulse top  {when:%Y-%m-%d %H:%M:%S %Z}  window {frame.choices.window}  {status}  [{frame.source}]"


def footer_text(frame: Frame) -> str:
    choices = frame.choices
    return (
        f"q quit   w window: {choices.window} -> {choices.next_window}   "
        f"s sort: {SORT_TITLES[choices.sort]} -> {SORT_TITLES[choices.next_sort]}   "
        f"refresh {frame.interval_s:g}s"
    )


def empty_text(frame: Frame) -> str | None:
    """What to say instead of rows, or None when there are rows."""
    if frame.redis_error is not None:
        return "Redis unreachable: no figures shown"
    return None if frame.rows else "no queue has figures yet"


def render_text(frame: Frame) -> str:
    """The frame as plain aligned text (``--once``): header, column titles, one line per queue."""
    table = [COLUMNS, *(cells(row) for row in frame.rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    lines = [header_text(frame), ""]
    for line in table:
        first, *rest = line
        lines.append("  ".join([first.ljust(widths[0]), *(c.rjust(w) for c, w in zip(rest, widths[1:], strict=True))]))
    empty = empty_text(frame)
    if empty is not None:
        lines.append(empty)
    return "\n".join(line.rstrip() for line in lines) + "\n"
