"""Run one part in the foreground: worker, exporter or simulator (each checks its dependencies first)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Any

from callpulse import preflight, wiring
from callpulse.gc_tuning import tune_gc
from callpulse.kafka_security import KafkaSecurity
from callpulse.malloc_tuning import fix_mmap_threshold
from callpulse.redis_security import redis_options
from callpulse.settings import Settings

log = logging.getLogger("callpulse")


def _checked(settings: Settings, *, kafka: bool, redis: bool) -> bool:
    """Check the dependencies answer (and create the topics), or log why not."""
    try:
        if redis:
            preflight.check_redis(settings.redis_url, **redis_options(settings))
        if kafka:
            preflight.check_kafka(settings.kafka_bootstrap, **KafkaSecurity.from_settings(settings).client_kwargs())
    except preflight.Unreachable as exc:
        log.error("%s", exc)
        return False
    if kafka:
        from streams.topics import ensure_topics

        topics = [settings.contacts_topic, settings.agents_topic, settings.dead_letter_topic, settings.customers_topic]
        security = KafkaSecurity.from_settings(settings)
        ensure_topics(
            settings.kafka_bootstrap, topics, partitions=settings.topic_partitions, **security.client_kwargs()
        )
    return True


def run_worker(settings: Settings) -> int:
    fix_mmap_threshold(settings.malloc_mmap_threshold_bytes)
    if not _checked(settings, kafka=True, redis=True):
        return 2
    from faust.worker import Worker

    app = wiring.worker_app(settings)
    worker = Worker(app, loglevel=settings.log_level.lower(), override_logging=False)
    tune_gc(settings.gc_gen0_threshold)
    worker.execute_from_commandline()
    return 0


def run_exporter(settings: Settings) -> int:
    fix_mmap_threshold(settings.malloc_mmap_threshold_bytes)
    if not _checked(settings, kafka=False, redis=True):
        return 2
    from redis import Redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from exporters.server import ExporterServer

    # a scrape must answer quickly when Redis hangs or is gone (redis_up 0, no KPI): short timeouts, no retry
    redis = Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=1,
        socket_timeout=1,
        retry=Retry(NoBackoff(), 0),
        **redis_options(settings),
    )
    server = ExporterServer(
        wiring.collector(settings, redis),
        redis,
        host=settings.exporter_host,
        port=settings.exporter_port,
        auth=wiring.exporter_auth(settings),
        tls=wiring.exporter_tls(settings),
    )
    tune_gc(settings.gc_gen0_threshold)
    log.info(
        "exporter serving %s/metrics (%s); /health is open",
        server.url,
        "basic auth required" if settings.exporter_auth_username else "no authentication",
    )
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        log.info("exporter stopping")
    return 0


def _exit_on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(0)


def run_simulator(
    settings: Settings,
    *,
    scale: float,
    day_curve: bool = False,
    seed: int,
    speed: float,
    warm_start_seconds: int,
    duration: float | None,
) -> int:
    if not _checked(settings, kafka=True, redis=False):
        return 2
    from callpulse.produce import simulate_to_kafka

    try:
        sent: Any = asyncio.run(
            simulate_to_kafka(
                settings,
                scale=scale,
                day_curve=day_curve,
                seed=seed,
                speed=speed,
                warm_start_seconds=warm_start_seconds,
                duration=duration,
            )
        )
    except KeyboardInterrupt:
        return 0
    log.info("simulator sent %s events", sent)
    return 0


def write_simulated_file(path: str, *, scale: float, seed: int, hours: float, day_curve: bool = False) -> int:
    """Write ``hours`` of simulated traffic ending now to a JSON-lines file, with progress every simulated hour."""
    import time

    from callpulse.simulator import DEFAULT_PROFILE, TrafficModel, shaped, write_events_file

    now_ms = int(time.time() * 1000)
    start_ms = now_ms - int(hours * 3_600_000)
    model = TrafficModel(seed, start_ms, shaped(DEFAULT_PROFILE, scale=scale, day_curve=day_curve))
    reported = [start_ms]

    def progress(at_ms: int, written: int) -> None:
        if at_ms - reported[0] >= 3_600_000 or at_ms >= now_ms:
            reported[0] = at_ms
            done = (at_ms - start_ms) / (now_ms - start_ms)
            print(f"simulate: {done:6.1%} of {hours:g} h, {written} events", file=sys.stderr, flush=True)

    written = write_events_file(path, model, now_ms, progress)
    print(f"simulate: wrote {written} events to {path} (seed {seed}, scale {scale:g})", file=sys.stderr)
    return 0
