"""The benchmark runs end to end at ``--size tiny`` and reports every measurement with sane values.

Only shapes, counts and signs are checked: the figures themselves depend on the machine (no timing asserts).
"""

from __future__ import annotations

import io
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from rich.console import Console

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TARGETED = ("worker_to_ceiling", "latency_p99_seconds", "scrape_1000_queues_ms", "memory_growth", "scaleout_efficiency")


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("bench")
    out = workdir / "tiny.json"
    command = [sys.executable, str(ROOT / "bench" / "run.py"), "--size", "tiny", "--json", str(out)]
    command += ["--workdir", str(workdir / "logs")]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=540, check=False)
    assert run.returncode == 0, run.stdout + run.stderr[-6000:]
    assert "scaleout_efficiency" in run.stdout  # the table
    data: dict[str, Any] = orjson.loads(out.read_bytes())
    return data


def test_the_run_is_described(results: dict[str, Any]) -> None:
    machine = results["machine"]
    assert machine["cpu_model"] and machine["cores_logical"] >= 1 and machine["ram_bytes"] > 0
    assert machine["python"].count(".") == 2 and machine["versions"]["faust-streaming"] != "absent"
    assert results["size"] == "tiny" and results["errors"] == {}
    assert results["measurements"]["contents"]["total_events"] == results["settings"]["events"] == 5000


def test_ceiling_decodes_every_event_before_and_after_the_worker(results: dict[str, Any]) -> None:
    measurements, summary = results["measurements"], results["summary"]
    for ceiling in (measurements["ceiling"], measurements["ceiling_after"]):
        assert ceiling["events"] == 5000 and ceiling["rejected"] == 0 and 0 < ceiling["records"] <= 5000
        assert ceiling["events_per_second"] > 0 and ceiling["seconds"] > 0
        assert ceiling["gc_gen0_threshold"] == 50_000  # the worker's default collector setting
    before, after = measurements["ceiling"]["events_per_second"], measurements["ceiling_after"]["events_per_second"]
    assert summary["ceiling_events_per_second"]["value"] == pytest.approx((before + after) / 2)
    ratio = measurements["worker"]["events_per_second"] / ((before + after) / 2)
    assert summary["worker_to_ceiling"]["value"] == pytest.approx(ratio)


def test_the_worker_applies_exactly_what_was_produced(results: dict[str, Any]) -> None:
    worker = results["measurements"]["worker"]
    assert worker["seen_events"] == worker["expected_events"]
    assert sum(v for k, v in worker["stats"].items() if k.endswith(":applied")) == worker["expected_events"]
    assert not [k for k in worker["stats"] if ":dead_letter:" in k or k.endswith(":duplicate")]
    assert worker["events_per_second"] > 0 and worker["cpu_seconds"] > 0
    assert sorted(worker["rss_bytes"]) == ["1000", "5000"] and min(worker["rss_bytes"].values()) > 10 * 2**20
    for checkpoint, rss in worker["rss_bytes"].items():  # the median of the samples up to the checkpoint
        samples = worker["rss_samples"][checkpoint]
        assert 1 <= len(samples) <= 11 and rss == int(statistics.median(samples))


def test_memory_is_read_at_rest_after_each_checkpoint(results: dict[str, Any]) -> None:
    memory, summary = results["measurements"]["memory"], results["summary"]
    checkpoints = sorted(int(k) for k in memory["rss_bytes"])
    assert len(checkpoints) == 2 and 1000 <= checkpoints[0] < checkpoints[1] == 5000  # whole simulated minutes
    for checkpoint, rss in memory["rss_bytes"].items():
        samples = memory["rss_samples"][checkpoint]
        assert len(samples) == 11 and rss == int(statistics.median(samples)) and rss > 10 * 2**20
    low, high = (memory["rss_bytes"][str(k)] for k in checkpoints)
    assert summary["memory_growth"]["value"] == pytest.approx((high - low) / low)
    assert "memory_busy_growth" in summary  # run 1's readings, shown without a target


def test_every_probe_has_a_latency(results: dict[str, Any]) -> None:
    latency = results["measurements"]["latency"]
    assert latency["load_events"] == 15_000 and latency["probes"] > 10
    assert len(latency["samples"]) == latency["probes"] and min(latency["samples"]) > 0
    assert 0 < latency["p50_seconds"] <= latency["p99_seconds"] <= latency["max_seconds"]
    assert latency["scrapes"] > 1 and latency["scrape_median_seconds"] > 0
    assert len(latency["lower_bounds"]) == latency["probes"] and latency["p99_lower_bound_seconds"] >= 0
    assert all(low <= high for low, high in zip(latency["lower_bounds"], latency["samples"], strict=True))
    assert len(latency["ack_samples"]) == latency["probes"] and latency["p99_ack_seconds"] > 0
    assert set(latency["cpu_seconds"]) == {"bench", "worker", "exporter"}


def test_scrapes_are_timed_for_every_queue_count(results: dict[str, Any]) -> None:
    scrape = results["measurements"]["scrape"]
    assert [entry["queues"] for entry in scrape] == [10, 100, 1000]
    for entry in scrape:
        assert entry["events"] > 0 and entry["dead_letters"] == 0 and entry["scrapes"] == 3
        assert 0 < entry["median_ms"] <= entry["p95_ms"]
    assert scrape[0]["series"] < scrape[1]["series"] < scrape[2]["series"]


def test_two_workers_compute_exactly_what_one_does(results: dict[str, Any]) -> None:
    scaleout = results["measurements"]["scaleout"]
    assert scaleout["counts_exact"] and scaleout["figures_identical"], scaleout["differences"]
    assert scaleout["figures_compared"] > 100
    one, two = scaleout["one_worker"], scaleout["two_workers"]
    assert two["workers"] == 2 and two["seen_events"] == scaleout["expected_events"]
    assert two["second_started_at_events"] > 0 and two["events_per_second"] > 0
    # the one-worker baseline read the same records (run 1 saw only the bulk contents when measured)
    assert one["workers"] == 1 and one["seen_events"] == scaleout["expected_events"] and one["stats"] == two["stats"]
    assert one["prefix"] not in (two["prefix"], results["measurements"]["worker"]["prefix"])


def test_the_summary_judges_every_target_and_compares(results: dict[str, Any]) -> None:
    summary = results["summary"]
    for name in TARGETED:
        assert summary[name]["verdict"] in {"PASS", "FAIL"}, name
    assert summary["scaleout_counts_exact"]["value"] is True

    from bench.report import print_table

    out = io.StringIO()
    print_table(Console(file=out, width=200), results, results)
    assert "1.00x" in out.getvalue()
