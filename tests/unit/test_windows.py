"""Epoch-aligned buckets and rolling windows: bucket_start, split_by_bucket, WindowSpec validation, labels, edges.

Buckets are [start, start + width); a window of n buckets read at ``now`` covers the bucket holding now and
the n - 1 before it (plus buckets ahead of now, for producer clocks running early).
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.windows import WindowSpec, bucket_start, split_by_bucket

S = 1_000
M = 60_000
H = 3_600_000
T0 = 1_795_424_400_000  # 2026-11-23T09:00:00Z, a multiple of one hour

# ---------------------------------------------------------------------------------------------- bucket_start

#   width 60 s:   ... | T0 - 60 s ......... | T0 .......... T0 + 59.999 | T0 + 60 s ...
BUCKET_STARTS = [
    (T0, M, T0),  # a bucket's first ms is its start
    (T0 + 1, M, T0),
    (T0 + M - 1, M, T0),  # its last ms
    (T0 + M, M, T0 + M),  # the next bucket starts
    (T0 - 1, M, T0 - M),  # the ms before T0 is in the previous bucket
    (0, M, 0),
    (59_999, M, 0),
    (-1, M, -M),  # before the epoch: floor, not truncation
    (T0 + 14 * M + 59_999, 15 * M, T0),  # 15-minute intervals
    (T0 + 15 * M, 15 * M, T0 + 15 * M),
    (T0 + 7, 1, T0 + 7),  # 1 ms buckets are the times themselves
    (T0 + 89_999, 90 * S, T0),  # T0 is a multiple of 90 s too
    (T0 + 90 * S, 90 * S, T0 + 90 * S),
]


@pytest.mark.parametrize(("time_ms", "width_ms", "expected"), BUCKET_STARTS)
def test_bucket_start(time_ms: int, width_ms: int, expected: int) -> None:
    assert bucket_start(time_ms, width_ms) == expected


@given(st.integers(-(10**15), 10**15), st.integers(1, 10 * H))
def test_bucket_start_is_the_aligned_floor(time_ms: int, width_ms: int) -> None:
    start = bucket_start(time_ms, width_ms)
    assert start % width_ms == 0
    assert start <= time_ms < start + width_ms


# ------------------------------------------------------------------------------------------- split_by_bucket

#   width 60 s, times in s after T0; an interval [start, end) cut at bucket edges:
#
#   s        0 ............ 50 |60 ......................... 120| ........ 130
#   [50, 130)                ~~|~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~|~~~~~~~~~~)      -> 10 s, 60 s, 10 s
SPLITS = [
    (50 * S, 130 * S, M, [(T0, 10 * S), (T0 + M, M), (T0 + 2 * M, 10 * S)]),
    (0, M, M, [(T0, M)]),  # exactly one bucket: nothing in the next one
    (0, M + 1, M, [(T0, M), (T0 + M, 1)]),  # 1 ms into the next bucket
    (M - 1, M, M, [(T0, 1)]),  # the last ms of a bucket
    (M - 1, M + 1, M, [(T0, 1), (T0 + M, 1)]),  # 1 ms each side of an edge
    (10 * S, 20 * S, M, [(T0, 10 * S)]),  # inside one bucket
    (0, 3 * M, M, [(T0, M), (T0 + M, M), (T0 + 2 * M, M)]),  # edge to edge
    (0, 0, M, []),  # empty
    (30 * S, 10 * S, M, []),  # end before start: nothing
    (14 * M, 16 * M, 15 * M, [(T0, M), (T0 + 15 * M, M)]),  # 15-minute intervals
    (5, 8, 1, [(T0 + 5, 1), (T0 + 6, 1), (T0 + 7, 1)]),  # 1 ms buckets
]


@pytest.mark.parametrize(("start", "end", "width", "pieces"), SPLITS)
def test_split_by_bucket(start: int, end: int, width: int, pieces: list[tuple[int, int]]) -> None:
    assert split_by_bucket(T0 + start, T0 + end, width) == pieces


def test_split_by_bucket_before_the_epoch() -> None:
    #   ms  -90 000 ..... -60 000 | ..... 0 | ..... 30 000
    assert split_by_bucket(-90_000, 30_000, M) == [(-2 * M, 30_000), (-M, M), (0, 30_000)]


@settings(max_examples=200, deadline=None)
@given(st.integers(-(10**12), 10**12), st.integers(1, H), st.integers(0, 50), st.integers(0, H))
def test_split_by_bucket_covers_the_interval_once(start: int, width: int, whole: int, extra: int) -> None:
    """The pieces lie in consecutive aligned buckets, in order, and add up to the interval; brute force by the
    overlap of [start, end) with every bucket from the one holding start."""
    length = whole * width + extra % width  # up to ~50 buckets, any remainder
    end = start + length
    pieces = split_by_bucket(start, end, width)
    assert sum(ms for _, ms in pieces) == length
    first = start - start % width
    expected = []
    bucket = first
    while bucket < end:
        overlap = min(end, bucket + width) - max(start, bucket)
        if overlap > 0:
            expected.append((bucket, overlap))
        bucket += width
    assert pieces == expected


# ------------------------------------------------------------------------------------------------ WindowSpec

INVALID_SPECS = [
    (5 * M, 0, "bucket width must be >= 1"),
    (5 * M, -M, "bucket width must be >= 1"),
    (0, M, "not a positive multiple"),
    (-5 * M, M, "not a positive multiple"),
    (30 * S, M, "not a positive multiple"),  # shorter than one bucket
    (5 * M, 70 * S, "not a positive multiple"),  # 300 s is not a multiple of 70 s
    (5 * M + 1, M, "not a positive multiple"),
]


@pytest.mark.parametrize(("length_ms", "bucket_ms", "message"), INVALID_SPECS)
def test_window_spec_rejects(length_ms: int, bucket_ms: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WindowSpec(length_ms, bucket_ms)


LABELS = [
    (5 * M, M, "5m"),
    (15 * M, M, "15m"),
    (H, M, "1h"),
    (90 * S, 30 * S, "90s"),
    (M, M, "1m"),
    (S, S, "1s"),
    (2 * H, 15 * M, "2h"),
    (90 * M, 15 * M, "90m"),
    (24 * H, H, "24h"),
    (61 * S, S, "61s"),
]


@pytest.mark.parametrize(("length_ms", "bucket_ms", "label"), LABELS)
def test_window_label(length_ms: int, bucket_ms: int, label: str) -> None:
    assert WindowSpec(length_ms, bucket_ms).label == label


def test_distinct_windows_have_distinct_labels() -> None:
    assert WindowSpec(60_500, 500).label != WindowSpec(60_000, 500).label


# ---------------------------------------------------------------------------------------------------- edges

FIVE_MIN = WindowSpec(5 * M, M)

# A 5-minute window of 1-minute buckets (m0 = T0):
#
#   buckets   | m-1 |  m0  |  m1  |  m2  |  m3  |  m4  |  m5  |
#   now = m4 + 0 ms         [------------------------------now)        first = m0
#   now = m4 + 59 999       [-----------------------------------now)   first = m0 (same buckets)
#   now = m5 + 0 ms                [-----------------------------now)  first = m1 (m0 has left)
#
FIRST_BUCKETS = [
    (T0 + 4 * M, T0),
    (T0 + 4 * M + 59_999, T0),
    (T0 + 5 * M, T0 + M),
    (T0 + 5 * M - 1, T0),
]


@pytest.mark.parametrize(("now", "first"), FIRST_BUCKETS)
def test_first_bucket(now: int, first: int) -> None:
    assert FIVE_MIN.first_bucket(now) == first


#   now = m4 + 30 s:   m-1 out | m0 m1 m2 m3 m4 in | m5 (ahead of now) in
CONTAINS = [
    (T0 - M, T0 + 4 * M + 30 * S, False),  # m-1: just before the window
    (T0, T0 + 4 * M + 30 * S, True),  # m0: the oldest bucket
    (T0 + 4 * M, T0 + 4 * M + 30 * S, True),  # m4: the current bucket
    (T0 + 5 * M, T0 + 4 * M + 30 * S, True),  # m5: ahead of now (producer clock early) still counts
    (T0, T0 + 5 * M, False),  # at m5 + 0 ms, m0 has just left
    (T0 + M, T0 + 5 * M, True),
]


@pytest.mark.parametrize(("bucket", "now", "expected"), CONTAINS)
def test_contains(bucket: int, now: int, expected: bool) -> None:
    assert FIVE_MIN.contains(bucket, now) is expected


#   now = m4 + 0 ms:  m0 m1 m2 m3 m4 + (ahead) m5
BUCKET_LISTS = [
    (FIVE_MIN, T0 + 4 * M, 1, [T0 + k * M for k in range(6)]),
    (FIVE_MIN, T0 + 4 * M + 59_999, 0, [T0 + k * M for k in range(5)]),
    (FIVE_MIN, T0 + 5 * M, 0, [T0 + k * M for k in range(1, 6)]),
    (WindowSpec(M, M), T0 + 30 * S, 0, [T0]),
    (WindowSpec(H, 15 * M), T0 + H - 1, 2, [T0, T0 + 15 * M, T0 + 30 * M, T0 + 45 * M, T0 + H, T0 + H + 15 * M]),
]


@pytest.mark.parametrize(("spec", "now", "ahead", "expected"), BUCKET_LISTS)
def test_bucket_starts(spec: WindowSpec, now: int, ahead: int, expected: list[int]) -> None:
    assert spec.bucket_starts(now, ahead) == expected


# ---------------------------------------------------------------------------------------------- properties

WIDTHS = st.sampled_from([S, 15 * S, M, 15 * M])


@st.composite
def windows(draw: st.DrawFn) -> WindowSpec:
    width = draw(WIDTHS)
    return WindowSpec(width * draw(st.integers(1, 12)), width)


@settings(max_examples=200, deadline=None)
@given(
    spec=windows(),
    now_offset=st.integers(0, 2 * H),
    event_offsets=st.lists(st.integers(-H, 3 * H), max_size=60),
    ahead=st.integers(0, 2),
)
def test_window_sum_equals_brute_force_count(
    spec: WindowSpec, now_offset: int, event_offsets: list[int], ahead: int
) -> None:
    """Counting events per bucket and summing the window's buckets counts exactly the events whose bucket lies
    in [first_bucket(now), bucket of now + ahead] -- checked against plain time comparisons."""
    now = T0 + now_offset
    per_bucket = Counter(bucket_start(T0 + offset, spec.bucket_ms) for offset in event_offsets)
    windowed = sum(per_bucket[start] for start in spec.bucket_starts(now, ahead))

    n = spec.length_ms // spec.bucket_ms
    current = now - now % spec.bucket_ms
    oldest_ms = current - (n - 1) * spec.bucket_ms
    newest_ms = current + (ahead + 1) * spec.bucket_ms  # exclusive
    brute = sum(1 for offset in event_offsets if oldest_ms <= T0 + offset < newest_ms)
    assert windowed == brute

    assert spec.first_bucket(now) == oldest_ms
    assert (n - 1) * spec.bucket_ms <= now - oldest_ms < n * spec.bucket_ms
    for offset in event_offsets:
        start = bucket_start(T0 + offset, spec.bucket_ms)
        assert spec.contains(start, now) == (start >= oldest_ms)
