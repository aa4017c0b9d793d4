"""The windowed per-queue families (~37 series per queue and window) written straight to the text format.

Same series, values and order as ``queue_metrics.windowed`` (the prometheus_client version, kept for
``collect()``), far faster: the KPIs are computed over columns (exporters/columns.py), every series'
``name{labels} `` string is built once per queue, and a sample line is formatted again only when its value
changed since the last scrape.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from exporters import catalog, columns
from exporters.catalog import MetricSpec
from exporters.exposition import go_floats, series_prefix, spec_header
from exporters.reader import Snapshot
from exporters.view import KpiView
from processors.formulas import ServiceLevelVariant

WINDOWED_SPECS: tuple[MetricSpec, ...] = tuple(
    spec for spec in catalog.ALL if spec.labels[: len(catalog.WINDOWED)] == catalog.WINDOWED
)
VARIANT_INDEX = {variant: index for index, variant in enumerate(ServiceLevelVariant)}


@dataclass
class _Rendered:
    """One family's last values and sample lines ("\\nname{labels} value", "" where absent)."""

    values: npt.NDArray[np.float64]
    present: npt.NDArray[np.bool_]
    lines: list[str]


class WindowedWriter:
    """Writes the windowed families of a snapshot, keeping label strings per queue and the last lines."""

    def __init__(self) -> None:
        self._queue_prefixes: dict[tuple[str, tuple[str, ...]], dict[MetricSpec, list[str]]] = {}
        self._key: tuple[tuple[str, ...], tuple[str, ...]] | None = None
        self._prefixes: dict[MetricSpec, list[str]] = {}
        self._rendered: dict[MetricSpec, _Rendered] = {}

    def write(self, snapshot: Snapshot, view: KpiView, *, openmetrics: bool) -> list[bytes]:
        """One chunk per family (header and samples), in catalogue order."""
        qids = tuple(sorted({qid for qid, _ in snapshot.totals if not qid.startswith("@")}))
        labels = view.window_labels
        rows = [snapshot.totals.get((qid, label), {}) for qid in qids for label in labels]
        variants = np.array([VARIANT_INDEX[view.variant_for(qid)] for qid in qids], dtype=np.intp).repeat(len(labels))
        families = columns.kpis(
            columns.Columns(rows), include_timeouts=view.offered_includes_timeouts, variants=variants
        )
        if self._key != (qids, labels):
            self._relayout(qids, labels, {spec: extra for spec, (extra, _kpis) in families.items()})
        chunks = []
        for spec in WINDOWED_SPECS:
            _extras, kpis = families[spec]
            values = np.stack([value for value, _present in kpis], axis=1).ravel()
            present = np.stack([mask for _value, mask in kpis], axis=1).ravel()
            sample_lines = "".join(self._lines(spec, values, present))
            chunks.append(f"{spec_header(spec, openmetrics=openmetrics)[:-1]}{sample_lines}\n".encode())
        return chunks

    def _relayout(self, qids: tuple[str, ...], labels: tuple[str, ...], extras: dict[MetricSpec, list[str]]) -> None:
        """Prefixes of every sample in output order (queue, window, extra label); forget the last lines."""
        known = self._queue_prefixes
        self._queue_prefixes = {}
        for qid in qids:
            key = (qid, labels)
            self._queue_prefixes[key] = known.get(key) or {
                spec: [
                    "\n" + series_prefix(spec.name, spec.labels, [*qid.split("/"), label, *([extra] if extra else [])])
                    for label in labels
                    for extra in extras[spec]
                ]
                for spec in WINDOWED_SPECS
            }
        self._prefixes = {
            spec: [prefix for qid in qids for prefix in self._queue_prefixes[(qid, labels)][spec]]
            for spec in WINDOWED_SPECS
        }
        self._rendered = {}
        self._key = (qids, labels)

    def _lines(self, spec: MetricSpec, values: npt.NDArray[np.float64], present: npt.NDArray[np.bool_]) -> list[str]:
        """The family's sample lines, formatting again only the values that changed since the last scrape."""
        prefixes = self._prefixes[spec]
        last = self._rendered.get(spec)
        changed = None if last is None else np.flatnonzero((values != last.values) | (present != last.present))
        if last is None or changed is None or len(changed) * 4 > len(values):
            out = list(map(str.__add__, prefixes, go_floats(values)))
            for index in np.flatnonzero(~present).tolist():
                out[index] = ""
        else:
            out = last.lines.copy()
            for index, shown, text in zip(
                changed.tolist(), present[changed].tolist(), go_floats(values[changed]), strict=True
            ):
                out[index] = prefixes[index] + text if shown else ""
        self._rendered[spec] = _Rendered(values, present, out)
        return out
