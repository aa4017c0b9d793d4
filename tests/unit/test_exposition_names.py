"""No name the decoder accepts can break the exposition format: queue metrics and per-agent metrics built from
accepted tenants, queues and agent ids give well-formed lines (text 0.0.4 and OpenMetrics) that parse back to
the very same label values. Names need no escaping at all; ids may hold '"' and '\\', which are escaped."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from exporters import agent_metrics, queue_metrics
from exporters.reader import Snapshot
from exporters.view import KpiView
from processors.events import AgentEvent, decode_agent_event
from processors.figures import agent_key
from processors.formulas import ServiceLevelVariant
from processors.windows import WindowSpec

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
names = st.builds(str.__add__, st.sampled_from(ALNUM), st.text(alphabet=ALNUM + "_.-", max_size=63))
idents = st.one_of(
    st.text(alphabet="".join(map(chr, range(0x21, 0x7F))), min_size=1, max_size=128),
    st.sampled_from(['"', "\\", '\\"', '"}\n', "a=b,c", "#", "{", "}", "\\n", "x" * 128]).filter(
        lambda ident: "\n" not in ident
    ),
)
NOW = 1_795_424_400_000
VIEW = KpiView(
    windows=(WindowSpec(300_000, 60_000),),
    service_level_variant=ServiceLevelVariant.ABANDONS_AGAINST,
    offered_includes_timeouts=True,
    service_level_seconds={"voice": 20.0},
    per_agent=True,
    per_agent_max_series=1000,
)
# one exposition line: name, optional labels with escaped values, value; or a comment
LABEL_VALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
LABEL = rf"[a-zA-Z_][a-zA-Z0-9_]*={LABEL_VALUE}"
SAMPLE = re.compile(rf"[a-zA-Z_:][a-zA-Z0-9_:]*(\{{{LABEL}(,{LABEL})*\}})? \S+")


class Families:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        yield from queue_metrics.windowed(self.snapshot, VIEW)
        yield from queue_metrics.live(self.snapshot, VIEW)
        yield from agent_metrics.per_agent(self.snapshot, VIEW)


def accepted(tenant: str, queue: str, agent_id: str) -> AgentEvent:
    event = {
        "schema_version": 1,
        "event_id": "e-1",
        "event_time": "2026-11-23T09:00:00Z",
        "type": "available",
        "tenant": tenant,
        "queue": queue,
        "channel": "voice",
        "agent_id": agent_id,
    }
    decoded = decode_agent_event(json.dumps(event).encode())
    assert isinstance(decoded, AgentEvent), decoded
    return decoded


@settings(max_examples=30, deadline=None)
@given(triples=st.lists(st.tuples(names, names, idents), min_size=1, max_size=3))
def test_accepted_names_give_valid_exposition_that_parses_back(triples: list[tuple[str, str, str]]) -> None:
    snapshot = Snapshot(now_ms=NOW, per_agent=True)
    queues, agents = set(), set()
    for tenant, queue, agent_id in triples:
        event = accepted(tenant, queue, agent_id)
        snapshot.totals[(event.where.qid, "5m")] = {"answered": 1, "handled": 1, "handle_ms": 1000}
        snapshot.waiting[event.where.qid] = (1, NOW - 5000)
        snapshot.totals[(agent_key(tenant, agent_id), "5m")] = {"handled": 1, "handle_ms": 1000}
        queues.add((tenant, queue))
        agents.add((tenant, agent_id))
    registry = CollectorRegistry()
    registry.register(Families(snapshot))

    text = generate_latest(registry).decode()
    for line in text.splitlines():
        assert line.startswith("#") or SAMPLE.fullmatch(line), line
    for tenant, queue in queues:
        assert f'queue="{queue}",tenant="{tenant}"' in text  # names appear verbatim: nothing to escape
    seen_queues, seen_agents = set(), set()
    for parsed in (text_string_to_metric_families(text), parse_openmetrics(generate_openmetrics(registry).decode())):
        for metric_family in parsed:
            for sample in metric_family.samples:
                if "queue" in sample.labels:
                    seen_queues.add((sample.labels["tenant"], sample.labels["queue"]))
                if "agent" in sample.labels:
                    seen_agents.add((sample.labels["tenant"], sample.labels["agent"]))
    assert seen_queues == queues
    assert seen_agents == agents  # ids with '"' or '\' come back unchanged: they were escaped, not broken


def test_agent_label_cardinality_is_capped_per_tenant() -> None:
    #   60 agents of one tenant, cap 10: the 10 busiest keep their series, 50 are summed under agent="_other"
    snapshot = Snapshot(now_ms=NOW, per_agent=True)
    for n in range(60):
        snapshot.totals[(agent_key("acme", f"agent-{n:02d}"), "5m")] = {"handled": n, "handle_ms": 1000 * n}
    capped = replace(VIEW, per_agent_max_series=10)
    samples = [
        sample
        for metric_family in agent_metrics.per_agent(snapshot, capped)
        for sample in metric_family.samples
        if sample.name == "callpulse_agent_handled_contacts"
    ]
    agents = {sample.labels["agent"] for sample in samples}
    assert agents == {f"agent-{n}" for n in range(50, 60)} | {agent_metrics.OTHER}
    other = [s.value for s in samples if s.labels == {"tenant": "acme", "agent": "_other", "window": "5m"}]
    assert other == [sum(range(50))]
