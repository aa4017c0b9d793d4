"""Notices when the worker goes quiet: once per quiet spell, at the first check with no batch since the last."""

from __future__ import annotations

from collections.abc import Callable


class IdleNotice:
    """``check(batches)`` is called every few tenths of a second with the count of batches applied so far; it
    calls ``on_idle`` at the first check that finds the count unchanged after it had moved, then not again
    until it moves."""

    def __init__(self, on_idle: Callable[[], object]) -> None:
        self.on_idle = on_idle
        self._batches = 0
        self._busy = False

    def check(self, batches: int) -> bool:
        """Whether ``on_idle`` was called."""
        if batches != self._batches:
            self._batches = batches
            self._busy = True
            return False
        if not self._busy:
            return False
        self._busy = False
        self.on_idle()
        return True
