"""First contact resolution in the customers partition: repeats within N days, order, duplicates, privacy."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors import customers
from processors.figures import Figure, KpiPolicy
from processors.partition import CustomerPartition

DAY = 86_400_000
POLICY = KpiPolicy(fcr_window_ms=7 * DAY)
QID = "acme/support/voice"


def touch(customer: str, kind: str, at_ms: int, event_id: str) -> bytes:
    return customers.forward_record(customer, kind=kind, time_ms=at_ms, event_id=event_id, qid=QID)[1]


def totals(records: list[bytes], batch: int = 100) -> dict[str, int]:
    partition = CustomerPartition(POLICY)
    result: dict[str, int] = {}
    numbered = list(enumerate(records))
    for start in range(0, len(numbered), batch):
        changes = partition.apply_batch([(offset, None, raw) for offset, raw in numbered[start : start + batch]])
        for (_bucket, _qid, figure), value in changes.sums.items():
            result[figure] = result.get(figure, 0) + value
    return {figure: value for figure, value in result.items() if value}


C, R = customers.CONTACT, customers.RESOLUTION


@pytest.mark.parametrize(
    ("case", "records", "resolved", "repeated"),
    [
        #  day:   0        1        7        8
        #  A:     Q---R             Q                  repeat 6 days after the resolution -> fails
        ("repeat inside", [("A", C, 0, "q1"), ("A", R, 1_000, "r1"), ("A", C, 6 * DAY, "q2")], 1, 1),
        #  A:     Q---R                      Q         8 days later -> first contact resolution holds
        ("repeat after", [("A", C, 0, "q1"), ("A", R, 1_000, "r1"), ("A", C, 8 * DAY, "q2")], 1, 0),
        #  exactly N days after the resolution still counts as a repeat
        ("repeat at edge", [("A", R, 1_000, "r1"), ("A", C, 1_000 + 7 * DAY, "q2")], 1, 1),
        #  a contact of another customer is no repeat
        ("other customer", [("A", R, 1_000, "r1"), ("B", C, 2_000, "q2")], 1, 0),
        #  a contact before the resolution is the contact being resolved, not a repeat
        ("before", [("A", C, 500, "q1"), ("A", R, 1_000, "r1")], 1, 0),
        #  two repeats fail one resolution once
        ("two repeats", [("A", R, 0, "r1"), ("A", C, DAY, "q2"), ("A", C, 2 * DAY, "q3")], 1, 1),
    ],
)
def test_repeat_contacts(case: str, records: list[tuple[str, str, int, str]], resolved: int, repeated: int) -> None:
    raws = [touch(*record) for record in records]
    for order in itertools.permutations(raws):
        got = totals(list(order), batch=1)
        assert got.get(Figure.FCR_RESOLVED.value, 0) == resolved, case
        assert got.get(Figure.FCR_REPEATED.value, 0) == repeated, case


def test_duplicates_are_applied_once() -> None:
    record = touch("A", R, 1_000, "r1")
    assert totals([record, record, touch("A", C, DAY, "q2"), touch("A", C, DAY, "q2")]) == {
        Figure.FCR_RESOLVED.value: 1,
        Figure.FCR_REPEATED.value: 1,
    }


def test_a_record_that_is_not_ours_is_dead_lettered() -> None:
    changes = CustomerPartition(POLICY).apply_batch([(0, None, b'{"h": "x"}'), (1, None, b"nope")])
    assert [letter.rejection.code.value for letter in changes.dead_letters] == ["invalid_value", "invalid_value"]


def test_customer_ids_are_hashed_with_the_salt() -> None:
    hashed = customers.hash_customer("+33612345678", b"salt")
    assert hashed != customers.hash_customer("+33612345678", b"other salt")
    assert "33612345678" not in hashed and len(hashed) == 32


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("ABC"), st.sampled_from([C, R]), st.integers(0, 14 * DAY)), min_size=1, max_size=12
    ),
    st.randoms(use_true_random=False),
    st.integers(1, 5),
)
def test_figures_equal_brute_force_in_any_order(events: list[tuple[str, str, int]], rng: object, batch: int) -> None:
    records = [(customer, kind, at, f"e{n}") for n, (customer, kind, at) in enumerate(events)]
    expected_resolved = sum(1 for _c, kind, _at, _e in records if kind == R)
    expected_repeated = sum(
        1
        for customer, kind, at, _e in records
        if kind == R and any(c == customer and k == C and at < t <= at + 7 * DAY for c, k, t, _ in records)
    )
    raws = [touch(*record) for record in records]
    rng.shuffle(raws)  # type: ignore[attr-defined]
    raws += raws[: len(raws) // 2]  # duplicates
    got = totals(raws, batch=batch)
    assert got.get(Figure.FCR_RESOLVED.value, 0) == expected_resolved
    assert got.get(Figure.FCR_REPEATED.value, 0) == expected_repeated


def test_a_touch_twice_the_window_behind_is_late_not_a_new_resolution() -> None:
    partition = CustomerPartition(POLICY)
    partition.apply_batch([(0, None, touch("A", R, 0, "r1")), (1, None, touch("A", C, 15 * DAY, "q2"))])
    changes = partition.apply_batch([(2, None, touch("A", R, 0, "r1"))])  # the forgotten resolution, again
    assert [letter.rejection.code.value for letter in changes.dead_letters] == ["late_event"]
    assert not changes.sums
