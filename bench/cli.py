"""Command line of the benchmark: options, the steps in order, the JSON file and the table."""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console

from bench import phases
from bench.report import machine_info, print_table
from bench.sizes import MEASUREMENTS, SIZES
from bench.stack import ROOT, BenchError, embedded_stack
from bench.summary import summarize

RESULTS_DIR = ROOT / "bench" / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="small", help="how big (default: small)")
    parser.add_argument(
        "--only", default=",".join(MEASUREMENTS), help=f"comma-separated subset of {','.join(MEASUREMENTS)}"
    )
    parser.add_argument("--json", type=Path, help="write the results here (default: bench/results/<time>-<size>.json)")
    parser.add_argument("--compare", type=Path, help="an earlier results JSON: show its values and the ratios")
    parser.add_argument("--workdir", type=Path, help="where the logs go (default: a temporary directory)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the logs even when every step succeeded")
    args = parser.parse_args(argv)
    args.only_set = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = args.only_set - set(MEASUREMENTS)
    if unknown:
        parser.error(f"--only: unknown {sorted(unknown)}; choose from {','.join(MEASUREMENTS)}")
    if args.compare is not None and not args.compare.is_file():
        parser.error(f"--compare: no file {args.compare}")
    return args


def run_steps(bench: phases.Bench, errors: dict[str, str]) -> None:
    """Every step the chosen measurements need; a failed step is recorded and the next ones still run."""

    def step(name: str, action: Callable[[], None]) -> None:
        try:
            action()
        except (BenchError, TimeoutError, OSError) as exc:
            errors[name] = str(exc)
            bench.console.log(f"[red]{name} failed:[/red] {exc}")

    if bench.wants("ceiling", "worker", "latency", "memory", "scaleout"):
        deployment, produced = phases.produce_contents(bench)
        if bench.wants("ceiling", "worker"):
            step("ceiling", lambda: phases.ceiling(bench, deployment, produced))
        if bench.wants("worker", "latency", "memory", "scaleout"):
            step("workers", lambda: phases.worker_runs(bench, deployment, produced))
    if bench.wants("memory"):
        step("memory", lambda: phases.memory(bench))
    if bench.wants("scrape"):
        step("scrape", lambda: phases.scrape(bench))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True)
    size = SIZES[args.size]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="callpulse-bench-"))
    started = time.perf_counter()
    errors: dict[str, str] = {}
    console.log(f"callpulse bench, size {size.name}, measuring {','.join(sorted(args.only_set))}; logs in {workdir}")
    with embedded_stack(workdir) as stack:
        bench = phases.Bench(stack, size, args.only_set, console)
        run_steps(bench, errors)
    results: dict[str, Any] = {
        "size": size.name,
        "only": sorted(args.only_set),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": time.perf_counter() - started,
        "machine": machine_info(),
        "settings": vars(size),
        "measurements": bench.measurements,
        "summary": summarize(bench.measurements),
        "errors": errors,
        "logs": str(workdir),
    }
    path = args.json or RESULTS_DIR / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{size.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    old = orjson.loads(args.compare.read_bytes()) if args.compare else None
    table_console = Console()
    print_table(table_console if table_console.is_terminal else Console(width=140), results, old)
    console.log(f"results in {path} ({results['seconds']:.0f}s)")
    if errors:
        console.log(f"[red]failed steps: {', '.join(errors)}; logs kept in {workdir}[/red]")
        return 1
    if not args.keep_logs and args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0
