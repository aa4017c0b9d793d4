"""The terminal side of ``callpulse top``: a frame as a rich renderable, and single keys from a real terminal.

``renderable`` is pure (frame in, rich objects out). ``keyboard`` puts the terminal in cbreak mode (keys
arrive one by one, without echo; Ctrl-C still interrupts) and always restores the saved mode on exit.
"""

from __future__ import annotations

import os
import select
import termios
import tty
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from callpulse.top_frame import Frame, Level
from callpulse.top_text import COLUMNS, LEVEL_COLUMNS, cells, empty_text, footer_text, header_text

STYLES = {Level.GOOD: "green", Level.WARN: "bold yellow", Level.BAD: "bold white on red", Level.NONE: "dim"}

KeyReader = Callable[[float], str | None]
"""Wait up to the given seconds for keys; the keys typed ("" at end of input), or None when none came."""


def renderable(frame: Frame) -> RenderableType:
    header = Text(header_text(frame), style="bold")
    if frame.redis_error is not None:
        header.stylize("bold white on red")
    table = Table(box=box.SIMPLE_HEAD, header_style="bold cyan", pad_edge=False)
    for title in COLUMNS:
        table.add_column(title, justify="left" if title == "Queue" else "right", no_wrap=True)
    for row in frame.rows:
        styled = []
        for title, cell in zip(COLUMNS, cells(row), strict=True):
            level = getattr(row, LEVEL_COLUMNS[title]) if title in LEVEL_COLUMNS else None
            styled.append(Text(cell, style=STYLES[level]) if level is not None else Text(cell))
        table.add_row(*styled)
    parts: list[RenderableType] = [header, table]
    empty = empty_text(frame)
    if empty is not None:
        parts.append(Text(empty, style="italic"))
    parts.append(Text(footer_text(frame), style="reverse"))
    return Group(*parts)


@contextmanager
def keyboard(stream: IO[str]) -> Iterator[KeyReader]:
    """Read single keys from the terminal ``stream``; its previous mode is restored however the block ends."""
    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    try:
        yield lambda timeout: _read_keys(fd, timeout)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _read_keys(fd: int, timeout: float) -> str | None:
    ready, _, _ = select.select([fd], [], [], max(timeout, 0.0))
    if not ready:
        return None
    return os.read(fd, 64).decode(errors="ignore")
