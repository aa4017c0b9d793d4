"""Every PromQL query of a dashboard, runnable as is against Prometheus: ``panel_queries``.

Template variables are replaced by a regex that matches every label value, which is only right inside a
``=~`` matcher; a variable anywhere else is an error. Grafana's interval variables become fixed durations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

MATCH_ALL = ".+"
DURATIONS: Mapping[str, str] = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}

# $name, ${name}, ${name:format} and [[name]]; a name starts with a letter or _, so "$1" is not one
_VARIABLE = re.compile(r"\$\{([A-Za-z_]\w*)(?::\w+)?\}|\$([A-Za-z_]\w*)|\[\[([A-Za-z_]\w*)(?::\w+)?\]\]")
_REGEX_MATCHER = re.compile(r'=~\s*"((?:[^"\\]|\\.)*)"')


class QueryError(ValueError):
    """A panel query uses a variable that cannot be substituted."""


def _name(match: re.Match[str]) -> str:
    return next(group for group in match.groups() if group is not None)


def substitute(expr: str, variables: set[str], durations: Mapping[str, str] = DURATIONS) -> str:
    """``expr`` with each of ``variables`` inside a ``=~"..."`` matcher replaced by ``.+`` and Grafana's
    interval variables by ``durations``. Raises QueryError when any other ``$variable`` is left."""

    def in_matcher(match: re.Match[str]) -> str:
        value = _VARIABLE.sub(lambda v: MATCH_ALL if _name(v) in variables else v.group(0), match.group(1))
        return f'=~"{value}"'

    result = _REGEX_MATCHER.sub(in_matcher, expr)
    result = _VARIABLE.sub(lambda v: durations.get(_name(v), v.group(0)), result)
    if left := _VARIABLE.search(result):
        where = "a variable used outside a =~ matcher" if _name(left) in variables else "an unknown variable"
        raise QueryError(f"{left.group(0)} in {expr!r} is {where}")
    return result


def _panels(panels: list[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for panel in panels:
        if panel.get("type") == "row":
            yield from _panels(panel.get("panels") or [])
        else:
            yield panel


def panel_queries(
    dashboard_json: str | Mapping[str, Any], durations: Mapping[str, str] = DURATIONS
) -> list[tuple[str, str]]:
    """(panel title, PromQL expr) of every query of every panel, rows' panels included, in layout order,
    with the dashboard's template variables matching everything. ``dashboard_json``: JSON text or parsed."""
    board: Mapping[str, Any] = json.loads(dashboard_json) if isinstance(dashboard_json, str) else dashboard_json
    variables = {variable["name"] for variable in (board.get("templating") or {}).get("list") or []}
    queries = []
    for panel in _panels(board.get("panels") or []):
        title = str(panel.get("title", ""))
        for target in panel.get("targets") or []:
            if target.get("expr"):
                try:
                    queries.append((title, substitute(str(target["expr"]), variables, durations)))
                except QueryError as exc:
                    raise QueryError(f"panel {title!r}: {exc}") from exc
    return queries
