"""The pipeline alerts: can callpulse's figures be trusted at all right now?

The exporter's counters are read from Redis, so every exporter replica serves the same values: rates are
taken per replica and folded with ``max`` (a ``sum`` would count them once per replica).
"""

from __future__ import annotations

from typing import Any

from callpulse.rulegen_config import AlertsConfig
from callpulse.rulegen_promql import alert_rule, format_number, string

REDIS_UP_METRIC = "callpulse_exporter_redis_up"
APPLIED_METRIC = "callpulse_events_applied_total"
DEAD_LETTER_METRIC = "callpulse_dead_letter_events_total"
WATERMARK_METRIC = "callpulse_stream_watermark_timestamp_seconds"
RATE_WINDOW = "5m"  # of dead letters and of "events are still being applied"
NO_EVENTS_WINDOW = "15m"

EXPORTER_DOWN_ALERT = "CallpulseExporterDown"
REDIS_DOWN_ALERT = "CallpulseExporterRedisDown"
WORKER_LAGGING_ALERT = "CallpulseWorkerLagging"
NO_EVENTS_ALERT = "CallpulseNoEventsReceived"
DEAD_LETTERS_ALERT = "CallpulseDeadLetterRateHigh"

MUTED = "Alertmanager mutes the queue alerts while this alert fires."


def exporter_down_expr(config: AlertsConfig) -> str:
    return f"up{{job=~{string(config.exporter_down.job_regex)}}} == 0"


def exporter_down_rule(config: AlertsConfig) -> dict[str, Any]:
    section = config.exporter_down
    up_now = (
        "{{ with printf `sum(up{job=%q})` $labels.job | query }} Targets of this job up now: "
        "{{ . | first | value | humanize }}{{ end }}"
        "{{ with printf `count(up{job=%q})` $labels.job | query }} of {{ . | first | value | humanize }}.{{ end }}"
    )
    return alert_rule(
        EXPORTER_DOWN_ALERT,
        exporter_down_expr(config),
        section,
        summary="callpulse target {{ $labels.instance }} is down",
        description="Prometheus has failed to scrape {{ $labels.instance }} (job {{ $labels.job }}) for "
        f"{section.for_}.{up_now} While no exporter answers, every KPI is missing and the queue alerts cannot "
        f"fire. {MUTED}",
        runbook_base_url=config.runbook_base_url,
    )


def redis_down_rule(config: AlertsConfig) -> dict[str, Any]:
    section = config.exporter_redis_down
    return alert_rule(
        REDIS_DOWN_ALERT,
        f"{REDIS_UP_METRIC} == 0",
        section,
        summary="callpulse exporter {{ $labels.instance }} cannot read Redis",
        description="The exporter {{ $labels.instance }} (job {{ $labels.job }}) has failed to read Redis at "
        "every scrape "
        f"for {section.for_}, so it serves no KPI: dashboards go blank and the queue alerts cannot fire. "
        f"{MUTED} If Redis itself is down, the worker cannot apply events either.",
        runbook_base_url=config.runbook_base_url,
    )


def worker_lagging_expr(config: AlertsConfig) -> str:
    threshold = format_number(config.worker_lagging.threshold_seconds)
    return (
        f"time() - max by (stream) ({WATERMARK_METRIC}) > {threshold}\n"
        f"and on (stream) max by (stream) (rate({APPLIED_METRIC}[{RATE_WINDOW}])) > 0"
    )


def worker_lagging_rule(config: AlertsConfig) -> dict[str, Any]:
    section = config.worker_lagging
    return alert_rule(
        WORKER_LAGGING_ALERT,
        worker_lagging_expr(config),
        section,
        summary="Stream {{ $labels.stream }}: the worker is {{ $value | humanizeDuration }} behind",
        description="The newest {{ $labels.stream }} event applied is {{ $value | humanizeDuration }} old "
        "while events are "
        f"still being applied: the worker is behind by more than the threshold of "
        f"{format_number(section.threshold_seconds)}s, and has been for {section.for_}. Every figure of this "
        "stream is that late (answered contacts still look waiting, new ones are not counted yet). "
        f"{MUTED}",
        runbook_base_url=config.runbook_base_url,
    )


def no_events_expr(config: AlertsConfig) -> str:
    stream = string(config.no_events.stream)
    return f"max by (stream) (rate({APPLIED_METRIC}{{stream={stream}}}[{NO_EVENTS_WINDOW}])) == 0"


def no_events_rule(config: AlertsConfig) -> dict[str, Any]:
    section = config.no_events
    return alert_rule(
        NO_EVENTS_ALERT,
        no_events_expr(config),
        section,
        summary=f"No {{{{ $labels.stream }}}} event applied for {NO_EVENTS_WINDOW} and more",
        description=f"The worker has applied no {{{{ $labels.stream }}}} event over the last "
        f"{NO_EVENTS_WINDOW}, and it has "
        f"stayed so for {section.for_}. Either nothing is being produced (the contact centre is closed, or the "
        "producer or integration is down) or the worker is stopped or stuck; the windowed figures are frozen.",
        runbook_base_url=config.runbook_base_url,
    )


def dead_letters_expr(config: AlertsConfig) -> str:
    threshold = format_number(config.dead_letters.threshold_per_second)
    return f"sum by (stream) (max by (stream, reason) (rate({DEAD_LETTER_METRIC}[{RATE_WINDOW}]))) > {threshold}"


def dead_letters_rule(config: AlertsConfig) -> dict[str, Any]:
    section = config.dead_letters
    by_reason = (
        f"printf `max by (reason) (rate({DEAD_LETTER_METRIC}{{stream=%q}}[{RATE_WINDOW}])) > 0` $labels.stream"
        ' | query | sortByLabel "reason"'
    )
    return alert_rule(
        DEAD_LETTERS_ALERT,
        dead_letters_expr(config),
        section,
        summary='Stream {{ $labels.stream }}: {{ printf "%.2f" $value }} events/s sent to the dead-letter topic',
        description='{{ printf "%.2f" $value }} events per second of stream {{ $labels.stream }} went to '
        "the dead-letter "
        f"topic over the last {RATE_WINDOW}, over the threshold of "
        f"{format_number(section.threshold_per_second)}/s, and it has stayed over it for {section.for_}. "
        "Rejected events count in no figure, so the KPIs of the queues they belong to are wrong. By reason:"
        f'{{{{ range {by_reason} }}}} {{{{ .Labels.reason }}}} {{{{ printf "%.2f" .Value }}}}/s{{{{ end }}}}.',
        runbook_base_url=config.runbook_base_url,
    )


def pipeline_rules(config: AlertsConfig) -> list[dict[str, Any]]:
    return [
        exporter_down_rule(config),
        redis_down_rule(config),
        worker_lagging_rule(config),
        no_events_rule(config),
        dead_letters_rule(config),
    ]
