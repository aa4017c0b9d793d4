"""An Asterisk queue_log through the real pipeline: ``callpulse ingest asterisk-queue-log`` -> Tansu -> the worker
-> Valkey -> /metrics, which must show exactly the KPIs counted by hand for the fixture (fixtures/queue_logs).

The fixture's epochs are moved so its last line is 20 s ago. Backfill (--once) and a live follow through a
rotation, garbage lines, a SIGKILL, a rotation while the follower is down and a restart give the same figures,
with no line skipped or repeated (the worker's applied and duplicate counters say so).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer

from callpulse.embedded import wait_until
from fixtures.pipeline import Pipeline, log_of, sample, scrape
from fixtures.queue_logs import (
    MORNING,
    MORNING_AGENTS,
    MORNING_EVENTS,
    MORNING_KPIS,
    MORNING_LAST_EPOCH,
    MORNING_WAITING,
    shifted_lines,
)

pytestmark = pytest.mark.integration

TENANT = "acme"
TOTAL_EVENTS = sum(MORNING_EVENTS.values())


def _morning_now() -> list[bytes]:
    return shifted_lines(MORNING, MORNING_LAST_EPOCH, int(time.time()) - 20)


def _check_kpis(url: str) -> None:
    samples = scrape(url)
    problems = []
    for window in ("15m", "1h"):
        for name, by_queue in MORNING_KPIS.items():
            for queue, expected in zip(("support", "sales"), by_queue, strict=True):
                got = sample(samples, name, tenant=TENANT, queue=queue, channel="voice", window=window)
                if got is None or got != pytest.approx(expected, abs=1e-9):
                    problems.append(f"{name}{{queue={queue}, window={window}}} = {got}, expected {expected}")
    for queue, waiting in MORNING_WAITING.items():
        got = sample(samples, "callpulse_queue_waiting_contacts", tenant=TENANT, queue=queue, channel="voice")
        if got != waiting:
            problems.append(f"waiting in {queue} = {got}, expected {waiting}")
    for (queue, state), count in MORNING_AGENTS.items():
        got = sample(samples, "callpulse_queue_agents", tenant=TENANT, queue=queue, channel="voice", state=state)
        if got != count:
            problems.append(f"agents {state} in {queue} = {got}, expected {count}")
    assert not problems, "\n".join(problems)


def _ingest_once(pipeline: Pipeline, path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "callpulse", "ingest", "asterisk-queue-log", str(path), "--once", *args]
    return subprocess.run(command, env=pipeline.env(), capture_output=True, text=True, timeout=120, check=False)


def test_once_backfill_gives_the_hand_counted_kpis_and_a_replay_changes_nothing(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    path = tmp_path / "queue_log"
    path.write_bytes(b"".join(_morning_now()))
    worker = pipeline.start_worker()
    url = pipeline.start_exporter()

    result = _ingest_once(
        pipeline, path, "--tenant", TENANT, "--checkpoint", str(tmp_path / "ckpt"), "--progress-every", "20"
    )
    assert result.returncode == 0, result.stderr
    assert "ingest: 20 lines (" in result.stderr and "ingest: 40 lines (" in result.stderr  # progress
    assert ": done after" in result.stderr
    assert "lines read: 47 (with events 40, without event 7, rejected 0)" in result.stderr
    assert "events produced: 56: contacts 33 (" in result.stderr and "agents 23 (" in result.stderr
    pipeline.wait_for_records(TOTAL_EVENTS, watch=[worker])
    _check_kpis(url)
    stats = pipeline.stats()
    assert (stats.get("contacts:applied"), stats.get("agents:applied")) == (33, 23)
    assert stats.get("contacts:duplicate", 0) + stats.get("agents:duplicate", 0) == 0

    replay = _ingest_once(pipeline, path, "--tenant", TENANT)  # no checkpoint: the whole file again
    assert replay.returncode == 0, replay.stderr
    pipeline.wait_for_records(2 * TOTAL_EVENTS, watch=[worker])
    stats = pipeline.stats()
    assert (stats.get("contacts:duplicate"), stats.get("agents:duplicate")) == (33, 23)  # same ids: dropped
    _check_kpis(url)


class Follower:
    """The follow-mode ingest as a child process of the pipeline, and its checkpoint."""

    def __init__(self, pipeline: Pipeline, path: Path, checkpoint: Path) -> None:
        self.pipeline, self.path, self.checkpoint = pipeline, path, checkpoint
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = ["asterisk-queue-log", str(self.path), "--tenant", TENANT, "--checkpoint", str(self.checkpoint)]
        self.process = self.pipeline.start("ingest", *args, "--poll-interval", "0.05", log_name="follower")

    def caught_up(self) -> None:
        """Wait until the checkpoint covers every byte of the current file (Kafka acknowledged all of it)."""

        def done() -> bool:
            assert self.process is not None and self.process.poll() is None, log_of(self.process)
            try:
                position = orjson.loads(self.checkpoint.read_bytes())["position"]
                stat = os.stat(self.path)
            except (OSError, orjson.JSONDecodeError):
                return False
            return bool(position["inode"] == stat.st_ino and position["offset"] == stat.st_size)

        wait_until(done, 60, 0.05, f"the follower to checkpoint the end of {self.path}")


def _append(path: Path, *chunks: bytes) -> None:
    with path.open("ab") as handle:
        for chunk in chunks:
            handle.write(chunk)


def test_follow_survives_rotation_garbage_and_sigkill_without_skipping_or_repeating(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    lines = _morning_now()
    garbage = {
        b"Asterisk queue_log restarted\n": "malformed_line",
        f"{int(time.time())}x|NONE|NONE|NONE|QUEUESTART|\n".encode(): "bad_epoch",
        f"{int(time.time())}|NONE|support|SIP/1001|TELEPORT|moon\n".encode(): "unknown_event",
    }
    bad = list(garbage)
    path, rotated, checkpoint = tmp_path / "queue_log", tmp_path / "queue_log.1", tmp_path / "ingest.ckpt"
    worker = pipeline.start_worker()
    url = pipeline.start_exporter()
    follower = Follower(pipeline, path, checkpoint)

    path.write_bytes(b"".join(lines[:12]))
    follower.start()
    follower.caught_up()
    for line in lines[12:18]:  # written as Asterisk does: one line at a time
        _append(path, line)
        follower.caught_up()
    _append(path, bad[0], lines[18][:9])  # garbage, then half a line: the follower must wait for the rest
    _append(path, lines[18][9:])
    follower.caught_up()

    # logrotate: rename, create an empty file; Asterisk writes to the old file until it reopens its log
    path.rename(rotated)
    path.write_bytes(b"")
    _append(rotated, *lines[19:22])
    _append(path, *lines[22:26], bad[1])
    follower.caught_up()

    assert follower.process is not None
    follower.process.kill()  # SIGKILL, right after a checkpoint
    follower.process.wait(10)
    _append(path, *lines[26:30])  # while it is down: more lines, then another rotation
    path.replace(rotated)
    path.write_bytes(b"".join([*lines[30:36], bad[2]]))
    follower.start()
    follower.caught_up()
    for line in lines[36:]:
        _append(path, line)
    follower.caught_up()
    assert follower.process is not None
    follower.process.terminate()
    assert follower.process.wait(20) == 0
    log = Path(follower.process.log_path).read_text()  # type: ignore[attr-defined]
    assert f"resuming {rotated} at byte" in log
    assert "stopped after" in log and "rejected lines by reason (sent to the dead-letter topic): " in log

    pipeline.wait_for_records(TOTAL_EVENTS, watch=[worker])
    stats = pipeline.stats()
    assert (stats.get("contacts:applied"), stats.get("agents:applied")) == (33, 23)  # no line skipped
    assert stats.get("contacts:duplicate", 0) + stats.get("agents:duplicate", 0) == 0  # none repeated
    _check_kpis(url)

    consumer = KafkaConsumer(
        pipeline.dead_letter_topic,
        bootstrap_servers=pipeline.kafka.url,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
        group_id=None,
    )
    letters = [orjson.loads(message.value) for message in consumer]
    consumer.close()
    assert sorted((letter["payload"], letter["reason"]) for letter in letters) == sorted(
        (line.decode().rstrip("\n"), reason) for line, reason in garbage.items()
    )
    for letter in letters:
        assert letter["detail"] and letter["source"] == "asterisk" and letter["file"] == str(path)
        assert isinstance(letter["line_offset"], int) and letter["line_offset"] > 0
    first = next(letter for letter in letters if letter["reason"] == "malformed_line")
    assert first["line_offset"] == len(b"".join(lines[:18]))
