"""``callpulse recompute`` without servers: the rows of its table, the events-file reader, the batch feeding."""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from callpulse.cli import main
from callpulse.recompute import parse_now
from callpulse.recompute_apply import FencedError, Recomputer, RecomputeTally
from callpulse.recompute_prefix import RecomputeError, check_prefix
from callpulse.recompute_report import (
    LiveRow,
    compare_figures,
    figures_document,
    live_rows,
    render_tables,
    window_rows,
)
from callpulse.recompute_sources import BadLine, SourceBatch, parse_event_line, read_events_file
from callpulse.recompute_summary import Progress, render_summary, summary_document
from callpulse.simulator import DEFAULT_PROFILE, TrafficModel, event_line
from exporters import catalog, queue_metrics
from exporters.reader import Snapshot
from exporters.view import KpiView
from processors.batch import BatchChanges
from processors.figures import KpiPolicy
from processors.formulas import ServiceLevelVariant
from processors.windows import WindowSpec
from streams.store import WriteOutcome

NOW = 1_795_425_600_000  # 2026-11-23T09:20:00Z
SUPPORT = "demo/support/voice"
SALES = "demo/sales/voice"


def _view(**overrides: Any) -> KpiView:
    settings: dict[str, Any] = {
        "windows": (WindowSpec(300_000, 60_000), WindowSpec(3_600_000, 60_000)),
        "service_level_variant": ServiceLevelVariant.ABANDONS_AGAINST,
        "offered_includes_timeouts": True,
        "service_level_seconds": {"voice": 20.0},
    }
    return KpiView(**{**settings, **overrides})


def _snapshot() -> Snapshot:
    busy = {
        "queued": 12,
        "answered": 8,
        "answered_in_sl": 6,
        "wait_answered_ms": 80_000,
        "abandoned": 2,
        "abandoned_in_sl": 1,
        "short_abandoned": 1,
        "timed_out": 1,
        "handled": 4,
        "handle_ms": 800_000,
        "talk_ms": 600_000,
        "idle_gaps": 2,
        "idle_ms": 61_000,
        "wait_max_ms": 45_500,
    }
    snapshot = Snapshot(now_ms=NOW)
    snapshot.totals = {
        (SUPPORT, "5m"): busy,
        (SUPPORT, "today"): {"queued": 3},
        ("@demo/alice", "5m"): {"handled": 99},  # per-agent figures are not a queue
    }
    snapshot.waiting = {SUPPORT: (2, NOW - 30_500), SALES: (0, None)}
    snapshot.agents = Counter({(SUPPORT, "available"): 3, (SUPPORT, "on_contact"): 1, (SALES, "aux"): 2})
    return snapshot


def test_rows_hold_the_main_figures_of_every_queue_and_window() -> None:
    rows = window_rows(_snapshot(), _view())
    assert [(row.queue, row.window) for row in rows] == [
        (SUPPORT, window) for window in ("5m", "1h", "today", "interval", "last_interval")
    ]
    busy = rows[0]
    assert (busy.arrived, busy.offered, busy.answered, busy.abandoned) == (12, 11, 8, 2)  # 8 + 2 + 1 timeout
    assert busy.asa_seconds == 10.0
    assert busy.max_wait_seconds == 45.5
    assert busy.abandon_ratio == pytest.approx(3 / 11)
    assert busy.service_level_ratio == pytest.approx(6 / 11)
    assert busy.aht_seconds == 200.0
    assert busy.idle_seconds == 30.5
    empty = rows[1]
    assert (empty.arrived, empty.offered, empty.answered, empty.abandoned) == (0, 0, 0, 0)
    assert empty.asa_seconds is empty.service_level_ratio is empty.aht_seconds is empty.max_wait_seconds is None
    assert rows[2].arrived == 3


def test_rows_follow_the_configured_abandon_treatment() -> None:
    view = _view(
        offered_includes_timeouts=False,
        service_level_variants={"support/voice": ServiceLevelVariant.ABANDONS_IGNORED},
    )
    busy = window_rows(_snapshot(), view)[0]
    assert busy.offered == 10
    assert busy.abandon_ratio == pytest.approx(2 / 10)
    assert busy.service_level_ratio == pytest.approx(6 / 8)


ROW_METRICS = {
    "arrived": catalog.QUEUE_ARRIVED,
    "offered": catalog.QUEUE_OFFERED,
    "answered": catalog.QUEUE_ANSWERED,
    "abandoned": catalog.QUEUE_ABANDONED,
    "asa_seconds": catalog.QUEUE_ASA,
    "max_wait_seconds": catalog.QUEUE_MAX_WAIT,
    "abandon_ratio": catalog.QUEUE_ABANDON_RATIO,
    "service_level_ratio": catalog.QUEUE_SERVICE_LEVEL,
    "aht_seconds": catalog.QUEUE_AHT,
    "idle_seconds": catalog.QUEUE_AGENT_IDLE,
}


@pytest.mark.parametrize("include_timeouts", [True, False])
def test_rows_equal_what_the_exporter_serves_for_the_same_snapshot(include_timeouts: bool) -> None:
    view = _view(offered_includes_timeouts=include_timeouts)
    snapshot = _snapshot()
    served = {
        (family.name, tuple(sample.labels.values())): sample.value
        for family in queue_metrics.windowed(snapshot, view)
        for sample in family.samples
    }
    rows = window_rows(snapshot, view)
    for row in rows:
        labels = (*row.queue.split("/"), row.window)
        for attribute, spec in ROW_METRICS.items():
            assert getattr(row, attribute) == served.get((spec.name, labels)), (attribute, labels)
    assert len(rows) * len(ROW_METRICS) > 40


def test_live_rows_show_waiting_contacts_longest_wait_and_agents() -> None:
    assert live_rows(_snapshot()) == [
        LiveRow(SALES, waiting=0, longest_wait_seconds=0.0, agents={"aux": 2}),
        LiveRow(SUPPORT, waiting=2, longest_wait_seconds=30.5, agents={"available": 3, "on_contact": 1}),
    ]


def test_figures_document_is_plain_json_and_the_table_shows_every_row() -> None:
    document = figures_document(_snapshot(), _view())
    assert json.loads(json.dumps(document)) == document
    assert document["windows"][0]["asa_seconds"] == 10.0
    text = render_tables(document)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["queue", "window", "arrived"]
    assert any(line.split()[:3] == [SUPPORT, "5m", "12"] and "54.5" in line for line in lines)  # SL 6/11 in %
    assert any(line.startswith(SUPPORT) and "last_interval" in line and line.rstrip().endswith("-") for line in lines)
    assert any(line.startswith(SUPPORT) and "30.5" in line and "available 3, on_contact 1" in line for line in lines)


def test_an_empty_snapshot_says_so() -> None:
    assert "no figures" in render_tables({"windows": [], "live": []})


def test_comparing_figures_lists_every_difference() -> None:
    live = figures_document(_snapshot(), _view())
    assert compare_figures(live, json.loads(json.dumps(live))) == []
    changed = _snapshot()
    changed.totals[(SUPPORT, "5m")] = {**changed.totals[(SUPPORT, "5m")], "answered": 9}
    changed.waiting = {SUPPORT: (2, NOW - 30_500)}  # sales has agents only: still a queue
    del changed.agents[(SALES, "aux")]
    differences = compare_figures(live, figures_document(changed, _view()))
    assert f"{SUPPORT} 5m answered: live 8, recomputed 9" in differences
    assert f"{SUPPORT} 5m offered: live 11, recomputed 12" in differences
    assert f"{SALES}: only in the live figures" in differences


# --- the events file --------------------------------------------------------------------------------------


def _simulated_lines(count: int, skip: int = 0) -> list[str]:
    """Simulated events as file lines; the first ~20 are agents logging in, skip some to mix both streams."""
    model = TrafficModel(seed=4, start_ms=NOW - 3_600_000, profile=DEFAULT_PROFILE)
    events = model.advance_to(NOW)
    assert len(events) >= skip + count
    return [event_line(event) for event in events[skip : skip + count]]


def test_an_event_line_becomes_stream_key_and_record_value() -> None:
    stream, key, value = parse_event_line('{"stream": "agents", "key": "alice", "event": {"type": "aux"}}')
    assert (stream, key, orjson.loads(value)) == ("agents", b"alice", {"type": "aux"})
    assert parse_event_line('{"stream": "contacts", "event": [1]}')[1:] == (None, b"[1]")  # the processor judges


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"stream": "contacts", "key": "c-1", "event": {', "not valid JSON"),
        ('["contacts", "c-1", {}]', "expected a JSON object"),
        ('{"stream": "customers", "key": "h", "event": {}}', "'stream' must be one of contacts, agents"),
        ('{"stream": "contacts", "key": "c-1"}', "no 'event' field"),
        ('{"stream": "contacts", "key": 7, "event": {}}', "'key' must be a string"),
    ],
)
def test_a_bad_line_says_what_is_wrong(line: str, message: str) -> None:
    with pytest.raises(BadLine, match=message):
        parse_event_line(line)


def test_the_file_reader_batches_per_stream_in_file_order_and_reports_bad_lines(tmp_path: Path) -> None:
    good = _simulated_lines(9, skip=18)
    assert {orjson.loads(line)["stream"] for line in good} == {"contacts", "agents"}
    lines = [*good[:4], "{this is not json", "", *good[4:], '{"stream": "contacts"}']
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad: list[tuple[int, str]] = []

    batches = list(read_events_file(path, batch_size=2, on_bad_line=lambda number, why: bad.append((number, why))))

    assert [number for number, _ in bad] == [5, 12]
    assert "not valid JSON" in bad[0][1] and "no 'event'" in bad[1][1]
    assert all(1 <= len(batch.records) <= 2 and batch.partition == 0 for batch in batches)
    numbered = [*zip(range(1, 5), good[:4], strict=True), *zip(range(7, 12), good[4:], strict=True)]
    for stream in ("contacts", "agents"):
        expected = [(number, orjson.loads(line)) for number, line in numbered if orjson.loads(line)["stream"] == stream]
        read = [
            (offset, {"stream": stream, "key": key.decode() if key else None, "event": orjson.loads(value)})
            for batch in batches
            if batch.stream == stream
            for offset, key, value in batch.records
        ]
        assert read == expected
    assert sum(len(batch.records) for batch in batches) == 9


# --- feeding the processors -------------------------------------------------------------------------------


class FakeStore:
    """Records what a ``PartitionStore`` would be asked; fences when told to."""

    prefix = "audit"

    def __init__(self, fence_at: int | None = None) -> None:
        self.registered: list[tuple[str, int]] = []
        self.writes: list[tuple[str, int, int, int]] = []  # stream, partition, expected offset, last offset
        self.fence_at = fence_at

    async def register(self, stream: str, partition: int) -> None:
        self.registered.append((stream, partition))

    async def write(self, stream: str, partition: int, changes: BatchChanges, *, expected_offset: int) -> WriteOutcome:
        if len(self.writes) == self.fence_at:
            return WriteOutcome.FENCED
        self.writes.append((stream, partition, expected_offset, changes.last_offset))
        return WriteOutcome.WRITTEN


def _batches(count: int, batch_size: int, tmp_path: Path) -> list[SourceBatch]:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join([*_simulated_lines(count), '{"stream": "agents", "event": "nope"}']) + "\n")
    return list(read_events_file(path, batch_size=batch_size, on_bad_line=lambda *_: None))


def test_each_batch_is_written_fenced_by_the_offset_before_it(tmp_path: Path) -> None:
    store = FakeStore()
    recomputer = Recomputer(store, KpiPolicy())  # type: ignore[arg-type]
    batches = _batches(40, 7, tmp_path)
    for batch in batches:
        asyncio.run(recomputer.apply(batch.stream, batch.partition, batch.records))

    assert sorted(store.registered) == [("agents", 0), ("contacts", 0)]
    for stream in ("contacts", "agents"):
        writes = [(expected, last) for s, _, expected, last in store.writes if s == stream]
        assert writes[0][0] == -1
        assert all(later[0] == earlier[1] for earlier, later in itertools.pairwise(writes))
    tally = recomputer.tally
    assert sum(tally.read.values()) == 41
    assert tally.count("contacts", "applied") + tally.count("agents", "applied") == 40
    assert tally.dead_letters() == Counter({"not_an_object": 1})
    assert "not_an_object" in tally.examples[0]


def test_a_fenced_write_stops_the_recompute(tmp_path: Path) -> None:
    recomputer = Recomputer(FakeStore(fence_at=1), KpiPolicy())  # type: ignore[arg-type]
    first, second, *_ = _batches(20, 5, tmp_path)
    asyncio.run(recomputer.apply(first.stream, first.partition, first.records))
    with pytest.raises(FencedError, match="another recompute"):
        asyncio.run(recomputer.apply(second.stream, second.partition, second.records))


# --- the rest of the command ------------------------------------------------------------------------------


def test_the_summary_counts_records_applied_duplicates_and_dead_letters_by_reason() -> None:
    tally = RecomputeTally(read=Counter({"contacts": 10, "agents": 5}), bad_lines=2)
    tally.stats = {
        "contacts": Counter({"applied": 7, "duplicate": 1, "dead_letter:late_event": 2}),
        "agents": Counter({"applied": 4, "dead_letter:invalid_json": 1}),
    }
    tally.seen = {("contacts", 0), ("agents", 0)}
    summary = summary_document(tally, 1.25)
    assert summary == {
        "records": 15,
        "records_by_stream": {"agents": 5, "contacts": 10},
        "bad_lines": 2,
        "applied": 11,
        "duplicates": 1,
        "customer_touches": 0,
        "dead_lettered": {"invalid_json": 1, "late_event": 2},
        "stale_evicted": 0,
        "partitions": {"agents": 1, "contacts": 1},
        "seconds": 1.25,
    }
    text = render_summary(summary, "events file x", ["contacts partition 0 offset 3: late_event: ..."])
    assert "dead-lettered   3: invalid_json 1, late_event 2" in text
    assert "time taken      1.2 s" in text or "time taken      1.3 s" in text
    assert "rejected: contacts partition 0 offset 3" in text


def test_progress_is_reported_every_n_records(capsys: pytest.CaptureFixture[str]) -> None:
    progress = Progress(1000, sys.stderr, clock=lambda: 0.0)
    tally = RecomputeTally()
    for _ in range(5):
        tally.read["contacts"] += 700
        progress.update(tally)
    reported = [line for line in capsys.readouterr().err.splitlines() if "records read" in line]
    assert [line.split()[1] for line in reported] == ["1,400", "2,100", "3,500"]


def test_the_live_prefix_and_odd_prefixes_are_refused() -> None:
    with pytest.raises(RecomputeError, match="live prefix"):
        check_prefix("callpulse", "callpulse")
    with pytest.raises(RecomputeError, match="letters, digits"):
        check_prefix("a b*", "callpulse")
    check_prefix("callpulse-recomputed", "callpulse")


def test_the_command_has_help_with_examples_and_wants_one_source() -> None:
    runner = CliRunner()
    shown = runner.invoke(main, ["recompute", "--help"])
    assert shown.exit_code == 0
    assert (
        "Examples:" in shown.output and "--idle-seconds" in shown.output and "one watermark per stream" in shown.output
    )
    for args in ([], ["--from-kafka", "--events-file", __file__]):
        refused = runner.invoke(main, ["recompute", *args])
        assert refused.exit_code == 2 and "exactly one of --events-file PATH and --from-kafka" in refused.output
    bad_now = runner.invoke(main, ["recompute", "--from-kafka", "--now", "yesterday"])
    assert bad_now.exit_code == 2 and "--now" in bad_now.output


def test_now_is_rfc3339_or_the_wall_clock() -> None:
    assert parse_now("2026-11-23T09:20:00Z") == NOW
    assert parse_now("2026-11-23T10:20:00+01:00") == NOW
    assert parse_now(None, clock=lambda: NOW / 1000) == NOW
    with pytest.raises(ValueError, match="UTC offset"):
        parse_now("2026-11-23T09:20:00")
