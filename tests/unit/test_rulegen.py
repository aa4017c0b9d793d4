"""callpulse.rulegen: alerts.yaml -> Prometheus rules, and the committed rules.yml is current."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from callpulse import rulegen, rulegen_pipeline, rulegen_queues
from callpulse.rulegen import AlertsConfig, ConfigError, Override
from callpulse.rulegen_config import ABANDON_RATE, LONGEST_WAIT, SERVICE_LEVEL, SEVERITIES, UNDERSTAFFED
from callpulse.rulegen_promql import branch_expr, branches, format_percent, kebab, threshold_template

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy/prometheus/alerts.yaml"
RULES = ROOT / "deploy/prometheus/rules.yml"
RUNBOOKS = ROOT / "docs/runbooks"
BASE = "https://example.test/runbooks"
M = "callpulse_queue_longest_wait_seconds"
BY = "max by (tenant, queue, channel)"
ON = "unless on (tenant, queue, channel)"
ALERTS = [
    "QueueLongestWaitHigh",
    "QueueNoAgentsAvailable",
    "QueueServiceLevelLow",
    "QueueAbandonRateHigh",
    "AgentOccupancyHigh",
    "QueueUnderstaffed",
    "CallpulseExporterDown",
    "CallpulseExporterRedisDown",
    "CallpulseWorkerLagging",
    "CallpulseNoEventsReceived",
    "CallpulseDeadLetterRateHigh",
]

# A complete config for the tests, independent of the committed one (which has its own test below).
RAW: dict[str, Any] = {
    "runbook_base_url": BASE + "/",
    "longest_wait": {"default_threshold_seconds": 60, "for": "1m", "severity": "page", "overrides": []},
    "service_level": {
        "window": "15m",
        "default_target_ratio": 0.8,
        "min_offered_contacts": 10,
        "for": "10m",
        "severity": "warning",
        "overrides": [],
    },
    "abandon_rate": {
        "window": "15m",
        "default_threshold_ratio": 0.08,
        "min_offered_contacts": 10,
        "for": "10m",
        "severity": "warning",
        "overrides": [],
    },
    "agent_occupancy": {"window": "1h", "default_threshold_ratio": 0.9, "for": "30m", "severity": "ticket"},
    "understaffed": {
        "default_shortfall_agents": 1,
        "min_offered_load_erlangs": 0.5,
        "for": "10m",
        "severity": "ticket",
        "overrides": [],
    },
    "no_agents_available": {"available_states": ["available"], "for": "1m", "severity": "page"},
    "exporter_down": {"job_regex": "callpulse.*", "for": "2m", "severity": "page"},
    "exporter_redis_down": {"for": "1m", "severity": "page"},
    "worker_lagging": {"threshold_seconds": 180, "for": "5m", "severity": "page"},
    "no_events": {"stream": "contacts", "for": "15m", "severity": "warning"},
    "dead_letters": {"threshold_per_second": 0.1, "for": "10m", "severity": "warning"},
}


def raw_config(*overrides: dict[str, Any], default: float = 60, for_: str = "1m") -> dict[str, Any]:
    """RAW with these longest_wait overrides, default threshold and ``for``."""
    raw = copy.deepcopy(RAW)
    raw["longest_wait"].update({"default_threshold_seconds": default, "for": for_, "overrides": list(overrides)})
    return raw


def config(*overrides: dict[str, Any], default: float = 60) -> AlertsConfig:
    return rulegen.parse_config(raw_config(*overrides, default=default))


def with_section(section: str, **changes: Any) -> AlertsConfig:
    raw = copy.deepcopy(RAW)
    raw[section].update(changes)
    return rulegen.parse_config(raw)


# --------------------------------------------------------------------------------------------- parsing


def test_committed_config_parses_to_the_documented_values() -> None:
    cfg = rulegen.load_config(CONFIG)
    assert cfg.runbook_base_url == "https://github.com/callpulse/callpulse/blob/main/docs/runbooks"
    assert (cfg.longest_wait.default_threshold, cfg.longest_wait.for_, cfg.longest_wait.severity) == (60, "1m", "page")
    assert cfg.longest_wait.overrides == (Override(queue="vip", threshold=30),)
    sl = cfg.service_level
    assert (sl.window, sl.default_threshold, sl.min_offered_contacts, sl.for_, sl.severity) == (
        "15m",
        0.8,
        10,
        "10m",
        "warning",
    )
    assert sl.overrides == (Override(queue="vip", threshold=0.9, min_offered_contacts=5),)
    ab = cfg.abandon_rate
    assert (ab.window, ab.default_threshold, ab.min_offered_contacts, ab.for_) == ("15m", 0.08, 10, "10m")
    assert ab.overrides == (Override(queue="vip", threshold=0.05),)
    occ = cfg.agent_occupancy
    assert (occ.window, occ.default_threshold, occ.for_, occ.severity) == ("1h", 0.9, "30m", "ticket")
    us = cfg.understaffed
    assert (us.default_threshold, us.min_offered_load_erlangs, us.for_, us.severity) == (1, 0.5, "10m", "ticket")
    assert us.overrides == (Override(queue="vip", threshold=1, min_offered_load_erlangs=0.2),)
    assert cfg.no_agents_available.available_states == ("available",)
    assert (cfg.no_agents_available.for_, cfg.no_agents_available.severity) == ("1m", "page")
    assert cfg.exporter_down.job_regex == "callpulse.*"
    assert cfg.worker_lagging.threshold_seconds == 180
    assert cfg.no_events.stream == "contacts"
    assert cfg.dead_letters.threshold_per_second == 0.1


def test_overrides_may_be_absent() -> None:
    raw = raw_config()
    del raw["longest_wait"]["overrides"]
    assert rulegen.parse_config(raw).longest_wait.overrides == ()
    assert rulegen.parse_config(RAW).agent_occupancy.overrides == ()


def test_a_below_target_may_be_one_but_an_over_threshold_may_not() -> None:
    assert with_section("service_level", default_target_ratio=1).service_level.default_threshold == 1
    with pytest.raises(ConfigError, match=r"abandon_rate.default_threshold_ratio: expected a ratio with 0 < ratio < 1"):
        with_section("abandon_rate", default_threshold_ratio=1)


def _set(section: str, **values: Any) -> Any:
    return lambda r: r[section].update(values)


def _drop(section: str, key: str | None = None) -> Any:
    return lambda r: r.pop(section) if key is None else r[section].pop(key)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_drop("runbook_base_url"), "missing runbook_base_url"),
        (lambda r: r.update(extra=1), "unknown key(s) extra"),
        (lambda r: r.update(runbook_base_url="docs/runbooks"), "runbook_base_url"),
        (_set("longest_wait", default_threshold_seconds=0), "longest_wait.default_threshold_seconds"),
        (_set("longest_wait", default_threshold_seconds="60"), "longest_wait.default_threshold_seconds"),
        (_set("longest_wait", default_threshold_seconds=True), "longest_wait.default_threshold_seconds"),
        (_set("longest_wait", default_threshold_seconds=float("inf")), "longest_wait.default_threshold_seconds"),
        (_set("longest_wait", **{"for": "1 minute"}), "longest_wait.for"),
        (_set("longest_wait", **{"for": ""}), "longest_wait.for"),
        (_set("longest_wait", **{"for": 60}), "longest_wait.for"),
        (_set("longest_wait", **{"for": "0s"}), "longest_wait.for: expected a Prometheus duration > 0"),
        (_set("longest_wait", severity="page me"), "longest_wait.severity"),
        (_set("longest_wait", severity="critical"), "longest_wait.severity: expected one of page, warning, ticket"),
        (_set("longest_wait", overrides={"queue": "vip"}), "longest_wait.overrides: expected a list"),
        (_set("longest_wait", thresholds=[]), "longest_wait: unknown key(s) thresholds"),
        (_drop("dead_letters"), "alerts.yaml: missing dead_letters"),
        (_drop("service_level", "window"), "service_level: missing window"),
        (_set("service_level", window="15 minutes"), "service_level.window"),
        (_set("service_level", window="today"), "service_level.window"),
        (_set("service_level", default_target_ratio=0), "service_level.default_target_ratio"),
        (_set("service_level", default_target_ratio=80), "service_level.default_target_ratio"),
        (_set("service_level", default_target_ratio="0.8"), "service_level.default_target_ratio"),
        (_drop("service_level", "min_offered_contacts"), "service_level: missing min_offered_contacts"),
        (_set("service_level", min_offered_contacts=0), "service_level.min_offered_contacts"),
        (_set("service_level", min_offered_contacts=2.5), "service_level.min_offered_contacts"),
        (_set("service_level", min_offered_contacts=True), "service_level.min_offered_contacts"),
        (_set("abandon_rate", default_threshold_ratio=-0.1), "abandon_rate.default_threshold_ratio"),
        (_set("agent_occupancy", min_offered_contacts=5), "agent_occupancy: unknown key(s) min_offered_contacts"),
        (_set("agent_occupancy", severity="info"), "agent_occupancy.severity"),
        (_set("understaffed", default_shortfall_agents=0), "understaffed.default_shortfall_agents"),
        (_set("understaffed", default_shortfall_agents=1.5), "understaffed.default_shortfall_agents: expected a whole"),
        (_set("understaffed", default_shortfall_agents=True), "understaffed.default_shortfall_agents"),
        (_drop("understaffed", "min_offered_load_erlangs"), "understaffed: missing min_offered_load_erlangs"),
        (_set("understaffed", min_offered_load_erlangs=0), "understaffed.min_offered_load_erlangs: must be > 0"),
        (_set("understaffed", min_offered_load_erlangs="0.5"), "understaffed.min_offered_load_erlangs"),
        (_set("understaffed", window="15m"), "understaffed: unknown key(s) window"),
        (_set("understaffed", min_offered_contacts=5), "understaffed: unknown key(s) min_offered_contacts"),
        (_set("understaffed", severity="info"), "understaffed.severity"),
        (_set("understaffed", **{"for": "10 m"}), "understaffed.for"),
        (_drop("understaffed"), "alerts.yaml: missing understaffed"),
        (_set("no_agents_available", available_states=[]), "no_agents_available.available_states"),
        (_set("no_agents_available", available_states="available"), "no_agents_available.available_states"),
        (_set("no_agents_available", available_states=["offline"]), r"no_agents_available.available_states[0]"),
        (_set("no_agents_available", available_states=["available", "available"]), "listed twice"),
        (_set("exporter_down", job_regex="callpulse("), "exporter_down.job_regex: not a valid regular expression"),
        (_set("exporter_down", job_regex=""), "exporter_down.job_regex"),
        (_drop("exporter_down", "job_regex"), "exporter_down: missing job_regex"),
        (_set("exporter_redis_down", threshold_seconds=1), "exporter_redis_down: unknown key(s) threshold_seconds"),
        (_set("worker_lagging", threshold_seconds=-1), "worker_lagging.threshold_seconds"),
        (_set("no_events", stream="calls"), "no_events.stream: expected one of contacts, agents, customers"),
        (_set("dead_letters", threshold_per_second=0), "dead_letters.threshold_per_second"),
        (_set("dead_letters", **{"for": "10 m"}), "dead_letters.for"),
    ],
)
def test_bad_config_is_rejected_naming_the_field(mutate: Any, message: str) -> None:
    raw = copy.deepcopy(RAW)
    mutate(raw)
    with pytest.raises(ConfigError, match=re.escape(message)):
        rulegen.parse_config(raw)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"threshold_seconds": 30}, r"longest_wait.overrides\[0\]: missing queue"),
        ({"queue": "vip"}, r"overrides\[0\]: missing threshold_seconds"),
        ({"queue": "vip", "threshold_seconds": -1}, r"overrides\[0\].threshold_seconds"),
        ({"queue": 'v"ip', "threshold_seconds": 30}, r"overrides\[0\].queue"),
        ({"queue": "vip", "tenant": "", "threshold_seconds": 30}, r"overrides\[0\].tenant"),
        ({"queue": "vip", "channel": "fax", "threshold_seconds": 30}, r"overrides\[0\].channel"),
        ({"queue": "vip", "threshold_seconds": 30, "severity": "page"}, r"unknown key\(s\) severity"),
        ({"queue": "vip", "threshold_seconds": 30, "min_offered_contacts": 3}, r"unknown key\(s\) min_offered"),
    ],
)
def test_bad_override_is_rejected(override: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config(override)


@pytest.mark.parametrize(
    ("section", "override", "message"),
    [
        ("service_level", {"queue": "vip", "threshold_ratio": 0.9}, r"service_level.overrides\[0\]: missing target"),
        ("service_level", {"queue": "vip", "target_ratio": 90}, r"service_level.overrides\[0\].target_ratio"),
        (
            "service_level",
            {"queue": "vip", "target_ratio": 0.9, "min_offered_contacts": 0},
            r"service_level.overrides\[0\].min_offered_contacts",
        ),
        ("abandon_rate", {"queue": "vip", "threshold_ratio": 1.5}, r"abandon_rate.overrides\[0\].threshold_ratio"),
        ("agent_occupancy", {"queue": "vip", "threshold_seconds": 5}, r"agent_occupancy.overrides\[0\]: missing"),
        ("understaffed", {"queue": "vip"}, r"understaffed.overrides\[0\]: missing shortfall_agents"),
        ("understaffed", {"queue": "vip", "shortfall_agents": 0}, r"understaffed.overrides\[0\].shortfall_agents"),
        (
            "understaffed",
            {"queue": "vip", "shortfall_agents": 2, "min_offered_load_erlangs": -1},
            r"understaffed.overrides\[0\].min_offered_load_erlangs",
        ),
        (
            "understaffed",
            {"queue": "vip", "shortfall_agents": 2, "min_offered_contacts": 3},
            r"understaffed.overrides\[0\]: unknown key\(s\) min_offered_contacts",
        ),
        (
            "abandon_rate",
            {"queue": "vip", "threshold_ratio": 0.05, "min_offered_load_erlangs": 1},
            r"abandon_rate.overrides\[0\]: unknown key\(s\) min_offered_load_erlangs",
        ),
    ],
)
def test_bad_override_of_a_ratio_section_is_rejected(section: str, override: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        with_section(section, overrides=[override])


def test_duplicate_override_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"longest_wait.overrides\[1\]: same labels as overrides\[0\]"):
        config({"queue": "vip", "threshold_seconds": 30}, {"queue": "vip", "threshold_seconds": 20})
    with pytest.raises(ConfigError, match=r"abandon_rate.overrides\[1\]: same labels"):
        with_section(
            "abandon_rate",
            overrides=[{"queue": "vip", "threshold_ratio": 0.05}, {"queue": "vip", "threshold_ratio": 0.04}],
        )


def test_tenant_and_channel_overrides_of_one_queue_need_a_tie_breaker() -> None:
    tenant = {"tenant": "acme", "queue": "vip", "threshold_seconds": 20}
    channel = {"queue": "vip", "channel": "chat", "threshold_seconds": 90}
    with pytest.raises(ConfigError, match="tenant acme, queue vip, channel chat; add an override"):
        config(tenant, channel)
    both = {"tenant": "acme", "queue": "vip", "channel": "chat", "threshold_seconds": 45}
    assert len(config(tenant, channel, both).longest_wait.overrides) == 3
    # different queues do not overlap: no tie-breaker needed
    assert len(config(tenant, {"queue": "gold", "channel": "chat", "threshold_seconds": 90}).longest_wait.overrides)


def test_load_config_reports_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text("longest_wait: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        rulegen.load_config(path)


# ------------------------------------------------------------------------------- queue alert expressions

VIP = {"queue": "vip", "threshold_seconds": 30}
ACME_VIP = {"tenant": "acme", "queue": "vip", "threshold_seconds": 20}
VIP_CHAT = {"queue": "vip", "channel": "chat", "threshold_seconds": 90}
ACME_VIP_CHAT = {"tenant": "acme", "queue": "vip", "channel": "chat", "threshold_seconds": 120}
GOLD = {"queue": "gold", "threshold_seconds": 12.5}


def longest_wait_branch_exprs(cfg: AlertsConfig) -> list[str]:
    query = rulegen_queues.queue_query(LONGEST_WAIT, cfg.longest_wait)
    return [branch_expr(query, b) for b in branches(cfg.longest_wait)]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param((), [f"{BY} ({M}) > 60"], id="no overrides"),
        pytest.param(
            (VIP,),
            [f'{BY} ({M}{{queue="vip"}}) > 30', f'{BY} ({M}) > 60\n{ON} {M}{{queue="vip"}}'],
            id="one queue override",
        ),
        pytest.param(
            (VIP, GOLD),
            [
                f'{BY} ({M}{{queue="vip"}}) > 30',
                f'{BY} ({M}{{queue="gold"}}) > 12.5',
                f'{BY} ({M}) > 60\n{ON} {M}{{queue="vip"}}\n{ON} {M}{{queue="gold"}}',
            ],
            id="two queues, fractional threshold",
        ),
        pytest.param(
            (VIP, ACME_VIP, VIP_CHAT, ACME_VIP_CHAT),
            [
                f'{BY} ({M}{{tenant="acme", queue="vip", channel="chat"}}) > 120',
                f'{BY} ({M}{{tenant="acme", queue="vip"}}) > 20\n'
                f'{ON} {M}{{tenant="acme", queue="vip", channel="chat"}}',
                f'{BY} ({M}{{queue="vip", channel="chat"}}) > 90\n'
                f'{ON} {M}{{tenant="acme", queue="vip", channel="chat"}}',
                f'{BY} ({M}{{queue="vip"}}) > 30\n'
                f'{ON} {M}{{tenant="acme", queue="vip", channel="chat"}}\n'
                f'{ON} {M}{{tenant="acme", queue="vip"}}\n'
                f'{ON} {M}{{queue="vip", channel="chat"}}',
                f"{BY} ({M}) > 60\n"
                f'{ON} {M}{{tenant="acme", queue="vip", channel="chat"}}\n'
                f'{ON} {M}{{tenant="acme", queue="vip"}}\n'
                f'{ON} {M}{{queue="vip", channel="chat"}}\n'
                f'{ON} {M}{{queue="vip"}}',
            ],
            id="nested overrides, most specific first",
        ),
        pytest.param(
            (ACME_VIP, GOLD),
            [
                f'{BY} ({M}{{tenant="acme", queue="vip"}}) > 20',
                f'{BY} ({M}{{queue="gold"}}) > 12.5',
                f'{BY} ({M}) > 60\n{ON} {M}{{tenant="acme", queue="vip"}}\n{ON} {M}{{queue="gold"}}',
            ],
            id="disjoint overrides do not exclude each other",
        ),
    ],
)
def test_branch_exprs(overrides: tuple[dict[str, Any], ...], expected: list[str]) -> None:
    assert longest_wait_branch_exprs(config(*overrides)) == expected


def test_alert_expr_is_the_union_of_the_branches() -> None:
    assert rulegen_queues.queue_expr(config(), LONGEST_WAIT) == f"{BY} ({M}) > 60"
    assert rulegen_queues.queue_expr(config(VIP), LONGEST_WAIT) == (
        f'(\n  {BY} ({M}{{queue="vip"}}) > 30\n)\nor\n(\n  {BY} ({M}) > 60\n  {ON} {M}{{queue="vip"}}\n)'
    )


def test_service_level_expr_reads_its_window_and_needs_enough_offered_contacts() -> None:
    sl, offered = "callpulse_queue_service_level_ratio", "callpulse_queue_offered_contacts"
    cfg = with_section(
        "service_level",
        overrides=[
            {"queue": "vip", "target_ratio": 0.9, "min_offered_contacts": 5},
            {"tenant": "acme", "queue": "vip", "target_ratio": 0.95},
        ],
    )
    query = rulegen_queues.queue_query(SERVICE_LEVEL, cfg.service_level)
    assert [branch_expr(query, b) for b in branches(cfg.service_level)] == [
        f'{BY} ({sl}{{tenant="acme", queue="vip", window="15m"}}) < 0.95\n'
        f'and on (tenant, queue, channel) {BY} ({offered}{{tenant="acme", queue="vip", window="15m"}}) >= 10',
        f'{BY} ({sl}{{queue="vip", window="15m"}}) < 0.9\n'
        f'and on (tenant, queue, channel) {BY} ({offered}{{queue="vip", window="15m"}}) >= 5\n'
        f'{ON} {sl}{{tenant="acme", queue="vip", window="15m"}}',
        f'{BY} ({sl}{{window="15m"}}) < 0.8\n'
        f'and on (tenant, queue, channel) {BY} ({offered}{{window="15m"}}) >= 10\n'
        f'{ON} {sl}{{tenant="acme", queue="vip", window="15m"}}\n'
        f'{ON} {sl}{{queue="vip", window="15m"}}',
    ]


def test_abandon_and_occupancy_exprs() -> None:
    assert rulegen_queues.queue_expr(with_section("abandon_rate", window="5m"), ABANDON_RATE) == (
        f'{BY} (callpulse_queue_abandon_ratio{{window="5m"}}) > 0.08\n'
        f'and on (tenant, queue, channel) {BY} (callpulse_queue_offered_contacts{{window="5m"}}) >= 10'
    )
    rules = {r["alert"]: r for r in rulegen.rule_groups(rulegen.parse_config(RAW))["groups"][0]["rules"]}
    assert rules["AgentOccupancyHigh"]["expr"] == f'{BY} (callpulse_queue_agent_occupancy_ratio{{window="1h"}}) > 0.9'


def test_understaffed_expr_subtracts_serving_from_required_and_needs_load() -> None:
    req, serving, load = (
        "callpulse_queue_agents_required",
        "callpulse_queue_agents_logged_in",
        "callpulse_queue_offered_load_erlangs",
    )
    cfg = with_section(
        "understaffed",
        overrides=[
            {"queue": "vip", "shortfall_agents": 1, "min_offered_load_erlangs": 0.2},
            {"tenant": "acme", "queue": "vip", "shortfall_agents": 3},
        ],
    )
    query = rulegen_queues.queue_query(UNDERSTAFFED, cfg.understaffed)
    assert [branch_expr(query, b) for b in branches(cfg.understaffed)] == [
        f'{BY} ({req}{{tenant="acme", queue="vip"}}) - {BY} ({serving}{{tenant="acme", queue="vip"}}) >= 3\n'
        f'and on (tenant, queue, channel) {BY} ({load}{{tenant="acme", queue="vip"}}) >= 0.5',
        f'{BY} ({req}{{queue="vip"}}) - {BY} ({serving}{{queue="vip"}}) >= 1\n'
        f'and on (tenant, queue, channel) {BY} ({load}{{queue="vip"}}) >= 0.2\n'
        f'{ON} {req}{{tenant="acme", queue="vip"}}',
        f"{BY} ({req}) - {BY} ({serving}) >= 1\n"
        f"and on (tenant, queue, channel) {BY} ({load}) >= 0.5\n"
        f'{ON} {req}{{tenant="acme", queue="vip"}}\n'
        f'{ON} {req}{{queue="vip"}}',
    ]
    assert rulegen_queues.threshold_text(cfg, UNDERSTAFFED) == (
        '{{ if and (eq $labels.tenant "acme") (eq $labels.queue "vip") }}3 (override for tenant acme, queue vip, '
        'with at least 0.5 Erlangs offered){{ else if eq $labels.queue "vip" }}1 (override for queue vip, with at '
        "least 0.2 Erlangs offered){{ else }}1 (default threshold, with at least 0.5 Erlangs offered){{ end }}"
    )


def test_understaffed_annotations_name_required_and_serving() -> None:
    rule = rulegen_queues.understaffed_rule(rulegen.parse_config(RAW))
    assert (rule["for"], rule["labels"]) == ("10m", {"severity": "ticket"})
    notes = rule["annotations"]
    assert notes["summary"].startswith("Queue {{ $labels.queue }}: agent shortfall {{ $value | humanize }} (")
    for metric in ("callpulse_queue_agents_required", "callpulse_queue_agents_logged_in"):
        query = f"max({metric}{{tenant=%q,queue=%q,channel=%q}})"
        assert query in notes["summary"] and query in notes["description"], metric
    assert "callpulse_queue_offered_load_erlangs{tenant=%q,queue=%q,channel=%q}" in notes["description"]
    assert (
        "a shortfall of {{ $value | humanize }}, at or over the threshold of 1 (default threshold"
        in (notes["description"])
    )
    assert notes["runbook_url"] == BASE + "/queue-understaffed.md"


def test_no_agents_expr_counts_absent_and_zero_alike() -> None:
    assert rulegen_queues.no_agents_expr(rulegen.parse_config(RAW)) == (
        f"{BY} (callpulse_queue_waiting_contacts) > 0\n"
        'unless on (tenant, queue, channel) (callpulse_queue_agents{state="available"} > 0)'
    )
    staffed = with_section("no_agents_available", available_states=["available", "on_contact", "wrapup"])
    assert rulegen_queues.no_agents_expr(staffed).endswith(
        '(callpulse_queue_agents{state=~"available|on_contact|wrapup"} > 0)'
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param((), "60s (default threshold)", id="default only"),
        pytest.param(
            (VIP,),
            '{{ if eq $labels.queue "vip" }}30s (override for queue vip){{ else }}60s (default threshold){{ end }}',
            id="one override",
        ),
        pytest.param(
            (VIP, ACME_VIP),
            '{{ if and (eq $labels.tenant "acme") (eq $labels.queue "vip") }}20s (override for tenant acme, '
            'queue vip){{ else if eq $labels.queue "vip" }}30s (override for queue vip)'
            "{{ else }}60s (default threshold){{ end }}",
            id="most specific tested first",
        ),
    ],
)
def test_threshold_template(overrides: tuple[dict[str, Any], ...], expected: str) -> None:
    assert rulegen_queues.threshold_text(config(*overrides), LONGEST_WAIT) == expected


def test_ratio_threshold_template_shows_percent_and_minimum() -> None:
    cfg = with_section("service_level", overrides=[{"queue": "vip", "target_ratio": 0.925, "min_offered_contacts": 5}])
    assert rulegen_queues.threshold_text(cfg, SERVICE_LEVEL) == (
        '{{ if eq $labels.queue "vip" }}92.5% (override for queue vip, with at least 5 offered)'
        "{{ else }}80% (default threshold, with at least 10 offered){{ end }}"
    )
    assert threshold_template(cfg.service_level, lambda b: b.source) == (
        '{{ if eq $labels.queue "vip" }}override for queue vip{{ else }}default threshold{{ end }}'
    )


@pytest.mark.parametrize(("ratio", "text"), [(0.08, "8%"), (0.07, "7%"), (0.075, "7.5%"), (0.8, "80%"), (1, "100%")])
def test_format_percent(ratio: float, text: str) -> None:
    assert format_percent(ratio) == text


# ---------------------------------------------------------------------------------- pipeline expressions


def test_pipeline_exprs() -> None:
    cfg = rulegen.parse_config(RAW)
    assert rulegen_pipeline.exporter_down_expr(cfg) == 'up{job=~"callpulse.*"} == 0'
    assert rulegen_pipeline.worker_lagging_expr(cfg) == (
        "time() - max by (stream) (callpulse_stream_watermark_timestamp_seconds) > 180\n"
        "and on (stream) max by (stream) (rate(callpulse_events_applied_total[5m])) > 0"
    )
    assert rulegen_pipeline.no_events_expr(cfg) == (
        'max by (stream) (rate(callpulse_events_applied_total{stream="contacts"}[15m])) == 0'
    )
    assert rulegen_pipeline.dead_letters_expr(cfg) == (
        "sum by (stream) (max by (stream, reason) (rate(callpulse_dead_letter_events_total[5m]))) > 0.1"
    )


def test_exporter_job_regex_is_configurable_and_escaped() -> None:
    assert rulegen_pipeline.exporter_down_expr(with_section("exporter_down", job_regex="cp-(exporter|worker)")) == (
        'up{job=~"cp-(exporter|worker)"} == 0'
    )
    assert rulegen_pipeline.exporter_down_expr(with_section("exporter_down", job_regex=r'a"b\.c')) == (
        r'up{job=~"a\"b\\.c"} == 0'
    )


# ---------------------------------------------------------------------------------------- rule shapes


def test_rule_groups_shape() -> None:
    groups = rulegen.rule_groups(config(VIP, GOLD))["groups"]
    assert [g["name"] for g in groups] == ["callpulse-queues", "callpulse-pipeline"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert [rule["alert"] for rule in rules] == ALERTS  # one rule per alert: no duplicate-rule lint
    for rule in rules:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}
        assert rule["labels"].keys() == {"severity"} and rule["labels"]["severity"] in SEVERITIES
        assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}
        assert rule["annotations"]["runbook_url"] == f"{BASE}/{kebab(rule['alert'])}.md"
    assert {rule["alert"]: rule["for"] for rule in rules} == {
        "QueueLongestWaitHigh": "1m",
        "QueueNoAgentsAvailable": "1m",
        "QueueServiceLevelLow": "10m",
        "QueueAbandonRateHigh": "10m",
        "AgentOccupancyHigh": "30m",
        "QueueUnderstaffed": "10m",
        "CallpulseExporterDown": "2m",
        "CallpulseExporterRedisDown": "1m",
        "CallpulseWorkerLagging": "5m",
        "CallpulseNoEventsReceived": "15m",
        "CallpulseDeadLetterRateHigh": "10m",
    }


def test_queue_alerts_keep_only_the_queue_labels() -> None:
    rules = rulegen.rule_groups(config(VIP))["groups"][0]["rules"]
    for rule in rules:
        assert "max by (tenant, queue, channel)" in rule["expr"], rule["alert"]
        assert (
            "{{ $labels.tenant }}, queue {{ $labels.queue }}, channel {{ $labels.channel }}"
            in (rule["annotations"]["description"])
        )


@pytest.mark.parametrize(
    ("alert", "slug"),
    [
        ("QueueLongestWaitHigh", "queue-longest-wait-high"),
        ("CallpulseExporterRedisDown", "callpulse-exporter-redis-down"),
    ],
)
def test_kebab(alert: str, slug: str) -> None:
    assert kebab(alert) == slug


@pytest.mark.parametrize("alert", ALERTS)
def test_every_alert_has_a_runbook(alert: str) -> None:
    path = RUNBOOKS / f"{kebab(alert)}.md"
    assert path.is_file(), f"{path} is missing"
    text = path.read_text(encoding="utf-8")
    assert text.startswith(f"# {alert}\n")
    for heading in ("## What it means", "## What to check", "## What to do"):
        assert heading in text, f"{path.name}: no {heading!r}"
    assert "```promql" in text, f"{path.name}: no PromQL to paste"


def test_annotations_text() -> None:
    notes = rulegen_queues.longest_wait_rule(config(VIP))["annotations"]
    assert notes["summary"] == ("Queue {{ $labels.queue }}: a contact has been waiting {{ $value | humanizeDuration }}")
    assert notes["description"].startswith(
        "In tenant {{ $labels.tenant }}, queue {{ $labels.queue }}, channel {{ $labels.channel }}, "
        "the oldest contact still waiting has been waiting {{ $value | humanizeDuration }}, over the "
        'threshold of {{ if eq $labels.queue "vip" }}30s (override for queue vip)'
        "{{ else }}60s (default threshold){{ end }}, and has stayed over it for 1m. A caller is waiting "
        "too long right now and nobody has answered yet."
    )
    assert "callpulse_queue_waiting_contacts{tenant=%q,queue=%q,channel=%q}" in notes["description"]
    assert notes["runbook_url"] == BASE + "/queue-longest-wait-high.md"  # trailing / of the base dropped


def test_render_rules_has_the_header_and_round_trips() -> None:
    cfg = config(VIP, ACME_VIP)
    text = rulegen.render_rules(cfg)
    assert text.startswith("# generated by `callpulse rules generate`; edit deploy/prometheus/alerts.yaml\n")
    assert yaml.safe_load(text) == rulegen.rule_groups(cfg)
    assert "expr: |-\n" in text  # multi-line PromQL as a readable block


def test_render_is_deterministic() -> None:
    assert rulegen.render_rules(config(VIP, GOLD)) == rulegen.render_rules(config(VIP, GOLD))


# ------------------------------------------------------------------------------------ files and the CLI


def test_committed_rules_are_not_stale() -> None:
    assert rulegen.check(CONFIG, RULES), (
        "deploy/prometheus/rules.yml is stale: run `python -m callpulse.rulegen generate` "
        "(callpulse rules generate) and commit it"
    )


def test_generate_then_check(tmp_path: Path) -> None:
    cfg_path, out = tmp_path / "alerts.yaml", tmp_path / "rules.yml"
    cfg_path.write_text(yaml.safe_dump(raw_config(VIP)), encoding="utf-8")
    assert not rulegen.check(cfg_path, out)  # missing
    rulegen.generate(cfg_path, out)
    assert rulegen.check(cfg_path, out)
    out.write_text(out.read_text(encoding="utf-8").replace("> 30", "> 31"), encoding="utf-8")
    assert not rulegen.check(cfg_path, out)  # edited by hand


def test_main_generate_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg_path, out = tmp_path / "alerts.yaml", tmp_path / "rules.yml"
    cfg_path.write_text(yaml.safe_dump(raw_config(VIP)), encoding="utf-8")
    args = ["--config", str(cfg_path), "--out", str(out)]
    assert rulegen.main(["check", *args]) == 1
    assert "stale" in capsys.readouterr().err
    assert rulegen.main(["generate", *args]) == 0
    assert rulegen.main(["check", *args]) == 0
    assert "up to date" in capsys.readouterr().out
    cfg_path.write_text(yaml.safe_dump(raw_config(VIP, default=0)), encoding="utf-8")
    assert rulegen.main(["check", *args]) == 2
    assert "default_threshold_seconds" in capsys.readouterr().err
    before = out.read_text(encoding="utf-8")
    assert rulegen.main(["generate", *args]) == 2
    assert out.read_text(encoding="utf-8") == before  # a bad config writes nothing
