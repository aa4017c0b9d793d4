"""Who may scrape: basic authentication on ``/metrics`` and the server's TLS context (optionally mTLS).

``/health`` stays open: it tells only whether Redis answers, so probes need no credentials.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
HASH_PREFIX = "sha256:"


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


@dataclass(frozen=True, slots=True)
class BasicAuth:
    """One user; ``password`` is the password itself or ``sha256:<hex digest>`` of it (so only a hash is stored)."""

    username: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        if self.password.startswith(HASH_PREFIX):
            try:
                if len(bytes.fromhex(self.password.removeprefix(HASH_PREFIX))) != 32:
                    raise ValueError
            except ValueError:
                raise ValueError("the exporter password sha256:<hex> needs 64 hex digits") from None

    def _expected_digest(self) -> bytes:
        if self.password.startswith(HASH_PREFIX):
            return bytes.fromhex(self.password.removeprefix(HASH_PREFIX))
        return _digest(self.password)

    def allows(self, authorization: str | None) -> bool:
        """True when the ``Authorization`` header carries this user and password (compared in constant time)."""
        scheme, _, encoded = (authorization or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            username, sep, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user_ok = hmac.compare_digest(_digest(username), _digest(self.username))
        password_ok = hmac.compare_digest(_digest(password), self._expected_digest())
        return bool(sep) and user_ok and password_ok


def require_auth(app: WsgiApp, auth: BasicAuth, paths: frozenset[str] = frozenset({"/metrics"})) -> WsgiApp:
    """``app`` with ``paths`` answering 401 unless the request has ``auth``'s credentials."""

    def protected(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "/") in paths and not auth.allows(environ.get("HTTP_AUTHORIZATION")):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Basic realm="callpulse", charset="UTF-8"')],
            )
            return [b"callpulse exporter: authentication required\n"]
        return app(environ, start_response)

    return protected


def server_tls_context(cert_file: str, key_file: str, client_ca_file: str = "") -> ssl.SSLContext:
    """TLS 1.2+ server context; with ``client_ca_file`` every client must show a certificate signed by it."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    if client_ca_file:
        context.load_verify_locations(cafile=client_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context
