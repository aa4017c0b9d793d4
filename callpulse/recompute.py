"""``callpulse recompute``: every figure again from the raw events, apart from the live worker's state.

Records from an events file or the Kafka topics (``recompute_sources``) are fed per stream and partition,
in offset order and in batches, to fresh processors with the worker's ``KpiPolicy``; each batch is written
with the worker's ``PartitionStore`` under a separate prefix (``recompute_apply``). That prefix is then read
back as the exporter reads the live one and shown as tables (``recompute_report``), so an auditor can set
the recomputed figures beside the live ones at the same ``--now``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from kafka.errors import KafkaError
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError

from callpulse import preflight, wiring
from callpulse.kafka_security import KafkaSecurity
from callpulse.recompute_apply import FencedError, Recomputer, RecomputeTally
from callpulse.recompute_prefix import RecomputeError, check_prefix, claim_prefix
from callpulse.recompute_report import compare_figures, figures_document, render_tables
from callpulse.recompute_sources import SourceBatch, SourceError, read_events_file, read_kafka
from callpulse.recompute_summary import Progress, render_summary, summary_document
from callpulse.redis_security import redis_options
from callpulse.settings import Settings
from exporters.reader import Snapshot, read_snapshot
from exporters.view import KpiView
from processors.timeutil import format_ms, parse_event_time_ms
from streams.redis_keys import Stream
from streams.store import PartitionStore, bucket_ttl_seconds

EXIT_DIFFERENT = 3
"""Exit code of ``--compare-live`` when the recomputed figures differ from the live ones."""


@dataclass(frozen=True)
class RecomputeOptions:
    events_file: Path | None  # None: read Kafka
    prefix: str
    now_ms: int
    replace: bool = False
    json_path: Path | None = None
    idle_seconds: float = 5.0
    batch_size: int = 2000
    progress_every: int = 10_000
    compare_live: bool = False


def parse_now(text: str | None, clock: Callable[[], float] = time.time) -> int:
    """``--now`` (RFC 3339 with an offset) in epoch ms; the wall clock when not given. ValueError if bad."""
    return round(clock() * 1000) if text is None else parse_event_time_ms(text)


def default_prefix(settings: Settings) -> str:
    return f"{settings.redis_prefix}-recomputed"


def _store(settings: Settings, client: AsyncRedis, prefix: str) -> PartitionStore:
    policy = wiring.kpi_policy(settings)
    bucket_ttl = bucket_ttl_seconds(max(settings.windows), policy)  # the worker's TTLs
    return PartitionStore(
        client,
        prefix=prefix,
        bucket_ttl_seconds=bucket_ttl,
        interval_ms=settings.interval_minutes * 60_000,
        interval_ttl_seconds=settings.interval_retention_days * 86_400,
        zone=ZoneInfo(settings.timezone),
    )


def _source(settings: Settings, options: RecomputeOptions, tally: RecomputeTally, err: TextIO) -> Iterator[SourceBatch]:
    if options.events_file is None:
        topics: dict[Stream, str] = {"contacts": settings.contacts_topic, "agents": settings.agents_topic}
        return read_kafka(
            settings.kafka_bootstrap,
            topics,
            batch_size=options.batch_size,
            idle_seconds=options.idle_seconds,
            client_kwargs=KafkaSecurity.from_settings(settings).client_kwargs(),
        )

    def bad_line(number: int, reason: str) -> None:
        tally.bad_lines += 1
        print(f"recompute: {options.events_file}:{number}: skipped: {reason}", file=err)

    return read_events_file(options.events_file, batch_size=options.batch_size, on_bad_line=bad_line)


def recompute_into_redis(settings: Settings, options: RecomputeOptions, err: TextIO) -> RecomputeTally:
    """Read the source and write every batch under ``options.prefix``; return what was done."""
    client = AsyncRedis.from_url(settings.redis_url, **redis_options(settings))
    recomputer = Recomputer(_store(settings, client, options.prefix), wiring.kpi_policy(settings))
    progress = Progress(options.progress_every, err)
    batches = _source(settings, options, recomputer.tally, err)
    with asyncio.Runner() as runner:
        try:
            for batch in batches:
                runner.run(recomputer.apply(batch.stream, batch.partition, batch.records))
                progress.update(recomputer.tally)
        finally:
            runner.run(client.aclose())
    return recomputer.tally


def _snapshot(client: Redis, prefix: str, now_ms: int, view: KpiView) -> Snapshot:
    return read_snapshot(
        client,
        prefix=prefix,
        now_ms=now_ms,
        windows=list(view.windows),
        calendar=view.calendar,
        per_agent=view.per_agent,
    )


def _describe_source(settings: Settings, options: RecomputeOptions) -> str:
    if options.events_file is not None:
        return f"events file {options.events_file}, one partition per stream"
    return f"topics {settings.contacts_topic}, {settings.agents_topic} on {settings.kafka_bootstrap}"


def _check_start(settings: Settings, options: RecomputeOptions) -> None:
    check_prefix(options.prefix, settings.redis_prefix)
    if options.events_file is not None and not options.events_file.is_file():
        raise RecomputeError(f"--events-file {options.events_file}: no such file")
    if options.json_path is not None and not options.json_path.parent.is_dir():
        raise RecomputeError(f"--json {options.json_path}: directory {options.json_path.parent} does not exist")
    preflight.check_redis(settings.redis_url, **redis_options(settings))
    if options.events_file is None:
        preflight.check_kafka(settings.kafka_bootstrap, **KafkaSecurity.from_settings(settings).client_kwargs())


def run_recompute(settings: Settings, options: RecomputeOptions, *, out: TextIO, err: TextIO) -> int:
    """The whole command; returns the exit code: 0 done, 1 failed on the way, 2 cannot start, 3 differs from live."""
    started = time.monotonic()
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("kafka").setLevel(logging.WARNING)  # the command reports its own progress
    source = _describe_source(settings, options)
    client = Redis.from_url(settings.redis_url, **redis_options(settings))
    try:
        try:
            _check_start(settings, options)
            claim_prefix(client, options.prefix, replace=options.replace, source=source, err=err)
        except (RecomputeError, preflight.Unreachable, RedisError) as exc:
            print(f"recompute: {exc}", file=err)
            return 2
        print(f"recompute: reading {source} into prefix {options.prefix!r}", file=err, flush=True)
        try:
            tally = recompute_into_redis(settings, options, err)
            view = wiring.kpi_view(settings)
            figures = figures_document(_snapshot(client, options.prefix, options.now_ms, view), view)
            live = None
            if options.compare_live:
                live = figures_document(_snapshot(client, settings.redis_prefix, options.now_ms, view), view)
        except (SourceError, FencedError, KafkaError, RedisError, OSError) as exc:
            print(
                f"recompute: failed: {exc}; prefix {options.prefix!r} may hold a partial result (rerun with --replace)",
                file=err,
            )
            return 1
        except KeyboardInterrupt:
            print(
                f"recompute: interrupted; prefix {options.prefix!r} may hold a partial result (rerun with --replace)",
                file=err,
            )
            return 130
    finally:
        client.close()
    out.write(f"figures of prefix {options.prefix!r} at {format_ms(options.now_ms)}\n\n")
    out.write(render_tables(figures))
    differences = None if live is None else compare_figures(live, figures)
    if differences is not None:
        verdict = f"{len(differences)} difference(s)" if differences else "identical"
        out.write(f"\ncompared with the live prefix {settings.redis_prefix!r} at the same time: {verdict}\n")
        out.writelines(f"  {line}\n" for line in differences)
    summary = summary_document(tally, time.monotonic() - started)
    if options.json_path is not None:
        document = {
            "prefix": options.prefix,
            "source": source,
            "now": format_ms(options.now_ms),
            "now_ms": options.now_ms,
            "figures": figures,
            "summary": summary,
        }
        if differences is not None:
            document["live_differences"] = differences
        try:
            options.json_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"recompute: cannot write --json {options.json_path}: {exc}", file=err)
            return 1
    err.write(render_summary(summary, source, tally.examples))
    return EXIT_DIFFERENT if differences else 0
