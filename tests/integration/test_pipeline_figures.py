"""The whole pipeline on real parts: a scripted day-in-two-minutes goes through Tansu, the Faust worker and
Redis, and every value on /metrics equals the figure computed by hand for the script."""

from __future__ import annotations

import time

import orjson
import pytest

from fixtures.pipeline import Pipeline, produce, sample, scrape
from fixtures.script import Script

pytestmark = pytest.mark.integration


def _support_script(base_ms: int) -> Script:
    """
    Times in seconds after B (B = now - 120 s). Voice threshold 20 s, chat 60 s, short abandon 5 s.

        B   5   10  20 23 30  35 40  45 50  60 65 70 75 80  90      100
    c1  Q-------A====H~~~H===========================E---W              wait 10, talk 50, hold 10, acw 10
    c2      Q---------------A======================E---W               wait 30, talk 30, acw 10
    c3                Q--X                                              short abandon (3 s)
    c4                Q---------------X                                 abandon after T (25 s)
    c5                                  Q-------X                       abandon within T (10 s)
    c6                                                      Q.........  still waiting
    chat c7  Q-------------------------------A==============================E/W   wait 50 (T 60), talk 50
    agents: a1 available at -60, on_contact at 10  -> idle 70
            a2 available at 5,   on_contact at 35  -> idle 30
            a3 (chat) available at 0, on_contact at 50 -> idle 50
    """
    s = Script(base_ms)
    s.contact(0, "queued", "c1")
    s.contact(10, "answered", "c1", agent_id="a1")
    s.contact(30, "hold_start", "c1")
    s.contact(40, "hold_end", "c1")
    s.contact(70, "ended", "c1", agent_id="a1")
    s.contact(80, "wrapup_ended", "c1")
    s.contact(5, "queued", "c2")
    s.contact(35, "answered", "c2", agent_id="a2")
    s.contact(65, "ended", "c2")
    s.contact(75, "wrapup_ended", "c2")
    s.contact(20, "queued", "c3")
    s.contact(23, "abandoned", "c3")
    s.contact(20, "queued", "c4")
    s.contact(45, "abandoned", "c4")
    s.contact(50, "queued", "c5")
    s.contact(60, "abandoned", "c5")
    s.contact(90, "queued", "c6")
    s.contact(0, "queued", "c7", channel="chat")
    s.contact(50, "answered", "c7", channel="chat", agent_id="a3")
    s.contact(100, "ended", "c7", channel="chat")
    s.contact(100, "wrapup_ended", "c7", channel="chat")
    s.agent(-60, "available", "a1")
    s.agent(10, "on_contact", "a1")
    s.agent(70, "wrapup", "a1")
    s.agent(80, "available", "a1")
    s.agent(5, "available", "a2")
    s.agent(35, "on_contact", "a2")
    s.agent(65, "aux", "a2", reason="lunch")
    s.agent(0, "available", "a3", channel="chat")
    s.agent(50, "on_contact", "a3", channel="chat")
    return s


VOICE = {"tenant": "acme", "queue": "support", "channel": "voice"}
CHAT = {"tenant": "acme", "queue": "support", "channel": "chat"}

# metric -> (voice value, chat value) for every window; None: the series must be absent
EXPECTED = {
    "callpulse_queue_offered_contacts": (4, 1),  # answered 2 + abandoned 2 (short one excluded)
    "callpulse_queue_answered_contacts": (2, 1),
    "callpulse_queue_abandoned_contacts": (2, 0),
    "callpulse_queue_short_abandoned_contacts": (1, 0),
    "callpulse_queue_timed_out_contacts": (0, 0),
    "callpulse_queue_handled_contacts": (2, 1),
    "callpulse_queue_transferred_contacts": (0, 0),
    "callpulse_queue_answer_speed_seconds": (20.0, 50.0),  # (10 + 30) / 2
    "callpulse_queue_max_wait_seconds": (30.0, 50.0),
    "callpulse_queue_abandon_ratio": (0.5, 0.0),  # 2 / 4
    "callpulse_queue_service_level_ratio": (0.25, 1.0),  # abandons_against: 1 / (2 + 2)
    "callpulse_queue_handle_time_seconds": (55.0, 50.0),  # (70 + 40) / 2
    "callpulse_queue_talk_time_seconds": (40.0, 50.0),  # (50 + 30) / 2
    "callpulse_queue_hold_time_seconds": (5.0, 0.0),
    "callpulse_queue_wrapup_time_seconds": (10.0, 0.0),
    "callpulse_queue_transfer_ratio": (0.0, 0.0),
    "callpulse_queue_agent_idle_seconds": (50.0, 50.0),  # (70 + 30) / 2 ; 50
}


def _publish(pipeline: Pipeline, script: Script) -> int:
    topics = {"contacts": pipeline.contacts_topic, "agents": pipeline.agents_topic}
    return produce(
        pipeline.kafka.url,
        [(topics[stream], key.encode(), orjson.dumps(event)) for stream, key, event in script.events],
    )


def test_every_exported_value_equals_the_hand_computed_figure(pipeline: Pipeline) -> None:
    now_ms = int(time.time() * 1000)
    script = _support_script(now_ms - 120_000)
    worker = pipeline.start_worker()
    url = pipeline.start_exporter()
    sent = _publish(pipeline, script)
    pipeline.wait_for_records(sent, watch=[worker])

    before = time.time()
    samples = scrape(url)
    after = time.time()

    problems = []
    for window in ("5m", "15m", "1h"):
        for name, (voice, chat) in EXPECTED.items():
            for labels, expected in ((VOICE, voice), (CHAT, chat)):
                got = sample(samples, name, **labels, window=window)
                if got is None or got != pytest.approx(expected, abs=1e-9):
                    problems.append(f"{name}{labels}[{window}] = {got}, expected {expected}")
    assert not problems, "\n".join(problems)

    assert sample(samples, "callpulse_queue_waiting_contacts", **VOICE) == 1
    assert sample(samples, "callpulse_queue_waiting_contacts", **CHAT) == 0
    queued_c6 = (now_ms - 120_000 + 90_000) / 1000
    longest = sample(samples, "callpulse_queue_longest_wait_seconds", **VOICE)
    assert longest is not None and before - queued_c6 - 0.01 <= longest <= after - queued_c6 + 0.01
    assert sample(samples, "callpulse_queue_longest_wait_seconds", **CHAT) == 0
    assert sample(samples, "callpulse_queue_agents", **VOICE, state="available") == 1  # a1
    assert sample(samples, "callpulse_queue_agents", **VOICE, state="aux") == 1  # a2
    assert sample(samples, "callpulse_queue_agents", **CHAT, state="on_contact") == 1  # a3
    assert sample(samples, "callpulse_events_applied_total", stream="contacts") == 21
    assert sample(samples, "callpulse_events_applied_total", stream="agents") == 9
    assert sample(samples, "callpulse_exporter_redis_up") == 1


def test_longest_wait_keeps_rising_without_events(pipeline: Pipeline) -> None:
    now_ms = int(time.time() * 1000)
    script = Script(now_ms - 30_000)
    script.contact(0, "queued", "w1")
    worker = pipeline.start_worker()
    url = pipeline.start_exporter()
    pipeline.wait_for_records(_publish(pipeline, script), watch=[worker])
    first = sample(scrape(url), "callpulse_queue_longest_wait_seconds", **VOICE)
    started = time.time()
    from callpulse.embedded import wait_until

    wait_until(lambda: time.time() - started > 1.5, 5, 0.1, "time to pass")
    second = sample(scrape(url), "callpulse_queue_longest_wait_seconds", **VOICE)
    assert first is not None and second is not None
    assert first >= 30 and second - first >= 1.5
