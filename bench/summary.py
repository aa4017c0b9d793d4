"""The headline figures of a run, with their targets' verdicts, computed from the detailed measurements."""

from __future__ import annotations

from typing import Any

from bench.report import TARGETS, verdict


def _entry(name: str, value: Any) -> dict[str, Any]:
    return {"value": value, "verdict": verdict(name, value) if name in TARGETS else ""}


def summarize(measurements: dict[str, Any]) -> dict[str, dict[str, Any]]:
    values: dict[str, Any] = {}
    worker = measurements.get("worker")
    ceilings = [c["events_per_second"] for c in (measurements.get("ceiling"), measurements.get("ceiling_after")) if c]
    if len(ceilings) == 2:
        values["ceiling_before_events_per_second"], values["ceiling_after_events_per_second"] = ceilings
    ceiling = sum(ceilings) / len(ceilings) if ceilings else None  # before and after run 1: their mean
    if ceiling is not None:
        values["ceiling_events_per_second"] = ceiling
    if worker:
        values["worker_events_per_second"] = worker["events_per_second"]
        values["worker_events_per_cpu_second"] = worker["events_per_cpu_second"]
    if ceiling and worker:
        values["worker_to_ceiling"] = worker["events_per_second"] / ceiling
    values.update(_latency(measurements.get("latency")))
    values.update(_memory(measurements.get("memory"), worker))
    values.update(_scrape(measurements.get("scrape")))
    values.update(_scaleout(measurements.get("scaleout")))
    return {name: _entry(name, value) for name, value in values.items()}


def _latency(latency: dict[str, Any] | None) -> dict[str, Any]:
    if not latency:
        return {}
    return {
        "latency_offered_events_per_second": latency["achieved_events_per_second"],
        "latency_p50_seconds": latency["p50_seconds"],
        "latency_p99_seconds": latency["p99_seconds"],
        "latency_p99_lower_bound_seconds": latency["p99_lower_bound_seconds"],
        "latency_p99_produce_ack_seconds": latency["p99_ack_seconds"],
        "latency_scrape_median_seconds": latency["scrape_median_seconds"],
    }


def _memory(at_rest: dict[str, Any] | None, worker: dict[str, Any] | None) -> dict[str, Any]:
    """The target is judged at rest (bench/memory.py); run 1's readings, taken while the worker is busy with
    batches in flight, are shown too as ``memory_busy_*``."""
    values = {}
    if at_rest and len(at_rest["rss_bytes"]) >= 2:
        values.update(_growth(at_rest["rss_bytes"], "memory"))
    if worker and len(worker["rss_bytes"]) >= 2:
        values.update(_growth(worker["rss_bytes"], "memory_busy"))
    return values


def _growth(rss_bytes: dict[str, int], name: str) -> dict[str, Any]:
    (low, low_rss), (high, high_rss) = sorted((int(k), v) for k, v in rss_bytes.items())[:2]
    return {
        f"{name}_rss_mb_after_{low}": low_rss / 2**20,
        f"{name}_rss_mb_after_{high}": high_rss / 2**20,
        f"{name}_growth": (high_rss - low_rss) / low_rss,
    }


def _scrape(scrape: list[dict[str, Any]] | None) -> dict[str, Any]:
    if not scrape:
        return {}
    values: dict[str, Any] = {}
    for entry in scrape:
        values[f"scrape_{entry['queues']}_queues_ms"] = entry["median_ms"]
        values[f"scrape_{entry['queues']}_queues_p95_ms"] = entry["p95_ms"]
    smallest, largest = scrape[0], scrape[-1]
    if smallest["median_ms"]:
        values[f"scrape_growth_{largest['queues']}_over_{smallest['queues']}"] = (
            largest["median_ms"] / smallest["median_ms"]
        )
    return values


def _scaleout(scaleout: dict[str, Any] | None) -> dict[str, Any]:
    if not scaleout:
        return {}
    one, two = scaleout["one_worker"], scaleout["two_workers"]
    values: dict[str, Any] = {
        "scaleout_1_worker_events_per_second": one["events_per_second"],
        "scaleout_2_workers_events_per_second": two["events_per_second"],
        "scaleout_1_worker_events_per_cpu_second": one["events_per_cpu_second"],
        "scaleout_2_workers_events_per_cpu_second": two["events_per_cpu_second"],
    }
    if one["events_per_cpu_second"]:
        values["scaleout_efficiency"] = two["events_per_cpu_second"] / one["events_per_cpu_second"]
    values["scaleout_counts_exact"] = scaleout["counts_exact"]
    values["scaleout_figures_identical"] = scaleout["figures_identical"]
    values["scaleout_handovers"] = len(two["handovers"])
    return values
