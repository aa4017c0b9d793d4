"""Issue 7's benchmark on the embedded broker and Redis: ``python3 bench/run.py --size tiny|small|full``.

Prints progress, then a table of the headline figures with PASS/FAIL per target, and writes every
measurement with the machine's description as JSON (``--json PATH``, else ``bench/results/<time>-<size>.json``).
``--compare OLD.json`` adds the old values and the ratios to the table. Exit code 1 when a step failed.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in {None, ""}:  # run as a script: this checkout's packages first, not an installed copy, and
    # not bench/ itself, whose module names would shadow the standard library's and the dependencies'
    script_dir = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != script_dir]
    sys.path.insert(0, str(script_dir.parent))

from bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
