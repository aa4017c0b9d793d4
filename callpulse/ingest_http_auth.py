"""HTTP ingest, who may send: bearer tokens and an optional HMAC-SHA256 signature of the body.

A signed request carries ``X-Callpulse-Timestamp: <unix seconds>`` and
``X-Callpulse-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``; a timestamp further
than ``max_age_seconds`` from the server's clock is refused, which bounds replays. Every comparison is
constant-time. The checks are pure: the clock is passed in.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

from callpulse.ingest_http_checks import Reply, problem
from callpulse.settings import Settings

SIGNATURE_HEADER = "X-Callpulse-Signature"
TIMESTAMP_HEADER = "X-Callpulse-Timestamp"
_SCHEME = "sha256="


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Callpulse-Signature`` value of ``body`` sent at ``timestamp`` (what a sender computes)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return _SCHEME + mac.hexdigest()


def unauthorized(error: str, detail: str) -> Reply:
    return problem(401, error, detail)


@dataclass(frozen=True, slots=True)
class IngestAuth:
    """No tokens and no secret: open (the default, for loopback and tests)."""

    token_digests: tuple[bytes, ...] = field(default=(), repr=False)
    hmac_secret: str = field(default="", repr=False)
    max_age_seconds: int = 300

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestAuth:
        tokens = [token.strip() for token in settings.ingest_tokens.get_secret_value().split(",")]
        return cls(
            token_digests=tuple(_digest(token) for token in tokens if token),
            hmac_secret=settings.ingest_hmac_secret.get_secret_value(),
            max_age_seconds=settings.ingest_signature_max_age_seconds,
        )

    def describe(self) -> str:
        parts = [f"{len(self.token_digests)} bearer token(s)" if self.token_digests else "no token"]
        parts.append("signed bodies" if self.hmac_secret else "unsigned bodies")
        return ", ".join(parts)

    def check_token(self, authorization: str | None) -> Reply | None:
        """None when no token is configured or the ``Authorization: Bearer`` one is known, else a 401."""
        if not self.token_digests:
            return None
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return unauthorized("missing_token", "send Authorization: Bearer <token> (CALLPULSE_INGEST_TOKENS)")
        given = _digest(token.strip())
        known = False
        for digest in self.token_digests:  # no early exit: the time does not tell which token matched
            known |= hmac.compare_digest(given, digest)
        if not known:
            return unauthorized("invalid_token", "the bearer token is not one of CALLPULSE_INGEST_TOKENS")
        return None

    def check_signature(self, headers: Mapping[str, str], body: bytes, now_s: float) -> Reply | None:
        """None when no secret is configured or the body is signed with it, recently enough; else a 401."""
        if not self.hmac_secret:
            return None
        signature, stamp = headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER)
        if not signature or not stamp:
            return unauthorized(
                "missing_signature", f"send {TIMESTAMP_HEADER} (unix seconds) and {SIGNATURE_HEADER}: sha256=<hex>"
            )
        try:
            timestamp = int(stamp)
        except ValueError:
            return unauthorized("invalid_signature", f"{TIMESTAMP_HEADER} must be whole unix seconds")
        if abs(now_s - timestamp) > self.max_age_seconds:
            return unauthorized(
                "stale_signature",
                f"{TIMESTAMP_HEADER} is more than {self.max_age_seconds} s from the server's clock: sign again",
            )
        if not hmac.compare_digest(
            signature.strip().lower().encode(), sign(self.hmac_secret, timestamp, body).encode()
        ):
            return unauthorized(
                "invalid_signature", f"{SIGNATURE_HEADER} is not the HMAC-SHA256 of the timestamp and body"
            )
        return None
