"""Keep large transient buffers out of glibc's heap, so a long-running process's RSS follows what it holds.

glibc serves an allocation of at least ``M_MMAP_THRESHOLD`` bytes with its own ``mmap`` and unmaps it on free.
The threshold starts at 128 KiB but rises to the size of each mmapped chunk that is freed (up to 32 MiB). A
worker frees fetched Kafka responses and record batches of a few MiB all the time, so after its first batches
these go to the heap instead, where the small long-lived objects allocated between them (contact legs, agent
timelines) keep the heap from shrinking: RSS then grows with the traffic seen, not with the state kept. A fixed
threshold turns the adjustment off (``mallopt(3)``; the same as ``MALLOC_MMAP_THRESHOLD_`` in the environment).

Smaller chunks freed inside the heap stay resident too: glibc gives back only the top of the heap on its own.
``heap_trimmer`` returns ``malloc_trim(0)``, which gives back every free page of the heap (a few ms for a
worker's heap); the worker calls it when it goes idle, so an idle worker's RSS is what it holds, not what its
busiest batch needed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform
import sys
from collections.abc import Callable

log = logging.getLogger("callpulse")

M_MMAP_THRESHOLD = -3  # <malloc.h>


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def fix_mmap_threshold(threshold_bytes: int) -> bool:
    """Fix glibc's mmap threshold; whether it was set (False off glibc, or for 0: leave glibc's default)."""
    libc = _glibc() if threshold_bytes > 0 else None
    if libc is None:
        return False
    if libc.mallopt(ctypes.c_int(M_MMAP_THRESHOLD), ctypes.c_int(threshold_bytes)) != 1:
        log.warning("glibc refused an mmap threshold of %d bytes; keeping its default", threshold_bytes)
        return False
    return True


def heap_trimmer() -> Callable[[], None] | None:
    """A function that gives the heap's free pages back to the OS (``malloc_trim(0)``); None off glibc."""
    libc = _glibc()
    if libc is None:
        return None
    malloc_trim = libc.malloc_trim
    malloc_trim.argtypes = [ctypes.c_size_t]

    def trim() -> None:
        malloc_trim(0)

    return trim
