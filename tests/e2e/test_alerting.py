"""The headline alert end to end on real parts: a caller waits past the threshold with no further event; the
generated QueueLongestWaitHigh rule on a real Prometheus goes pending, then firing, while the caller still
waits; Alertmanager delivers it to a webhook; when the call is answered the alert resolves."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from callpulse.embedded import wait_until
from fixtures.pipeline import ROOT, Pipeline, produce
from fixtures.prometheus import WebhookSink, get_json, start_alertmanager, start_prometheus
from fixtures.script import Script

pytestmark = pytest.mark.e2e

THRESHOLD_SECONDS = 6
FOR = "4s"


def _test_rules(tmp_path: Path) -> Path:
    """The real generator, fed the real config with a short threshold and `for:` so the test is quick."""
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yaml").read_text())
    config["longest_wait"].update({"default_threshold_seconds": THRESHOLD_SECONDS, "for": FOR, "overrides": []})
    config_path = tmp_path / "alerts.yaml"
    config_path.write_text(yaml.safe_dump(config))
    rules = tmp_path / "rules.yml"
    subprocess.run(
        [sys.executable, "-m", "callpulse", "rules", "generate", "--config", str(config_path), "--out", str(rules)],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    return rules


def _alerts(prometheus_url: str) -> list[dict[str, Any]]:
    alerts = get_json(f"{prometheus_url}/api/v1/alerts")["data"]["alerts"]
    return [alert for alert in alerts if alert["labels"].get("alertname") == "QueueLongestWaitHigh"]


def test_longest_wait_alert_fires_while_the_caller_waits_and_resolves_on_answer(
    pipeline: Pipeline, webhook_sink: WebhookSink, tmp_path: Path
) -> None:
    worker = pipeline.start_worker()
    exporter_url = pipeline.start_exporter()
    alertmanager = start_alertmanager(tmp_path, webhook_url=webhook_sink.url)
    alertmanager_url = f"http://127.0.0.1:{alertmanager.port}"
    prometheus = start_prometheus(
        tmp_path, scrape_url=exporter_url, rules=_test_rules(tmp_path), alertmanager_url=alertmanager_url
    )
    prometheus_url = f"http://127.0.0.1:{prometheus.port}"
    try:
        script = Script(int(time.time() * 1000))
        script.contact(0, "queued", "caller-1", queue="billing")
        topic = pipeline.contacts_topic
        produce(pipeline.kafka.url, [(topic, b"caller-1", orjson.dumps(script.events[0][2]))])
        pipeline.wait_for_records(1, watch=[worker])

        states: list[str] = []

        def alert_state(wanted: str) -> bool:
            alerts = _alerts(prometheus_url)
            state = alerts[0]["state"] if alerts else "inactive"
            if not states or states[-1] != state:
                states.append(state)
            return state == wanted

        wait_until(lambda: alert_state("firing"), 60, 0.2, "the alert to fire")
        assert states[-2:] == ["pending", "firing"], states
        firing = _alerts(prometheus_url)[0]
        assert {"queue": "billing", "channel": "voice", "tenant": "acme", "severity": "page"}.items() <= firing[
            "labels"
        ].items()
        assert firing["annotations"]["runbook_url"].endswith("queue-longest-wait-high.md")
        assert float(firing["value"]) > THRESHOLD_SECONDS  # the caller is still waiting: no answer yet

        def notified(status: str) -> bool:
            return any(
                message["status"] == status
                and any(alert["labels"].get("queue") == "billing" for alert in message["alerts"])
                for message in webhook_sink.received
            )

        wait_until(lambda: notified("firing"), 30, 0.2, "Alertmanager to deliver the firing alert")

        answered = script.base_ms / 1000
        script.contact(time.time() - answered, "answered", "caller-1", queue="billing", agent_id="a1")
        produce(pipeline.kafka.url, [(topic, b"caller-1", orjson.dumps(script.events[1][2]))])
        wait_until(lambda: not _alerts(prometheus_url), 30, 0.2, "the alert to resolve after the answer")
        wait_until(lambda: notified("resolved"), 60, 0.2, "Alertmanager to deliver the resolution")
    finally:
        prometheus.stop()
        alertmanager.stop()
