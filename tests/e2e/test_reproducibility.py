"""An auditor reproduces the live figures: a simulated day goes through the real pipeline, then
``callpulse recompute`` rebuilds every figure from the raw events (an events file, and the Kafka topics)
under other prefixes; read at the same instant, the recomputed state equals the live worker's."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from callpulse.recompute_report import figures_document
from callpulse.settings import load_settings
from callpulse.simulator import DEFAULT_PROFILE, TrafficModel, write_events_file
from callpulse.wiring import kpi_view
from exporters.reader import Snapshot, read_snapshot
from fixtures.pipeline import Pipeline, log_of, produce
from processors.timeutil import format_ms, parse_event_time_ms
from processors.windows import local_midnight_ms
from streams.redis_keys import STREAMS, partitions_key
from streams.topics import ensure_topics

pytestmark = pytest.mark.e2e

DAY_MS = 86_400_000
SEED = 2026
FORWARDED = {"queued", "resolved"}  # the contact events whose customer's touch goes to the customers topic
SCALE = 0.7  # a day of the default center is ~46k events; this keeps it near 30k (the test near 1.5 minutes)


def _events_file(path: Path, now_ms: int) -> list[dict[str, Any]]:
    model = TrafficModel(seed=SEED, start_ms=now_ms - DAY_MS, profile=DEFAULT_PROFILE.scaled(SCALE))
    written = write_events_file(path, model, now_ms)
    lines = [orjson.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == written
    assert 10_000 <= written <= 40_000, f"{written} events: rescale SCALE to keep the test under 3 minutes"
    return lines


def _recompute(pipeline: Pipeline, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "callpulse", "recompute", *args],
        env=pipeline.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finished(process: subprocess.Popen[str], what: str) -> str:
    out, err = process.communicate(timeout=240)
    assert process.returncode == 0, f"{what} exited with {process.returncode}:\n{err[-4000:]}"
    assert "recompute summary" in err and "records read" in err, err[-2000:]
    return out


def _differences(live: Snapshot, other: Snapshot) -> list[tuple[str, str, str, int | None, int | None]]:
    """(queue, window, figure, live value, recomputed value) wherever the two differ."""
    found = []
    for qid, label in sorted(live.totals.keys() | other.totals.keys()):
        mine, theirs = live.totals.get((qid, label), {}), other.totals.get((qid, label), {})
        for figure in sorted(mine.keys() | theirs.keys()):
            if mine.get(figure) != theirs.get(figure):
                found.append((qid, label, figure, mine.get(figure), theirs.get(figure)))
    return found


def _assert_reproduced(live: Snapshot, recomputed: Snapshot, what: str) -> None:
    differences = _differences(live, recomputed)
    assert not differences, f"{what}: {len(differences)} figures differ, e.g. {differences[:8]}"
    assert live.waiting == recomputed.waiting, what
    assert live.agents == recomputed.agents, what
    assert live.watermark_ms == recomputed.watermark_ms, what
    for stream in STREAMS:
        for stat in ("applied", "duplicate"):
            assert live.stats[stream][stat] == recomputed.stats[stream][stat], (what, stream, stat)


def test_recompute_from_the_events_file_and_from_kafka_reproduces_the_live_figures(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    pipeline.extra_env["CALLPULSE_CUSTOMER_ID_SALT"] = "audit-salt"  # first contact resolution on, as in the demo
    now_ms = int(time.time() * 1000)
    events = _events_file(tmp_path / "events.jsonl", now_ms)
    touches = sum(1 for line in events if "customer_id" in line["event"] and line["event"]["type"] in FORWARDED)
    assert touches > 100
    topics = {"contacts": pipeline.contacts_topic, "agents": pipeline.agents_topic}
    records = [(topics[line["stream"]], line["key"].encode(), orjson.dumps(line["event"])) for line in events]
    ensure_topics(pipeline.kafka.url, [*topics.values()], partitions=pipeline.partitions)

    producer = threading.Thread(target=produce, args=(pipeline.kafka.url, records), daemon=True)
    producer.start()
    worker = pipeline.start_worker()
    producer.join(180)
    assert not producer.is_alive(), "producing the day took over 3 minutes"
    pipeline.wait_for_records(len(records) + touches, timeout=180, watch=[worker])  # + each touch, once more

    at = format_ms(now_ms)
    from_file = _recompute(
        pipeline,
        *("--events-file", str(tmp_path / "events.jsonl"), "--prefix", f"{pipeline.name}-file"),
        *("--now", at, "--json", str(tmp_path / "file.json")),
    )
    from_kafka = _recompute(
        pipeline,
        *("--from-kafka", "--prefix", f"{pipeline.name}-kafka", "--idle-seconds", "3"),
        *("--now", at, "--json", str(tmp_path / "kafka.json"), "--compare-live"),
    )
    table = _finished(from_file, "recompute --events-file")
    verdict = _finished(from_kafka, "recompute --from-kafka").splitlines()[-1]
    assert verdict == f"compared with the live prefix {pipeline.name!r} at the same time: identical", verdict
    assert worker.poll() is None, log_of(worker)

    view = kpi_view(load_settings())
    client = pipeline.redis()

    def snapshot(prefix: str) -> Snapshot:
        return read_snapshot(client, prefix=prefix, now_ms=now_ms, windows=list(view.windows), calendar=view.calendar)

    live = snapshot(pipeline.name)
    answered_1h = {qid: totals.get("answered", 0) for (qid, label), totals in live.totals.items() if label == "1h"}
    assert len(live.queues) >= 3 and sum(1 for n in answered_1h.values() if n > 0) >= 3, answered_1h
    midnight = local_midnight_ms(now_ms, view.calendar.zone)
    answered_today = sum(
        1
        for line in events
        if line["event"]["type"] == "answered" and parse_event_time_ms(str(line["event"]["event_time"])) >= midnight
    )  # counted from the raw events, apart from any processor
    assert sum(totals.get("answered", 0) for (_, label), totals in live.totals.items() if label == "today") == (
        answered_today
    )
    assert live.stats["contacts"]["applied"] + live.stats["agents"]["applied"] == len(records)
    assert live.stats["customers"]["applied"] == touches
    assert any(totals.get("fcr_resolved", 0) > 0 for totals in live.totals.values())
    assert {label for _, label in live.totals} >= {"5m", "15m", "1h", "today", "interval", "last_interval"}

    kafka = snapshot(f"{pipeline.name}-kafka")
    inputs = ("contacts", "agents")
    assert [kafka.partitions[s] for s in inputs] == [live.partitions[s] for s in inputs]  # offset for offset
    _assert_reproduced(live, kafka, "--from-kafka")
    by_file = snapshot(f"{pipeline.name}-file")
    assert [by_file.partitions[s] for s in inputs] == [1, 1]
    _assert_reproduced(live, by_file, "--events-file")

    live_figures = json.loads(json.dumps(figures_document(live, view)))
    for name in ("file.json", "kafka.json"):
        document = json.loads((tmp_path / name).read_text())
        assert document["now_ms"] == now_ms
        assert document["figures"] == live_figures, name
        assert document["summary"]["records"] == len(records)
        assert document["summary"]["applied"] == len(records)
        assert document["summary"]["dead_lettered"] == {}
        assert document["summary"]["customer_touches"] == touches
    assert json.loads((tmp_path / "kafka.json").read_text())["live_differences"] == []
    assert sum(row["answered"] for row in live_figures["windows"] if row["window"] == "today") == answered_today
    first = live_figures["windows"][0]
    assert first["queue"] in table and "last_interval" in table


def test_a_prefix_with_state_is_replaced_only_when_asked_and_only_if_a_recompute_wrote_it(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    model = TrafficModel(seed=SEED, start_ms=int(time.time() * 1000) - 3_600_000, profile=DEFAULT_PROFILE)
    written = write_events_file(events, model, model.start_ms + 600_000)
    audit = f"{pipeline.name}-audit"
    at = format_ms(model.now_ms)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "callpulse", "recompute", "--events-file", str(events), "--now", at, *args]
        return subprocess.run(command, env=pipeline.env(), capture_output=True, text=True, timeout=120, check=False)

    first = run("--prefix", audit)
    assert first.returncode == 0, first.stderr
    refused = run("--prefix", audit)
    assert refused.returncode == 2 and "already holds state" in refused.stderr and "--replace" in refused.stderr
    replaced = run("--prefix", audit, "--replace")
    assert replaced.returncode == 0, replaced.stderr
    assert "deleted" in replaced.stderr and f"records read    {written:,}" in replaced.stderr
    assert replaced.stdout == first.stdout and "demo/" in replaced.stdout

    foreign = f"{pipeline.name}-foreign"
    pipeline.redis().sadd(partitions_key(foreign), "contacts:0")  # state some worker wrote
    kept = run("--prefix", foreign, "--replace")
    assert kept.returncode == 2 and "no recompute wrote" in kept.stderr, kept.stderr
    assert pipeline.redis().exists(partitions_key(foreign))
    live = run("--prefix", pipeline.name, "--replace")
    assert live.returncode == 2 and "live prefix" in live.stderr
