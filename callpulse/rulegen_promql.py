"""PromQL and Go-template text for the queue alerts: one alert, one threshold per queue.

A queue alert judges every tenant/queue/channel by exactly one threshold: the most specific override that
matches it, else the default. It is one alerting rule whose expression is the union (``or``) of one branch
per threshold; each branch subtracts (``unless``) the series that a more specific branch judges, and the
default branch subtracts every override. One rule rather than one per threshold keeps ``promtool check
rules`` free of duplicate-rule lint and lets the annotations name the threshold in force.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from callpulse.rulegen_config import SERIES_LABELS, QueueThresholds

ON = "on (" + ", ".join(SERIES_LABELS) + ")"
BY = "by (" + ", ".join(SERIES_LABELS) + ")"
WHERE = "tenant {{ $labels.tenant }}, queue {{ $labels.queue }}, channel {{ $labels.channel }}"


def format_number(value: float) -> str:
    """A threshold as PromQL and people write it: 60, not 60.0."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def format_percent(ratio: float) -> str:
    """0.08 -> ``8%``, 0.075 -> ``7.5%`` (rounded so that 0.07 is not 7.000000000000001 %)."""
    return format_number(round(ratio * 100, 9)) + "%"


def string(value: str) -> str:
    """A PromQL double-quoted string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def selector(metric: str, matchers: Mapping[str, str]) -> str:
    """``metric{tenant="a", queue="b"}``."""
    if not matchers:
        return metric
    return metric + "{" + ", ".join(f"{name}={string(value)}" for name, value in matchers.items()) + "}"


def series_query(metric: str, aggregate: str = "max", extra: str = "") -> str:
    """A Go-template pipeline querying ``metric`` of the alert's tenant/queue/channel, for annotations.

    ``extra`` adds matchers inside the braces (written as PromQL, e.g. ``window="15m"``).
    """
    inner = "tenant=%q,queue=%q,channel=%q" + ("," + extra if extra else "")
    return f"printf `{aggregate}({metric}{{{inner}}})` $labels.tenant $labels.queue $labels.channel | query"


@dataclass(frozen=True)
class Branch:
    """One threshold of a queue alert: the series it judges and the limit they are judged by."""

    matchers: dict[str, str]  # empty for the default threshold
    threshold: float
    min_offered_contacts: int | None  # None where the alert does not count offered contacts
    min_offered_load_erlangs: float | None  # None where the alert does not weigh the offered load
    excluded: tuple[dict[str, str], ...]  # series judged by a more specific branch
    source: str  # "default threshold" or "override for queue vip"


def branches(section: QueueThresholds) -> list[Branch]:
    """The thresholds in precedence order: most specific override first, the default last.

    A series is judged by the first branch that matches it; in PromQL every branch subtracts the series of
    the more specific branches that overlap it, so the branches are disjoint and their union is the alert.
    """
    ordered = sorted(section.overrides, key=lambda o: -o.specificity)  # stable: config order within a level
    result = [
        Branch(
            matchers=override.matchers,
            threshold=override.threshold,
            min_offered_contacts=override.min_offered_contacts or section.min_offered_contacts,
            min_offered_load_erlangs=override.min_offered_load_erlangs or section.min_offered_load_erlangs,
            excluded=tuple(
                other.matchers
                for other in ordered
                if other.specificity > override.specificity and other.overlaps(override)
            ),
            source=f"override for {override.describe()}",
        )
        for override in ordered
    ]
    result.append(
        Branch(
            matchers={},
            threshold=section.default_threshold,
            min_offered_contacts=section.min_offered_contacts,
            min_offered_load_erlangs=section.min_offered_load_erlangs,
            excluded=tuple(o.matchers for o in ordered),
            source="default threshold",
        )
    )
    return result


@dataclass(frozen=True)
class QueueQuery:
    """What a queue alert compares: ``metric`` (of ``window``) ``comparison`` the branch's threshold.

    With ``minus_metric``, the value compared is ``metric - minus_metric`` (each folded by queue first).
    """

    metric: str
    comparison: str  # ">", "<" or ">="
    window: str | None = None
    offered_metric: str | None = None  # with a branch's min_offered_contacts: the series must have that many
    minus_metric: str | None = None
    load_metric: str | None = None  # with a branch's min_offered_load_erlangs: the series must have that load

    def select(self, matchers: Mapping[str, str], metric: str | None = None) -> str:
        window = {"window": self.window} if self.window else {}
        return selector(metric or self.metric, {**matchers, **window})


def branch_expr(query: QueueQuery, branch: Branch) -> str:
    """The series of ``branch`` over (or under) its threshold, and with enough offered contacts if needed.

    ``max by (tenant, queue, channel)`` gives one series per queue whatever the number of exporter
    replicas (and drops instance/job/window from the alert's labels).
    """
    value = f"max {BY} ({query.select(branch.matchers)})"
    if query.minus_metric:
        value += f" - max {BY} ({query.select(branch.matchers, query.minus_metric)})"
    lines = [f"{value} {query.comparison} {format_number(branch.threshold)}"]
    if query.offered_metric and branch.min_offered_contacts is not None:
        offered = f"max {BY} ({query.select(branch.matchers, query.offered_metric)})"
        lines.append(f"and {ON} {offered} >= {branch.min_offered_contacts}")
    if query.load_metric and branch.min_offered_load_erlangs is not None:
        load = f"max {BY} ({query.select(branch.matchers, query.load_metric)})"
        lines.append(f"and {ON} {load} >= {format_number(branch.min_offered_load_erlangs)}")
    lines += [f"unless {ON} {query.select(other)}" for other in branch.excluded]
    return "\n".join(lines)


def union_expr(query: QueueQuery, section: QueueThresholds) -> str:
    """The alert's expression: the union (``or``) of the disjoint branches."""
    parts = [branch_expr(query, branch) for branch in branches(section)]
    if len(parts) == 1:
        return parts[0]
    return "\nor\n".join("(\n" + indent(part) + "\n)" for part in parts)


def indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def threshold_template(section: QueueThresholds, shown: Callable[[Branch], str]) -> str:
    """A Go template that prints ``shown(branch)`` for the branch that judges the alerting series."""
    out = ""
    for branch in branches(section):
        text = shown(branch)
        if not branch.matchers:
            out += ("{{ else }}" if out else "") + text + ("{{ end }}" if out else "")
            break
        tests = [f'(eq $labels.{name} "{value}")' for name, value in branch.matchers.items()]
        cond = tests[0][1:-1] if len(tests) == 1 else "and " + " ".join(tests)
        out += ("{{ else if " if out else "{{ if ") + cond + " }}" + text
    return out


def kebab(alert: str) -> str:
    """``QueueLongestWaitHigh`` -> ``queue-longest-wait-high``: the runbook's file name, without ``.md``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", alert).lower()


class Section(Protocol):
    """What every section of alerts.yaml has."""

    @property
    def for_(self) -> str: ...

    @property
    def severity(self) -> str: ...


def alert_rule(
    alert: str, expr: str, section: Section, *, summary: str, description: str, runbook_base_url: str
) -> dict[str, Any]:
    """One alerting rule as Prometheus reads it, linking to ``<runbook_base_url>/<kebab-case-alert>.md``."""
    return {
        "alert": alert,
        "expr": expr,
        "for": section.for_,
        "labels": {"severity": section.severity},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": f"{runbook_base_url}/{kebab(alert)}.md",
        },
    }
