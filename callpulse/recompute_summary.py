"""What ``callpulse recompute`` tells on stderr: progress while it reads, and a summary at the end."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TextIO

from callpulse.recompute_apply import RecomputeTally


class Progress:
    """Prints the records read so far each time another ``every`` records have been read."""

    def __init__(self, every: int, err: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = max(1, every)
        self.err = err
        self.clock = clock
        self.started = clock()
        self._next = self.every

    def update(self, tally: RecomputeTally) -> None:
        read = sum(tally.read.values())
        if read >= self._next:
            streams = ", ".join(f"{stream} {count:,}" for stream, count in sorted(tally.read.items()))
            elapsed = self.clock() - self.started
            print(f"recompute: {read:,} records read ({streams}), {elapsed:.1f} s", file=self.err, flush=True)
            self._next = (read // self.every + 1) * self.every


def summary_document(tally: RecomputeTally, seconds: float) -> dict[str, Any]:
    """The summary as JSON data: records read, applied, duplicates, dead letters by reason, time taken.

    ``applied`` and ``duplicates`` count the records read (contacts and agents); the touches the contacts
    forwarded for first contact resolution are ``customer_touches``.
    """

    def total(name: str) -> int:
        return tally.count("contacts", name) + tally.count("agents", name)

    return {
        "records": sum(tally.read.values()),
        "records_by_stream": dict(sorted(tally.read.items())),
        "bad_lines": tally.bad_lines,
        "applied": total("applied"),
        "duplicates": total("duplicate"),
        "customer_touches": tally.count("customers", "applied"),
        "dead_lettered": dict(sorted(tally.dead_letters().items())),
        "stale_evicted": total("stale_evicted"),
        "partitions": dict(sorted(tally.partitions().items())),
        "seconds": round(seconds, 3),
    }


def render_summary(summary: dict[str, Any], source: str, examples: list[str]) -> str:
    """The summary as text, with the first rejected records."""
    dead: dict[str, int] = summary["dead_lettered"]
    by_stream = ", ".join(f"{stream} {count:,}" for stream, count in summary["records_by_stream"].items())
    partitions = ", ".join(f"{stream} {count}" for stream, count in summary["partitions"].items()) or "none"
    lines = [
        f"recompute summary ({source})",
        f"  records read    {summary['records']:,}" + (f" ({by_stream})" if by_stream else ""),
        f"  unreadable      {summary['bad_lines']:,} line(s)",
        f"  applied         {summary['applied']:,}",
        f"  duplicates      {summary['duplicates']:,}",
        f"  dead-lettered   {sum(dead.values()):,}"
        + (": " + ", ".join(f"{reason} {count:,}" for reason, count in dead.items()) if dead else ""),
        f"  stale evicted   {summary['stale_evicted']:,}",
        f"  partitions      {partitions}",
        f"  time taken      {summary['seconds']:.1f} s",
    ]
    if summary["customer_touches"]:
        lines.insert(-3, f"  FCR touches     {summary['customer_touches']:,} (forwarded by contacts, applied)")
    lines += [f"  rejected: {example}" for example in examples]
    return "\n".join(lines) + "\n"
