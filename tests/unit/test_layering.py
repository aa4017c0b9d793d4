"""processors/ stays pure: it imports no Kafka, Redis, Faust or Prometheus library, and reads no clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PROCESSORS = Path(__file__).resolve().parents[2] / "processors"
FORBIDDEN = {"faust", "aiokafka", "kafka", "redis", "valkey", "prometheus_client", "mode"}
CLOCKS = {
    ("time", "time"),
    ("time", "monotonic"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("date", "today"),
}


def _modules() -> list[Path]:
    return sorted(PROCESSORS.glob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda path: path.name)
def test_processor_module_imports_no_io_library(path: Path) -> None:
    tree = ast.parse(path.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN


@pytest.mark.parametrize("path", _modules(), ids=lambda path: path.name)
def test_processor_module_reads_no_clock(path: Path) -> None:
    tree = ast.parse(path.read_text())
    calls = {
        (node.func.value.id, node.func.attr)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
    }
    assert not calls & CLOCKS


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import redis\nimport time\ntime.time()\n")
    with pytest.raises(AssertionError):
        test_processor_module_imports_no_io_library(bad)
    with pytest.raises(AssertionError):
        test_processor_module_reads_no_clock(bad)
