"""``BatchChanges.add_sums``: the batch's sums move by exactly ``after - before``, key by key."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from processors.batch import BatchChanges
from processors.figures import BucketKey

keys = st.tuples(st.sampled_from([0, 60_000]), st.sampled_from(["t/q/voice", "t/q/chat"]), st.sampled_from("abc"))
contributions = st.dictionaries(keys, st.integers(-3, 5), max_size=8)


def changes_with(sums: dict[BucketKey, int]) -> BatchChanges:
    changes = BatchChanges(last_offset=-1, watermark_ms=0)
    changes.sums = dict(sums)
    return changes


@given(contributions, contributions, contributions)
def test_sums_move_by_the_difference(
    start: dict[BucketKey, int], before: dict[BucketKey, int], after: dict[BucketKey, int]
) -> None:
    changes = changes_with(start)
    changes.add_sums(before, after)
    for key in start.keys() | before.keys() | after.keys():
        expected = start.get(key, 0) + after.get(key, 0) - before.get(key, 0)
        assert changes.sums.get(key, 0) == expected


@given(contributions, contributions)
def test_a_key_whose_difference_is_zero_is_not_added(before: dict[BucketKey, int], after: dict[BucketKey, int]) -> None:
    changes = changes_with({})
    changes.add_sums(before, after)
    unchanged = {key for key in before.keys() | after.keys() if after.get(key, 0) == before.get(key, 0)}
    assert not unchanged & changes.sums.keys()


def test_a_leg_that_changed_one_figure_moves_only_that_figure() -> None:
    before = {(0, "t/q/voice", "queued"): 1, (0, "t/q/voice", "wait_ms"): 0}
    after = {(0, "t/q/voice", "queued"): 1, (0, "t/q/voice", "wait_ms"): 4_000, (60_000, "t/q/voice", "handled"): 1}
    changes = changes_with({(0, "t/q/voice", "queued"): 7})
    changes.add_sums(before, after)
    assert changes.sums == {
        (0, "t/q/voice", "queued"): 7,
        (0, "t/q/voice", "wait_ms"): 4_000,
        (60_000, "t/q/voice", "handled"): 1,
    }
