"""The alert configuration, ``deploy/prometheus/alerts.yaml``: its sections, validated into dataclasses.

Every section is required and so is every number in it: alerts.yaml is the one place where thresholds live,
and the generator has no defaults of its own. A bad value raises ``ConfigError`` naming the field
(``service_level.overrides[0].target_ratio: ...``) and what would be accepted.

The queue sections (``longest_wait``, ``service_level``, ``abandon_rate``, ``agent_occupancy``,
``understaffed``) share one shape: a default threshold, ``for``, ``severity`` and per-queue ``overrides``;
``QueueSectionSpec`` says what differs between them (the threshold's key and unit, whether a window, a
minimum of offered contacts or a minimum of offered load applies).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from callpulse import rulegen_values as check
from callpulse.rulegen_values import SEVERITIES, ConfigError
from processors.events import AgentState
from streams.redis_keys import STREAMS

__all__ = ["SEVERITIES", "ConfigError"]

SERIES_LABELS = ("tenant", "queue", "channel")
CHANNELS = ("voice", "chat", "email", "social")
AGENT_STATES = tuple(state.value for state in AgentState if state is not AgentState.OFFLINE)


@dataclass(frozen=True)
class QueueSectionSpec:
    """How one queue section of alerts.yaml is spelled and checked."""

    section: str  # the key in alerts.yaml
    threshold_key: str  # the key of an override's threshold; the section's is "default_" + this
    unit: Literal["seconds", "ratio", "agents"]
    comparison: Literal[">", "<", ">="]  # the alert fires when the value is <comparison> the threshold
    windowed: bool  # the section names the sliding window it reads (key ``window``)
    min_offered: bool  # the section (and each override) needs enough offered contacts to judge
    min_load: bool = False  # the section (and each override) needs enough offered load (key ``MIN_LOAD_KEY``)

    @property
    def default_key(self) -> str:
        return "default_" + self.threshold_key


LONGEST_WAIT = QueueSectionSpec("longest_wait", "threshold_seconds", "seconds", ">", windowed=False, min_offered=False)
SERVICE_LEVEL = QueueSectionSpec("service_level", "target_ratio", "ratio", "<", windowed=True, min_offered=True)
ABANDON_RATE = QueueSectionSpec("abandon_rate", "threshold_ratio", "ratio", ">", windowed=True, min_offered=True)
AGENT_OCCUPANCY = QueueSectionSpec("agent_occupancy", "threshold_ratio", "ratio", ">", windowed=True, min_offered=False)
UNDERSTAFFED = QueueSectionSpec(
    "understaffed", "shortfall_agents", "agents", ">=", windowed=False, min_offered=False, min_load=True
)
QUEUE_SECTIONS = (LONGEST_WAIT, SERVICE_LEVEL, ABANDON_RATE, AGENT_OCCUPANCY, UNDERSTAFFED)
MIN_LOAD_KEY = "min_offered_load_erlangs"


@dataclass(frozen=True)
class Override:
    """A threshold for the series that match ``queue`` (and ``tenant``/``channel`` when given)."""

    queue: str
    threshold: float
    tenant: str | None = None
    channel: str | None = None
    min_offered_contacts: int | None = None  # None: the section's
    min_offered_load_erlangs: float | None = None  # None: the section's

    @property
    def matchers(self) -> dict[str, str]:
        """The labels this override pins, in the order tenant, queue, channel."""
        given = {"tenant": self.tenant, "queue": self.queue, "channel": self.channel}
        return {name: value for name, value in given.items() if value is not None}

    @property
    def specificity(self) -> int:
        return len(self.matchers)

    def overlaps(self, other: Override) -> bool:
        """Whether some tenant/queue/channel matches both overrides."""
        mine, theirs = self.matchers, other.matchers
        return all(mine[name] == theirs[name] for name in mine.keys() & theirs.keys())

    def describe(self) -> str:
        return ", ".join(f"{name} {value}" for name, value in self.matchers.items())


@dataclass(frozen=True)
class QueueThresholds:
    """A queue section: each tenant/queue/channel is judged by its most specific override, else the default."""

    default_threshold: float
    for_: str
    severity: str
    overrides: tuple[Override, ...] = ()
    window: str | None = None  # windowed sections only
    min_offered_contacts: int | None = None  # min_offered sections only
    min_offered_load_erlangs: float | None = None  # min_load sections only


@dataclass(frozen=True)
class NoAgentsAvailable:
    for_: str
    severity: str
    available_states: tuple[str, ...]  # an agent in one of these states can take a waiting contact


@dataclass(frozen=True)
class ExporterDown:
    for_: str
    severity: str
    job_regex: str  # the scrape jobs of callpulse, matched against label ``job`` of ``up``


@dataclass(frozen=True)
class ExporterRedisDown:
    for_: str
    severity: str


@dataclass(frozen=True)
class WorkerLagging:
    for_: str
    severity: str
    threshold_seconds: float


@dataclass(frozen=True)
class NoEvents:
    for_: str
    severity: str
    stream: str


@dataclass(frozen=True)
class DeadLetters:
    for_: str
    severity: str
    threshold_per_second: float


@dataclass(frozen=True)
class AlertsConfig:
    """The whole of alerts.yaml."""

    runbook_base_url: str
    longest_wait: QueueThresholds
    service_level: QueueThresholds
    abandon_rate: QueueThresholds
    agent_occupancy: QueueThresholds
    understaffed: QueueThresholds
    no_agents_available: NoAgentsAvailable
    exporter_down: ExporterDown
    exporter_redis_down: ExporterRedisDown
    worker_lagging: WorkerLagging
    no_events: NoEvents
    dead_letters: DeadLetters

    def queue_section(self, spec: QueueSectionSpec) -> QueueThresholds:
        section: QueueThresholds = getattr(self, spec.section)
        return section


def _threshold(spec: QueueSectionSpec, value: object, where: str) -> float:
    if spec.unit == "seconds":
        return check.seconds(value, where)
    if spec.unit == "agents":
        return check.agents(value, where)
    return check.ratio(value, where, spec.comparison)


def _load(value: object, where: str) -> float:
    return check.positive(value, where, "an offered load in Erlangs such as 0.5")


# ---------------------------------------------------------------------------------------------- sections


def _override(spec: QueueSectionSpec, value: object, where: str) -> Override:
    optional = {"tenant", "channel"} | ({"min_offered_contacts"} if spec.min_offered else set())
    optional |= {MIN_LOAD_KEY} if spec.min_load else set()
    raw = check.mapping(value, where, {"queue", spec.threshold_key}, optional)
    tenant, channel, offered = raw.get("tenant"), raw.get("channel"), raw.get("min_offered_contacts")
    load = raw.get(MIN_LOAD_KEY)
    return Override(
        queue=check.name(raw["queue"], f"{where}.queue"),
        threshold=_threshold(spec, raw[spec.threshold_key], f"{where}.{spec.threshold_key}"),
        tenant=None if tenant is None else check.name(tenant, f"{where}.tenant"),
        channel=None if channel is None else check.choice(channel, f"{where}.channel", CHANNELS),
        min_offered_contacts=None if offered is None else check.count(offered, f"{where}.min_offered_contacts"),
        min_offered_load_erlangs=None if load is None else _load(load, f"{where}.{MIN_LOAD_KEY}"),
    )


def _check_unambiguous(section: str, overrides: Sequence[Override]) -> None:
    """Every series must have one most specific matching override (or none)."""
    seen: dict[tuple[tuple[str, str], ...], int] = {}
    for index, override in enumerate(overrides):
        key = tuple(override.matchers.items())
        if key in seen:
            raise ConfigError(
                f"{section}.overrides[{index}]: same labels as overrides[{seen[key]}] ({override.describe()})"
            )
        seen[key] = index
    full = {tuple(o.matchers.items()) for o in overrides if o.specificity == len(SERIES_LABELS)}
    by_tenant = [o for o in overrides if o.tenant is not None and o.channel is None]
    by_channel = [o for o in overrides if o.tenant is None and o.channel is not None]
    for a in by_tenant:
        for b in by_channel:
            both = (("tenant", a.tenant), ("queue", a.queue), ("channel", b.channel))
            if a.queue == b.queue and both not in full:
                raise ConfigError(
                    f"{section}.overrides: ({a.describe()}) and ({b.describe()}) both match tenant "
                    f"{a.tenant}, queue {a.queue}, channel {b.channel}; add an override with exactly "
                    "those three labels to say which threshold applies there"
                )


def _queue_section(spec: QueueSectionSpec, value: object) -> QueueThresholds:
    name = spec.section
    required = {spec.default_key, "for", "severity"}
    required |= {"window"} if spec.windowed else set()
    required |= {"min_offered_contacts"} if spec.min_offered else set()
    required |= {MIN_LOAD_KEY} if spec.min_load else set()
    raw = check.mapping(value, name, required, {"overrides"})
    raw_overrides = raw.get("overrides") or []
    if not isinstance(raw_overrides, list):
        raise ConfigError(f"{name}.overrides: expected a list, got {type(raw_overrides).__name__}")
    overrides = tuple(_override(spec, item, f"{name}.overrides[{i}]") for i, item in enumerate(raw_overrides))
    _check_unambiguous(name, overrides)
    return QueueThresholds(
        default_threshold=_threshold(spec, raw[spec.default_key], f"{name}.{spec.default_key}"),
        for_=check.duration(raw["for"], f"{name}.for"),
        severity=check.severity(raw["severity"], f"{name}.severity"),
        overrides=overrides,
        window=check.window(raw["window"], f"{name}.window") if spec.windowed else None,
        min_offered_contacts=check.count(raw["min_offered_contacts"], f"{name}.min_offered_contacts")
        if spec.min_offered
        else None,
        min_offered_load_erlangs=_load(raw[MIN_LOAD_KEY], f"{name}.{MIN_LOAD_KEY}") if spec.min_load else None,
    )


def _timing(raw: Mapping[str, Any], name: str) -> tuple[str, str]:
    return check.duration(raw["for"], f"{name}.for"), check.severity(raw["severity"], f"{name}.severity")


def _section(top: Mapping[str, Any], name: str, *extra: str) -> Mapping[str, Any]:
    return check.mapping(top[name], name, {"for", "severity", *extra}, set())


OTHER_SECTIONS = (
    "no_agents_available",
    "exporter_down",
    "exporter_redis_down",
    "worker_lagging",
    "no_events",
    "dead_letters",
)
TOP_KEYS = {"runbook_base_url", *(spec.section for spec in QUEUE_SECTIONS), *OTHER_SECTIONS}


def parse_config(raw: object) -> AlertsConfig:
    """Validate the parsed YAML of alerts.yaml. Raises ConfigError naming the bad field."""
    top = check.mapping(raw, "alerts.yaml", TOP_KEYS, set())
    base = top["runbook_base_url"]
    if not isinstance(base, str) or not re.fullmatch(r"https?://\S+", base):
        raise ConfigError(f"runbook_base_url: expected an http(s) URL, got {base!r}")
    queues = {spec.section: _queue_section(spec, top[spec.section]) for spec in QUEUE_SECTIONS}
    agents = _section(top, "no_agents_available", "available_states")
    exporter = _section(top, "exporter_down", "job_regex")
    lag = _section(top, "worker_lagging", "threshold_seconds")
    events = _section(top, "no_events", "stream")
    dead = _section(top, "dead_letters", "threshold_per_second")
    return AlertsConfig(
        runbook_base_url=base.rstrip("/"),
        longest_wait=queues[LONGEST_WAIT.section],
        service_level=queues[SERVICE_LEVEL.section],
        abandon_rate=queues[ABANDON_RATE.section],
        agent_occupancy=queues[AGENT_OCCUPANCY.section],
        understaffed=queues[UNDERSTAFFED.section],
        no_agents_available=NoAgentsAvailable(
            *_timing(agents, "no_agents_available"),
            available_states=check.choices(
                agents["available_states"], "no_agents_available.available_states", AGENT_STATES
            ),
        ),
        exporter_down=ExporterDown(
            *_timing(exporter, "exporter_down"), job_regex=check.regex(exporter["job_regex"], "exporter_down.job_regex")
        ),
        exporter_redis_down=ExporterRedisDown(*_timing(_section(top, "exporter_redis_down"), "exporter_redis_down")),
        worker_lagging=WorkerLagging(
            *_timing(lag, "worker_lagging"),
            threshold_seconds=check.seconds(lag["threshold_seconds"], "worker_lagging.threshold_seconds"),
        ),
        no_events=NoEvents(
            *_timing(events, "no_events"), stream=check.choice(events["stream"], "no_events.stream", STREAMS)
        ),
        dead_letters=DeadLetters(
            *_timing(dead, "dead_letters"),
            threshold_per_second=check.positive(
                dead["threshold_per_second"], "dead_letters.threshold_per_second", "a number of events per second"
            ),
        ),
    )


def load_config(path: Path) -> AlertsConfig:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_config(raw)
