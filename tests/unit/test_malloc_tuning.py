"""A fixed mmap threshold gives freed big buffers back to the OS, even once a big chunk was freed before."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest

from callpulse.malloc_tuning import fix_mmap_threshold, heap_trimmer

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")

# Frees a 4 MiB buffer (glibc then raises its threshold to 4 MiB), allocates 200 x 1 MiB with small long-lived
# buffers between them, frees the big ones: prints how many MiB of RSS the process kept.
PROGRAM = textwrap.dedent(
    """
    import sys, psutil
    from callpulse.malloc_tuning import fix_mmap_threshold, heap_trimmer
    print(fix_mmap_threshold(int(sys.argv[1])), file=sys.stderr)
    process = psutil.Process()
    first = bytearray(4 << 20)
    del first
    base = process.memory_info().rss
    kept, big = [], []
    for _ in range(200):
        big.append(bytearray(1 << 20))
        kept.append(bytearray(2000))
    big.clear()
    print((process.memory_info().rss - base) >> 20)
    """
)


def kept_mib(threshold: int) -> int:
    done = subprocess.run([sys.executable, "-c", PROGRAM, str(threshold)], capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_freed_buffers_go_back_with_a_fixed_threshold_and_stay_without() -> None:
    assert kept_mib(128 * 1024) < 20
    assert kept_mib(0) > 150  # glibc's sliding threshold: the same program keeps what it freed


def test_zero_leaves_glibc_alone_and_a_size_is_taken() -> None:
    assert fix_mmap_threshold(0) is False
    assert fix_mmap_threshold(128 * 1024) is True


# Keeps one small buffer in every 200 of 200,000 (chunks under the mmap threshold, from the heap), frees the
# rest: the heap's free pages stay resident until trimmed. Prints MiB of RSS kept before and after the trim.
TRIM_PROGRAM = textwrap.dedent(
    """
    import psutil
    from callpulse.malloc_tuning import heap_trimmer
    process = psutil.Process()
    base = process.memory_info().rss
    buffers = [bytearray(1000) for _ in range(200_000)]
    kept = buffers[::200]
    buffers.clear()
    before = (process.memory_info().rss - base) >> 20
    heap_trimmer()()
    print(before, (process.memory_info().rss - base) >> 20)
    """
)


def test_the_trimmer_gives_back_free_pages_inside_the_heap() -> None:
    done = subprocess.run([sys.executable, "-c", TRIM_PROGRAM], capture_output=True, text=True, check=True)
    before, after = (int(mib) for mib in done.stdout.split())
    assert before > 150  # ~190 MiB freed, but between kept buffers: not at the top of the heap
    assert after < before / 4  # what the kept buffers' pages hold
    assert heap_trimmer() is not None
