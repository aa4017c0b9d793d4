"""The ``callpulse`` command: demo, worker, exporter, simulate, rules. Flags override ``CALLPULSE_*`` variables."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any

import click

from callpulse.log_privacy import keep_payloads_out_of_logs
from callpulse.settings import Settings, SettingsError, load_settings

_COMMON = [
    click.option("--kafka-bootstrap", help="Kafka bootstrap servers [env CALLPULSE_KAFKA_BOOTSTRAP]"),
    click.option("--redis-url", help="Redis URL [env CALLPULSE_REDIS_URL]"),
    click.option(
        "--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]), help="[env CALLPULSE_LOG_LEVEL]"
    ),
]


def _with_settings(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the common flags and pass a validated ``settings`` instead of them."""

    @functools.wraps(command)
    def wrapper(kafka_bootstrap: str | None, redis_url: str | None, log_level: str | None, **kwargs: Any) -> Any:
        overrides = {key: kwargs.pop(key) for key in list(kwargs) if key.startswith("setting_")}
        try:
            settings = load_settings(
                kafka_bootstrap=kafka_bootstrap,
                redis_url=redis_url,
                log_level=log_level,
                **{key.removeprefix("setting_"): value for key, value in overrides.items()},
            )
        except SettingsError as exc:
            raise click.UsageError(str(exc)) from None
        logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
        keep_payloads_out_of_logs()
        return command(settings=settings, **kwargs)

    for option in reversed(_COMMON):
        wrapper = option(wrapper)
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
def main() -> None:
    """callpulse: live call-center KPIs from events, on Prometheus.

    \b
    Examples:
      callpulse demo                      # everything embedded, simulated traffic
      callpulse worker --kafka-bootstrap kafka:9092 --redis-url redis://redis:6379/0
      callpulse exporter --port 9466
      callpulse simulate --scale 2
    """


@main.command(
    epilog="""\b
Examples:
  callpulse demo
  callpulse demo --port 9466 --scale 3
"""
)
@click.option("--port", "exporter_port", type=int, default=0, show_default=True, help="Exporter port (0: a free one)")
@click.option(
    "--scale", type=float, default=1.0, show_default=True, help="Size of the simulated center (arrivals and agents)"
)
@click.option(
    "--workdir", type=click.Path(file_okay=False), default=None, help="Where child logs go (default: a temp dir)"
)
def demo(exporter_port: int, scale: float, workdir: str | None) -> None:
    """Run the embedded stack: Tansu broker, Valkey, worker, exporter and simulated traffic, until Ctrl-C."""
    from callpulse.launcher import run_demo

    sys.exit(run_demo(exporter_port=exporter_port, scale=scale, workdir=workdir))


@main.command(
    epilog="""\b
Examples:
  callpulse worker
  CALLPULSE_KAFKA_BOOTSTRAP=kafka:9092 CALLPULSE_REDIS_URL=redis://redis:6379/0 callpulse worker
"""
)
@_with_settings
def worker(settings: Settings) -> None:
    """Consume the contact and agent topics and keep the KPI state in Redis."""
    from callpulse.runners import run_worker

    sys.exit(run_worker(settings))


@main.command(
    epilog="""\b
Examples:
  callpulse exporter
  callpulse exporter --host 0.0.0.0 --port 9466
  curl -s localhost:9466/metrics | grep callpulse_queue_longest_wait_seconds
"""
)
@click.option("--host", "setting_exporter_host", help="Listen address [env CALLPULSE_EXPORTER_HOST]")
@click.option("--port", "setting_exporter_port", type=int, help="Listen port [env CALLPULSE_EXPORTER_PORT]")
@_with_settings
def exporter(settings: Settings) -> None:
    """Serve /metrics (read from Redis at each scrape) and /health."""
    from callpulse.runners import run_exporter

    sys.exit(run_exporter(settings))


@main.command(
    epilog="""\b
Examples:
  callpulse simulate
  callpulse simulate --scale 5 --seed 7
  callpulse simulate --speed 10 --duration 600
  callpulse simulate --events-file day.jsonl --hours 24     # a day of history to a file, no Kafka
  callpulse simulate --day-curve --speed 60                 # an hour a minute, with the intraday curve
"""
)
@click.option(
    "--scale", type=float, default=1.0, show_default=True, help="Size of the simulated center: arrivals and agents"
)
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed: same seed, same traffic")
@click.option("--speed", type=float, default=1.0, show_default=True, help="Simulated seconds per real second")
@click.option("--warm-start", type=int, default=900, show_default=True, help="Seconds of history to send first")
@click.option(
    "--duration", type=float, default=None, help="Stop after this many real seconds (default: run until Ctrl-C)"
)
@click.option(
    "--events-file", type=click.Path(dir_okay=False), default=None, help="Write the events to this JSON-lines file"
)
@click.option(
    "--day-curve", is_flag=True, help="Shape arrivals by hour of day (quiet nights, morning and afternoon peaks)"
)
@click.option(
    "--hours",
    type=click.FloatRange(min=0, min_open=True),
    default=24.0,
    show_default=True,
    help="With --events-file: hours of traffic, ending now",
)
@_with_settings
def simulate(
    *,
    settings: Settings,
    scale: float,
    seed: int,
    speed: float,
    warm_start: int,
    duration: float | None,
    events_file: str | None,
    day_curve: bool,
    hours: float,
) -> None:
    """Produce simulated contact-center traffic to the configured Kafka, or write it to a file."""
    from callpulse.runners import run_simulator, write_simulated_file

    if events_file is not None:
        sys.exit(write_simulated_file(events_file, scale=scale, seed=seed, hours=hours, day_curve=day_curve))
    sys.exit(
        run_simulator(
            settings,
            scale=scale,
            day_curve=day_curve,
            seed=seed,
            speed=speed,
            warm_start_seconds=warm_start,
            duration=duration,
        )
    )


@main.command(
    epilog="""\b
Examples:
  callpulse recompute --events-file events.jsonl
  callpulse recompute --events-file events.jsonl --now 2026-11-23T17:00:00Z --json figures.json
  callpulse recompute --from-kafka --prefix audit-nov23 --replace --now 2026-11-23T17:00:00Z
  callpulse recompute --from-kafka --now 2026-11-23T17:00:00Z --compare-live
  callpulse recompute --from-kafka --idle-seconds 10 2>recompute.log

\b
Notes:
  --events-file  one JSON object a line: {"stream": "contacts"|"agents", "key": ..., "event": {...}}
                 (callpulse.simulator.write_events_file writes them). Each stream is read as ONE
                 partition, in file order, so lateness decisions use one watermark per stream (the
                 worker has one per Kafka partition); a record's offset is its line number.
  --from-kafka   reads the contacts and agents topics from the beginning, every partition in offset
                 order, keeping partitions and offsets: the worker's exact input. The read ends when
                 the consumer has returned nothing new for --idle-seconds, not at end offsets
                 (ListOffsets), which the embedded broker (Tansu 0.6.0) reports wrongly when producers
                 batch records. A topic that never pauses that long is read until Ctrl-C.
  First contact resolution: the customers topic is derived by the worker, not read; the touches the
  contacts forward are applied directly, to one customers partition.
  The state goes under --prefix, never under the live prefix; --replace deletes only a prefix an
  earlier recompute wrote. The figures at --now are printed (stdout) with the exporter's formulas;
  /metrics shows the live ones at the wall clock, --compare-live reads them at --now. Progress and a
  summary go to stderr. Exit 0 done, 1 failed, 2 cannot start, 3 differs from live (--compare-live).
"""
)
@click.option(
    "--events-file",
    type=click.Path(exists=True, dir_okay=False),
    help="Read events from this JSON-lines file (one partition per stream)",
)
@click.option("--from-kafka", is_flag=True, help="Read the configured topics from the beginning instead")
@click.option("--prefix", help="Redis prefix of the recomputed state [default: <CALLPULSE_REDIS_PREFIX>-recomputed]")
@click.option("--replace", is_flag=True, help="Delete the prefix's keys first when it already holds state")
@click.option("--now", "now_text", metavar="RFC3339", help="Show the figures at this time [default: the wall clock]")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the figures as JSON")
@click.option(
    "--idle-seconds",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="--from-kafka: stop once no new record came for this long",
)
@click.option(
    "--batch-size", type=click.IntRange(min=1), help="Records per batch [default: CALLPULSE_BATCH_MAX_RECORDS]"
)
@click.option(
    "--compare-live",
    is_flag=True,
    help="Also read the live prefix at --now and list every figure that differs (exit 3 if any)",
)
@click.option(
    "--progress-every",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Report progress every N records",
)
@_with_settings
def recompute(
    *,
    settings: Settings,
    events_file: str | None,
    from_kafka: bool,
    prefix: str | None,
    replace: bool,
    now_text: str | None,
    json_path: str | None,
    idle_seconds: float,
    batch_size: int | None,
    compare_live: bool,
    progress_every: int,
) -> None:
    """Recompute every figure from the raw events into a separate Redis prefix and print it, to audit /metrics."""
    from pathlib import Path

    from callpulse.recompute import RecomputeOptions, default_prefix, parse_now, run_recompute

    if (events_file is None) == (not from_kafka):
        raise click.UsageError("give exactly one of --events-file PATH and --from-kafka")
    try:
        now_ms = parse_now(now_text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--now") from None
    options = RecomputeOptions(
        events_file=None if events_file is None else Path(events_file),
        prefix=prefix or default_prefix(settings),
        now_ms=now_ms,
        replace=replace,
        json_path=None if json_path is None else Path(json_path),
        idle_seconds=idle_seconds,
        batch_size=batch_size or settings.batch_max_records,
        progress_every=progress_every,
        compare_live=compare_live,
    )
    sys.exit(run_recompute(settings, options, out=sys.stdout, err=sys.stderr))


@main.command(
    epilog="""\b
Examples:
  callpulse top                                  # every queue, 15-minute window, refresh every second
  callpulse top --window today --sort name
  callpulse top --wait-threshold 30 --sl-target 0.9 --interval 2
  callpulse top --redis-url redis://redis:6379/0 --once > board.txt

\b
Keys: q quit, w next window (5m, 15m, 1h, today, interval, last_interval), s sort by longest wait / name.
Colours: longest wait red at --wait-threshold, yellow from half of it; SL green at --sl-target or above,
yellow less than 10 points under it, red below. Windowed columns (SL, abandon, ASA, AHT, offered, answered)
use the window shown in the header; waiting, longest wait and agents are now. Ctrl-C also quits.
--once prints one plain-text frame and exits: 0 read, 1 Redis unreachable.
"""
)
@click.option("--window", help="First window shown: any window label (5m, 15m, 1h, today, ...) [default: 15m]")
@click.option(
    "--interval", type=click.FloatRange(min=0.1), default=1.0, show_default=True, help="Seconds between refreshes"
)
@click.option(
    "--wait-threshold",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Longest wait (seconds) shown red; yellow from half of it",
)
@click.option(
    "--sl-target", type=click.FloatRange(0, 1), default=0.8, show_default=True, help="Service-level target ratio"
)
@click.option("--sort", type=click.Choice(["wait", "name"]), default="wait", show_default=True, help="First sort order")
@click.option("--once", is_flag=True, help="Print one plain-text frame and exit")
@_with_settings
def top(
    *,
    settings: Settings,
    window: str | None,
    interval: float,
    wait_threshold: float,
    sl_target: float,
    sort: str,
    once: bool,
) -> None:
    """Live wallboard of every queue in the terminal, read from Redis like the exporter."""
    from callpulse.top import TopOptions, choose_window, run_top
    from callpulse.top_frame import SortKey, Thresholds
    from callpulse.wiring import kpi_view

    try:
        choose_window(kpi_view(settings), window)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--window") from None
    options = TopOptions(
        window=window,
        interval_s=interval,
        thresholds=Thresholds(wait_seconds=wait_threshold, sl_target=sl_target),
        sort=SortKey(sort),
        once=once,
    )
    sys.exit(run_top(settings, options))


@main.command(
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
    epilog="""\b
Examples:
  callpulse rules generate     # deploy/prometheus/alerts.yaml -> deploy/prometheus/rules.yml
  callpulse rules check        # exit 1 when rules.yml is stale
  callpulse rules --help
""",
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def rules(args: tuple[str, ...]) -> None:
    """Generate or check the Prometheus alert rules from deploy/prometheus/alerts.yaml."""
    from callpulse.rulegen import main as rules_main

    sys.exit(rules_main(list(args)))


@main.command(
    "ingest-http",
    epilog="""\b
Examples:
  callpulse ingest-http
  callpulse ingest-http --host 0.0.0.0 --port 9467 --max-batch-events 1000
  callpulse ingest-http --kafka-bootstrap kafka:9092 --idempotence on
  curl -s localhost:9467/v1/contact-events -H 'Content-Type: application/json' -d '{"schema_version": 1,
    "event_id": "pbx1-1", "event_time": "2026-11-23T09:00:00Z", "type": "queued", "tenant": "demo",
    "queue": "support", "channel": "voice", "contact_id": "call-1"}'         # -> 202 {"accepted":1}
  curl -s localhost:9467/health

\b
Notes:
  POST /v1/contact-events and /v1/agent-events take one event or a JSON array of them (docs/openapi.yaml).
  All or nothing: one invalid event refuses the request (400, each bad element with its index, reason
  and detail) and nothing is sent. 202 comes once Kafka acknowledged every event; 503 if it did not in
  --send-timeout (resending is safe: the worker drops duplicate event ids). 413 body or batch too large,
  415 not application/json. SIGTERM: requests in flight finish, then the producer is flushed.
  The topics are CALLPULSE_CONTACTS_TOPIC and CALLPULSE_AGENTS_TOPIC (created if missing).
""",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Listen address")
@click.option("--port", type=click.IntRange(0, 65535), default=9467, show_default=True, help="Listen port")
@click.option(
    "--max-body-bytes", type=click.IntRange(min=1), default=1024 * 1024, show_default=True, help="Largest request body"
)
@click.option(
    "--max-batch-events", type=click.IntRange(min=1), default=500, show_default=True, help="Most events in one request"
)
@click.option(
    "--send-timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds Kafka has to acknowledge a request's events before the answer is 503",
)
@click.option(
    "--idempotence",
    type=click.Choice(["auto", "on", "off"]),
    default="auto",
    show_default=True,
    help="Idempotent producer; auto falls back to a plain one when the broker grants no producer id (Tansu)",
)
@_with_settings
def ingest_http(
    *,
    settings: Settings,
    host: str,
    port: int,
    max_body_bytes: int,
    max_batch_events: int,
    send_timeout: float,
    idempotence: str,
) -> None:
    """Accept contract-v1 events over HTTP (webhooks), validate them like the worker, produce them to Kafka."""
    from callpulse.ingest_http import IngestOptions, run_ingest_http
    from callpulse.ingest_http_checks import Limits
    from callpulse.ingest_http_kafka import Idempotence

    options = IngestOptions(
        host=host,
        port=port,
        limits=Limits(max_body_bytes=max_body_bytes, max_batch_events=max_batch_events),
        send_timeout_seconds=send_timeout,
        idempotence=Idempotence(idempotence),
    )
    sys.exit(run_ingest_http(settings, options))


@main.group(
    epilog="""\b
Examples:
  callpulse ingest asterisk-queue-log /var/log/asterisk/queue_log --checkpoint /var/lib/callpulse/queue_log.ckpt
  callpulse ingest asterisk-queue-log queue_log.1 --once --tenant acme
  callpulse ingest asterisk-queue-log --help
"""
)
def ingest() -> None:
    """Read a contact-center system's own records and produce them as contract-v1 events to Kafka."""


@ingest.command(
    "asterisk-queue-log",
    epilog="""\b
Examples:
  callpulse ingest asterisk-queue-log /var/log/asterisk/queue_log --checkpoint /var/lib/callpulse/ql.ckpt
  callpulse ingest asterisk-queue-log queue_log-20261123 --once --tenant acme     # backfill, then exit
  callpulse ingest asterisk-queue-log /var/log/asterisk/queue_log --from-end --wrapup-seconds 15
  CALLPULSE_KAFKA_BOOTSTRAP=kafka:9092 callpulse ingest asterisk-queue-log queue_log --source-id pbx2

\b
Mapping (lines are epoch|callid|queue|agent|EVENT|data...; NONE = empty):
  ENTERQUEUE -> queued          CONNECT -> answered + agent on_contact
  COMPLETEAGENT/COMPLETECALLER -> ended + wrapup_ended at the same time (Asterisk logs no wrap-up)
                                  + agent available (aux if paused meanwhile; wrapup for --wrapup-seconds)
  TRANSFER/BLINDTRANSFER/ATTENDEDTRANSFER -> transferred + wrapup_ended, agent as above
  ABANDON, EXITWITHKEY -> abandoned       EXITWITHTIMEOUT, EXITEMPTY -> timeout
  PAUSE -> agent aux (reason)   UNPAUSE -> available   ADDMEMBER/REMOVEMEMBER -> membership (queues),
  offline when no queue is left   AGENTLOGIN/AGENTLOGOFF -> available/offline
  RINGNOANSWER, QUEUESTART, DID, ... -> no event (counted in the summary)
  Queue and agent names become contract names (SIP/1001 -> SIP-1001). The contact id is the callid.

\b
Notes:
  --follow (default) reads like tail -F: across rotation (the old file is finished first) and truncation
  (read again from 0), until SIGTERM/Ctrl-C. --once reads to the end of the file, with progress and a
  summary, then exits. Either one resumes from --checkpoint when it exists. The checkpoint (file inode,
  byte offset, parser state) is replaced atomically, only after Kafka acknowledged (acks=all) every
  event of the lines before it, so a restart neither skips nor repeats lines. Event ids are derived from
  --source-id, the file and the line's byte offset: replaying a file gives the same ids, which the worker
  drops as duplicates. Lines that cannot be mapped (garbage, unknown events, bad epochs) are logged,
  counted and sent to CALLPULSE_DEAD_LETTER_TOPIC as {reason, detail, source, file, line_offset, payload}.
  Exit 0 done or stopped, 1 Kafka did not acknowledge (run again to resume), 2 cannot start.
""",
)
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--follow/--once", default=True, show_default=True, help="Follow the live file, or read it once")
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False),
    help="Where the position is kept; resume from it when it exists [default: none]",
)
@click.option("--tenant", default="default", show_default=True, help="Tenant of every event")
@click.option(
    "--channel",
    type=click.Choice(["voice", "chat", "email", "social"]),
    default="voice",
    show_default=True,
    help="Channel of every event",
)
@click.option("--source-id", default="asterisk", show_default=True, help="First part of every event id: one per PBX")
@click.option(
    "--wrapup-seconds",
    type=click.IntRange(0, 86_400),
    default=0,
    show_default=True,
    help="queues.conf wrapuptime: agents are in wrapup this long after each call (0: available at once)",
)
@click.option("--default-queue", help="Queue of AGENTLOGIN/AGENTLOGOFF lines of agents with no known queue")
@click.option("--from-end", is_flag=True, help="Without a checkpoint, start at the end of the file (new lines only)")
@click.option(
    "--poll-interval", type=click.FloatRange(min=0.01), default=0.25, show_default=True, help="Seconds between polls"
)
@click.option(
    "--progress-every",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="--once: progress every N lines",
)
@_with_settings
def asterisk_queue_log(
    *,
    settings: Settings,
    path: str,
    follow: bool,
    checkpoint: str | None,
    tenant: str,
    channel: str,
    source_id: str,
    wrapup_seconds: int,
    default_queue: str | None,
    from_end: bool,
    poll_interval: float,
    progress_every: int,
) -> None:
    """Follow (or replay) an Asterisk queue_log and produce its calls and agent states as events."""
    from pathlib import Path

    from callpulse.ingest_queue_log import IngestOptions, run_asterisk_queue_log
    from processors.queue_log import QueueLogConfig

    try:
        config = QueueLogConfig(
            tenant=tenant, channel=channel, source=source_id, wrapup_seconds=wrapup_seconds, default_queue=default_queue
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    options = IngestOptions(
        path=Path(path),
        config=config,
        follow=follow,
        checkpoint=None if checkpoint is None else Path(checkpoint),
        from_end=from_end,
        poll_seconds=poll_interval,
        progress_every=progress_every,
    )
    sys.exit(run_asterisk_queue_log(settings, options))


if __name__ == "__main__":
    main()
