"""``/metrics`` gzipped as Prometheus asks for it (``Accept-Encoding: gzip``): the same text, in both formats,
scrape after scrape, while unchanged families keep their compressed bytes (one gzip member per chunk)."""

from __future__ import annotations

import asyncio
import gzip
import time
import urllib.request

import pytest
import redis

from bench.scrape import populate
from callpulse import wiring
from callpulse.embedded import ManagedServer
from callpulse.settings import load_settings
from exporters.collector import CallpulseCollector
from exporters.server import ExporterServer

pytestmark = pytest.mark.integration

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def _get(url: str, *, accept: str, gzipped: bool) -> tuple[bytes, str | None]:
    headers = {"Accept": accept, **({"Accept-Encoding": "gzip"} if gzipped else {})}
    request = urllib.request.Request(f"{url}/metrics", headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return bytes(response.read()), response.headers.get("Content-Encoding")


def test_a_gzipped_scrape_is_the_plain_scrape_compressed(redis_server: ManagedServer) -> None:
    prefix = "gz"
    asyncio.run(populate(redis_server.url, prefix, queues=12, minutes=8, arrivals_per_minute=2, partitions=3))
    settings = load_settings(redis_url=redis_server.url, redis_prefix=prefix)
    client = redis.Redis.from_url(redis_server.url)
    frozen = time.time()  # a fixed clock: live times and the scrape duration are the same in every scrape
    collector = CallpulseCollector(client, prefix=prefix, view=wiring.kpi_view(settings), clock=lambda: frozen)
    server = ExporterServer(collector, client, host="127.0.0.1", port=0)
    server.start()
    try:
        for accept in ("text/plain", OPENMETRICS):
            plain, plain_encoding = _get(server.url, accept=accept, gzipped=False)
            first, first_encoding = _get(server.url, accept=accept, gzipped=True)
            again, _ = _get(server.url, accept=accept, gzipped=True)
            assert (plain_encoding, first_encoding) == (None, "gzip")
            assert b"callpulse_queue_answered_contacts{" in plain and len(first) < len(plain) / 4
            assert gzip.decompress(first) == plain
            assert again == first  # the cached members, byte for byte
            assert first.count(b"\x1f\x8b\x08") > 2  # several members
    finally:
        server.stop()
        client.close()
