"""Live gauges on the real pipeline: the longest wait follows the oldest contact still waiting."""

from __future__ import annotations

import time

import orjson
import pytest

from callpulse.embedded import wait_until
from fixtures.pipeline import Pipeline, produce, sample, scrape
from fixtures.script import Script

pytestmark = pytest.mark.integration

VOICE = {"tenant": "acme", "queue": "support", "channel": "voice"}


def _send(pipeline: Pipeline, script: Script, start: int = 0) -> int:
    return produce(
        pipeline.kafka.url,
        [(pipeline.contacts_topic, key.encode(), orjson.dumps(event)) for _s, key, event in script.events[start:]],
    )


def test_longest_wait_drops_to_the_next_oldest_when_the_oldest_is_answered(pipeline: Pipeline) -> None:
    """
    now-90 s   oldest queued ──────────────────── answered at now-1 s
    now-40 s   next-oldest queued ─────────────── still waiting
    now-10 s   newest queued ──────────────────── still waiting
    """
    now_ms = int(time.time() * 1000)
    script = Script(now_ms - 90_000)
    script.contact(0, "queued", "oldest")
    script.contact(50, "queued", "next")
    script.contact(80, "queued", "newest")
    worker = pipeline.start_worker()
    url = pipeline.start_exporter()
    pipeline.wait_for_records(_send(pipeline, script), watch=[worker])

    first = scrape(url)
    longest = sample(first, "callpulse_queue_longest_wait_seconds", **VOICE)
    assert longest is not None and 90 <= longest < 90 + 30
    assert sample(first, "callpulse_queue_waiting_contacts", **VOICE) == 3

    answered_at = time.time()
    script.contact(answered_at - script.base_ms / 1000, "answered", "oldest", agent_id="a1")
    _send(pipeline, script, start=3)
    pipeline.wait_for_records(4, watch=[worker])
    after = scrape(url)
    scraped_at = time.time()
    longest = sample(after, "callpulse_queue_longest_wait_seconds", **VOICE)
    queued_next = (now_ms - 90_000 + 50_000) / 1000
    assert longest is not None
    assert answered_at - queued_next - 0.05 <= longest <= scraped_at - queued_next + 0.05
    assert sample(after, "callpulse_queue_waiting_contacts", **VOICE) == 2

    # and it keeps rising with no new event
    wait_until(lambda: time.time() - scraped_at > 1.2, 5, 0.05, "a second to pass")
    later = sample(scrape(url), "callpulse_queue_longest_wait_seconds", **VOICE)
    assert later is not None and later - longest >= 1.2


def test_five_thousand_agents_stay_within_the_series_cap(pipeline: Pipeline) -> None:
    pipeline.extra_env.update({"CALLPULSE_PER_AGENT_METRICS": "true", "CALLPULSE_PER_AGENT_MAX_SERIES": "100"})
    now_ms = int(time.time() * 1000)
    script = Script(now_ms - 120_000)
    for n in range(5000):
        script.agent(0, "available", f"agent-{n:04d}")
    for n in range(150):  # the 150 busiest take a contact: they rank first
        script.agent(30 + n / 10, "on_contact", f"agent-{n:04d}")
    records = [(pipeline.agents_topic, key.encode(), orjson.dumps(event)) for _s, key, event in script.events]
    worker = pipeline.start_worker()
    url = pipeline.start_exporter()
    pipeline.wait_for_records(produce(pipeline.kafka.url, records, batched=True), timeout=180, watch=[worker])

    samples = scrape(url)
    per_agent = [
        (name, dict(labels))
        for name, labels in samples
        if name == "callpulse_agent_state_seconds" and ("window", "1h") in labels and ("state", "available") in labels
    ]
    agents = {labels["agent"] for _name, labels in per_agent}
    assert len(agents) == 101, len(agents)  # the cap plus "_other"
    assert "_other" in agents
    assert sample(samples, "callpulse_agent_series_folded", tenant="acme") == 4900
    for metric in ("callpulse_agent_handled_contacts", "callpulse_agent_occupancy_ratio"):
        series = {dict(labels)["agent"] for name, labels in samples if name == metric and ("window", "1h") in labels}
        assert len(series) <= 101
    # the folded agents' time is not lost: all 5,000 agents' available time is there
    total_available = sum(
        value
        for (name, labels), value in samples.items()
        if name == "callpulse_agent_state_seconds" and ("window", "1h") in labels and ("state", "available") in labels
    )
    queue_available = sample(samples, "callpulse_queue_agent_state_seconds", **VOICE, window="1h", state="available")
    assert queue_available is not None and total_available == pytest.approx(queue_available, rel=1e-3)
    assert total_available > 5000 * 100  # each has been available for 100+ s
