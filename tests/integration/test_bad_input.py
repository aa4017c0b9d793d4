"""Bad input never stops the worker and is never dropped silently: each record lands on the dead-letter
topic with its reason, the counter rises, and the good events around it are all counted."""

from __future__ import annotations

import time

import orjson
import pytest
from kafka import KafkaConsumer

from fixtures.pipeline import Pipeline, produce, sample, scrape
from fixtures.script import Script

pytestmark = pytest.mark.integration


def nested(levels: int) -> object:
    value: object = 0
    for _ in range(levels):
        value = [value]
    return value


def test_bad_records_go_to_the_dead_letter_topic_with_their_reason(pipeline: Pipeline) -> None:
    now_ms = int(time.time() * 1000)
    good = Script(now_ms - 60_000)
    for n in range(10):
        good.contact(n, "queued", f"g{n}")
        good.contact(n + 8, "answered", f"g{n}", agent_id="a1")
    negative = Script(now_ms - 60_000)
    negative.contact(30, "queued", "neg")
    negative.contact(20, "answered", "neg", agent_id="a1")  # 10 s before it was queued

    valid = good.events[0][2]
    bad_records = {
        "truncated": (b"bad-1", orjson.dumps(valid)[:40], "invalid_json"),
        "wrong type": (b"bad-2", orjson.dumps(valid | {"event_id": "x-2", "queue": 5}), "wrong_type"),
        "missing field": (
            b"bad-3",
            orjson.dumps({k: v for k, v in valid.items() if k != "contact_id"} | {"event_id": "x-3"}),
            "missing_field",
        ),
        "unknown type": (
            b"bad-4",
            orjson.dumps(valid | {"event_id": "x-4", "type": "teleported"}),
            "unknown_event_type",
        ),
        "negative duration": (b"neg", orjson.dumps(negative.events[1][2]), "negative_duration"),
        # the limits of docs/events.md 7.1, at their defaults
        "nested 40 deep": (b"bad-5", orjson.dumps(valid | {"event_id": "x-5", "x_deep": nested(39)}), "too_deep"),
        "before 2000": (
            b"bad-6",
            orjson.dumps(valid | {"event_id": "x-6", "event_time": "1970-01-01T00:00:00Z"}),
            "too_old",
        ),
        "label breaker": (b"bad-7", orjson.dumps(valid | {"event_id": "x-7", "queue": 'sup"port\n'}), "invalid_value"),
    }
    topic = pipeline.contacts_topic
    records = [(topic, key.encode(), orjson.dumps(event)) for _, key, event in good.events[:10]]
    records.append((topic, b"neg", orjson.dumps(negative.events[0][2])))
    records += [(topic, key, value) for key, value, _ in bad_records.values()]
    records += [(topic, key.encode(), orjson.dumps(event)) for _, key, event in good.events[10:]]

    worker = pipeline.start_worker()
    url = pipeline.start_exporter()
    pipeline.wait_for_records(produce(pipeline.kafka.url, records), watch=[worker])
    assert worker.poll() is None, "the worker must survive bad input"

    consumer = KafkaConsumer(
        pipeline.dead_letter_topic,
        bootstrap_servers=pipeline.kafka.url,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
        group_id=None,
    )
    letters = [orjson.loads(message.value) for message in consumer]
    consumer.close()
    by_key = {letter["payload"]: letter for letter in letters}
    for what, (_key, value, reason) in bad_records.items():
        letter = by_key.get(value.decode())
        assert letter is not None, f"{what}: not on the dead-letter topic ({letters})"
        assert letter["reason"] == reason, f"{what}: {letter}"
        assert letter["detail"], what
        assert letter["topic"] == topic
    assert len(letters) == len(bad_records)

    samples = scrape(url)
    for _key, _value, reason in bad_records.values():
        assert sample(samples, "callpulse_dead_letter_events_total", stream="contacts", reason=reason) == 1
    labels = {"tenant": "acme", "queue": "support", "channel": "voice", "window": "5m"}
    assert sample(samples, "callpulse_queue_answered_contacts", **labels) == 10
    assert sample(samples, "callpulse_queue_answer_speed_seconds", **labels) == 8.0
    assert sample(samples, "callpulse_events_applied_total", stream="contacts") == 21  # 20 good + the "neg" queued
