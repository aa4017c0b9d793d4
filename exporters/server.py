"""The exporter's HTTP server: ``/metrics`` (the collector, read from Redis at each scrape) and ``/health``."""

from __future__ import annotations

import json
import logging
import ssl
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import choose_encoder, gzip_accepted
from redis import Redis
from redis.exceptions import RedisError

from exporters.access import BasicAuth, require_auth
from exporters.collector import CallpulseCollector

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    tls: ssl.SSLContext | None = None

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """With TLS, the handshake happens here, in the request's thread: a slow client blocks no one else."""
        if self.tls is not None:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                log.info("TLS handshake with %s failed: %s", client_address[0], exc)
                self.shutdown_request(request)
                return
        super().process_request_thread(request, client_address)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


Render = Callable[..., list[bytes]]


def build_app(
    registry: CollectorRegistry, redis: Redis, render: Render | None = None
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """WSGI app routing ``/metrics`` to ``render`` (the collector's direct writer; prometheus_client for
    requests it does not cover: ``name[]`` filters, other methods, UTF-8 escaping) and ``/health`` to a ping."""
    metrics_app = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            if render is None or environ.get("REQUEST_METHOD") != "GET" or "name[]" in environ.get("QUERY_STRING", ""):
                return metrics_app(environ, start_response)  # type: ignore[no-any-return]
            return _metrics(render, environ, start_response)
        if path == "/health":
            try:
                redis.ping()
                status, body = "200 OK", {"status": "ok", "redis": "up"}
            except RedisError as exc:
                status, body = "503 Service Unavailable", {"status": "unavailable", "redis": f"down: {exc}"}
            start_response(status, [("Content-Type", "application/json")])
            return [json.dumps(body).encode()]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"callpulse exporter: see /metrics and /health\n"]

    return app


def _metrics(render: Render, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """``/metrics`` in the format the client asked for (Accept), gzipped when it accepts gzip."""
    _encoder, content_type = choose_encoder(environ.get("HTTP_ACCEPT", ""))
    gzip = gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING", ""))
    chunks = render(openmetrics=content_type.startswith("application/openmetrics-text"), gzip=gzip)
    headers = [("Content-Type", content_type)]
    if gzip:
        headers.append(("Content-Encoding", "gzip"))
    headers.append(("Content-Length", str(sum(map(len, chunks)))))
    start_response("200 OK", headers)
    return chunks


class ExporterServer:
    """Serves the collector over HTTP(S) in a background thread; ``port=0`` picks a free port.

    ``auth``: the credentials ``/metrics`` requires (``/health`` stays open); ``tls``: a server TLS context.
    """

    def __init__(
        self,
        collector: CallpulseCollector,
        redis: Redis,
        *,
        host: str,
        port: int,
        auth: BasicAuth | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        app = build_app(self.registry, redis, collector.render)
        if auth is not None:
            app = require_auth(app, auth)
        server = make_server(host, port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
        assert isinstance(server, _ThreadingWSGIServer)
        server.tls = tls
        self._server = server
        self._scheme = "http" if tls is None else "https"
        self._host = "127.0.0.1" if host in {"", "0.0.0.0", "::"} else host  # noqa: S104 - a URL to print, not a bind  # noqa: S104 - a URL to print, not a bind
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"{self._scheme}://{self._host}:{self.port}"

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.2)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="callpulse-exporter", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
