"""The text exposition formats written directly: Prometheus text 0.0.4 and OpenMetrics 1.0.0.

prometheus_client spends ~25 µs per sample (a ``Sample`` per value, its labels sorted and escaped at every
scrape); here label strings are built once per series and cached, and values are formatted in bulk. The
bytes are those of ``prometheus_client.generate_latest`` (and of its OpenMetrics twin) for gauge and counter
families without timestamps or exemplars, which is all callpulse exports; tests compare the two.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from isal import isal_zlib
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from exporters.catalog import MetricSpec

GO_PLAIN_BELOW = 1e6
"""``repr`` equals Go's formatting (floatToGoString) for finite values below this; others take the slow path."""


def go_floats(values: npt.NDArray[np.float64]) -> list[str]:
    """Every value as ``floatToGoString`` writes it (``5.0``, ``0.25``, ``1.234567e+06``, ``+Inf``, ``NaN``)."""
    texts = list(map(repr, values.tolist()))
    unusual = np.flatnonzero(~((values > -math.inf) & (values < GO_PLAIN_BELOW)))
    for index in unusual.tolist():
        texts[index] = _go(float(values[index]))
    return texts


def _go(value: float) -> str:
    text: str = floatToGoString(value)  # type: ignore[no-untyped-call]
    return text


GZIP_LEVEL = 1
"""Scrapes of 1,000 queues are ~25 MB of text: level 1 takes a sixth of the time of prometheus_client's 9, and
ISA-L's deflate (python-isal) a sixth of zlib's at level 1, for the same size within a few per cent."""


def gzip_member(chunk: bytes) -> bytes:
    """``chunk`` as one gzip member. A gzip stream may be several members back to back (RFC 1952 section 2.2;
    Go's reader, which Prometheus uses, reads them all), so unchanged chunks keep their compressed bytes."""
    compressor = isal_zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(chunk) + compressor.flush()


def escape_label_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def series_prefix(name: str, names: Sequence[str], values: Sequence[str]) -> str:
    """``name{a="x",b="y"} `` with labels sorted by name, as prometheus_client writes them."""
    if not names:
        return f"{name} "
    pairs = ",".join(f'{key}="{escape_label_value(value)}"' for key, value in sorted(zip(names, values, strict=True)))
    return f"{name}{{{pairs}}} "


def header(name: str, kind: str, help_text: str, *, openmetrics: bool) -> str:
    """``# HELP`` and ``# TYPE`` of a family (``name`` without ``_total`` for counters)."""
    if openmetrics:
        return f"# HELP {name} {escape_label_value(help_text)}\n# TYPE {name} {kind}\n"
    shown = f"{name}_total" if kind == "counter" else name
    escaped = help_text.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {shown} {escaped}\n# TYPE {shown} {kind}\n"


def spec_header(spec: MetricSpec, *, openmetrics: bool) -> str:
    return header(spec.name.removesuffix("_total"), spec.kind, spec.help, openmetrics=openmetrics)


def lines(prefixes: Iterable[str], texts: Iterable[str]) -> str:
    """Sample lines: each prefix followed by its value."""
    body = "\n".join(map(str.__add__, prefixes, texts))
    return f"{body}\n" if body else ""


@dataclass
class Samples:
    """A gauge family's samples (label values in ``spec.labels`` order, values) for ``MetricWriter.write_samples``;
    ``metric()`` gives the prometheus_client family with the same samples, for ``collect()``."""

    spec: MetricSpec
    labels: list[Sequence[str]] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.spec.kind != "gauge":
            raise ValueError(f"{self.spec.name}: Samples holds gauges only, not {self.spec.kind}s")

    def add(self, labels: Sequence[str], value: float) -> None:
        self.labels.append(labels)
        self.values.append(value)

    def metric(self) -> Metric:
        family = GaugeMetricFamily(self.spec.name, self.spec.help, labels=self.spec.labels)
        for labels, value in zip(self.labels, self.values, strict=True):
            family.add_metric(labels, value)
        return family


class MetricWriter:
    """Writes prometheus_client ``Metric`` families (gauges and counters), caching each series' label string."""

    def __init__(self) -> None:
        self._prefixes: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
        self._by_values: dict[tuple[str, tuple[str, ...]], str] = {}
        self._last_series: dict[str, tuple[list[Sequence[str]], list[str]]] = {}  # family -> (labels, prefixes)

    def write(self, metrics: Iterable[Metric], *, openmetrics: bool) -> str:
        parts = []
        for metric in metrics:
            if metric.type not in {"gauge", "counter"}:
                raise ValueError(f"{metric.name}: only gauges and counters are written here, not {metric.type}")
            parts.append(header(metric.name, metric.type, metric.documentation, openmetrics=openmetrics))
            prefixes = [self._prefix(sample.name, tuple(sample.labels.items())) for sample in metric.samples]
            values = np.array([sample.value for sample in metric.samples], dtype=np.float64)
            parts.append(lines(prefixes, go_floats(values)))
        return "".join(parts)

    def write_samples(self, families: Iterable[Samples], *, openmetrics: bool) -> str:
        """The same text as ``write`` of each family's ``metric()``, without building prometheus_client samples."""
        parts = []
        for samples in families:
            spec = samples.spec
            parts.append(header(spec.name, spec.kind, spec.help, openmetrics=openmetrics))
            last = self._last_series.get(spec.name)
            if last is not None and last[0] == samples.labels:  # the usual case: the same series as last scrape
                prefixes = last[1]
            else:
                prefixes = [self._series(spec, tuple(labels)) for labels in samples.labels]
                self._last_series[spec.name] = (samples.labels, prefixes)
            parts.append(lines(prefixes, go_floats(np.array(samples.values, dtype=np.float64))))
        return "".join(parts)

    def _series(self, spec: MetricSpec, values: tuple[str, ...]) -> str:
        key = (spec.name, values)
        prefix = self._by_values.get(key)
        if prefix is None:
            if len(self._by_values) > 1_000_000:
                self._by_values.clear()
            shown = min(len(spec.labels), len(values))  # as prometheus_client, which zips names and values
            prefix = self._by_values[key] = series_prefix(spec.name, spec.labels[:shown], values[:shown])
        return prefix

    def _prefix(self, name: str, items: tuple[tuple[str, str], ...]) -> str:
        key = (name, items)
        prefix = self._prefixes.get(key)
        if prefix is None:
            if len(self._prefixes) > 1_000_000:  # series come and go: never let the cache grow without bound
                self._prefixes.clear()
            prefix = self._prefixes[key] = series_prefix(name, [k for k, _ in items], [v for _, v in items])
        return prefix
