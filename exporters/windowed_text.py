"""The windowed per-queue families (~37 series per queue and window) written straight to the text format.

Same series, values and order as ``queue_metrics.windowed`` (the prometheus_client version, kept for
``collect()``), far faster: the KPIs are computed over columns (exporters/columns.py), every series'
``name{labels} `` string is built once per queue, each family's text is a ``%s`` template filled with all its
values in one call (rebuilt only when which samples are present changes), and a family whose values did not
change since the last scrape is served from the chunk written then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import compress

import numpy as np
import numpy.typing as npt

from exporters import catalog, columns
from exporters.catalog import MetricSpec
from exporters.exposition import go_floats, gzip_member, series_prefix, spec_header
from exporters.live_totals import LiveTotals, Row, owners_of, state_time
from exporters.reader import Snapshot
from exporters.view import KpiView
from processors.figures import state_figure
from processors.formulas import ServiceLevelVariant

WINDOWED_SPECS: tuple[MetricSpec, ...] = tuple(
    spec for spec in catalog.ALL if spec.labels[: len(catalog.WINDOWED)] == catalog.WINDOWED
)
VARIANT_INDEX = {variant: index for index, variant in enumerate(ServiceLevelVariant)}
STATE_FIGURES = tuple(state_figure(state) for state in columns.STATES)
STATE_COLUMNS = [columns.FIELDS.index(figure) for figure in STATE_FIGURES]


class StoredColumns:
    """The stored figures of a list of rows as a matrix, rebuilding only the rows whose version changed."""

    def __init__(self) -> None:
        self._rows: list[Row] = []
        self._versions: list[int | None] = []
        self._matrix = columns.field_matrix([])
        self._wait_max = np.zeros(0, dtype=np.float64)

    def update(
        self, rows: list[Row], stored: Mapping[Row, Mapping[str, int]], versions: Mapping[Row, int]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(one row of figures per row, one column per ``columns.FIELDS``; the maximum waits, NaN where absent)."""
        if rows != self._rows:
            self._rows, self._versions = rows, [None] * len(rows)
            self._matrix = np.zeros((len(rows), len(columns.FIELDS)), dtype=np.float64)
            self._wait_max = np.full(len(rows), np.nan, dtype=np.float64)
        now = [versions.get(row) for row in rows]
        changed = [index for index, (old, new) in enumerate(zip(self._versions, now, strict=True)) if old != new]
        if changed:
            figures = [stored.get(rows[index], {}) for index in changed]
            self._matrix[changed] = columns.field_matrix(figures)
            self._wait_max[changed] = [row.get(columns.MAX_FIELD, np.nan) for row in figures]
            self._versions = now
        return self._matrix, self._wait_max


@dataclass
class _Rendered:
    """One family's last values and the chunk written from them."""

    values: npt.NDArray[np.float64]
    present: npt.NDArray[np.bool_]
    chunk: bytes
    gzipped: bytes | None = None  # the chunk as a gzip member, once asked for

    def member(self) -> bytes:
        if self.gzipped is None:
            self.gzipped = gzip_member(self.chunk)
        return self.gzipped


@dataclass
class _Template:
    """The family's text with ``%s`` where each present sample's value goes, for one presence mask."""

    present: npt.NDArray[np.bool_]
    text: str


class WindowedWriter:
    """Writes the windowed families of a snapshot, keeping label strings per queue and the last chunks."""

    def __init__(self) -> None:
        self._queue_prefixes: dict[tuple[str, tuple[str, ...]], dict[MetricSpec, list[str]]] = {}
        self._key: tuple[tuple[str, ...], tuple[str, ...]] | None = None
        self._prefixes: dict[MetricSpec, list[str]] = {}
        self._templates: dict[tuple[MetricSpec, bool], _Template] = {}
        self._rendered: dict[tuple[MetricSpec, bool], _Rendered] = {}
        self._stored = StoredColumns()

    def write(self, snapshot: Snapshot, view: KpiView, *, openmetrics: bool, gzip: bool = False) -> list[bytes]:
        """One chunk per family (header and samples), in catalogue order; each a gzip member if ``gzip``."""
        totals = snapshot.totals
        qids = tuple(sorted(qid for qid in owners_of(totals) if not qid.startswith("@")))
        labels = view.window_labels
        variants = np.array([VARIANT_INDEX[view.variant_for(qid)] for qid in qids], dtype=np.intp).repeat(len(labels))
        families = columns.kpis(
            self._columns(snapshot, qids, labels), include_timeouts=view.offered_includes_timeouts, variants=variants
        )
        if self._key != (qids, labels):
            self._relayout(qids, labels, {spec: extra for spec, (extra, _kpis) in families.items()})
        chunks = []
        for spec in WINDOWED_SPECS:
            _extras, kpis = families[spec]
            values = np.stack([value for value, _present in kpis], axis=1).ravel()
            present = np.stack([mask for _value, mask in kpis], axis=1).ravel()
            rendered = self._rendered_family(spec, values, present, openmetrics=openmetrics)
            chunks.append(rendered.member() if gzip else rendered.chunk)
        return chunks

    def _columns(self, snapshot: Snapshot, qids: tuple[str, ...], labels: tuple[str, ...]) -> columns.Columns:
        """The figures of every (queue, window) row; from the stored rows that changed and the live time when
        the reader gave ``LiveTotals`` with row versions, else from every row."""
        totals = snapshot.totals
        if not isinstance(totals, LiveTotals) or totals.versions is None:
            return columns.Columns([totals.get((qid, label), {}) for qid in qids for label in labels])
        matrix, wait_max = self._stored.update(
            [(qid, label) for qid in qids for label in labels], totals.stored, totals.versions
        )
        with_live = matrix.copy()
        with_live[:, STATE_COLUMNS] += state_time(totals.live, qids, labels, STATE_FIGURES)
        return columns.Columns.of(with_live, wait_max)

    def _relayout(self, qids: tuple[str, ...], labels: tuple[str, ...], extras: dict[MetricSpec, list[str]]) -> None:
        """Prefixes of every sample in output order (queue, window, extra label); forget the last chunks."""
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
        self._templates, self._rendered = {}, {}
        self._key = (qids, labels)

    def _rendered_family(
        self, spec: MetricSpec, values: npt.NDArray[np.float64], present: npt.NDArray[np.bool_], *, openmetrics: bool
    ) -> _Rendered:
        """The family's chunk: the last one when no value changed, else its template filled in one call."""
        last = self._rendered.get((spec, openmetrics))
        if (
            last is not None
            and np.array_equal(present, last.present)
            and np.array_equal(values[present], last.values[present])
        ):
            return last
        template = self._template(spec, present, openmetrics=openmetrics)
        rendered = _Rendered(values, present, (template.text % tuple(go_floats(values[present]))).encode())
        self._rendered[(spec, openmetrics)] = rendered
        return rendered

    def _template(self, spec: MetricSpec, present: npt.NDArray[np.bool_], *, openmetrics: bool) -> _Template:
        """Header, then each present sample's ``\\nname{labels} %s``; '%' in label values doubled."""
        template = self._templates.get((spec, openmetrics))
        if template is None or not np.array_equal(template.present, present):
            samples = "".join(
                prefix.replace("%", "%%") + "%s" for prefix in compress(self._prefixes[spec], present.tolist())
            )
            header = spec_header(spec, openmetrics=openmetrics)[:-1].replace("%", "%%")
            template = self._templates[(spec, openmetrics)] = _Template(present, f"{header}{samples}\n")
        return template
