"""A partition's batch is applied in runs of at most ``max_bytes`` of record values (streams/applier.py)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.applier import chunks


def records(*sizes: int) -> list[tuple[int, bytes | None, bytes]]:
    return [(offset, None, b"x" * size) for offset, size in enumerate(sizes)]


@pytest.mark.parametrize(
    ("sizes", "max_bytes", "expected"),
    [
        ((), 10, [[]]),
        ((3, 3, 3), 10, [[3, 3, 3]]),  # all fit: the batch as it came
        ((4, 4, 4), 8, [[4, 4], [4]]),  # exactly full, then the rest
        ((4, 5, 4), 8, [[4], [5], [4]]),
        ((20, 1, 1), 8, [[20], [1, 1]]),  # a record bigger than the limit goes alone
        ((1, 20, 1), 8, [[1], [20], [1]]),
        ((0, 0, 8, 0), 8, [[0, 0, 8, 0]]),  # empty values (tombstones) cost nothing
    ],
)
def test_runs(sizes: tuple[int, ...], max_bytes: int, expected: list[list[int]]) -> None:
    assert [[len(value) for _o, _k, value in run] for run in chunks(records(*sizes), max_bytes)] == expected


@given(st.lists(st.integers(0, 50), max_size=40), st.integers(1, 60))
def test_runs_keep_every_record_in_order_within_the_limit(sizes: list[int], max_bytes: int) -> None:
    batch = records(*sizes)
    runs = list(chunks(batch, max_bytes))
    assert [record for run in runs for record in run] == batch
    for run in runs:
        assert run or not batch
        over_alone = sum(1 for _o, _k, value in run if value) == 1  # one big record (and empty ones)
        assert sum(len(value) for _o, _k, value in run) <= max_bytes or over_alone
    for before, after in itertools.pairwise(runs):  # greedy: the next record did not fit
        assert sum(len(value) for _o, _k, value in before) + len(after[0][2]) > max_bytes
