"""The worker's collector settings: far fewer full collections under state churn, cycles still collected."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap

from callpulse.gc_tuning import tune_gc

# Keeps a rolling state of 20,000 small objects, replacing one per step as a worker replaces contact legs, and
# drops a reference cycle every 10th step (100,000 in all): prints the full collections run, the cycles freed
# and the objects frozen.
PROGRAM = textwrap.dedent(
    """
    import gc, json, sys, weakref
    from callpulse.gc_tuning import tune_gc
    changed = tune_gc(int(sys.argv[1]))
    class Node:
        def __init__(self):
            self.me = self
    freed = [0]
    def on_free():
        freed[0] += 1
    state = {}
    full_before = gc.get_stats()[2]["collections"]
    cycles = 0
    for step in range(1_000_000):
        state[step % 20_000] = {"leg": step, "ids": [str(step)]}
        if step % 10 == 0:
            weakref.finalize(Node(), on_free)
            cycles += 1
    print(json.dumps({
        "changed": changed,
        "full": gc.get_stats()[2]["collections"] - full_before,
        "cycles": cycles,
        "freed": freed[0],
        "frozen": gc.get_freeze_count(),
    }))
    """
)


def run(threshold: int) -> dict[str, int]:
    done = subprocess.run([sys.executable, "-c", PROGRAM, str(threshold)], capture_output=True, text=True, check=True)
    result: dict[str, int] = json.loads(done.stdout)
    return result


def test_tuned_collector_runs_fewer_full_collections_and_still_frees_cycles() -> None:
    default, tuned = run(0), run(50_000)
    assert default["changed"] is False and tuned["changed"] is True
    assert default["frozen"] == 0 and tuned["frozen"] > 1_000  # what start-up made is left out
    assert default["full"] >= 2
    assert tuned["full"] < default["full"]
    for result in (default, tuned):  # garbage in cycles is still collected (by the automatic collections only)
        assert result["freed"] >= result["cycles"] // 2


def test_zero_leaves_the_collector_as_it_is() -> None:
    before = gc.get_threshold()
    assert tune_gc(0) is False
    assert gc.get_threshold() == before
