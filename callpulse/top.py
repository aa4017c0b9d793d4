"""``callpulse top``: a live full-screen wallboard of every queue, read from Redis like the exporter reads it.

The figures come from ``exporters.reader.read_snapshot`` with the ``KpiView`` of the settings, so they are
exactly the exporter's. Redis errors never stop the board: it says "Redis unreachable" and tries again at
the next refresh. Rendering is pure (``callpulse.top_frame``); this module does the I/O and the loop.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import IO, TYPE_CHECKING, Any

from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from callpulse import wiring
from callpulse.redis_security import redacted_url as redacted
from callpulse.redis_security import redis_options
from callpulse.settings import Settings
from callpulse.top_frame import Choices, Frame, SortKey, Thresholds, build_rows
from callpulse.top_text import render_text

if TYPE_CHECKING:
    from callpulse.top_screen import KeyReader
from exporters.reader import Snapshot, read_snapshot
from exporters.view import KpiView

DEFAULT_WINDOW = "15m"


@dataclass(frozen=True)
class TopOptions:
    window: str | None = None  # None: 15m when configured, else the first window
    interval_s: float = 1.0
    thresholds: Thresholds = field(default_factory=Thresholds)
    sort: SortKey = SortKey.WAIT
    once: bool = False


def choose_window(view: KpiView, requested: str | None) -> str:
    """The window to show first; ValueError naming the choices when ``requested`` is not one of them."""
    labels = view.window_labels
    if requested is None:
        return DEFAULT_WINDOW if DEFAULT_WINDOW in labels else labels[0]
    if requested not in labels:
        raise ValueError(f"unknown window {requested!r}: choose one of {', '.join(labels)}")
    return requested


class Board:
    """Reads snapshots and turns them into frames; remembers the last read so keys re-render at once."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        view: KpiView,
        frame: Frame,
        thresholds: Thresholds,
        clock: Callable[[], float],
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.view = view
        self.frame = frame
        self.thresholds = thresholds
        self.clock = clock
        self._snapshot: Snapshot | None = None

    def refresh(self) -> Frame:
        """Read Redis now; on an error keep trying later and show no (stale) figures meanwhile."""
        now_ms = int(self.clock() * 1000)
        view = self.view
        try:
            self._snapshot = read_snapshot(
                self.redis,
                prefix=self.prefix,
                now_ms=now_ms,
                windows=list(view.windows),
                calendar=view.calendar,
                per_agent=view.per_agent,
            )
        except RedisError as exc:
            self._snapshot = None
            self.frame = replace(self.frame, now_ms=now_ms, rows=(), redis_error=str(exc) or type(exc).__name__)
            return self.frame
        return self.choose(self.frame.choices)

    def choose(self, choices: Choices) -> Frame:
        """The last read shown with other choices (window, sort): no new read needed."""
        rows = () if self._snapshot is None else build_rows(self._snapshot, self.view, choices, self.thresholds)
        now_ms = self.frame.now_ms if self._snapshot is None else self._snapshot.now_ms
        error = self.frame.redis_error if self._snapshot is None else None
        self.frame = replace(self.frame, now_ms=now_ms, choices=choices, rows=rows, redis_error=error)
        return self.frame


def make_board(settings: Settings, options: TopOptions, clock: Callable[[], float]) -> Board:
    view = wiring.kpi_view(settings)
    choices = Choices(view.window_labels, choose_window(view, options.window), options.sort)
    redis = Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=1,
        socket_timeout=2,
        retry=Retry(NoBackoff(), 0),
        **redis_options(settings),
    )
    frame = Frame(
        now_ms=int(clock() * 1000),
        zone=view.calendar.zone,
        choices=choices,
        source=f"{redacted(settings.redis_url)} prefix {settings.redis_prefix}",
        interval_s=0.0 if options.once else options.interval_s,  # 0: no refresh
    )
    return Board(
        redis, prefix=settings.redis_prefix, view=view, frame=frame, thresholds=options.thresholds, clock=clock
    )


def run_top(
    settings: Settings, options: TopOptions, *, clock: Callable[[], float] = time.time, out: IO[str] = sys.stdout
) -> int:
    """Exit codes: 0 quit (q, Ctrl-C) or ``--once`` printed figures; 1 ``--once`` could not read Redis;
    2 live mode without a terminal."""
    board = make_board(settings, options, clock)
    if options.once:
        frame = board.refresh()
        out.write(render_text(frame))
        out.flush()
        return 0 if frame.redis_error is None else 1
    if not (sys.stdin.isatty() and out.isatty()):
        sys.stderr.write("callpulse top needs a terminal; use --once to print one frame as text\n")
        return 2
    from callpulse.top_screen import keyboard

    try:
        with _interrupt_on_terminate(), keyboard(sys.stdin) as read_keys:
            _run_live(board, options.interval_s, read_keys, out)
    except KeyboardInterrupt:
        pass
    finally:
        board.redis.close()
    return 0


def _run_live(board: Board, interval_s: float, read_keys: KeyReader, out: IO[str]) -> None:
    """Refresh every ``interval_s`` and re-render at once on a key, until q or the end of input."""
    from rich.console import Console
    from rich.live import Live

    from callpulse.top_screen import renderable

    with Live(console=Console(file=out), screen=True, auto_refresh=False) as live:
        frame = board.refresh()
        deadline = time.monotonic() + interval_s
        while True:
            live.update(renderable(frame), refresh=True)
            keys = read_keys(deadline - time.monotonic())
            if keys is None:
                frame = board.refresh()
                deadline = time.monotonic() + interval_s
                continue
            if keys == "":  # end of input: the terminal went away
                return
            choices: Choices | None = frame.choices
            for key in keys:
                choices = choices.on_key(key) if choices is not None else None
            if choices is None:
                return
            frame = board.choose(choices)


@contextmanager
def _interrupt_on_terminate() -> Iterator[None]:
    """SIGTERM and SIGHUP end the board like Ctrl-C does, so the terminal is restored."""

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
