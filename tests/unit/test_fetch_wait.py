"""The worker's Kafka fetches wait CALLPULSE_FETCH_MAX_WAIT_SECONDS for data, not Faust's fixed 1.5 s."""

from __future__ import annotations

import asyncio

import pytest

from callpulse import wiring
from callpulse.settings import Settings


@pytest.mark.parametrize(("seconds", "expected_ms"), [(0.1, 100), (0.02, 20), (1.5, 1500)])
def test_the_worker_consumer_is_built_with_the_configured_fetch_wait(seconds: float, expected_ms: int) -> None:
    async def build() -> int:
        app = wiring.worker_app(Settings(fetch_max_wait_seconds=seconds))  # type: ignore[call-arg]
        consumer = app.transport.create_consumer(
            callback=lambda *_: None, on_partitions_revoked=lambda *_: None, on_partitions_assigned=lambda *_: None
        )
        aiokafka_consumer = consumer._thread._create_worker_consumer(app.transport)  # what consumer.start() builds
        return int(aiokafka_consumer._fetch_max_wait_ms)

    assert asyncio.run(build()) == expected_ms
