"""Where ``callpulse recompute`` reads raw events: an events file (JSON lines) or the Kafka topics.

Both sources yield ``SourceBatch``es: records of one stream and one partition, in offset order, so they
can be fed to a partition processor exactly as the worker feeds it.

* Events file: lines ``{"stream": "contacts"|"agents", "key": ..., "event": {...}}`` as written by
  ``callpulse.simulator.write_events_file``. Each stream is one partition (0) and a record's offset is its
  line number, so a dead letter can be traced back to its line. A line that is not such an object is
  reported through ``on_bad_line`` and skipped; the event inside a good line is passed on as it is (the
  processor dead-letters a bad event, as the worker would).
* Kafka: both topics from the beginning, every partition, keeping each record's partition and offset.
  The read ends once the consumer has returned nothing new for ``idle_seconds``: end offsets
  (ListOffsets) are not used, because the embedded broker (Tansu 0.6.0) reports them wrongly when
  producers batch several records.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from processors.partition import Record
from streams.redis_keys import Stream

FILE_PARTITION = 0
"""The one partition per stream an events file is read into."""
INPUT_STREAMS: tuple[Stream, ...] = ("contacts", "agents")
"""The streams events come in on (the customers stream is derived from contacts by callpulse itself)."""


@dataclass(frozen=True, slots=True)
class SourceBatch:
    """Records of one partition of one stream, in offset order."""

    stream: Stream
    partition: int
    records: list[Record]


class BadLine(ValueError):
    """A line of an events file that is not a ``{"stream", "key", "event"}`` object."""


class SourceError(RuntimeError):
    """The source cannot be read at all (missing topic, unreadable file); the message says what to do."""


def parse_event_line(line: str) -> tuple[Stream, bytes | None, bytes]:
    """One events-file line -> (stream, Kafka key, record value); raise ``BadLine`` saying what is wrong."""
    try:
        document: Any = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise BadLine(f"not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise BadLine(f"expected a JSON object, got {type(document).__name__}")
    stream = document.get("stream")
    if stream not in INPUT_STREAMS:
        raise BadLine(f"'stream' must be one of {', '.join(INPUT_STREAMS)}, got {stream!r}")
    if "event" not in document:
        raise BadLine("no 'event' field")
    key = document.get("key")
    if key is not None and not isinstance(key, str):
        raise BadLine(f"'key' must be a string, got {type(key).__name__}")
    resolved: Stream = "contacts" if stream == "contacts" else "agents"
    return resolved, None if key is None else key.encode(), orjson.dumps(document["event"])


def read_events_file(path: Path, *, batch_size: int, on_bad_line: Callable[[int, str], None]) -> Iterator[SourceBatch]:
    """Batches of at most ``batch_size`` records per stream, in file order; offsets are line numbers."""
    pending: dict[Stream, list[Record]] = {stream: [] for stream in INPUT_STREAMS}
    try:
        with path.open("r", encoding="utf-8", errors="surrogateescape") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    stream, key, value = parse_event_line(line)
                except BadLine as exc:
                    on_bad_line(number, str(exc))
                    continue
                pending[stream].append((number, key, value))
                if len(pending[stream]) >= batch_size:
                    yield SourceBatch(stream, FILE_PARTITION, pending[stream])
                    pending[stream] = []
    except OSError as exc:
        raise SourceError(f"cannot read events file {path}: {exc}") from None
    for stream in INPUT_STREAMS:
        if pending[stream]:
            yield SourceBatch(stream, FILE_PARTITION, pending[stream])


def read_kafka(
    bootstrap: str,
    topics: dict[Stream, str],
    *,
    batch_size: int,
    idle_seconds: float,
    clock: Callable[[], float] = time.monotonic,
    client_kwargs: dict[str, Any] | None = None,
) -> Iterator[SourceBatch]:
    """Every record of the topics, from the beginning, until nothing new came for ``idle_seconds``.

    ``client_kwargs``: SASL/TLS keyword arguments of kafka-python (``KafkaSecurity.client_kwargs``)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        allow_auto_create_topics=False,
        max_poll_records=batch_size,
        **(client_kwargs or {}),
    )
    try:
        streams_by_topic = {topic: stream for stream, topic in topics.items()}
        assignment = []
        for stream, topic in topics.items():
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                raise SourceError(
                    f"topic {topic!r} ({stream}) does not exist on Kafka at {bootstrap}; "
                    f"set CALLPULSE_{stream.upper()}_TOPIC to the topic the worker reads"
                )
            assignment += [TopicPartition(topic, partition) for partition in sorted(partitions)]
        consumer.assign(assignment)
        consumer.seek_to_beginning(*assignment)
        poll_ms = max(10, min(500, int(idle_seconds * 1000)))
        last_new = clock()
        while clock() - last_new < idle_seconds:
            polled = consumer.poll(timeout_ms=poll_ms, max_records=batch_size)
            if not any(polled.values()):
                continue
            last_new = clock()
            for tp, messages in sorted(polled.items(), key=lambda item: (item[0].topic, item[0].partition)):
                records: list[Record] = [(m.offset, m.key, m.value if m.value is not None else b"") for m in messages]
                if records:
                    yield SourceBatch(streams_by_topic[tp.topic], tp.partition, records)
    finally:
        consumer.close()
