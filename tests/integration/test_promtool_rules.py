"""promtool accepts the generated rules, their unit tests pass, and a wrong expectation makes them fail."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from callpulse import rulegen

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


def test_promtool_check_rules() -> None:
    result = run("check", "rules", RULES.name, cwd=RULES_DIR)
    assert result.returncode == 0, output(result)
    # promtool prints lint findings (e.g. duplicate rules) as FAILED but still exits 0
    assert "SUCCESS: 1 rules found" in result.stdout + result.stderr, output(result)
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


def _quiet_where_it_fires(tests: dict[str, Any]) -> str:
    for group in tests["tests"]:
        for case in group.get("alert_rule_test", []):
            if case["exp_alerts"]:
                case["exp_alerts"] = []
                return f"time: {case['eval_time']}"
    raise AssertionError("rules.test.yml has no firing case")


def _firing_where_it_is_quiet(tests: dict[str, Any]) -> str:
    firing = next(
        case["exp_alerts"]
        for group in tests["tests"]
        for case in group.get("alert_rule_test", [])
        if case["exp_alerts"]
    )
    for group in tests["tests"]:
        for case in group.get("alert_rule_test", []):
            if not case["exp_alerts"]:
                case["exp_alerts"] = copy.deepcopy(firing)
                return f"time: {case['eval_time']}"
    raise AssertionError("rules.test.yml has no quiet case")


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


@pytest.mark.parametrize("mutate", [_quiet_where_it_fires, _firing_where_it_is_quiet, _not_pending, _other_threshold])
def test_broken_expectation_makes_promtool_fail(tmp_path: Path, mutate: Any) -> None:
    tests = _relocated_tests()
    hint: str = mutate(tests)
    path = tmp_path / "rules.test.yml"
    path.write_text(yaml.safe_dump(tests, sort_keys=False), encoding="utf-8")
    result = run("test", "rules", path.name, cwd=tmp_path)
    assert result.returncode != 0, output(result)
    assert "FAILED" in result.stdout + result.stderr, output(result)
    assert hint in result.stdout + result.stderr, output(result)


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
            {"eval_time": "1m45s", "alertname": rulegen.ALERT, "exp_alerts": []},
            {"eval_time": "2m45s", "alertname": rulegen.ALERT, "exp_alerts": []},
            {
                "eval_time": "3m",
                "alertname": rulegen.ALERT,
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
    config = {
        "runbook_base_url": "https://example.test/runbooks",
        "longest_wait": {
            "default_threshold_seconds": 60,
            "for": "1m",
            "severity": "page",
            "overrides": OVERRIDES,
        },
    }
    (tmp_path / "alerts.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    rulegen.generate(tmp_path / "alerts.yaml", tmp_path / "rules.yml")
    tests = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "15s",
        "tests": [_threshold_case(*row) for row in JUDGED_BY],
    }
    (tmp_path / "rules.test.yml").write_text(yaml.safe_dump(tests, sort_keys=False), encoding="utf-8")

    checked = run("check", "rules", "rules.yml", cwd=tmp_path)
    assert checked.returncode == 0, output(checked)
    assert "FAILED" not in checked.stdout + checked.stderr, output(checked)
    result = run("test", "rules", "rules.test.yml", cwd=tmp_path)
    assert result.returncode == 0, output(result)
