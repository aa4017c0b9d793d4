"""The direct writers (exporters/windowed_text.py, exporters/exposition.py) give the bytes prometheus_client
gives for the same snapshot, in both formats, scrape after scrape (their caches reuse unchanged lines)."""

from __future__ import annotations

import math
import shutil
import subprocess
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest
from prometheus_client.core import Metric
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString

from exporters import queue_metrics, staffing_metrics
from exporters.exposition import MetricWriter, go_floats
from exporters.reader import Snapshot
from exporters.view import KpiView
from exporters.windowed_text import WindowedWriter
from processors.figures import Figure, MaxFigure, state_figure
from processors.formulas import ServiceLevelVariant
from processors.windows import WindowSpec

MINUTE = 60_000
NOW = 29_000_000 * MINUTE + 30_000
VIEW = KpiView(
    windows=tuple(WindowSpec(minutes * MINUTE, MINUTE) for minutes in (5, 15, 60)),
    service_level_variant=ServiceLevelVariant.ABANDONS_AGAINST,
    offered_includes_timeouts=True,
    service_level_seconds={"voice": 20.0, "chat": 60.0},
    service_level_variants={"sales/chat": ServiceLevelVariant.ABANDONS_IGNORED},
)
FIGURES = [
    *(figure.value for figure in Figure),
    *(state_figure(s) for s in ("available", "on_contact", "wrapup", "aux")),
]
QIDS = ["acme/sales/voice", "acme/sales/chat", 'we\\ird/q"ue\nue/voice', "p%s/100%/chat", "@acme/a1"]


class _Families:
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> list[Metric]:
        return self.metrics


def _snapshot(rows: dict[tuple[str, str], dict[str, int]]) -> Snapshot:
    snapshot = Snapshot(now_ms=NOW, totals=rows, agents=Counter())
    for qid, _label in rows:
        snapshot.waiting[qid] = (2, NOW - 61_000)
        snapshot.agents[(qid, "available")] += 1
    return snapshot


totals = st.dictionaries(
    st.sampled_from([*FIGURES, MaxFigure.WAIT_MAX_MS.value]),
    st.one_of(st.integers(-5, 40), st.integers(0, 10**13)),
    max_size=12,
)
snapshots = st.builds(
    _snapshot,
    st.dictionaries(st.tuples(st.sampled_from(QIDS), st.sampled_from(VIEW.window_labels)), totals, max_size=10),
)


def _direct(writer: WindowedWriter, metrics: MetricWriter, snapshot: Snapshot, *, openmetrics: bool) -> str:
    samples = [*queue_metrics.live_samples(snapshot, VIEW), *staffing_metrics.staffing_samples(snapshot, VIEW)]
    chunks = writer.write(snapshot, VIEW, openmetrics=openmetrics)
    body = b"".join(chunks).decode() + metrics.write_samples(samples, openmetrics=openmetrics)
    return body + ("# EOF\n" if openmetrics else "")


def _reference(snapshot: Snapshot, *, openmetrics: bool) -> str:
    families = [
        *queue_metrics.windowed(snapshot, VIEW),
        *queue_metrics.live(snapshot, VIEW),
        *staffing_metrics.staffing_families(snapshot, VIEW),
    ]
    encode = generate_openmetrics if openmetrics else generate_latest
    return encode(_Families(families)).decode()  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(scrapes=st.lists(snapshots, min_size=1, max_size=4))
def test_text_format_is_the_bytes_of_prometheus_client_scrape_after_scrape(scrapes: list[Snapshot]) -> None:
    writer, metrics = WindowedWriter(), MetricWriter()
    for snapshot in scrapes:
        assert _direct(writer, metrics, snapshot, openmetrics=False) == _reference(snapshot, openmetrics=False)


@settings(max_examples=40, deadline=None)
@given(scrapes=st.lists(snapshots, min_size=1, max_size=3))
def test_openmetrics_is_the_bytes_of_prometheus_client(scrapes: list[Snapshot]) -> None:
    writer, metrics = WindowedWriter(), MetricWriter()
    for snapshot in scrapes:
        assert _direct(writer, metrics, snapshot, openmetrics=True) == _reference(snapshot, openmetrics=True)


def _samples(families: Any) -> set[tuple[str, frozenset[tuple[str, str]], str]]:
    return {
        (sample.name, frozenset(sample.labels.items()), repr(sample.value))
        for family in families
        for sample in family.samples
    }


def test_parsed_samples_are_the_same_in_both_formats() -> None:
    snapshot = _snapshot(
        {
            (qid, label): {figure: 3 + index for index, figure in enumerate(FIGURES)}
            for qid in QIDS
            for label in ("5m", "today")
        }
    )
    text = _direct(WindowedWriter(), MetricWriter(), snapshot, openmetrics=False)
    reference = _reference(snapshot, openmetrics=False)
    assert _samples(text_string_to_metric_families(text)) == _samples(text_string_to_metric_families(reference))
    openmetrics = _direct(WindowedWriter(), MetricWriter(), snapshot, openmetrics=True)
    assert _samples(parse_openmetrics(openmetrics)) == _samples(text_string_to_metric_families(reference))


@pytest.mark.parametrize(
    "value",
    [
        0.0,
        -0.0,
        5.0,
        0.1,
        1 / 3,
        999_999.9,
        1e6,
        1_234_567.0,
        12_345_678.5,
        1e16,
        1e22,
        -1e7,
        1e-7,
        math.inf,
        -math.inf,
        math.nan,
    ],
)
def test_values_are_formatted_as_prometheus_client_does(value: float) -> None:
    assert go_floats(np.array([value, 2.5])) == [floatToGoString(value), "2.5"]


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=20))
def test_any_float_is_formatted_as_prometheus_client_does(values: list[float]) -> None:
    assert go_floats(np.array(values, dtype=np.float64)) == [floatToGoString(value) for value in values]


def test_promtool_accepts_the_direct_output() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (apt-get install prometheus)")
    snapshot = _snapshot({(qid, label): dict.fromkeys(FIGURES, 3) for qid in QIDS for label in ("5m", "today")})
    text = _direct(WindowedWriter(), MetricWriter(), snapshot, openmetrics=False)
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
