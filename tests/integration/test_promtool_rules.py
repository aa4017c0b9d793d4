"""promtool accepts the generated rules, their unit tests pass, and a wrong expectation makes them fail."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from callpulse import rulegen
from callpulse.rulegen_queues import LONGEST_WAIT_ALERT

pytestmark = pytest.mark.integration

RULES_DIR = Path(__file__).resolve().parents[2] / "deploy/prometheus"
RULES = RULES_DIR / "rules.yml"
RULES_TEST = RULES_DIR / "rules.test.yml"


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is not installed; CI must run the alert rule tests (apt-get install prometheus)")
        pytest.skip("promtool not found: apt-get install prometheus (Debian) to run the alert rule tests")
    return path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit code {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def _alert_names() -> list[str]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule["alert"] for group in groups for rule in group["rules"]]


QUEUE_ALERTS_WITH_OVERRIDES = [
    "QueueLongestWaitHigh",
    "QueueServiceLevelLow",
    "QueueAbandonRateHigh",
    "AgentOccupancyHigh",
    "QueueUnderstaffed",
]


def test_promtool_check_rules() -> None:
    result = run("check", "rules", RULES.name, cwd=RULES_DIR)
    assert result.returncode == 0, output(result)
    # promtool prints lint findings (e.g. duplicate rules) as FAILED but still exits 0
    assert f"SUCCESS: {len(_alert_names())} rules found" in result.stdout + result.stderr, output(result)
    assert "FAILED" not in result.stdout + result.stderr, output(result)


def test_promtool_test_rules() -> None:
    result = run("test", "rules", RULES_TEST.name, cwd=RULES_DIR)
    assert result.returncode == 0, output(result)
    assert "SUCCESS" in result.stdout + result.stderr, output(result)


# ------------------------------------------------------------------- the tests cannot pass vacuously


def _relocated_tests() -> dict[str, Any]:
    """rules.test.yml, with rule_files made absolute so that a copy elsewhere tests the real rules.yml."""
    tests: dict[str, Any] = yaml.safe_load(RULES_TEST.read_text(encoding="utf-8"))
    tests["rule_files"] = [str(RULES_DIR / name) for name in tests["rule_files"]]
    return tests


def _cases(tests: dict[str, Any], alert: str | None = None) -> list[dict[str, Any]]:
    """The alert_rule_test cases of ``alert`` (of every alert when None), in file order."""
    return [
        case
        for group in tests["tests"]
        for case in group.get("alert_rule_test", [])
        if alert is None or case["alertname"] == alert
    ]


def _quiet_where_it_fires(tests: dict[str, Any], alert: str | None = None) -> str:
    for case in _cases(tests, alert):
        if case["exp_alerts"]:
            case["exp_alerts"] = []
            return f"alertname: {case['alertname']}, time: {case['eval_time']}"
    raise AssertionError(f"rules.test.yml has no firing case of {alert or 'any alert'}")


def _firing_where_it_is_quiet(tests: dict[str, Any], alert: str | None = None) -> str:
    firing = next(case["exp_alerts"] for case in _cases(tests, alert) if case["exp_alerts"])
    for case in _cases(tests, alert):
        if not case["exp_alerts"]:
            case["exp_alerts"] = copy.deepcopy(firing)
            return f"alertname: {case['alertname']}, time: {case['eval_time']}"
    raise AssertionError(f"rules.test.yml has no quiet case of {alert or 'any alert'}")


def _not_pending(tests: dict[str, Any]) -> str:
    for group in tests["tests"]:
        for case in group.get("promql_expr_test", []):
            if any('alertstate="pending"' in sample["labels"] for sample in case["exp_samples"]):
                case["exp_samples"] = []
                return "alertstate"
    raise AssertionError("rules.test.yml has no pending case")


def _other_threshold(tests: dict[str, Any]) -> str:
    for group in tests["tests"]:
        for case in group.get("alert_rule_test", []):
            for alert in case["exp_alerts"]:
                notes = alert["exp_annotations"]
                if "(override for queue vip)" in notes["description"]:
                    notes["description"] = notes["description"].replace(
                        "30s (override for queue vip)", "60s (default threshold)"
                    )
                    return "override for queue vip"
    raise AssertionError("rules.test.yml has no override case")


def test_relocated_copy_of_the_tests_passes(tmp_path: Path) -> None:
    """The control for the mutations below: moving the file alone does not make promtool fail."""
    path = tmp_path / "rules.test.yml"
    path.write_text(yaml.safe_dump(_relocated_tests(), sort_keys=False), encoding="utf-8")
    result = run("test", "rules", path.name, cwd=tmp_path)
    assert result.returncode == 0, output(result)


def _assert_promtool_rejects(tmp_path: Path, tests: dict[str, Any], hint: str) -> None:
    path = tmp_path / "rules.test.yml"
    path.write_text(yaml.safe_dump(tests, sort_keys=False), encoding="utf-8")
    result = run("test", "rules", path.name, cwd=tmp_path)
    assert result.returncode != 0, output(result)
    assert "FAILED" in result.stdout + result.stderr, output(result)
    assert hint in result.stdout + result.stderr, output(result)


@pytest.mark.parametrize("mutate", [_quiet_where_it_fires, _firing_where_it_is_quiet, _not_pending, _other_threshold])
def test_broken_expectation_makes_promtool_fail(tmp_path: Path, mutate: Any) -> None:
    tests = _relocated_tests()
    hint: str = mutate(tests)
    _assert_promtool_rejects(tmp_path, tests, hint)


@pytest.mark.parametrize("alert", _alert_names())
@pytest.mark.parametrize("mutate", [_quiet_where_it_fires, _firing_where_it_is_quiet])
def test_broken_expectation_of_each_alert_makes_promtool_fail(tmp_path: Path, mutate: Any, alert: str) -> None:
    """Each alert's firing case and quiet case matter: flip either and promtool fails on that alert."""
    tests = _relocated_tests()
    hint: str = mutate(tests, alert)
    # only the groups that test this alert, to keep the run short
    tests["tests"] = [group for group in tests["tests"] if _cases({"tests": [group]}, alert)]
    _assert_promtool_rejects(tmp_path, tests, hint)


# ----------------------------------------------------------------- every alert is tested, both ways


@pytest.mark.parametrize("alert", _alert_names())
def test_every_alert_has_a_firing_and_a_quiet_case(alert: str) -> None:
    cases = _cases(yaml.safe_load(RULES_TEST.read_text(encoding="utf-8")), alert)
    firing = [expected for case in cases for expected in case["exp_alerts"]]
    assert firing, f"no case where {alert} fires"
    for expected in firing:
        assert expected["exp_labels"]["severity"], alert
        assert set(expected["exp_annotations"]) == {"summary", "description", "runbook_url"}, alert
    assert any(not case["exp_alerts"] for case in cases), f"no case where {alert} stays quiet"
    if alert in QUEUE_ALERTS_WITH_OVERRIDES:
        assert any("(override for queue vip" in e["exp_annotations"]["description"] for e in firing), (
            f"no case where {alert} fires for the override queue by its own threshold"
        )


# ------------------------------------------- nested overrides: each queue is judged by one threshold

OVERRIDES = [
    {"queue": "vip", "threshold_seconds": 30},
    {"tenant": "acme", "queue": "vip", "threshold_seconds": 20},
    {"queue": "vip", "channel": "chat", "threshold_seconds": 90},
    {"tenant": "acme", "queue": "vip", "channel": "chat", "threshold_seconds": 120},
    {"queue": "gold", "threshold_seconds": 300},
]
# (tenant, queue, channel) -> the threshold that must judge it, and the annotation's name for it.
# The thresholds above the default (120, 90, 300) prove the `unless`: a less specific branch would fire first.
JUDGED_BY = [
    (("acme", "vip", "chat"), 120, "override for tenant acme, queue vip, channel chat"),
    (("acme", "vip", "voice"), 20, "override for tenant acme, queue vip"),
    (("globex", "vip", "chat"), 90, "override for queue vip, channel chat"),
    (("globex", "vip", "voice"), 30, "override for queue vip"),
    (("acme", "gold", "email"), 300, "override for queue gold"),
    (("acme", "support", "voice"), 60, "default threshold"),
]


def _human(seconds: int) -> str:
    """Prometheus' humanizeDuration for whole seconds below an hour."""
    return f"{seconds}s" if seconds < 60 else f"{seconds // 60}m {seconds % 60}s"


def _threshold_case(labels: tuple[str, str, str], threshold: int, source: str) -> dict[str, Any]:
    """The wait sits exactly at the threshold for 2 minutes (quiet), then 1s over it (fires after 1m)."""
    tenant, queue, channel = labels
    series = f'callpulse_queue_longest_wait_seconds{{tenant="{tenant}",queue="{queue}",channel="{channel}"}}'
    over = _human(threshold + 1)
    return {
        "name": f"{tenant}/{queue}/{channel} judged by {threshold}s",
        "interval": "15s",
        "input_series": [{"series": series, "values": f"{threshold}x7 {threshold + 1}x12"}],
        "alert_rule_test": [
            {"eval_time": "1m45s", "alertname": LONGEST_WAIT_ALERT, "exp_alerts": []},
            {"eval_time": "2m45s", "alertname": LONGEST_WAIT_ALERT, "exp_alerts": []},
            {
                "eval_time": "3m",
                "alertname": LONGEST_WAIT_ALERT,
                "exp_alerts": [
                    {
                        "exp_labels": {
                            "severity": "page",
                            "tenant": tenant,
                            "queue": queue,
                            "channel": channel,
                        },
                        "exp_annotations": {
                            "summary": f"Queue {queue}: a contact has been waiting {over}",
                            "description": f"In tenant {tenant}, queue {queue}, channel {channel}, "
                            f"the oldest contact still waiting has been waiting {over}, over the threshold "
                            f"of {threshold}s ({source}), and has stayed over it for 1m. A caller is waiting "
                            "too long right now and nobody has answered yet.",
                            "runbook_url": "https://example.test/runbooks/queue-longest-wait-high.md",
                        },
                    }
                ],
            },
        ],
    }


def test_nested_overrides_judge_each_queue_by_exactly_one_threshold(tmp_path: Path) -> None:
    config = _committed_config()
    config["longest_wait"] = {"default_threshold_seconds": 60, "for": "1m", "severity": "page", "overrides": OVERRIDES}
    _generate_and_test(tmp_path, config, [_threshold_case(*row) for row in JUDGED_BY])


def _committed_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((RULES_DIR / "alerts.yaml").read_text(encoding="utf-8"))
    config["runbook_base_url"] = "https://example.test/runbooks"
    return config


def _generate_and_test(tmp_path: Path, config: dict[str, Any], cases: list[dict[str, Any]]) -> None:
    """Generate rules from ``config`` with the real generator, then promtool: check them, run ``cases``."""
    (tmp_path / "alerts.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    rulegen.generate(tmp_path / "alerts.yaml", tmp_path / "rules.yml")
    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "15s", "tests": cases}
    (tmp_path / "rules.test.yml").write_text(yaml.safe_dump(tests, sort_keys=False), encoding="utf-8")

    checked = run("check", "rules", "rules.yml", cwd=tmp_path)
    assert checked.returncode == 0, output(checked)
    assert "FAILED" not in checked.stdout + checked.stderr, output(checked)
    result = run("test", "rules", "rules.test.yml", cwd=tmp_path)
    assert result.returncode == 0, output(result)


# ------------------------------------------------- the other knobs of alerts.yaml, on a real promtool


def _agents(queue: str, state: str, count: int) -> dict[str, str]:
    labels = f'tenant="acme",queue="{queue}",channel="voice",state="{state}"'
    return {"series": f"callpulse_queue_agents{{{labels}}}", "values": f"{count}x12"}


def _waiting(queue: str, count: int) -> dict[str, str]:
    labels = f'tenant="acme",queue="{queue}",channel="voice"'
    return {"series": f"callpulse_queue_waiting_contacts{{{labels}}}", "values": f"{count}x12"}


def _fired(alert: str, at: str, labels: dict[str, str], summary: str, description: str) -> dict[str, Any]:
    expected = {
        "exp_labels": labels,
        "exp_annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": f"https://example.test/runbooks/{rulegen.kebab(alert)}.md",
        },
    }
    return {"eval_time": at, "alertname": alert, "exp_alerts": [expected]}


def test_available_states_and_exporter_job_regex_are_honoured(tmp_path: Path) -> None:
    """available_states [available, on_contact, wrapup]: a queue whose agents are all busy is staffed (quiet);
    one whose agents are all in aux is not (fires). job_regex cp-(exporter|worker): only those jobs count."""
    config = _committed_config()
    config["no_agents_available"]["available_states"] = ["available", "on_contact", "wrapup"]
    config["exporter_down"]["job_regex"] = "cp-(exporter|worker)"
    busy, aux = {"severity": "page", "tenant": "acme", "channel": "voice"}, "aux"
    cases = [
        {
            "name": "busy agents staff the queue, agents in aux do not",
            "interval": "15s",
            "input_series": [
                _waiting("support", 3),
                _agents("support", "on_contact", 4),
                _agents("support", "available", 0),
                _waiting("billing", 2),
                _agents("billing", aux, 2),
            ],
            "alert_rule_test": [
                _fired(
                    "QueueNoAgentsAvailable",
                    "1m",
                    {**busy, "queue": "billing"},
                    "Queue billing: 2 contacts waiting and no agent available",
                    "In tenant acme, queue billing, channel voice, 2 contacts are waiting and no agent of this queue "
                    "has been in state available or on_contact or wrapup for 1m: nobody can take them until an "
                    "agent becomes free or is moved onto the queue. Agents of this queue by state: aux 2.",
                )
            ],
        },
        {
            "name": "only the configured jobs are callpulse's",
            "interval": "15s",
            "input_series": [
                {"series": 'up{job="cp-worker",instance="w:9467"}', "values": "0x12"},
                {"series": 'up{job="callpulse",instance="c:9466"}', "values": "0x12"},
                {"series": 'up{job="cp-exporter-old",instance="o:9466"}', "values": "0x12"},
            ],
            "alert_rule_test": [
                _fired(
                    "CallpulseExporterDown",
                    "2m",
                    {"severity": "page", "job": "cp-worker", "instance": "w:9467"},
                    "callpulse target w:9467 is down",
                    "Prometheus has failed to scrape w:9467 (job cp-worker) for 2m. Targets of this job up now: 0 of "
                    "1. While no exporter answers, every KPI is missing and the queue alerts cannot fire. "
                    "Alertmanager mutes the queue alerts while this alert fires.",
                )
            ],
        },
    ]
    _generate_and_test(tmp_path, config, cases)


# ------------------------------------------------------------ the runbooks' PromQL can be pasted as is

RUNBOOKS = RULES_DIR.parents[1] / "docs/runbooks"


def _runbook_queries() -> list[tuple[str, str]]:
    """(runbook, query) for every line of every ```promql block of docs/runbooks/."""
    found = []
    for path in sorted(RUNBOOKS.glob("*.md")):
        for block in re.findall(r"```promql\n(.*?)```", path.read_text(encoding="utf-8"), re.DOTALL):
            found += [(path.name, line.strip()) for line in block.splitlines() if line.strip()]
    return found


def test_runbook_promql_parses(tmp_path: Path) -> None:
    queries = _runbook_queries()
    assert len({name for name, _ in queries}) == len(list(RUNBOOKS.glob("*.md")))  # every runbook has some
    rules = [{"record": f"runbook:query_{i}", "expr": query} for i, (_, query) in enumerate(queries)]
    (tmp_path / "runbooks.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "runbooks", "rules": rules}]}), encoding="utf-8"
    )
    result = run("check", "rules", "runbooks.yml", cwd=tmp_path)
    assert result.returncode == 0, (
        output(result) + "\n" + "\n".join(f"{i}: {n}: {q}" for i, (n, q) in enumerate(queries))
    )
