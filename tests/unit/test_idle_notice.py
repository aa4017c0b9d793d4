"""The worker notices once per quiet spell that it went idle (streams/idle.py)."""

from __future__ import annotations

import pytest

from streams.idle import IdleNotice


@pytest.mark.parametrize(
    ("counts", "calls"),
    [
        ([0, 0, 0], [False, False, False]),  # never busy: never idle either
        ([1, 1, 1], [False, True, False]),  # busy, then quiet: once
        ([1, 2, 3, 3, 3], [False, False, False, True, False]),  # busy while batches come
        ([1, 1, 2, 2, 2, 5, 5], [False, True, False, True, False, False, True]),  # each quiet spell
    ],
)
def test_on_idle_is_called_at_the_first_quiet_check_after_batches(counts: list[int], calls: list[bool]) -> None:
    called: list[int] = []
    notice = IdleNotice(lambda: called.append(1))
    assert [notice.check(count) for count in counts] == calls
    assert len(called) == sum(calls)
