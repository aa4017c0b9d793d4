"""The ``callpulse`` command: demo, worker, exporter, simulate, rules. Flags override ``CALLPULSE_*`` variables."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any

import click

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
@_with_settings
def simulate(
    *, settings: Settings, scale: float, seed: int, speed: float, warm_start: int, duration: float | None
) -> None:
    """Produce simulated contact-center traffic to the configured Kafka."""
    from callpulse.runners import run_simulator

    sys.exit(
        run_simulator(settings, scale=scale, seed=seed, speed=speed, warm_start_seconds=warm_start, duration=duration)
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
    "--batch-size", type=click.IntRange(min=1), help="Records per batch [default: CALLPULSE_BATCH_MAX_EVENTS]"
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
        batch_size=batch_size or settings.batch_max_events,
        progress_every=progress_every,
        compare_live=compare_live,
    )
    sys.exit(run_recompute(settings, options, out=sys.stdout, err=sys.stderr))


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


if __name__ == "__main__":
    main()
