"""Metric declarations: one module, Prometheus naming conventions, and a catalogue page that is never stale."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exporters import catalog

ROOT = Path(__file__).resolve().parents[2]


def test_docs_metrics_md_is_generated_from_the_catalog() -> None:
    page = (ROOT / "docs" / "metrics.md").read_text()
    assert page == catalog.render_markdown(), "docs/metrics.md is stale: python -m exporters.catalog > docs/metrics.md"


@pytest.mark.parametrize("spec", catalog.ALL, ids=lambda spec: spec.name)
def test_names_follow_prometheus_conventions(spec: catalog.MetricSpec) -> None:
    assert re.fullmatch(r"callpulse_[a-z_]+", spec.name)
    assert spec.name.endswith("_total") == (spec.kind == "counter")
    if spec.unit == "seconds":
        assert spec.name.endswith("_seconds")
    if spec.unit == "ratio":
        assert spec.name.endswith("_ratio")
    assert set(spec.labels) <= {
        "tenant",
        "queue",
        "channel",
        "window",
        "state",
        "stream",
        "reason",
        "agent",
        "survey",
        "variant",
        "model",
    }
    assert spec.help.endswith(".")


def test_names_are_unique() -> None:
    names = [spec.name for spec in catalog.ALL]
    assert len(names) == len(set(names))
