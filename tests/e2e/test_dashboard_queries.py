"""Every query of every panel of the generated dashboards returns data from a real Prometheus that scrapes
the real exporter over a real pipeline fed with simulated traffic (a Grafana screenshot being impossible
here, this is how the wallboards are checked)."""

from __future__ import annotations

import time
import urllib.parse
from pathlib import Path

import orjson
import pytest

from callpulse.dashboards import panel_queries
from callpulse.embedded import wait_until
from callpulse.settings import load_settings
from callpulse.simulator import DEFAULT_PROFILE, TrafficModel
from fixtures.pipeline import ROOT, Pipeline, produce
from fixtures.prometheus import get_json, start_prometheus

pytestmark = pytest.mark.e2e

DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
INTERVAL_LEFT_SECONDS = 150
"""The "per interval" panels show the current report interval: the test starts only with this much of it left
(it takes well under a minute), else a run across the boundary queries an interval no traffic reached."""


def _wait_for_interval_time(needed_seconds: float) -> None:
    """Block until the current report interval (UTC, as the pipeline's) has ``needed_seconds`` left."""
    length = load_settings().interval_minutes * 60
    left = length - time.time() % length
    if left < needed_seconds:
        time.sleep(left + 1)  # a wall-clock boundary, not a server: there is nothing to poll


def _instant(prometheus_url: str, expr: str) -> list[object]:
    data = get_json(f"{prometheus_url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
    assert data["status"] == "success", data
    result = data["data"]["result"]
    return result if isinstance(result, list) else [result]


def test_every_panel_query_returns_data(pipeline: Pipeline, tmp_path: Path) -> None:
    assert DASHBOARDS, "no generated dashboards"
    pipeline.extra_env.update({"CALLPULSE_PER_AGENT_METRICS": "true", "CALLPULSE_CUSTOMER_ID_SALT": "e2e"})
    _wait_for_interval_time(INTERVAL_LEFT_SECONDS)
    now_ms = int(time.time() * 1000)
    # 35 minutes of history: the previous report interval and the current one both have traffic
    events = TrafficModel.warm_started(5, now_ms, 35 * 60, DEFAULT_PROFILE).advance_to(now_ms)
    topics = {"contacts": pipeline.contacts_topic, "agents": pipeline.agents_topic}
    records = [(topics[e.stream], e.key.encode(), orjson.dumps(e.event)) for e in events]
    records.append((pipeline.contacts_topic, b"bad", b"{not json"))  # the dead-letter panels need one
    worker = pipeline.start_worker()
    exporter_url = pipeline.start_exporter()
    pipeline.wait_for_records(produce(pipeline.kafka.url, records, batched=True), timeout=180, watch=[worker])
    prometheus = start_prometheus(tmp_path, scrape_url=exporter_url, rules=_no_rules(tmp_path), alertmanager_url=None)
    prometheus_url = f"http://127.0.0.1:{prometheus.port}"
    try:
        # rate() needs two samples of a counter: wait until Prometheus has scraped a few times
        wait_until(
            lambda: (
                len(_instant(prometheus_url, "count_over_time(callpulse_exporter_redis_up[1m])")) == 1
                and _instant(prometheus_url, "count_over_time(callpulse_exporter_redis_up[1m]) >= 3") != []
            ),
            60,
            0.5,
            "three scrapes",
        )
        empty = []
        checked = 0
        for dashboard in DASHBOARDS:
            for title, expr in panel_queries(dashboard.read_text()):
                checked += 1
                if not _instant(prometheus_url, expr):
                    empty.append(f"{dashboard.name}: {title}: {expr}")
        assert checked >= 20
        assert not empty, "panels with no data:\n" + "\n".join(empty)
    finally:
        prometheus.stop()


def _no_rules(tmp_path: Path) -> Path:
    rules = tmp_path / "empty-rules.yml"
    rules.write_text("groups: []\n")
    return rules
