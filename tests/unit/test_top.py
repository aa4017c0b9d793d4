"""``callpulse top`` without a terminal or Redis: the pure frame on a hand-made snapshot, text and rich
rendering, keys, the board surviving Redis errors, and cbreak mode restored on a pseudo-terminal.

Snapshot read at N = 2026-11-23 10:00:00 UTC (times in seconds before N):

    acme/support/voice   waiting 2, oldest queued N-75   -> longest 01:15 (red at 60, threshold)
                         15m: answered 4 (3 within T), abandoned 1, short abandons 2 (never count)
                              -> offered 5, SL 3/5 = 60.0% (red: < 0.8 - 0.1), abandon 1/5 = 20.0%
                              ASA (10+20+30+40)/4 = 25 s -> 00:25, AHT 250 s / 2 handled -> 02:05
                         5m:  answered 2 (2 within T) -> SL 100.0% (green), offered 2
    acme/sales/chat      waiting 1, oldest queued N-40   -> longest 00:40 (yellow: >= 30)
                         15m: answered 15, 11 within T, nothing abandoned
                              -> SL 11/15 = 73.3% (yellow: in [0.7, 0.8))
    acme/billing/email   nobody waiting, no figures in any window, one agent in aux
"""

from __future__ import annotations

import io
import os
import pty
import termios
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from callpulse.embedded import free_port
from callpulse.settings import load_settings
from callpulse.top import Board, TopOptions, choose_window, redacted, run_top
from callpulse.top_frame import Choices, Frame, Level, QueueRow, SortKey, Thresholds, build_rows, sort_rows
from callpulse.top_screen import keyboard, renderable
from callpulse.top_text import COLUMNS, cells, footer_text, header_text, mmss, percent, render_text
from exporters import queue_metrics
from exporters.reader import Snapshot
from exporters.view import KpiView
from processors.formulas import ServiceLevelVariant
from processors.windows import WindowSpec

N_MS = int(datetime(2026, 11, 23, 10, tzinfo=UTC).timestamp() * 1000)
VOICE, CHAT, EMAIL = "acme/support/voice", "acme/sales/chat", "acme/billing/email"
VIEW = KpiView(
    windows=(WindowSpec(300_000, 60_000), WindowSpec(900_000, 60_000), WindowSpec(3_600_000, 60_000)),
    service_level_variant=ServiceLevelVariant.ABANDONS_AGAINST,
    offered_includes_timeouts=True,
    service_level_seconds={"voice": 20.0, "chat": 60.0},
)
WINDOWS = VIEW.window_labels
THRESHOLDS = Thresholds(wait_seconds=60, sl_target=0.8)


def _snapshot(now_ms: int = N_MS) -> Snapshot:
    snapshot = Snapshot(now_ms=now_ms)
    snapshot.totals[(VOICE, "15m")] = {
        "answered": 4,
        "answered_in_sl": 3,
        "abandoned": 1,
        "short_abandoned": 2,
        "wait_answered_ms": 100_000,
        "handled": 2,
        "handle_ms": 250_000,
    }
    snapshot.totals[(VOICE, "5m")] = {"answered": 2, "answered_in_sl": 2, "wait_answered_ms": 10_000}
    snapshot.totals[(CHAT, "15m")] = {"answered": 15, "answered_in_sl": 11}
    snapshot.waiting[VOICE] = (2, N_MS - 75_000)
    snapshot.waiting[CHAT] = (1, N_MS - 40_000)
    snapshot.agents = Counter({(VOICE, "available"): 3, (VOICE, "on_contact"): 5, (VOICE, "wrapup"): 1})
    snapshot.agents[(EMAIL, "aux")] = 1
    return snapshot


def _frame(choices: Choices, snapshot: Snapshot | None = None, **fields: Any) -> Frame:
    snapshot = snapshot or _snapshot()
    return Frame(
        now_ms=snapshot.now_ms,
        zone=UTC,
        choices=choices,
        source="redis://127.0.0.1:6379/0 prefix callpulse",
        interval_s=1.0,
        **({"rows": build_rows(snapshot, VIEW, choices, THRESHOLDS)} | fields),
    )


def _rows(window: str = "15m", sort: SortKey = SortKey.NAME) -> dict[str, QueueRow]:
    return {row.qid: row for row in build_rows(_snapshot(), VIEW, Choices(WINDOWS, window, sort), THRESHOLDS)}


def test_one_row_per_queue_with_the_figures_of_the_chosen_window() -> None:
    rows = _rows("15m")
    assert set(rows) == {VOICE, CHAT, EMAIL}
    voice = rows[VOICE]
    assert (voice.waiting, voice.longest_wait_s) == (2, 75.0)
    assert voice.service_level == pytest.approx(0.6)
    assert voice.abandon_ratio == pytest.approx(0.2)
    assert (voice.asa_s, voice.aht_s) == (25.0, 125.0)
    assert voice.agents == (3, 5, 1, 0)
    assert (voice.offered, voice.answered) == (5, 4)
    assert cells(voice) == (VOICE, "2", "01:15", "60.0%", "20.0%", "00:25", "02:05", "3", "5", "1", "0", "5", "4")
    assert cells(rows[EMAIL]) == (EMAIL, "0", "00:00", "-", "-", "-", "-", "0", "0", "0", "1", "0", "0")
    five = _rows("5m")[VOICE]
    assert (five.service_level, five.offered, five.asa_s, five.longest_wait_s) == (1.0, 2, 5.0, 75.0)


def test_the_figures_are_the_exporters_for_the_same_snapshot() -> None:
    snapshot = _snapshot()
    exported = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for metric in [*queue_metrics.windowed(snapshot, VIEW), *queue_metrics.live(snapshot, VIEW)]
        for sample in metric.samples
    }

    def value(name: str, qid: str, **extra: str) -> float | None:
        tenant, queue, channel = qid.split("/")
        labels = {"tenant": tenant, "queue": queue, "channel": channel, **extra}
        return exported.get((f"callpulse_queue_{name}", tuple(sorted(labels.items()))))

    for window in WINDOWS:
        for row in build_rows(snapshot, VIEW, Choices(WINDOWS, window), THRESHOLDS):
            qid = row.qid
            windowed = {"window": window}
            assert row.service_level == value("service_level_ratio", qid, **windowed), (qid, window)
            assert row.abandon_ratio == value("abandon_ratio", qid, **windowed)
            assert row.asa_s == value("answer_speed_seconds", qid, **windowed)
            assert row.aht_s == value("handle_time_seconds", qid, **windowed)
            offered, answered = (value(f"{name}_contacts", qid, **windowed) for name in ("offered", "answered"))
            if qid == EMAIL:  # no figures at all: the exporter has no windowed series, top shows 0
                assert (offered, answered, row.offered, row.answered) == (None, None, 0, 0)
            else:
                assert (row.offered, row.answered) == (offered, answered)
            assert row.waiting == value("waiting_contacts", qid)
            assert row.longest_wait_s == value("longest_wait_seconds", qid)


def test_longest_wait_is_counted_from_the_snapshots_now() -> None:
    later = _snapshot(N_MS + 50_000)
    row = next(row for row in build_rows(later, VIEW, Choices(WINDOWS, "15m"), THRESHOLDS) if row.qid == VOICE)
    assert mmss(row.longest_wait_s) == "02:05"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "-"), (0, "00:00"), (0.999, "00:00"), (59.9, "00:59"), (60, "01:00"), (754, "12:34"), (4503, "75:03")],
)
def test_durations_show_as_minutes_and_seconds(seconds: float | None, shown: str) -> None:
    assert mmss(seconds) == shown


def test_ratios_show_as_percent_with_one_decimal() -> None:
    assert [percent(r) for r in (None, 0.0, 1 / 3, 1.0)] == ["-", "0.0%", "33.3%", "100.0%"]


@pytest.mark.parametrize(
    # threshold 60 s: green below 30, yellow from 30, red from 60; nobody waiting: nothing to judge
    ("waiting", "longest", "level"),
    [
        (0, 0.0, Level.NONE),
        (1, 0.0, Level.GOOD),
        (1, 29.9, Level.GOOD),
        (1, 30.0, Level.WARN),
        (3, 59.9, Level.WARN),
        (1, 60.0, Level.BAD),
        (1, 600.0, Level.BAD),
    ],
)
def test_longest_wait_colour_against_the_threshold(waiting: int, longest: float, level: Level) -> None:
    assert THRESHOLDS.wait_level(waiting, longest) is level


@pytest.mark.parametrize(
    # target 0.8: green from 0.8, yellow in [0.7, 0.8), red below 0.7; no contact offered: nothing to judge
    ("ratio", "level"),
    [
        (None, Level.NONE),
        (1.0, Level.GOOD),
        (0.8, Level.GOOD),
        (0.7999, Level.WARN),
        (0.7, Level.WARN),
        (0.6999, Level.BAD),
        (0.0, Level.BAD),
    ],
)
def test_service_level_colour_against_the_target(ratio: float | None, level: Level) -> None:
    assert THRESHOLDS.sl_level(ratio) is level


def test_rows_carry_their_colour_classes() -> None:
    rows = _rows("15m")
    assert (rows[VOICE].wait_level, rows[VOICE].sl_level) == (Level.BAD, Level.BAD)
    assert (rows[CHAT].wait_level, rows[CHAT].sl_level) == (Level.WARN, Level.WARN)
    assert (rows[EMAIL].wait_level, rows[EMAIL].sl_level) == (Level.NONE, Level.NONE)
    assert _rows("5m")[VOICE].sl_level is Level.GOOD


def test_sorting_by_longest_wait_then_by_name() -> None:
    by_wait = build_rows(_snapshot(), VIEW, Choices(WINDOWS, "15m", SortKey.WAIT), THRESHOLDS)
    assert [row.qid for row in by_wait] == [VOICE, CHAT, EMAIL]
    assert [row.qid for row in sort_rows(list(by_wait), SortKey.NAME)] == [EMAIL, CHAT, VOICE]
    tie = [
        QueueRow(q, w, 10.0, None, None, None, None, (0, 0, 0, 0), 0, 0, Level.GOOD, Level.NONE)
        for q, w in (("b", 1), ("a", 1), ("c", 4))
    ]
    assert [row.qid for row in sort_rows(tie, SortKey.WAIT)] == ["c", "a", "b"]  # same wait: most waiting, name


def test_keys_cycle_windows_and_sort_and_quit() -> None:
    choices = Choices(WINDOWS, "15m")
    seen = [choices.window]
    for _ in WINDOWS:
        next_choices = choices.on_key("w")
        assert next_choices is not None
        choices = next_choices
        seen.append(choices.window)
    assert seen == ["15m", "1h", "today", "interval", "last_interval", "5m", "15m"]
    sorted_by_name = choices.on_key("s")
    assert sorted_by_name is not None and sorted_by_name.sort is SortKey.NAME
    assert sorted_by_name.on_key("S") == choices
    assert choices.on_key("x") == choices
    assert choices.on_key("q") is None and choices.on_key("Q") is None
    with pytest.raises(ValueError, match="choose one of 5m, 15m, 1h, today"):
        Choices(WINDOWS, "2h")


def test_the_first_window_is_15m_or_the_one_asked_for() -> None:
    assert choose_window(VIEW, None) == "15m"
    assert choose_window(VIEW, "today") == "today"
    only_hour = KpiView(
        windows=(WindowSpec(3_600_000, 60_000),),
        service_level_variant=ServiceLevelVariant.ABANDONS_AGAINST,
        offered_includes_timeouts=True,
        service_level_seconds={},
    )
    assert choose_window(only_hour, None) == "1h"
    with pytest.raises(ValueError, match="unknown window '15m'"):
        choose_window(only_hour, "15m")


def test_header_and_footer_show_time_window_redis_status_and_keys() -> None:
    frame = _frame(Choices(WINDOWS, "15m"))
    assert header_text(frame).startswith("callpulse top  2026-11-23 10:00:00 UTC  window 15m  Redis ok  [redis://")
    assert footer_text(frame) == ("q quit   w window: 15m -> 1h   s sort: longest wait -> queue name   refresh 1s")
    down = _frame(Choices(WINDOWS, "15m"), rows=(), redis_error="Connection refused")
    assert "Redis unreachable (Connection refused), retrying every 1s" in header_text(down)


def test_text_frame_is_aligned_plain_text() -> None:
    text = render_text(_frame(Choices(WINDOWS, "15m")))
    lines = text.splitlines()
    assert lines[1] == ""
    assert [c.strip() for c in lines[2].split("  ") if c] == list(COLUMNS)
    assert lines[3].split()[:5] == [VOICE, "2", "01:15", "60.0%", "20.0%"]
    assert {len(line) for line in lines[2:]} == {len(lines[2])}  # right-aligned columns end together
    assert "\x1b" not in text
    down = render_text(_frame(Choices(WINDOWS, "15m"), rows=(), redis_error="boom"))
    assert down.splitlines()[-1] == "Redis unreachable: no figures shown"


def test_rich_table_colours_the_longest_wait_and_service_level_cells() -> None:
    group = renderable(_frame(Choices(WINDOWS, "15m")))
    assert isinstance(group, Group)
    table = next(part for part in group.renderables if isinstance(part, Table))
    assert [column.header for column in table.columns] == list(COLUMNS)
    by_title = {column.header: list(column.cells) for column in table.columns}
    styles = {title: [cell.style for cell in by_title[title] if isinstance(cell, Text)] for title in ("Longest", "SL")}
    assert styles["Longest"] == ["bold white on red", "bold yellow", "dim"]  # voice, chat, email (by wait)
    assert styles["SL"] == ["bold white on red", "bold yellow", "dim"]
    console = Console(file=io.StringIO(), width=160, color_system=None)
    console.print(group)
    screen = console.file.getvalue()  # type: ignore[attr-defined]
    assert "q quit" in screen and "01:15" in screen and "window 15m" in screen


class _FlakyRedis:
    """Answers like an empty Redis, or raises like an unreachable one while ``down`` is set."""

    def __init__(self) -> None:
        self.down = False

    def smembers(self, _key: str) -> set[bytes]:
        if self.down:
            raise RedisConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")
        return set()

    def pipeline(self, transaction: bool = True) -> _FlakyRedis:
        return self

    def execute(self) -> list[Any]:
        return []


def test_the_board_survives_redis_going_away_and_coming_back() -> None:
    redis = _FlakyRedis()
    clock = iter([1.0, 2.0, 3.0, 4.0])
    first = _frame(Choices(WINDOWS, "15m"))
    board = Board(redis, prefix="p", view=VIEW, frame=first, thresholds=THRESHOLDS, clock=lambda: next(clock))  # type: ignore[arg-type]
    assert board.refresh().redis_error is None
    redis.down = True
    down = board.refresh()
    assert down.redis_error is not None and "Connection refused" in down.redis_error
    assert (down.rows, down.now_ms) == ((), 2000)
    assert board.choose(Choices(WINDOWS, "1h")).redis_error is not None  # a key keeps the error shown
    redis.down = False
    back = board.refresh()
    assert (back.redis_error, back.now_ms, back.choices.window) == (None, 3000, "1h")


def test_once_against_an_unreachable_redis_prints_the_status_and_exits_1() -> None:
    settings = load_settings(redis_url=f"redis://user:secret@127.0.0.1:{free_port()}/0")
    out = io.StringIO()
    assert run_top(settings, TopOptions(once=True), clock=lambda: N_MS / 1000, out=out) == 1
    header = out.getvalue().splitlines()[0]
    assert "2026-11-23 10:00:00" in header and "Redis unreachable (" in header and "retrying" not in header
    assert "secret" not in out.getvalue()


def test_redacted_url_drops_credentials() -> None:
    assert redacted("rediss://user:pw@redis.example:6380/2") == "rediss://redis.example:6380/2"
    assert redacted("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_keyboard_reads_single_keys_and_restores_the_terminal() -> None:
    controller, terminal = pty.openpty()
    try:
        with os.fdopen(terminal, "r", closefd=False) as stream:
            before = termios.tcgetattr(terminal)
            with keyboard(stream) as read_keys:
                assert not termios.tcgetattr(terminal)[3] & (termios.ICANON | termios.ECHO)
                assert read_keys(0) is None
                os.write(controller, b"w")
                assert read_keys(5) == "w"  # no Enter needed: cbreak mode
            assert termios.tcgetattr(terminal) == before
    finally:
        os.close(controller)
        os.close(terminal)
