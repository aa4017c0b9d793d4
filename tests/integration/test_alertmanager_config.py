"""deploy/alertmanager/alertmanager.yml: amtool accepts it, routes each severity and the VIP queues to the right
receiver, rejects a broken copy, and a real Alertmanager applies the inhibitions."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from callpulse.embedded import free_port, spawn_logged, wait_until
from callpulse.rulegen_config import SEVERITIES

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy/alertmanager/alertmanager.yml"
RULES = ROOT / "deploy/prometheus/rules.yml"
PAGER, VIP_PAGER, CHAT = "pager-callpulse", "pager-vip", "chat-callpulse"


def binary(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed; CI must check the Alertmanager config (apt-get install {package})")
        pytest.skip(f"{name} not found: apt-get install {package} (Debian) to check the Alertmanager config")
    return path


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    command = [binary("amtool", "prometheus-alertmanager"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit code {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def routes(config: Path, labels: dict[str, str]) -> list[str]:
    """The receivers amtool resolves ``labels`` to, in routing-tree order."""
    result = amtool("config", "routes", "test", f"--config.file={config}", *(f"{k}={v}" for k, v in labels.items()))
    assert result.returncode == 0, output(result)
    return result.stdout.split()


def rule_alerts() -> dict[str, str]:
    """Alert name -> severity, from the generated rules."""
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return {rule["alert"]: rule["labels"]["severity"] for group in groups for rule in group["rules"]}


def test_amtool_check_config() -> None:
    result = amtool("check-config", str(CONFIG))
    assert result.returncode == 0, output(result)
    assert "SUCCESS" in result.stdout, output(result)


QUEUE = {"tenant": "acme", "channel": "voice"}


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        pytest.param({"alertname": "QueueLongestWaitHigh", "severity": "page", "queue": "vip", **QUEUE}, VIP_PAGER),
        pytest.param(
            {"alertname": "QueueNoAgentsAvailable", "severity": "page", "queue": "vip-gold", **QUEUE}, VIP_PAGER
        ),
        pytest.param({"alertname": "QueueLongestWaitHigh", "severity": "page", "queue": "support", **QUEUE}, PAGER),
        pytest.param({"alertname": "QueueLongestWaitHigh", "severity": "page", "queue": "vipers", **QUEUE}, PAGER),
        pytest.param({"alertname": "CallpulseExporterDown", "severity": "page", "instance": "x:9466"}, PAGER),
        pytest.param({"alertname": "QueueServiceLevelLow", "severity": "warning", "queue": "vip", **QUEUE}, CHAT),
        pytest.param({"alertname": "QueueAbandonRateHigh", "severity": "warning", "queue": "support", **QUEUE}, CHAT),
        pytest.param({"alertname": "AgentOccupancyHigh", "severity": "ticket", "queue": "support", **QUEUE}, CHAT),
        pytest.param({"alertname": "QueueUnderstaffed", "severity": "ticket", "queue": "vip", **QUEUE}, CHAT),
        pytest.param({"alertname": "CallpulseDeadLetterRateHigh", "severity": "warning", "stream": "contacts"}, CHAT),
        pytest.param({"alertname": "SomethingElse"}, CHAT, id="no severity: the fallback"),
    ],
    ids=lambda value: "-".join(value.values()) if isinstance(value, dict) else value,
)
def test_routes(labels: dict[str, str], receiver: str) -> None:
    assert routes(CONFIG, labels) == [receiver]
    verified = amtool(
        "config", "routes", "test", f"--config.file={CONFIG}", f"--verify.receivers={receiver}",
        *(f"{k}={v}" for k, v in labels.items()),
    )  # fmt: skip
    assert verified.returncode == 0, output(verified)


def test_every_severity_and_every_generated_alert_has_its_receiver() -> None:
    expected = {"page": PAGER, "warning": CHAT, "ticket": CHAT}
    assert set(expected) == set(SEVERITIES)
    for alert, severity in rule_alerts().items():
        labels = {"alertname": alert, "severity": severity, "queue": "support", **QUEUE}
        assert routes(CONFIG, labels) == [expected[severity]], alert


def test_verify_receivers_fails_on_a_wrong_receiver() -> None:
    """The control for test_routes: amtool's --verify.receivers does fail when the receiver differs."""
    result = amtool(
        "config", "routes", "test", f"--config.file={CONFIG}", f"--verify.receivers={CHAT}",
        "severity=page", "queue=vip",
    )  # fmt: skip
    assert result.returncode != 0, output(result)


def test_group_by_and_timings() -> None:
    route = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["route"]
    assert route["group_by"] == ["alertname", "tenant", "queue", "channel"]
    assert {"group_wait", "group_interval", "repeat_interval"} <= route.keys()


def _names(matchers: list[str]) -> set[str]:
    """The alert names an ``alertname="A"`` or ``alertname=~"A|B"`` matcher list names."""
    found: set[str] = set()
    for matcher in matchers:
        if match := re.fullmatch(r'alertname=~?"([^"]*)"', matcher):
            found |= set(match.group(1).split("|"))
    return found


def test_inhibition_rules_name_generated_alerts() -> None:
    """Renaming an alert must not silently disable an inhibition."""
    rules = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["inhibit_rules"]
    named = set().union(*(_names(r.get("source_matchers", []) + r.get("target_matchers", [])) for r in rules))
    assert named == {
        "QueueNoAgentsAvailable",
        "QueueLongestWaitHigh",
        "QueueServiceLevelLow",
        "CallpulseExporterDown",
        "CallpulseExporterRedisDown",
        "CallpulseWorkerLagging",
    }
    assert named <= rule_alerts().keys()


# ------------------------------------------------------------------------- amtool rejects a broken copy


def _broken_receiver(config: dict[str, Any]) -> str:
    config["route"]["routes"][0]["routes"][0]["receiver"] = "pager-nowhere"
    return 'undefined receiver "pager-nowhere"'


def _broken_matcher(config: dict[str, Any]) -> str:
    config["inhibit_rules"][0]["target_matchers"] = ['alertname=~"QueueLongestWaitHigh|("']
    return "error parsing regexp"


def _broken_group_by(config: dict[str, Any]) -> str:
    config["route"]["group_by"] = ["alertname", "queue", "queue"]
    return "duplicated label"


def test_unbroken_copy_passes(tmp_path: Path) -> None:
    """The control for the broken copies: re-dumping the YAML elsewhere alone does not make amtool fail."""
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(yaml.safe_load(CONFIG.read_text(encoding="utf-8"))), encoding="utf-8")
    result = amtool("check-config", str(path))
    assert result.returncode == 0, output(result)


@pytest.mark.parametrize("mutate", [_broken_receiver, _broken_matcher, _broken_group_by])
def test_amtool_rejects_a_broken_copy(tmp_path: Path, mutate: Any) -> None:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    hint: str = mutate(config)
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    result = amtool("check-config", str(path))
    assert result.returncode != 0, output(result)
    assert "FAILED" in result.stdout + result.stderr, output(result)
    assert hint in result.stdout + result.stderr, output(result)


# ------------------------------------------------------------------- inhibitions on a real Alertmanager


def _request(url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """The example config on a real Alertmanager; its webhooks point at a closed local port."""
    exe = binary("prometheus-alertmanager", "prometheus-alertmanager")
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    nowhere = f"http://127.0.0.1:{free_port()}/"
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = nowhere
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    argv = [
        exe,
        f"--config.file={tmp_path / 'alertmanager.yml'}",
        f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    log = tmp_path / "alertmanager.log"
    process = spawn_logged(argv, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: process.poll() is not None or _ready(f"{url}/-/ready"), 30, 0.1, "Alertmanager")
        assert process.poll() is None, log.read_text(errors="replace")[-4000:]
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _alert(name: str, severity: str, **labels: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "labels": {"alertname": name, "severity": severity, **labels},
        "annotations": {"summary": name},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=10)).isoformat(),
    }


def _suppressed(url: str) -> dict[tuple[str, str], bool]:
    """(alertname, queue) -> whether Alertmanager says another alert inhibits it."""
    alerts = _request(f"{url}/api/v2/alerts")
    return {(a["labels"]["alertname"], a["labels"].get("queue", "")): bool(a["status"]["inhibitedBy"]) for a in alerts}


def test_inhibitions(alertmanager: str) -> None:
    vip, support = {"queue": "vip", **QUEUE}, {"queue": "support", **QUEUE}
    _request(
        f"{alertmanager}/api/v2/alerts",
        [
            _alert("QueueNoAgentsAvailable", "page", **vip),
            _alert("QueueLongestWaitHigh", "page", **vip),
            _alert("QueueServiceLevelLow", "warning", **vip),
            _alert("QueueAbandonRateHigh", "warning", **vip),
            _alert("QueueLongestWaitHigh", "page", **support),
            _alert("QueueServiceLevelLow", "warning", **support),
        ],
    )
    # No agent in vip: its long wait and low service level are symptoms; its abandons and queue support are not.
    expected = {
        ("QueueNoAgentsAvailable", "vip"): False,
        ("QueueLongestWaitHigh", "vip"): True,
        ("QueueServiceLevelLow", "vip"): True,
        ("QueueAbandonRateHigh", "vip"): False,
        ("QueueLongestWaitHigh", "support"): False,
        ("QueueServiceLevelLow", "support"): False,
    }
    wait_until(lambda: _suppressed(alertmanager) == expected, 15, 0.2, "the queue inhibition")

    # The exporter is down: callpulse is blind, every queue alert is muted; the exporter alert is not.
    _request(
        f"{alertmanager}/api/v2/alerts",
        [_alert("CallpulseExporterDown", "page", instance="exporter-a:9466", job="callpulse")],
    )
    blind = {key: True for key in expected} | {("CallpulseExporterDown", ""): False}
    wait_until(lambda: _suppressed(alertmanager) == blind, 15, 0.2, "the pipeline inhibition")
