"""The queue alerts: a caller waits too long, nobody is available, service level, abandons, occupancy,
fewer agents serving than Erlang C needs.

Each is one rule per alert name whose labels are exactly ``tenant``, ``queue``, ``channel`` and
``severity`` (``max by (tenant, queue, channel)`` folds exporter replicas and drops ``window``), so that
Alertmanager groups, routes and inhibits them per queue.
"""

from __future__ import annotations

from typing import Any

from callpulse.rulegen_config import (
    ABANDON_RATE,
    AGENT_OCCUPANCY,
    LONGEST_WAIT,
    SERVICE_LEVEL,
    UNDERSTAFFED,
    AlertsConfig,
    QueueSectionSpec,
    QueueThresholds,
)
from callpulse.rulegen_promql import (
    BY,
    ON,
    WHERE,
    Branch,
    QueueQuery,
    alert_rule,
    format_number,
    format_percent,
    series_query,
    threshold_template,
    union_expr,
)

LONGEST_WAIT_METRIC = "callpulse_queue_longest_wait_seconds"
WAITING_METRIC = "callpulse_queue_waiting_contacts"
AGENTS_METRIC = "callpulse_queue_agents"
SERVICE_LEVEL_METRIC = "callpulse_queue_service_level_ratio"
SL_THRESHOLD_METRIC = "callpulse_queue_service_level_threshold_seconds"
ABANDON_METRIC = "callpulse_queue_abandon_ratio"
OFFERED_METRIC = "callpulse_queue_offered_contacts"
OCCUPANCY_METRIC = "callpulse_queue_agent_occupancy_ratio"
REQUIRED_METRIC = "callpulse_queue_agents_required"
LOGGED_IN_METRIC = "callpulse_queue_agents_logged_in"
LOAD_METRIC = "callpulse_queue_offered_load_erlangs"

LONGEST_WAIT_ALERT = "QueueLongestWaitHigh"
NO_AGENTS_ALERT = "QueueNoAgentsAvailable"
SERVICE_LEVEL_ALERT = "QueueServiceLevelLow"
ABANDON_ALERT = "QueueAbandonRateHigh"
OCCUPANCY_ALERT = "AgentOccupancyHigh"
UNDERSTAFFED_ALERT = "QueueUnderstaffed"

# The metric each queue section compares with its thresholds, and the alert it makes.
QUEUE_ALERTS: dict[QueueSectionSpec, tuple[str, str]] = {
    LONGEST_WAIT: (LONGEST_WAIT_ALERT, LONGEST_WAIT_METRIC),
    SERVICE_LEVEL: (SERVICE_LEVEL_ALERT, SERVICE_LEVEL_METRIC),
    ABANDON_RATE: (ABANDON_ALERT, ABANDON_METRIC),
    AGENT_OCCUPANCY: (OCCUPANCY_ALERT, OCCUPANCY_METRIC),
    UNDERSTAFFED: (UNDERSTAFFED_ALERT, REQUIRED_METRIC),
}
# The sections whose value is a difference: QUEUE_ALERTS' metric minus this one.
SUBTRAHENDS: dict[QueueSectionSpec, str] = {UNDERSTAFFED: LOGGED_IN_METRIC}


def queue_query(spec: QueueSectionSpec, section: QueueThresholds) -> QueueQuery:
    return QueueQuery(
        metric=QUEUE_ALERTS[spec][1],
        comparison=spec.comparison,
        window=section.window,
        offered_metric=OFFERED_METRIC if spec.min_offered else None,
        minus_metric=SUBTRAHENDS.get(spec),
        load_metric=LOAD_METRIC if spec.min_load else None,
    )


def queue_expr(config: AlertsConfig, spec: QueueSectionSpec) -> str:
    section = config.queue_section(spec)
    return union_expr(queue_query(spec, section), section)


def _seconds_shown(branch: Branch) -> str:
    return f"{format_number(branch.threshold)}s ({branch.source})"


def _ratio_shown(branch: Branch) -> str:
    offered = "" if branch.min_offered_contacts is None else f", with at least {branch.min_offered_contacts} offered"
    return f"{format_percent(branch.threshold)} ({branch.source}{offered})"


def _agents_shown(branch: Branch) -> str:
    load = (
        ""
        if branch.min_offered_load_erlangs is None
        else (f", with at least {format_number(branch.min_offered_load_erlangs)} Erlangs offered")
    )
    return f"{format_number(branch.threshold)} ({branch.source}{load})"


_SHOWN = {"seconds": _seconds_shown, "ratio": _ratio_shown, "agents": _agents_shown}


def threshold_text(config: AlertsConfig, spec: QueueSectionSpec) -> str:
    """The Go template naming the threshold in force for the alerting queue, and where it comes from."""
    return threshold_template(config.queue_section(spec), _SHOWN[spec.unit])


def _offered_text(window: str | None) -> str:
    query = series_query(OFFERED_METRIC, extra=f'window="{window}"')
    return (
        f"{{{{ with {query} }}}} Contacts offered in the window: {{{{ . | first | value | humanize }}}}.{{{{ end }}}}"
    )


def longest_wait_rule(config: AlertsConfig) -> dict[str, Any]:
    section = config.longest_wait
    waiting = (
        f"{{{{ with {series_query(WAITING_METRIC)} }}}}"
        " Contacts waiting there now: {{ . | first | value | humanize }}.{{ end }}"
    )
    return alert_rule(
        LONGEST_WAIT_ALERT,
        queue_expr(config, LONGEST_WAIT),
        section,
        summary="Queue {{ $labels.queue }}: a contact has been waiting {{ $value | humanizeDuration }}",
        description=f"In {WHERE}, the oldest contact still waiting has been waiting "
        "{{ $value | humanizeDuration }}, over "
        f"the threshold of {threshold_text(config, LONGEST_WAIT)}, and has stayed over it for {section.for_}. "
        f"A caller is waiting too long right now and nobody has answered yet.{waiting}",
        runbook_base_url=config.runbook_base_url,
    )


def no_agents_expr(config: AlertsConfig) -> str:
    states = config.no_agents_available.available_states
    matcher = f'state="{states[0]}"' if len(states) == 1 else f'state=~"{"|".join(states)}"'
    agents = f"{AGENTS_METRIC}{{{matcher}}}"
    return f"max {BY} ({WAITING_METRIC}) > 0\nunless {ON} ({agents} > 0)"


def no_agents_rule(config: AlertsConfig) -> dict[str, Any]:
    section = config.no_agents_available
    states = " or ".join(section.available_states)
    longest = (
        f"{{{{ with {series_query(LONGEST_WAIT_METRIC)} }}}}"
        " The oldest has waited {{ . | first | value | humanizeDuration }}.{{ end }}"
    )
    by_state = series_query(AGENTS_METRIC, aggregate="max by (state) ") + ' | sortByLabel "state"'
    agents = (
        f" Agents of this queue by state:{{{{ range {by_state} }}}} {{{{ .Labels.state }}}} {{{{ .Value | humanize }}}}"
        "{{ else }} none{{ end }}."
    )
    return alert_rule(
        NO_AGENTS_ALERT,
        no_agents_expr(config),
        section,
        summary="Queue {{ $labels.queue }}: {{ $value | humanize }} contacts waiting and no agent available",
        description=f"In {WHERE}, {{{{ $value | humanize }}}} contacts are waiting and no agent of this queue "
        f"has been in state {states} for {section.for_}: nobody can take them until an agent becomes free or is "
        f"moved onto the queue.{longest}{agents}",
        runbook_base_url=config.runbook_base_url,
    )


def service_level_rule(config: AlertsConfig) -> dict[str, Any]:
    section = config.service_level
    sl_threshold = (
        f"{{{{ with printf `max({SL_THRESHOLD_METRIC}{{channel=%q}})` $labels.channel | query }}}}"
        " of {{ . | first | value | humanizeDuration }}{{ end }}"
    )
    return alert_rule(
        SERVICE_LEVEL_ALERT,
        queue_expr(config, SERVICE_LEVEL),
        section,
        summary=f"Queue {{{{ $labels.queue }}}}: service level {{{{ $value | humanizePercentage }}}} over the last "
        f"{section.window}",
        description=f"In {WHERE}, only {{{{ $value | humanizePercentage }}}} of the contacts of the last "
        f"{section.window} were "
        f"served within the service-level threshold{sl_threshold}, below the target of "
        f"{threshold_text(config, SERVICE_LEVEL)}, and it has stayed below for {section.for_}. Callers wait "
        f"longer than promised.{_offered_text(section.window)}",
        runbook_base_url=config.runbook_base_url,
    )


def abandon_rule(config: AlertsConfig) -> dict[str, Any]:
    section = config.abandon_rate
    return alert_rule(
        ABANDON_ALERT,
        queue_expr(config, ABANDON_RATE),
        section,
        summary=f"Queue {{{{ $labels.queue }}}}: {{{{ $value | humanizePercentage }}}} of contacts abandoned over the "
        f"last {section.window}",
        description=f"In {WHERE}, {{{{ $value | humanizePercentage }}}} of the contacts offered over the last "
        f"{section.window} "
        "gave up while waiting (short abandons excluded), over the threshold of "
        f"{threshold_text(config, ABANDON_RATE)}, and it has stayed over it for {section.for_}."
        f"{_offered_text(section.window)}",
        runbook_base_url=config.runbook_base_url,
    )


def occupancy_rule(config: AlertsConfig) -> dict[str, Any]:
    section = config.agent_occupancy
    return alert_rule(
        OCCUPANCY_ALERT,
        queue_expr(config, AGENT_OCCUPANCY),
        section,
        summary=f"Queue {{{{ $labels.queue }}}}: agent occupancy {{{{ $value | humanizePercentage }}}} over the last "
        f"{section.window}",
        description=f"In {WHERE}, agents working this queue spent {{{{ $value | humanizePercentage }}}} of "
        "their time on "
        f"contacts or in wrap-up rather than available over the last {section.window}, over the threshold of "
        f"{threshold_text(config, AGENT_OCCUPANCY)}, and it has stayed over it for {section.for_}. Occupancy "
        "this high for this long burns agents out and leaves no slack for a peak.",
        runbook_base_url=config.runbook_base_url,
    )


def understaffed_rule(config: AlertsConfig) -> dict[str, Any]:
    section = config.understaffed
    required = f"{{{{ with {series_query(REQUIRED_METRIC)} }}}}{{{{ . | first | value | humanize }}}}{{{{ end }}}}"
    serving = f"{{{{ with {series_query(LOGGED_IN_METRIC)} }}}}{{{{ . | first | value | humanize }}}}{{{{ end }}}}"
    load = (
        f"{{{{ with {series_query(LOAD_METRIC)} }}}} of {{{{ . | first | value | printf `%.1f` }}}} Erlangs"
        "{{ end }}"
    )
    return alert_rule(
        UNDERSTAFFED_ALERT,
        queue_expr(config, UNDERSTAFFED),
        section,
        summary=f"Queue {{{{ $labels.queue }}}}: agent shortfall {{{{ $value | humanize }}}} ({required} needed by "
        f"Erlang C, {serving} serving)",
        description=f"In {WHERE}, Erlang C needs {required} agents to answer 80% of contacts within the "
        f"service-level threshold at the offered load{load} of the last 15m, but only {serving} are serving "
        "(available, on a contact or in wrap-up): a shortfall of {{ $value | humanize }}, at or over the threshold "
        f"of {threshold_text(config, UNDERSTAFFED)}, and it has stayed so for {section.for_}. Waits will grow and "
        "the service level will fall until agents are moved onto the queue.",
        runbook_base_url=config.runbook_base_url,
    )


def queue_rules(config: AlertsConfig) -> list[dict[str, Any]]:
    return [
        longest_wait_rule(config),
        no_agents_rule(config),
        service_level_rule(config),
        abandon_rule(config),
        occupancy_rule(config),
        understaffed_rule(config),
    ]
