"""Turns the settings into the arguments of each part: the one place that knows all three packages."""

from __future__ import annotations

import ssl
import time
from typing import Any
from zoneinfo import ZoneInfo

from callpulse.malloc_tuning import heap_trimmer
from callpulse.settings import Settings
from exporters.access import BasicAuth, server_tls_context
from exporters.collector import CallpulseCollector
from exporters.reader import Calendar
from exporters.view import KpiView
from processors.events import Channel
from processors.figures import KpiPolicy
from processors.windows import WindowSpec


def kpi_policy(settings: Settings) -> KpiPolicy:
    thresholds = {Channel(name): int(seconds * 1000) for name, seconds in settings.service_level_seconds.items()}
    defaults = KpiPolicy().service_level_ms
    return KpiPolicy(
        bucket_ms=settings.bucket_seconds * 1000,
        short_abandon_ms=int(settings.short_abandon_seconds * 1000),
        service_level_ms={**defaults, **thresholds},
        allowed_lateness_ms=settings.allowed_lateness_seconds * 1000,
        stale_contact_ms=settings.stale_contact_seconds * 1000,
        per_agent=settings.per_agent_metrics,
        customer_salt=settings.customer_id_salt.get_secret_value().encode(),
        fcr_window_ms=settings.fcr_days * 86_400_000,
        limits=settings.event_limits,
    )


def kpi_view(settings: Settings) -> KpiView:
    policy = kpi_policy(settings)
    return KpiView(
        windows=tuple(WindowSpec(seconds * 1000, policy.bucket_ms) for seconds in settings.windows),
        service_level_variant=settings.service_level_variant,
        offered_includes_timeouts=settings.offered_includes_timeouts,
        service_level_seconds={channel.value: ms / 1000 for channel, ms in policy.service_level_ms.items()},
        service_level_variants=dict(settings.service_level_variants),
        calendar=Calendar(interval_ms=settings.interval_minutes * 60_000, zone=ZoneInfo(settings.timezone)),
        per_agent=settings.per_agent_metrics,
        per_agent_max_series=settings.per_agent_max_series,
    )


def worker_app(settings: Settings) -> Any:
    from callpulse.kafka_security import KafkaSecurity
    from callpulse.redis_security import redis_options
    from streams.app import create_app  # imports Faust: only when a worker is wanted

    return create_app(
        app_id=settings.app_id,
        broker_url=settings.kafka_broker_url,
        redis_url=settings.redis_url,
        redis_prefix=settings.redis_prefix,
        contacts_topic=settings.contacts_topic,
        agents_topic=settings.agents_topic,
        dead_letter_topic=settings.dead_letter_topic,
        customers_topic=settings.customers_topic,
        topic_partitions=settings.topic_partitions,
        policy=kpi_policy(settings),
        longest_window_seconds=max(settings.windows),
        batch_max_records=settings.batch_max_records,
        batch_within_seconds=settings.batch_within_seconds,
        batch_max_bytes=settings.batch_max_bytes,
        fetch_max_wait_seconds=settings.fetch_max_wait_seconds,
        broker_session_timeout_seconds=settings.broker_session_timeout_seconds,
        broker_rebalance_timeout_seconds=settings.broker_rebalance_timeout_seconds,
        interval_ms=settings.interval_minutes * 60_000,
        interval_retention_days=settings.interval_retention_days,
        zone=ZoneInfo(settings.timezone),
        broker_credentials=KafkaSecurity.from_settings(settings).faust_credentials(),
        redis_options=redis_options(settings),
        dead_letter_personal_data=settings.dead_letter_personal_data,
        on_idle=heap_trimmer() if settings.malloc_trim_when_idle else None,
    )


def exporter_auth(settings: Settings) -> BasicAuth | None:
    """The credentials /metrics requires, or None when CALLPULSE_EXPORTER_AUTH_USERNAME is empty."""
    if not settings.exporter_auth_username:
        return None
    return BasicAuth(settings.exporter_auth_username, settings.exporter_auth_password.get_secret_value())


def exporter_tls(settings: Settings) -> ssl.SSLContext | None:
    if not settings.exporter_tls_cert_file:
        return None
    return server_tls_context(
        settings.exporter_tls_cert_file, settings.exporter_tls_key_file, settings.exporter_tls_client_ca_file
    )


def collector(settings: Settings, redis: Any) -> CallpulseCollector:
    return CallpulseCollector(redis, prefix=settings.redis_prefix, view=kpi_view(settings), clock=time.time)
