"""Keep large transient buffers out of glibc's heap, so a long-running process's RSS follows what it holds.

glibc serves an allocation of at least ``M_MMAP_THRESHOLD`` bytes with its own ``mmap`` and unmaps it on free.
The threshold starts at 128 KiB but rises to the size of each mmapped chunk that is freed (up to 32 MiB). A
worker frees fetched Kafka responses and record batches of a few MiB all the time, so after its first batches
these go to the heap instead, where the small long-lived objects allocated between them (contact legs, agent
timelines) keep the heap from shrinking: RSS then grows with the traffic seen, not with the state kept. A fixed
threshold turns the adjustment off (``mallopt(3)``; the same as ``MALLOC_MMAP_THRESHOLD_`` in the environment).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform
import sys

log = logging.getLogger("callpulse")

M_MMAP_THRESHOLD = -3  # <malloc.h>


def fix_mmap_threshold(threshold_bytes: int) -> bool:
    """Fix glibc's mmap threshold; whether it was set (False off glibc, or for 0: leave glibc's default)."""
    if threshold_bytes <= 0 or not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    if libc.mallopt(ctypes.c_int(M_MMAP_THRESHOLD), ctypes.c_int(threshold_bytes)) != 1:
        log.warning("glibc refused an mmap threshold of %d bytes; keeping its default", threshold_bytes)
        return False
    return True
