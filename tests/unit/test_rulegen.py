"""callpulse.rulegen: alerts.yaml -> Prometheus rules, and the committed rules.yml is current."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from callpulse import rulegen
from callpulse.rulegen import AlertsConfig, ConfigError, Override

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy/prometheus/alerts.yaml"
RULES = ROOT / "deploy/prometheus/rules.yml"
BASE = "https://example.test/runbooks"
M = "callpulse_queue_longest_wait_seconds"
BY = "max by (tenant, queue, channel)"
ON = "unless on (tenant, queue, channel)"


def raw_config(*overrides: dict[str, Any], default: float = 60, for_: str = "1m") -> dict[str, Any]:
    return {
        "runbook_base_url": BASE + "/",
        "longest_wait": {
            "default_threshold_seconds": default,
            "for": for_,
            "severity": "page",
            "overrides": list(overrides),
        },
    }


def config(*overrides: dict[str, Any], default: float = 60) -> AlertsConfig:
    return rulegen.parse_config(raw_config(*overrides, default=default))


# --------------------------------------------------------------------------------------------- parsing


def test_committed_config_parses_to_the_documented_values() -> None:
    cfg = rulegen.load_config(CONFIG)
    assert cfg.runbook_base_url == "https://github.com/callpulse/callpulse/blob/main/docs/runbooks"
    assert cfg.longest_wait.default_threshold_seconds == 60
    assert cfg.longest_wait.for_ == "1m"
    assert cfg.longest_wait.severity == "page"
    assert cfg.longest_wait.overrides == (Override(queue="vip", threshold_seconds=30),)


def test_overrides_may_be_absent() -> None:
    raw = raw_config()
    del raw["longest_wait"]["overrides"]
    assert rulegen.parse_config(raw).longest_wait.overrides == ()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.pop("runbook_base_url"), "missing runbook_base_url"),
        (lambda r: r.update(extra=1), "unknown key(s) extra"),
        (lambda r: r.update(runbook_base_url="docs/runbooks"), "runbook_base_url"),
        (lambda r: r["longest_wait"].update(default_threshold_seconds=0), "default_threshold_seconds"),
        (lambda r: r["longest_wait"].update(default_threshold_seconds="60"), "default_threshold_seconds"),
        (lambda r: r["longest_wait"].update(default_threshold_seconds=True), "default_threshold_seconds"),
        (
            lambda r: r["longest_wait"].update(default_threshold_seconds=float("inf")),
            "default_threshold_seconds",
        ),
        (lambda r: r["longest_wait"].update({"for": "1 minute"}), "longest_wait.for"),
        (lambda r: r["longest_wait"].update({"for": ""}), "longest_wait.for"),
        (lambda r: r["longest_wait"].update({"for": 60}), "longest_wait.for"),
        (lambda r: r["longest_wait"].update(severity="page me"), "severity"),
        (lambda r: r["longest_wait"].update(overrides={"queue": "vip"}), "expected a list"),
        (lambda r: r["longest_wait"].update(thresholds=[]), "unknown key(s) thresholds"),
    ],
)
def test_bad_config_is_rejected_naming_the_field(mutate: Any, message: str) -> None:
    raw = raw_config()
    mutate(raw)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        rulegen.parse_config(raw)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"threshold_seconds": 30}, r"overrides\[0\]: missing queue"),
        ({"queue": "vip"}, r"overrides\[0\]: missing threshold_seconds"),
        ({"queue": "vip", "threshold_seconds": -1}, r"overrides\[0\].threshold_seconds"),
        ({"queue": 'v"ip', "threshold_seconds": 30}, r"overrides\[0\].queue"),
        ({"queue": "vip", "tenant": "", "threshold_seconds": 30}, r"overrides\[0\].tenant"),
        ({"queue": "vip", "channel": "fax", "threshold_seconds": 30}, r"overrides\[0\].channel"),
        ({"queue": "vip", "threshold_seconds": 30, "severity": "page"}, r"unknown key\(s\) severity"),
    ],
)
def test_bad_override_is_rejected(override: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config(override)


def test_duplicate_override_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"overrides\[1\]: same labels as overrides\[0\]"):
        config({"queue": "vip", "threshold_seconds": 30}, {"queue": "vip", "threshold_seconds": 20})


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


# ------------------------------------------------------------------------------------------ generation

VIP = {"queue": "vip", "threshold_seconds": 30}
ACME_VIP = {"tenant": "acme", "queue": "vip", "threshold_seconds": 20}
VIP_CHAT = {"queue": "vip", "channel": "chat", "threshold_seconds": 90}
ACME_VIP_CHAT = {"tenant": "acme", "queue": "vip", "channel": "chat", "threshold_seconds": 120}
GOLD = {"queue": "gold", "threshold_seconds": 12.5}


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
    assert [rulegen.branch_expr(b) for b in rulegen.branches(config(*overrides))] == expected


def test_alert_expr_is_the_union_of_the_branches() -> None:
    assert rulegen.longest_wait_expr(config()) == f"{BY} ({M}) > 60"
    assert rulegen.longest_wait_expr(config(VIP)) == (
        f'(\n  {BY} ({M}{{queue="vip"}}) > 30\n)\nor\n(\n  {BY} ({M}) > 60\n  {ON} {M}{{queue="vip"}}\n)'
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
    assert rulegen.threshold_template(config(*overrides)) == expected


def test_rule_groups_shape() -> None:
    groups = rulegen.rule_groups(config(VIP, GOLD))
    assert [g["name"] for g in groups["groups"]] == ["callpulse-queue-longest-wait"]
    rules = groups["groups"][0]["rules"]
    assert len(rules) == 1  # one rule: one alert and one threshold per queue, no duplicate-rule lint
    (rule,) = rules
    assert rule["alert"] == "QueueLongestWaitHigh"
    assert rule["for"] == "1m"
    assert rule["labels"] == {"severity": "page"}
    assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}


def test_annotations_text() -> None:
    notes = rulegen.alert_annotations(config(VIP))
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
