"""The rest of the catalogue on the real pipeline: volume, average wait, first response, resolution, surveys,
agent time in state, occupancy and utilization, in the sliding, 'today' and interval windows."""

from __future__ import annotations

import time

import orjson
import pytest

from fixtures.pipeline import Pipeline, produce, sample, scrape
from fixtures.script import Script
from processors.timeutil import format_ms

pytestmark = pytest.mark.integration

CHAT = {"tenant": "acme", "queue": "support", "channel": "chat"}


def _script(base_ms: int) -> Script:
    """
    Seconds after B (B = the start of the current minute - 2 min, so every event lies in the current report
    interval unless that began less than 2 minutes ago, or a new one began before the scrape; the test then
    leaves the interval window out).

        0    10   20   30   40   50   60   70   80   90
    k1  Q----A----F---------E----W                          wait 10, first response 20, resolved at 70
    k2       Q---------X                                    abandoned after 20 s
    k3                 Q----A----F---------E----W           wait 10, first response 20, resolved at 90
    surveys (k1, k3, k9): csat 5, 3, 4   nps 10, 6, -   ces 2, -, 4
    agent c1  avail----on_contact-----wrapup-avail----------offline
    agent c2  avail-------------------on_contact----wrapup-aux-offline
    """
    s = Script(base_ms)
    s.contact(0, "queued", "k1", channel="chat")
    s.contact(10, "answered", "k1", channel="chat", agent_id="c1")
    s.contact(20, "first_response", "k1", channel="chat")
    s.contact(40, "ended", "k1", channel="chat")
    s.contact(50, "wrapup_ended", "k1", channel="chat")
    s.contact(10, "queued", "k2", channel="chat")
    s.contact(30, "abandoned", "k2", channel="chat")
    s.contact(30, "queued", "k3", channel="chat")
    s.contact(40, "answered", "k3", channel="chat", agent_id="c2")
    s.contact(50, "first_response", "k3", channel="chat")
    s.contact(70, "ended", "k3", channel="chat")
    s.contact(80, "wrapup_ended", "k3", channel="chat")
    s.contact(70, "resolved", "k1", channel="chat", opened_at=format_ms(base_ms))
    s.contact(90, "resolved", "k3", channel="chat", opened_at=format_ms(base_ms + 30_000))
    s.contact(60, "survey", "k1", channel="chat", csat=5, nps=10, ces=2)
    s.contact(61, "survey", "k3", channel="chat", csat=3, nps=6)
    s.contact(62, "survey", "k9", channel="chat", csat=4, ces=4)
    # agents: c1 available 0-10, on_contact 10-40, wrapup 40-50, available 50-90 (then offline)
    #         c2 available 0-40, on_contact 40-70, wrapup 70-80, aux 80-90 (then offline)
    for at, state, extra in ((0, "available", {}), (10, "on_contact", {}), (40, "wrapup", {}), (50, "available", {})):
        s.agent(at, state, "c1", channel="chat", **extra)
    s.agent(90, "offline", "c1", channel="chat")
    for at, state, extra in (
        (0, "available", {}),
        (40, "on_contact", {}),
        (70, "wrapup", {}),
        (80, "aux", {"reason": "break"}),
    ):
        s.agent(at, state, "c2", channel="chat", **extra)
    s.agent(90, "offline", "c2", channel="chat")
    return s


EXPECTED = {
    "callpulse_queue_arrived_contacts": 3,
    "callpulse_queue_wait_time_seconds": (10 + 20 + 10) / 3,  # answered, abandoned, answered
    "callpulse_queue_first_response_seconds": (20 + 20) / 2,
    "callpulse_queue_resolved_contacts": 2,
    "callpulse_queue_resolution_time_seconds": (70 + 60) / 2,
    "callpulse_queue_csat_ratio": 2 / 3,  # 5 and 4 of 5, 3, 4
    "callpulse_queue_csat_score": (5 + 3 + 4) / 3,
    "callpulse_queue_nps_score": 100 * (1 - 1) / 2,  # one promoter (10), one detractor (6)
    "callpulse_queue_ces_score": (2 + 4) / 2,
    # handling (on_contact + wrapup): c1 30 + 10, c2 30 + 10 = 80; available: c1 10 + 40, c2 40 = 90; aux 10
    "callpulse_queue_agent_occupancy_ratio": 80 / (80 + 90),
    "callpulse_queue_agent_utilization_ratio": 80 / (80 + 90 + 10),
}


def test_customer_and_agent_figures_equal_the_hand_computed_ones(pipeline: Pipeline) -> None:
    now_ms = int(time.time() * 1000)
    base_ms = now_ms - now_ms % 60_000 - 120_000
    script = _script(base_ms)
    topics = {"contacts": pipeline.contacts_topic, "agents": pipeline.agents_topic}
    worker = pipeline.start_worker()
    url = pipeline.start_exporter()
    sent = produce(pipeline.kafka.url, [(topics[s], k.encode(), orjson.dumps(e)) for s, k, e in script.events])
    pipeline.wait_for_records(sent, watch=[worker])
    samples = scrape(url)
    scraped_by_ms = int(time.time() * 1000)  # the scrape's interval may have begun after ``now_ms``

    interval_start = scraped_by_ms - scraped_by_ms % 900_000
    windows = ["5m", "15m", "1h", "today"] + (["interval"] if base_ms >= interval_start else [])
    problems = []
    for window in windows:
        for name, expected in EXPECTED.items():
            got = sample(samples, name, **CHAT, window=window)
            if got is None or got != pytest.approx(expected):
                problems.append(f"{name}[{window}] = {got}, expected {expected}")
        for state, seconds in (("available", 90), ("on_contact", 60), ("wrapup", 20), ("aux", 10)):
            got = sample(samples, "callpulse_queue_agent_state_seconds", **CHAT, window=window, state=state)
            if got != pytest.approx(seconds):
                problems.append(f"state {state}[{window}] = {got}, expected {seconds}")
        for survey, count in (("csat", 3), ("nps", 2), ("ces", 2)):
            got = sample(samples, "callpulse_queue_survey_responses", **CHAT, window=window, survey=survey)
            if got != count:
                problems.append(f"survey {survey}[{window}] = {got}, expected {count}")
    assert not problems, "\n".join(problems)
    assert sample(samples, "callpulse_queue_agents", **CHAT, state="offline") == 2
