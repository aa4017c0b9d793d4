"""callpulse.dashboards: the committed Grafana dashboards are current, well formed, read the provisioned
datasource and query only metrics (and labels) the exporter declares."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from callpulse import dashboards
from callpulse.dashboards_queries import QueryError, substitute
from exporters import catalog

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD_DIR = GRAFANA / "dashboards"
UIDS = {"wallboard.json": "callpulse-wallboard", "operations.json": "callpulse-operations"}
SPECS = {spec.name: spec for spec in catalog.ALL}
WINDOWS = {"5m", "15m", "1h", "today", "interval", "last_interval"}
METRIC_NAME = re.compile(r"\bcallpulse_[a-zA-Z0-9_:]*")
SELECTOR = re.compile(r"\b(callpulse_[a-zA-Z0-9_:]*)\s*\{([^}]*)\}")
MATCHER = re.compile(r'([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def load(name: str) -> dict[str, Any]:
    board: dict[str, Any] = json.loads((DASHBOARD_DIR / name).read_text(encoding="utf-8"))
    return board


def all_panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows and the panels inside (collapsed) rows included."""
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def exprs(board: dict[str, Any]) -> list[str]:
    """Every PromQL text of the dashboard: panel queries and template variable queries."""
    found = [target["expr"] for panel in all_panels(board) for target in panel.get("targets", [])]
    found += [variable["query"] for variable in board["templating"]["list"]]
    return found


def unknown_metrics(board: dict[str, Any]) -> set[str]:
    """Metric names used by the dashboard that the catalogue does not declare."""
    return {name for expr in exprs(board) for name in METRIC_NAME.findall(expr)} - SPECS.keys()


def bad_matchers(board: dict[str, Any]) -> list[str]:
    """Selectors that match a label the metric does not have, or a window that does not exist."""
    problems = []
    for expr in exprs(board):
        for metric, body in SELECTOR.findall(expr):
            for label, _, value in MATCHER.findall(body):
                if metric in SPECS and label not in SPECS[metric].labels:
                    problems.append(f"{metric} has no label {label}: {expr}")
                if label == "window" and value not in WINDOWS:
                    problems.append(f"no window {value}: {expr}")
    return problems


@pytest.fixture(params=sorted(UIDS))
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# ----------------------------------------------------------------------------------------- generation


def test_committed_dashboards_are_what_the_generator_writes() -> None:
    rendered = dashboards.render_all()
    assert sorted(rendered) == sorted(UIDS)
    for file_name, text in rendered.items():
        committed = (DASHBOARD_DIR / file_name).read_text(encoding="utf-8")
        assert committed == text, f"{file_name} is stale: run `python -m callpulse.dashboards generate`"


def test_generation_is_deterministic() -> None:
    assert dashboards.render_all() == dashboards.render_all()


def test_check_fails_on_a_stale_or_missing_file_and_passes_after_generate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = ["--out-dir", str(tmp_path)]
    assert dashboards.main(["check", *out]) == 1
    assert dashboards.main(["generate", *out]) == 0
    assert dashboards.main(["check", *out]) == 0
    wallboard = tmp_path / "wallboard.json"
    wallboard.write_text(wallboard.read_text().replace('"5s"', '"10s"', 1))
    assert dashboards.main(["check", *out]) == 1
    assert "wallboard.json is stale" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ structure


def test_file_is_json_with_the_expected_uid_and_unique_panel_ids(name: str) -> None:
    board = load(name)
    assert board["uid"] == UIDS[name]
    ids = [panel["id"] for panel in all_panels(board)]
    assert all(isinstance(panel_id, int) for panel_id in ids)
    assert len(ids) == len(set(ids))


def test_every_panel_and_query_reads_the_provisioned_datasource(name: str) -> None:
    board = load(name)
    expected = {"type": "prometheus", "uid": dashboards.DATASOURCE_UID}
    for panel in all_panels(board):
        assert panel.get("datasource") == expected, panel.get("title")
        for target in panel.get("targets", []):
            assert target.get("datasource") == expected, panel.get("title")
            assert target.get("refId"), panel.get("title")
    for variable in board["templating"]["list"]:
        assert variable["datasource"] == expected


def test_template_variables_are_tenant_queue_channel_matching_all(name: str) -> None:
    variables = load(name)["templating"]["list"]
    assert [v["name"] for v in variables] == ["tenant", "queue", "channel"]
    for variable in variables:
        assert variable["query"].startswith(f"label_values({catalog.QUEUE_WAITING.name}")
        assert variable["query"].endswith(f", {variable['name']})")
        assert variable["includeAll"] and variable["multi"]
        assert variable["allValue"] == ".+"


# ----------------------------------------------------------------------------------------- metrics


def test_every_metric_in_a_query_is_in_the_catalogue(name: str) -> None:
    board = load(name)
    assert not unknown_metrics(board)
    assert not bad_matchers(board)


def test_the_metric_check_catches_a_made_up_metric() -> None:
    board = copy.deepcopy(load("wallboard.json"))
    target = next(t for panel in all_panels(board) for t in panel.get("targets", []))
    target["expr"] = target["expr"].replace(catalog.QUEUE_WAITING.name, "callpulse_queue_made_up_contacts")
    assert unknown_metrics(board) == {"callpulse_queue_made_up_contacts"}
    counter = copy.deepcopy(load("operations.json"))
    target = next(t for panel in all_panels(counter) for t in panel.get("targets", []) if "rate(" in t["expr"])
    target["expr"] = target["expr"].replace("_total", "")  # a counter must be queried by its _total name
    assert unknown_metrics(counter)


def test_the_matcher_check_catches_a_wrong_label_or_window() -> None:
    board = copy.deepcopy(load("wallboard.json"))
    targets = [t for panel in all_panels(board) for t in panel.get("targets", [])]
    targets[0]["expr"] = targets[0]["expr"].replace('queue=~"$queue"', 'agent=~"$queue"')
    windowed = next(t for t in targets if 'window="15m"' in t["expr"])
    windowed["expr"] = windowed["expr"].replace('window="15m"', 'window="10m"')
    assert len(bad_matchers(board)) == 2


# ------------------------------------------------------------------------------------------ wallboard

WALLBOARD_TILES = {  # title: (metric, unit, threshold steps)
    "Contacts waiting": (catalog.QUEUE_WAITING.name, "none", [(None, "green"), (5, "yellow"), (10, "red")]),
    "Longest wait": (catalog.QUEUE_LONGEST_WAIT.name, "s", [(None, "green"), (30, "yellow"), (60, "red")]),
    "Service level (15m)": (
        catalog.QUEUE_SERVICE_LEVEL.name,
        "percentunit",
        [(None, "red"), (0.7, "yellow"), (0.8, "green")],
    ),
    "Abandon rate (15m)": (
        catalog.QUEUE_ABANDON_RATIO.name,
        "percentunit",
        [(None, "green"), (0.05, "yellow"), (0.1, "red")],
    ),
    "Agents available": (catalog.QUEUE_AGENTS.name, "none", [(None, "red"), (1, "yellow"), (3, "green")]),
    "ASA (15m)": (catalog.QUEUE_ASA.name, "s", [(None, "green"), (20, "yellow"), (40, "red")]),
}


def test_wallboard_is_live_and_repeats_a_row_per_queue() -> None:
    board = load("wallboard.json")
    assert board["refresh"] == "5s"
    assert board["time"] == {"from": "now-1h", "to": "now"}
    rows = [panel for panel in board["panels"] if panel["type"] == "row"]
    assert len(rows) == 1
    assert rows[0]["repeat"] == "queue"
    assert not rows[0]["collapsed"]


def test_wallboard_has_the_big_coloured_stat_panels() -> None:
    stats = {panel["title"]: panel for panel in load("wallboard.json")["panels"] if panel["type"] == "stat"}
    assert set(stats) == set(WALLBOARD_TILES)
    for title, (metric, unit, steps) in WALLBOARD_TILES.items():
        panel = stats[title]
        (target,) = panel["targets"]
        assert metric in target["expr"] and target["instant"]
        defaults = panel["fieldConfig"]["defaults"]
        assert defaults["unit"] == unit
        assert [(s["value"], s["color"]) for s in defaults["thresholds"]["steps"]] == steps
        assert defaults["color"] == {"mode": "thresholds"}
        assert panel["options"]["colorMode"] == "background"
        if unit == "percentunit":
            assert (defaults["min"], defaults["max"]) == (0, 1)
            assert 'window="15m"' in target["expr"]
    assert 'state="available"' in stats["Agents available"]["targets"][0]["expr"]


# ----------------------------------------------------------------------------------------- operations


def test_operations_covers_trends_agents_and_pipeline_health() -> None:
    board = load("operations.json")
    text = "\n".join(exprs(board))
    for window in ("15m", "interval", "last_interval"):
        for spec in (
            catalog.QUEUE_OFFERED,
            catalog.QUEUE_ANSWERED,
            catalog.QUEUE_ABANDONED,
            catalog.QUEUE_SERVICE_LEVEL,
            catalog.QUEUE_AHT,
            catalog.QUEUE_OCCUPANCY,
        ):
            assert re.search(rf'{spec.name}\{{[^}}]*window="{window}"', text), (spec.name, window)
    for spec in (catalog.EVENTS_APPLIED, catalog.EVENTS_DEAD_LETTER, catalog.EVENTS_LATE):
        assert f"rate({spec.name}[$__rate_interval])" in text
    assert f"time() - max by (stream) ({catalog.STREAM_WATERMARK.name})" in text
    assert catalog.REDIS_UP.name in text and catalog.SCRAPE_DURATION.name in text
    (agents,) = [panel for panel in all_panels(board) if panel["type"] == "table"]
    assert "CALLPULSE_PER_AGENT_METRICS" in agents["description"]
    agent_metrics = {name for name in METRIC_NAME.findall(text) if name.startswith("callpulse_agent_")}
    assert agent_metrics == {spec.name for spec in catalog.ALL if spec.name.startswith("callpulse_agent_")}


# --------------------------------------------------------------------------------------- panel_queries


def test_panel_queries_substitute_every_variable(name: str) -> None:
    board = load(name)
    queries = dashboards.panel_queries(board)
    assert queries == dashboards.panel_queries(json.dumps(board))
    assert len(queries) == sum(len(p.get("targets", [])) for p in all_panels(board))
    titles = {panel["title"] for panel in all_panels(board) if panel["type"] != "row"}
    assert {title for title, _ in queries} == titles
    for _, expr in queries:
        assert "$" not in expr and "[[" not in expr
        assert '=".+"' not in expr


def test_panel_queries_include_the_panels_of_collapsed_rows() -> None:
    titles = [title for title, _ in dashboards.panel_queries(load("operations.json"))]
    assert "Agents today" in titles


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('m{queue=~"$queue"}', 'm{queue=~".+"}'),
        ('m{queue=~"${queue}", tenant =~ "[[tenant]]"}', 'm{queue=~".+", tenant =~".+"}'),
        ('m{queue=~"${queue:regex}|x"}', 'm{queue=~".+|x"}'),
        ("rate(m[$__rate_interval])", "rate(m[5m])"),
        ('label_replace(m, "a", "$1", "b", "(.*)")', 'label_replace(m, "a", "$1", "b", "(.*)")'),
    ],
)
def test_substitute(expr: str, expected: str) -> None:
    assert substitute(expr, {"queue", "tenant"}) == expected


@pytest.mark.parametrize(
    "expr",
    ['m{queue="$queue"}', 'm{queue!~"$queue"}', 'm{queue=~"$nope"}', "rate(m[$window])"],
)
def test_substitute_refuses_a_variable_it_cannot_replace(expr: str) -> None:
    with pytest.raises(QueryError):
        substitute(expr, {"queue"})


# --------------------------------------------------------------------------------------- provisioning


def test_datasource_provisioning_has_the_uid_the_panels_use() -> None:
    config = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    assert config["apiVersion"] == 1
    (source,) = config["datasources"]
    assert source["uid"] == dashboards.DATASOURCE_UID == "callpulse-prometheus"
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"


def test_dashboard_provisioning_reads_the_dashboards_directory() -> None:
    config = yaml.safe_load((GRAFANA / "provisioning/dashboards/callpulse.yml").read_text())
    assert config["apiVersion"] == 1
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
