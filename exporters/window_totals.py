"""Window totals kept by difference: (owner, window) -> figure -> value, from the cached periods of every
partition, updated with only what changed between two scrapes.

Each figure also counts the periods that hold its field, so a row or figure exists exactly when
``read_snapshot`` would create it (some period of the window has the field), even with a value of 0.
Sums take new - old. A maximum (``max(0, values...)`` as ``read_snapshot`` merges them) is raised in place,
and recomputed from the cached periods only when a period holding the current maximum leaves the window.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from itertools import count

from streams.redis_keys import PartitionKeys, split_figure_field

Contents = dict[str, int]  # field ``<owner>|<figure>`` -> value
Row = tuple[str, str]  # (owner, window label)
Caches = Mapping[PartitionKeys, Mapping[str, Contents]]  # partition -> period name -> contents
_VERSIONS = count(1)  # one sequence for every instance: a (row, version) pair is never reused


class WindowTotals:
    def __init__(self, is_maxima: Callable[[str], bool]) -> None:
        self.is_maxima = is_maxima
        self.rows: dict[Row, dict[str, int]] = {}
        self.refs: dict[Row, dict[str, int]] = {}
        self._split: dict[str, tuple[str, str]] = {}
        self._recompute: set[tuple[str, str]] = set()  # (label, field) whose maximum must be recomputed
        self.versions: dict[Row, int] = {}  # changes whenever the row's figures change
        self._shared: set[Row] = set()  # rows handed out by ``shared_rows`` and not copied since
        self._owners: frozenset[str] | None = None  # owners of ``rows``, until a row comes or goes

    def copy_rows(self) -> dict[Row, dict[str, int]]:
        """A copy the caller may change (live agents' time is added to it)."""
        return {row: dict(figures) for row, figures in self.rows.items()}

    def shared_rows(self) -> tuple[dict[Row, dict[str, int]], dict[Row, int], frozenset[str]]:
        """The rows, their versions and their owners, without copying each row; the caller must not change
        them. Later updates copy a row before changing it, so what was handed out stays as it was."""
        self._shared = set(self.rows)
        if self._owners is None:
            self._owners = frozenset(owner for owner, _label in self.rows)
        return dict(self.rows), dict(self.versions), self._owners

    def _writable(self, row: Row) -> dict[str, int]:
        """The row's figures, copied first if they were handed out; a new version either way."""
        figures = self.rows.get(row)
        if figures is None:
            figures = self.rows[row] = {}
            self._owners = None
        elif row in self._shared:
            figures = self.rows[row] = dict(figures)
            self._shared.discard(row)
        self.versions[row] = next(_VERSIONS)
        return figures

    def update(
        self,
        *,
        old: Caches,
        new: Caches,
        old_membership: Mapping[str, frozenset[str]],
        new_membership: Mapping[str, frozenset[str]],
    ) -> None:
        """Move from the totals of (``old`` caches, ``old_membership``) to those of the new ones."""
        for keys in old.keys() | new.keys():
            before, after = old.get(keys, {}), new.get(keys, {})
            for label in old_membership.keys() | new_membership.keys():
                was = old_membership.get(label, frozenset()) & before.keys()
                now = new_membership.get(label, frozenset()) & after.keys()
                for name in was - now:
                    self._apply(label, name, before[name], {})
                for name in now - was:
                    self._apply(label, name, {}, after[name])
                for name in was & now:
                    if before[name] is not after[name]:
                        self._apply(label, name, before[name], after[name])
        for label, raw_field in self._recompute:
            names = new_membership.get(label, frozenset())
            values = [
                periods[name][raw_field]
                for periods in new.values()
                for name in names & periods.keys()
                if self.is_maxima(name) and raw_field in periods[name]
            ]
            owner, figure = self._fields(raw_field)
            row = (owner, label)
            if values and figure in self.rows.get(row, {}):
                self._writable(row)[figure] = max(0, *values)
        self._recompute.clear()

    def _fields(self, raw_field: str) -> tuple[str, str]:
        split = self._split.get(raw_field)
        if split is None:
            if len(self._split) > 1_000_000:
                self._split.clear()
            split = self._split[raw_field] = split_figure_field(raw_field)
        return split

    def _apply(self, label: str, name: str, before: Contents, after: Contents) -> None:
        maxima = self.is_maxima(name)
        for raw_field in before.keys() | after.keys():
            old, new = before.get(raw_field), after.get(raw_field)
            owner, figure = self._fields(raw_field)
            row = (owner, label)
            if old is None:  # the field enters the window
                figures, refs = self._writable(row), self.refs.setdefault(row, {})
                refs[figure] = refs.get(figure, 0) + 1
                figures[figure] = (
                    max(figures.get(figure, 0), new or 0) if maxima else figures.get(figure, 0) + (new or 0)
                )
            elif new is None:  # the field leaves the window
                self._remove(row, figure, (label, raw_field), old, maxima=maxima)
            elif maxima:
                current = self.rows[row][figure]
                if new > current:
                    self._writable(row)[figure] = new
                elif new < current and old >= current:  # went down (only after a rewrite): may be elsewhere
                    self._recompute.add((label, raw_field))
            elif new != old:
                self._writable(row)[figure] += new - old

    def _remove(self, row: Row, figure: str, where: tuple[str, str], old: int, *, maxima: bool) -> None:
        """One period fewer holds the field (``where``: label, field) in the row."""
        refs = self.refs[row]
        refs[figure] -= 1
        if refs[figure] == 0:
            del refs[figure], self._writable(row)[figure]
            if not refs:
                del self.refs[row], self.rows[row], self.versions[row]
                self._shared.discard(row)
                self._owners = None
        elif maxima:
            if old >= self.rows[row][figure]:
                self._recompute.add(where)
        elif old:
            self._writable(row)[figure] -= old
