"""Fewer, cheaper collections by Python's cyclic garbage collector in the long-running worker and exporter.

CPython frees an object when its last reference goes; the cyclic collector only finds garbage in reference
cycles, which our hot paths do not make. It runs a young-generation pass after every 700 more container
allocations than frees, and now and then a full pass over every tracked object. A worker keeps its partition
state (contact legs, agent timelines, their dicts) as live objects and replaces them batch after batch, so
survivors keep moving into the old generation: measured on the benchmark's worker, the collector took ~7 % of
its CPU and paused it for ~100 ms every 2-3 s (a full pass over ~150,000 objects), which is the latency tail.

So, as the usual server advice goes (``gc.freeze`` after start-up, a higher first threshold):
- the objects made by start-up (modules, the Faust app) are frozen out of every later collection;
- the young generation is collected after ``gen0_threshold`` more allocations than frees. Garbage in cycles is
  still collected, just later: at most about that many objects wait for it.
"""

from __future__ import annotations

import gc


def tune_gc(gen0_threshold: int) -> bool:
    """Freeze what exists now and raise the first threshold; whether anything changed (0: Python's defaults)."""
    if gen0_threshold <= 0:
        return False
    gc.collect()  # what start-up left in cycles goes now, not frozen for good
    gc.freeze()
    _gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)
    return True
