"""How long the worker's Kafka fetches may wait for data: Faust fixes it at 1.5 s, we make it a setting.

A broker answers a fetch once it has data or ``fetch_max_wait`` has passed. Kafka answers as soon as data
arrives, but a broker that only looks again when the wait ends (Tansu 0.6.0 does) holds every event that
arrives while the worker is caught up for up to that wait: event-to-metric latency of about a second
measured at 5,000 events/s. Faust passes ``fetch_max_wait_ms=1500`` to aiokafka with no setting, so the
worker's consumer thread is replaced by one that sets aiokafka's value before the consumer starts.
"""

from __future__ import annotations

from typing import Any

import aiokafka
import faust
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer


def use_fetch_wait(app: faust.App, seconds: float) -> None:
    """Make the worker consumer of ``app`` wait at most ``seconds`` for a fetch to fill (call before start)."""
    wait_ms = max(1, round(seconds * 1000))

    class _Thread(AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
            consumer = super()._create_worker_consumer(transport)
            consumer._fetch_max_wait_ms = wait_ms  # read by AIOKafkaConsumer.start() to build its fetcher
            return consumer

    class _Consumer(Consumer):
        def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
            return _Thread(self, loop=self.loop, beacon=self.beacon)

    app.transport.Consumer = _Consumer  # type: ignore[misc]
