"""``callpulse ingest asterisk-queue-log``: an Asterisk queue_log, followed or replayed, as contract-v1 events.

Loop: read up to ``batch_lines`` complete lines (:mod:`callpulse.ingest_tail`), map each one
(:mod:`processors.queue_log`), send its events to the contacts/agents topics keyed by contact/agent id and
unmappable lines to the dead-letter topic, wait until Kafka acknowledged all of them (acks=all), then
checkpoint the byte position after the batch together with the parser state (:mod:`callpulse.ingest_checkpoint`).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

import orjson

from callpulse.batching import BatchPacker, PackedRecord
from callpulse.ingest_checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from callpulse.ingest_tail import FileTail, Line
from callpulse.settings import Settings
from processors.queue_log import LineRef, OutEvent, QueueLogConfig, QueueLogMapper, QueueLogState

log = logging.getLogger("callpulse.ingest")

MAX_PAYLOAD_CHARS = 16 * 1024


class SinkError(RuntimeError):
    """Kafka did not take a record; nothing after the last checkpoint counts as delivered."""


class Sink(Protocol):
    def send(self, topic: str, key: bytes, value: bytes, *, packed: bool = True) -> None: ...

    def flush(self) -> None:
        """Wait for every record sent since the last flush; raise SinkError if one was not acknowledged."""

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Topics:
    contacts: str
    agents: str
    dead_letter: str


@dataclass(frozen=True, slots=True)
class IngestOptions:
    path: Path
    config: QueueLogConfig
    follow: bool = True
    checkpoint: Path | None = None
    from_end: bool = False
    poll_seconds: float = 0.25
    batch_lines: int = 1000
    progress_every: int = 10_000  # --once: a progress line every N lines
    status_seconds: float = 60.0  # --follow: a status line this often


@dataclass
class Tally:
    lines: int = 0
    events: Counter[str] = field(default_factory=Counter)  # "contacts/queued" -> count
    rejected: Counter[str] = field(default_factory=Counter)  # reason -> lines
    quiet: Counter[str] = field(default_factory=Counter)  # why a line gave no event -> lines
    checkpoints: int = 0
    position: str = ""


class KafkaSink:
    """kafka-python producer with acks=all; remembers the futures of the records sent since the last flush."""

    def __init__(
        self, bootstrap: str, *, timeout_seconds: float = 120.0, client_kwargs: dict[str, Any] | None = None
    ) -> None:
        from kafka import KafkaProducer

        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap.split(","),
            acks="all",
            linger_ms=5,
            client_id="callpulse-ingest",
            **(client_kwargs or {}),  # SASL/TLS: KafkaSecurity.client_kwargs
        )
        self._timeout = timeout_seconds
        self._futures: list[Any] = []
        self._packers: dict[str, BatchPacker] = {}  # topic -> events waiting for the next flush

    def send(self, topic: str, key: bytes, value: bytes, *, packed: bool = True) -> None:
        """Queue an event; ``flush`` sends the queued events packed into batch records per partition
        (``packed=False``: a record of its own, as dead letters are)."""
        from kafka.errors import KafkaError

        try:
            if not packed:
                self._futures.append(self._producer.send(topic, key=key, value=value))
                return
            packer = self._packers.get(topic)
            if packer is None:
                partitions = self._producer.partitions_for(topic)  # waits for metadata
                packer = self._packers[topic] = BatchPacker(len(partitions or {0}))
            self._send_packed(topic, packer.add(key, value))
        except KafkaError as exc:
            raise SinkError(f"cannot send to {topic}: {exc}") from None

    def _send_packed(self, topic: str, records: list[PackedRecord]) -> None:
        for record in records:
            self._futures.append(
                self._producer.send(topic, key=record.key, value=record.value, partition=record.partition)
            )

    def flush(self) -> None:
        from kafka.errors import KafkaError

        try:
            for topic, packer in self._packers.items():
                self._send_packed(topic, packer.drain())
            self._producer.flush(timeout=self._timeout)
        except KafkaError as exc:
            raise SinkError(f"Kafka did not acknowledge the batch: {exc}") from None
        failed = [future for future in self._futures if not future.is_done or future.failed()]
        self._futures.clear()
        if failed:
            first = failed[0].exception if failed[0].is_done else "no answer in time"
            raise SinkError(f"Kafka did not acknowledge {len(failed)} record(s): {first}")

    def close(self) -> None:
        self._producer.close(timeout=10)


class _Ingest:
    def __init__(
        self, options: IngestOptions, sink: Sink, topics: Topics, err: TextIO, clock: Callable[[], float]
    ) -> None:
        self.options, self.sink, self.topics, self.err, self.clock = options, sink, topics, err, clock
        self.tally = Tally()
        self.started = clock()
        self._next_progress = options.progress_every
        self._next_status = self.started + options.status_seconds
        checkpoint = load_checkpoint(options.checkpoint) if options.checkpoint else None
        config = options.config
        if checkpoint is not None:
            checkpoint.check_matches(
                path=options.path, source=config.source, tenant=config.tenant, channel=config.channel
            )
        try:
            state = QueueLogState.from_json(checkpoint.parser) if checkpoint else None
        except (ValueError, KeyError, TypeError) as exc:
            message = f"the checkpoint's parser state is unusable ({exc}); delete it to start over"
            raise CheckpointError(message) from None
        self.mapper = QueueLogMapper(config, state)
        self.tail = FileTail(options.path, follow=options.follow)
        log.info("%s", self.tail.start(checkpoint.position if checkpoint else None, from_end=options.from_end))

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                lines = self.tail.read(self.options.batch_lines)
                for line in lines:
                    self._map(line)
                # idle (or at the end of --once): wrap-up times that are over by the wall clock end now
                released = [] if lines else self.mapper.advance(int(self.clock() * 1000))
                self._send(released)
                if lines or released:
                    self._commit()
                self._report()
                if not lines:
                    if self.tail.exhausted:
                        break
                    stop.wait(self.options.poll_seconds)
        finally:
            self.tail.close()

    def _map(self, line: Line) -> None:
        result = self.mapper.map_line(line.raw, LineRef(line.file_key, line.offset))
        self.tally.lines += 1
        if not self.options.follow and self.tally.lines >= self._next_progress:
            self._progress(line.offset + len(line.raw) + 1)
        self._send(list(result.events))
        if result.rejection is not None:
            reason, detail = result.rejection.reason.value, result.rejection.detail
            log.warning("line at byte %d of %s rejected: %s: %s", line.offset, self.options.path, reason, detail)
            self.tally.rejected[reason] += 1
            letter = {
                "reason": reason,
                "detail": detail,
                "source": self.options.config.source,
                "file": str(self.options.path),
                "file_key": line.file_key,
                "line_offset": line.offset,
                "payload": line.raw.decode("utf-8", errors="replace")[:MAX_PAYLOAD_CHARS],
                "rejected_at_ms": int(self.clock() * 1000),
            }
            self.sink.send(
                self.topics.dead_letter, self.options.config.source.encode(), orjson.dumps(letter), packed=False
            )
        elif not result.events:
            self.tally.quiet[result.note or result.event_name] += 1

    def _send(self, events: list[OutEvent]) -> None:
        for out in events:
            topic = self.topics.contacts if out.stream == "contacts" else self.topics.agents
            self.sink.send(topic, out.key.encode(), orjson.dumps(out.event))
            self.tally.events[f"{out.stream}/{out.event['type']}"] += 1

    def _commit(self) -> None:
        """Wait for Kafka's acknowledgements, then move the checkpoint past the lines they cover."""
        self.sink.flush()
        position = self.tail.position
        if position is None:
            return
        self.tally.position = f"byte {position.offset} of inode {position.inode}"
        if self.options.checkpoint is None:
            return
        config = self.options.config
        checkpoint = Checkpoint(
            str(self.options.path.absolute()),
            config.source,
            config.tenant,
            config.channel,
            position,
            self.mapper.state.to_json(),
        )
        save_checkpoint(self.options.checkpoint, checkpoint)
        self.tally.checkpoints += 1

    def _progress(self, offset: int) -> None:
        tally, size = self.tally, self.tail.size
        share = f" ({min(100, 100 * offset // size)}% of the file)" if size else ""
        print(
            f"ingest: {tally.lines:,} lines{share}, {sum(tally.events.values()):,} events, "
            f"{sum(tally.rejected.values()):,} rejected, {self.clock() - self.started:.1f} s",
            file=self.err,
            flush=True,
        )
        self._next_progress = (tally.lines // self.options.progress_every + 1) * self.options.progress_every

    def _report(self) -> None:
        now, tally = self.clock(), self.tally
        if self.options.follow and now >= self._next_status:
            log.info(
                "following %s: %d lines, %d events, %d rejected so far; at %s",
                self.options.path,
                tally.lines,
                sum(tally.events.values()),
                sum(tally.rejected.values()),
                tally.position or "the start",
            )
            self._next_status = now + self.options.status_seconds

    def summary(self, outcome: str) -> str:
        tally = self.tally
        rejected, quiet = sum(tally.rejected.values()), sum(tally.quiet.values())
        streams = []
        for stream in ("contacts", "agents"):
            counts = {name.split("/")[1]: n for name, n in sorted(tally.events.items()) if name.startswith(stream)}
            detail = ", ".join(f"{name} {n:,}" for name, n in counts.items())
            streams.append(f"{stream} {sum(counts.values()):,}" + (f" ({detail})" if detail else ""))
        lines = [
            f"ingest asterisk-queue-log {self.options.path}: {outcome} after {self.clock() - self.started:.1f} s",
            f"  lines read: {tally.lines:,} (with events {tally.lines - rejected - quiet:,}, "
            f"without event {quiet:,}, rejected {rejected:,})",
            f"  events produced: {sum(tally.events.values()):,}: " + "; ".join(streams),
            "  rejected lines by reason (sent to the dead-letter topic): "
            + (", ".join(f"{reason} {n:,}" for reason, n in sorted(tally.rejected.items())) or "none"),
            "  lines without event: "
            + (", ".join(f"{note} ({n:,})" for note, n in sorted(tally.quiet.items())) or "none"),
            f"  file: {self.tail.rotations} rotation(s), {self.tail.truncations} truncation(s); "
            + (
                f"checkpoint {self.options.checkpoint} at {tally.position or 'the start'}"
                if self.options.checkpoint
                else "no checkpoint"
            ),
        ]
        return "\n".join(lines)


def ingest(
    options: IngestOptions,
    sink: Sink,
    topics: Topics,
    *,
    stop: threading.Event | None = None,
    err: TextIO = sys.stderr,
    clock: Callable[[], float] = time.time,
) -> Tally:
    """Map the file to ``sink`` until it is exhausted (``follow=False``) or ``stop`` is set; print a summary.

    Raises CheckpointError (unusable checkpoint), FileNotFoundError (--once and no file) and SinkError.
    """
    job = _Ingest(options, sink, topics, err, clock)
    outcome = "failed"
    try:
        job.run(stop or threading.Event())
        outcome = "done" if job.tail.exhausted else "stopped"
    finally:
        print(job.summary(outcome), file=err, flush=True)
    return job.tally


def run_asterisk_queue_log(settings: Settings, options: IngestOptions) -> int:
    """The CLI command: 0 done or stopped by a signal, 1 Kafka failed, 2 cannot start."""
    from callpulse import preflight
    from callpulse.kafka_security import KafkaSecurity
    from streams.topics import ensure_topics

    topics = Topics(settings.contacts_topic, settings.agents_topic, settings.dead_letter_topic)
    security = KafkaSecurity.from_settings(settings).client_kwargs()
    try:
        preflight.check_kafka(settings.kafka_bootstrap, **security)
    except preflight.Unreachable as exc:
        log.error("%s", exc)
        return 2
    ensure_topics(
        settings.kafka_bootstrap,
        [topics.contacts, topics.agents, topics.dead_letter],
        partitions=settings.topic_partitions,
        **security,
    )
    logging.getLogger("kafka").setLevel(max(logging.WARNING, logging.getLogger().level))  # not its every connection
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    sink = KafkaSink(settings.kafka_bootstrap, client_kwargs=security)
    try:
        ingest(options, sink, topics, stop=stop)
    except (CheckpointError, FileNotFoundError) as exc:
        log.error("%s", exc)
        return 2
    except SinkError as exc:
        log.error("%s; the checkpoint stays before the unacknowledged lines: run again to resume", exc)
        return 1
    finally:
        sink.close()
    return 0
