"""First contact resolution across partitions: contacts are repartitioned by hashed customer id through the
customers topic; a repeat contact within N days fails the resolution before it. Customer ids never appear
in clear in Redis or on /metrics."""

from __future__ import annotations

import time

import orjson
import pytest

from fixtures.pipeline import Pipeline, produce, sample, scrape
from fixtures.script import Script
from processors.timeutil import format_ms

pytestmark = pytest.mark.integration

CUSTOMERS = {"A": "+33612345678", "B": "cust-b-7781", "C": "c@example.org", "D": "+14155550100"}


def test_fcr_counts_repeat_contacts_of_the_same_customer_across_partitions(pipeline: Pipeline) -> None:
    """
    seconds   0     5    10    20    30    40    50    60
    A  k1     Q-----------R(20)            Q k2 (repeat within N days: k1's resolution fails)
    B  k3           Q---------------R(30)                 (no repeat)
    C  k4                Q-------------------------R(50)  (customer D's contact at 60 is someone else)
    D  k5                                               Q
    FCR = (3 resolved - 1 repeated) / 3
    """
    pipeline.extra_env["CALLPULSE_CUSTOMER_ID_SALT"] = "test-salt-not-for-production"
    base_ms = int(time.time() * 1000) - 120_000
    s = Script(base_ms)
    s.contact(0, "queued", "k1", customer_id=CUSTOMERS["A"])
    s.contact(20, "resolved", "k1", opened_at=format_ms(base_ms), customer_id=CUSTOMERS["A"])
    s.contact(40, "queued", "k2", customer_id=CUSTOMERS["A"])
    s.contact(5, "queued", "k3", customer_id=CUSTOMERS["B"])
    s.contact(30, "resolved", "k3", opened_at=format_ms(base_ms + 5_000), customer_id=CUSTOMERS["B"])
    s.contact(10, "queued", "k4", customer_id=CUSTOMERS["C"])
    s.contact(50, "resolved", "k4", opened_at=format_ms(base_ms + 10_000), customer_id=CUSTOMERS["C"])
    s.contact(60, "queued", "k5", customer_id=CUSTOMERS["D"])
    s.contact(61, "queued", "k5", customer_id=CUSTOMERS["D"])  # a duplicate by content, other event id: conflict
    worker = pipeline.start_worker()
    url = pipeline.start_exporter()
    sent = produce(
        pipeline.kafka.url, [(pipeline.contacts_topic, k.encode(), orjson.dumps(e)) for _s, k, e in s.events]
    )
    # 9 contact records, and 8 touches (5 queued, 3 resolved) forwarded; the conflicting queued is not
    pipeline.wait_for_records(sent + 8, watch=[worker])

    samples = scrape(url)
    labels = {"tenant": "acme", "queue": "support", "channel": "voice"}
    for window in ("5m", "1h", "today"):
        assert sample(samples, "callpulse_queue_fcr_ratio", **labels, window=window) == pytest.approx(2 / 3)
    assert sample(samples, "callpulse_events_applied_total", stream="customers") == 8
    assert pipeline.stats().get("customers:applied") == 8

    client = pipeline.redis()
    everything = b""
    for key in client.scan_iter(match=f"*{pipeline.name}*"):
        everything += key
        kind = client.type(key)
        if kind == b"hash":
            everything += b"".join(k + v for k, v in client.hgetall(key).items())
        elif kind == b"zset":
            everything += b"".join(member for member, _ in client.zrange(key, 0, -1, withscores=True))
        elif kind == b"set":
            everything += b"".join(client.smembers(key))
    metrics_text = str(samples)
    for raw in CUSTOMERS.values():
        assert raw.encode() not in everything, f"{raw} stored in clear"
        assert raw not in metrics_text
    assert b"customers" in everything  # the customer partitions are there, hashed
