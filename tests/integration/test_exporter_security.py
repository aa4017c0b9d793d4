"""The exporter over HTTPS with basic auth on /metrics and optional client certificates, on a real Redis:
unauthenticated scrapes get 401, /health stays open, a client that does not trust our CA or shows no client
certificate (with mTLS) is refused at the handshake."""

from __future__ import annotations

import base64
import hashlib
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import redis

from callpulse import wiring
from callpulse.embedded import ManagedServer
from callpulse.settings import Settings
from exporters.server import ExporterServer
from fixtures.tls import TlsFiles

pytestmark = pytest.mark.integration

PASSWORD = "scrape-pass-3c9"


def _get(url: str, *, auth: tuple[str, str] | None = None, context: ssl.SSLContext | None = None) -> tuple[int, str]:
    headers = {}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10, context=context) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _serve(settings: Settings, client: redis.Redis) -> Iterator[ExporterServer]:
    server = ExporterServer(
        wiring.collector(settings, client),
        client,
        host="127.0.0.1",
        port=0,
        auth=wiring.exporter_auth(settings),
        tls=wiring.exporter_tls(settings),
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def https_exporter(redis_server: ManagedServer, tls_files: TlsFiles) -> Iterator[ExporterServer]:
    settings = Settings(
        redis_url=redis_server.url,
        exporter_auth_username="prometheus",
        exporter_auth_password="sha256:" + hashlib.sha256(PASSWORD.encode()).hexdigest(),  # type: ignore[arg-type]
        exporter_tls_cert_file=str(tls_files.server_cert),
        exporter_tls_key_file=str(tls_files.server_key),
    )
    client = redis.Redis.from_url(redis_server.url)
    yield from _serve(settings, client)
    client.close()


def test_metrics_need_the_password_and_health_does_not(https_exporter: ExporterServer, tls_files: TlsFiles) -> None:
    trusted = tls_files.client_context()
    assert https_exporter.url.startswith("https://")
    assert _get(f"{https_exporter.url}/metrics", context=trusted)[0] == 401
    assert _get(f"{https_exporter.url}/metrics", auth=("prometheus", "wrong"), context=trusted)[0] == 401
    assert _get(f"{https_exporter.url}/metrics", auth=("grafana", PASSWORD), context=trusted)[0] == 401
    status, text = _get(f"{https_exporter.url}/metrics", auth=("prometheus", PASSWORD), context=trusted)
    assert status == 200 and "callpulse_" in text
    assert _get(f"{https_exporter.url}/health", context=trusted) == (200, '{"status": "ok", "redis": "up"}')


def test_a_client_that_does_not_trust_our_ca_is_refused(https_exporter: ExporterServer, tls_files: TlsFiles) -> None:
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        _get(f"{https_exporter.url}/health", context=tls_files.client_context(ca=tls_files.other_ca))
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        _get(f"http://127.0.0.1:{https_exporter.port}/health")  # plain HTTP to the TLS port


def test_mutual_tls_requires_a_client_certificate(redis_server: ManagedServer, tls_files: TlsFiles) -> None:
    settings = Settings(
        redis_url=redis_server.url,
        exporter_tls_cert_file=str(tls_files.server_cert),
        exporter_tls_key_file=str(tls_files.server_key),
        exporter_tls_client_ca_file=str(tls_files.ca),
    )
    client = redis.Redis.from_url(redis_server.url)
    for server in _serve(settings, client):
        assert _get(f"{server.url}/metrics", context=tls_files.client_context(with_cert=True))[0] == 200
        with pytest.raises((urllib.error.URLError, ConnectionError, ssl.SSLError)):
            _get(f"{server.url}/metrics", context=tls_files.client_context())
    client.close()
