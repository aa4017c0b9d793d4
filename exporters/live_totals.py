"""Window totals with the live agents' time so far, without building a dict per row at every scrape.

The stored totals (exporters/window_totals.py) change only when the worker writes; the time agents have
spent in their current state grows at every scrape. ``merge_live_agents`` (exporters/reader.py) adds that time
into every (owner, window) row: simple, but ~15,000 dict updates per scrape at 1,000 queues. Here the live
time is computed for all agents at once with numpy, one column per window (exporters/live_agents.py), and
``LiveTotals`` merges a row only when somebody reads it; the windowed writer takes the stored rows and the
live columns separately (``state_time``). Reading a ``LiveTotals`` gives exactly what ``merge_live_agents``
would have built.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from processors.figures import agent_key, state_figure
from processors.windows import FixedWindow, WindowSpec

Row = tuple[str, str]  # (owner, window label)
Span = tuple[str, int, int]  # (window label, start ms, end ms)
GROUPS_KEPT = 200_000  # time groups numbered before they are renumbered (see exporters/live_agents.py)


@dataclass(frozen=True)
class LiveAgent:
    """One agent's live state as the worker stores it (``live`` hash), parsed, with what a scrape needs of it."""

    counted: tuple[tuple[str, str], ...]  # (queue, state) it counts in: its memberships, else its team queue
    groups: tuple[int, ...]  # ids (``LiveAgentParser.groups``) of the (owner, state figure) its time goes to
    since_each: tuple[int, ...]  # its state's start, once per group


class LiveAgentParser:
    """Parses live-state JSON and numbers the (owner, state figure) groups time in state is summed by."""

    def __init__(self, *, per_agent: bool) -> None:
        self.per_agent = per_agent
        self.groups: list[tuple[str, str]] = []  # group id -> (owner, state figure)
        self._group_ids: dict[tuple[str, str], int] = {}

    def forget_groups(self) -> None:
        """Start the numbering again (agents parsed before keep ids that no longer mean anything)."""
        self.groups.clear()
        self._group_ids.clear()

    def parse(self, raw_agent: bytes | str, raw: bytes | str) -> LiveAgent:
        state = orjson.loads(raw)
        name, team = state["s"], state["t"]
        counted = tuple((qid, name) for qid in state.get("m") or [team])
        if name == "offline":  # counted, but no time in state
            return LiveAgent(counted, (), ())
        owners = [team]
        if self.per_agent:
            agent_id = raw_agent.decode() if isinstance(raw_agent, bytes) else raw_agent
            owners.append(agent_key(team.split("/")[0], agent_id))
        groups = tuple(self._group_id((owner, state_figure(name))) for owner in owners)
        return LiveAgent(counted, groups, (int(state["since"]),) * len(groups))

    def _group_id(self, group: tuple[str, str]) -> int:
        known = self._group_ids.get(group)
        if known is None:
            known = self._group_ids[group] = len(self.groups)
            self.groups.append(group)
        return known


def spans(now_ms: int, windows: Sequence[WindowSpec], calendar: Sequence[FixedWindow]) -> list[Span]:
    """The part of each window up to now that live time counts in (as ``merge_live_agents``)."""
    out = [(window.label, window.first_bucket(now_ms), now_ms) for window in windows]
    return out + [(window.label, window.start_ms, min(window.end_ms, now_ms)) for window in calendar]


@dataclass
class LiveTime:
    """Time spent so far, per (owner, state) group and window: ``spent[group, span]`` in ms."""

    labels: tuple[str, ...]
    groups: list[tuple[str, str]] = field(default_factory=list)  # (owner, state figure)
    spent: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))

    def by_owner(self) -> dict[str, list[int]]:
        """Owner -> its group indexes."""
        out: dict[str, list[int]] = {}
        for index, (owner, _figure) in enumerate(self.groups):
            out.setdefault(owner, []).append(index)
        return out


def state_time(
    live: LiveTime, qids: Sequence[str], labels: Sequence[str], figures: Sequence[str]
) -> npt.NDArray[np.float64]:
    """Live time per (queue, window) row in ``qids`` x ``labels`` order, one column per state figure."""
    out = np.zeros((len(qids) * len(labels), len(figures)), dtype=np.float64)
    position = {qid: index for index, qid in enumerate(qids)}
    column_of = {figure: index for index, figure in enumerate(figures)}
    chosen = [
        (group, position[owner], column_of[figure])
        for group, (owner, figure) in enumerate(live.groups)
        if owner in position and figure in column_of
    ]
    if not chosen:
        return out
    groups, queue_rows, columns = (np.array(part, dtype=np.intp) for part in zip(*chosen, strict=True))
    for index, label in enumerate(labels):
        if label in live.labels:  # (owner, figure) groups are distinct: no index repeats within one assignment
            out[queue_rows * len(labels) + index, columns] = live.spent[groups, live.labels.index(label)]
    return out


def stored_figures(totals: Mapping[Row, Mapping[str, int]], row: Row) -> Mapping[str, int]:
    """The row's figures without the live agents' time so far (all of them for plain totals): enough for
    every figure but the time in each agent state, without merging the row."""
    if isinstance(totals, LiveTotals):
        return totals.stored.get(row, {})
    return totals.get(row, {})


def owners_of(totals: Mapping[Row, object]) -> AbstractSet[str]:
    """Every owner with a row of ``totals``."""
    return totals.owners() if isinstance(totals, LiveTotals) else {owner for owner, _label in totals}


class LiveTotals(MutableMapping[Row, dict[str, int]]):
    """(owner, window) -> figures: ``stored`` plus ``live`` time, each row merged on first read.

    ``stored`` is not copied and must not change while this is in use; writes go to the merged rows.
    """

    def __init__(
        self,
        stored: Mapping[Row, Mapping[str, int]],
        live: LiveTime,
        versions: Mapping[Row, int] | None = None,
        *,
        stored_owners: frozenset[str] | None = None,
    ) -> None:
        self.stored = stored
        self._stored_owners = stored_owners
        self.live = live
        self.versions = versions  # row -> a number that changes whenever the stored row changes
        self._owner_groups = live.by_owner()
        self._label_column = {label: column for column, label in enumerate(live.labels)}
        self._merged: dict[Row, dict[str, int]] = {}
        self._deleted: set[Row] = set()
        self._live_rows: set[Row] | None = None
        self._owners: AbstractSet[str] | None = None  # ``owners()`` until a row is set or deleted

    def live_rows(self) -> set[Row]:
        """Rows the live time adds a positive amount to (those ``merge_live_agents`` would create)."""
        if self._live_rows is None:
            owners = list(self._owner_groups)
            owner_of_group = np.empty(len(self.live.groups), dtype=np.intp)
            for index, groups in enumerate(self._owner_groups.values()):
                owner_of_group[groups] = index
            per_owner = np.zeros((len(owners), len(self.live.labels)), dtype=np.int64)
            np.add.at(per_owner, owner_of_group, self.live.spent)
            owner_index, label_index = np.nonzero(per_owner > 0)
            self._live_rows = {
                (owners[owner], self.live.labels[label])
                for owner, label in zip(owner_index.tolist(), label_index.tolist(), strict=True)
            }
        return self._live_rows

    def _merge(self, row: Row) -> dict[str, int] | None:
        stored = self.stored.get(row)
        owner, label = row
        groups = self._owner_groups.get(owner, [])
        column = self._label_column.get(label)
        added = {}
        if column is not None:
            for group in groups:
                spent = int(self.live.spent[group, column])
                if spent > 0:
                    added[self.live.groups[group][1]] = spent
        if stored is None and not added:
            return None
        merged = dict(stored or {})
        for figure, spent in added.items():
            merged[figure] = merged.get(figure, 0) + spent
        return merged

    def __getitem__(self, row: Row) -> dict[str, int]:
        merged = self._merged.get(row)
        if merged is None:
            if row in self._deleted or (merged := self._merge(row)) is None:
                raise KeyError(row)
            self._merged[row] = merged
        return merged

    def __setitem__(self, row: Row, value: dict[str, int]) -> None:
        self._owners = None
        self._deleted.discard(row)
        self._merged[row] = value

    def __delitem__(self, row: Row) -> None:
        self[row]
        self._owners = None
        self._merged.pop(row, None)
        self._deleted.add(row)

    def __iter__(self) -> Iterator[Row]:
        seen = set()
        for rows in (self.stored, self.live_rows(), list(self._merged)):
            for row in rows:
                if row not in seen and row not in self._deleted:
                    seen.add(row)
                    yield row

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, row: Any) -> bool:
        if row in self._deleted:
            return False
        return row in self._merged or row in self.stored or row in self.live_rows()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(self.items()) == dict(other.items())

    __hash__ = None  # type: ignore[assignment]

    def owners(self) -> AbstractSet[str]:
        """Every owner with a row."""
        if self._owners is None:
            self._owners = self._find_owners()
        return self._owners

    def _find_owners(self) -> AbstractSet[str]:
        if self._deleted:
            return frozenset(owner for owner, _label in self)
        stored = self._stored_owners
        if stored is None:
            stored = frozenset(owner for owner, _label in self.stored)
        return stored | {owner for part in (self.live_rows(), self._merged) for owner, _label in part}
