"""Redis AUTH and TLS from the settings: the keyword arguments every callpulse Redis client is created with.

The URL may carry them too (``rediss://user:pass@host:6380/0``); the settings win when both are given.
TLS files need a ``rediss://`` URL (the settings refuse them otherwise), and verification is always on.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from callpulse.settings import Settings


def redis_options(settings: Settings) -> dict[str, Any]:
    """``Redis.from_url(settings.redis_url, **redis_options(settings))``, sync or asyncio client alike."""
    options: dict[str, Any] = {}
    if settings.redis_username:
        options["username"] = settings.redis_username
    password = settings.redis_password.get_secret_value()
    if password:
        options["password"] = password
    if urlsplit(settings.redis_url).scheme == "rediss":
        options["ssl_cert_reqs"] = "required"
        if settings.redis_ssl_ca_file:
            options["ssl_ca_certs"] = settings.redis_ssl_ca_file
        if settings.redis_ssl_cert_file:
            options["ssl_certfile"] = settings.redis_ssl_cert_file
            options["ssl_keyfile"] = settings.redis_ssl_key_file
    return options


def redacted_url(url: str) -> str:
    """The URL without user name or password, fit for logs and error messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))
