"""Epoch-aligned time buckets and the rolling windows built from them.

A bucket of width ``w`` ms starting at ``s`` covers event times ``[s, s + w)``; ``s`` is a multiple of ``w``.
A rolling window of ``n`` buckets read at wall time ``now`` covers the bucket holding ``now`` and the
``n - 1`` buckets before it::

    buckets      |  b-4  |  b-3  |  b-2  |  b-1  |  b (now is in here)
    5-min window  [-------------------------------------now)        (bucket = 60 s)

so it spans between ``(n - 1) * w`` and ``n * w`` of elapsed time. Windows close by wall time: a queue
with no events still sees its window move on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, tzinfo


def bucket_start(time_ms: int, width_ms: int) -> int:
    """The start of the bucket holding ``time_ms`` (floor to a multiple of ``width_ms``)."""
    return time_ms - time_ms % width_ms


def split_by_bucket(start_ms: int, end_ms: int, width_ms: int) -> list[tuple[int, int]]:
    """The interval ``[start, end)`` cut at bucket edges: ``[(bucket start, ms inside it), ...]``."""
    pieces = []
    at = start_ms
    while at < end_ms:
        bucket = bucket_start(at, width_ms)
        piece_end = min(end_ms, bucket + width_ms)
        pieces.append((bucket, piece_end - at))
        at = piece_end
    return pieces


@dataclass(frozen=True)
class WindowSpec:
    """A rolling window of ``length_ms`` made of buckets of ``bucket_ms``."""

    length_ms: int
    bucket_ms: int

    def __post_init__(self) -> None:
        if self.bucket_ms < 1:
            raise ValueError(f"bucket width must be >= 1 ms, got {self.bucket_ms}")
        if self.length_ms < self.bucket_ms or self.length_ms % self.bucket_ms:
            raise ValueError(
                f"window of {self.length_ms} ms is not a positive multiple of the bucket width {self.bucket_ms} ms"
            )

    @property
    def label(self) -> str:
        """The ``window`` label value: ``5m``, ``1h``, ``90s``."""
        seconds = self.length_ms // 1000
        if self.length_ms % 1000:
            return f"{self.length_ms}ms"
        if seconds % 3600 == 0:
            return f"{seconds // 3600}h"
        if seconds % 60 == 0:
            return f"{seconds // 60}m"
        return f"{seconds}s"

    def first_bucket(self, now_ms: int) -> int:
        """The start of the oldest bucket inside the window read at ``now_ms``."""
        return bucket_start(now_ms, self.bucket_ms) - self.length_ms + self.bucket_ms

    def contains(self, bucket_start_ms: int, now_ms: int) -> bool:
        """Whether the bucket starting at ``bucket_start_ms`` counts in the window read at ``now_ms``.

        Buckets after the current one (producer clocks slightly ahead) count too: they are the newest data.
        """
        return bucket_start_ms >= self.first_bucket(now_ms)

    def bucket_starts(self, now_ms: int, ahead: int = 1) -> list[int]:
        """Every bucket start in the window, oldest first, plus ``ahead`` buckets after the current one."""
        first = self.first_bucket(now_ms)
        last = bucket_start(now_ms, self.bucket_ms) + ahead * self.bucket_ms
        return list(range(first, last + 1, self.bucket_ms))


def local_day(time_ms: int, zone: tzinfo) -> str:
    """The calendar date (``YYYY-MM-DD``) of ``time_ms`` in the contact center's time zone."""
    return datetime.fromtimestamp(time_ms / 1000, tz=zone).date().isoformat()


def local_midnight_ms(time_ms: int, zone: tzinfo) -> int:
    """The start of the local day holding ``time_ms``, in epoch ms ("today" begins there)."""
    local = datetime.fromtimestamp(time_ms / 1000, tz=zone)
    midnight = datetime.combine(local.date(), time(0), tzinfo=zone)
    return int(midnight.timestamp() * 1000)


@dataclass(frozen=True)
class FixedWindow:
    """A window with fixed edges, ``[start_ms, end_ms)``: today, the current or the last interval."""

    label: str
    start_ms: int
    end_ms: int


def calendar_windows(now_ms: int, *, interval_ms: int, zone: tzinfo) -> tuple[FixedWindow, ...]:
    """'today' (local midnight to now), 'interval' (the aligned interval holding now) and 'last_interval'."""
    current = bucket_start(now_ms, interval_ms)
    return (
        FixedWindow("today", local_midnight_ms(now_ms, zone), now_ms + 1),
        FixedWindow("interval", current, now_ms + 1),
        FixedWindow("last_interval", current - interval_ms, current),
    )
