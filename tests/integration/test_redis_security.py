"""Redis AUTH (an ACL user) and TLS from the settings, against a real Valkey whose default user is off."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from callpulse import preflight
from callpulse.redis_security import redis_options
from callpulse.settings import Settings
from fixtures.secure_servers import SecureRedis
from fixtures.tls import TlsFiles

pytestmark = pytest.mark.integration


def _settings(url: str, **fields: Any) -> Settings:
    return Settings(redis_url=url, **fields)


def _ping(settings: Settings) -> bool:
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, **redis_options(settings))
    try:
        return client.ping() is True
    finally:
        client.close()


def test_the_acl_user_from_the_settings_is_let_in(secure_redis: SecureRedis) -> None:
    settings = _settings(secure_redis.url, redis_username=secure_redis.username, redis_password=secure_redis.password)
    assert _ping(settings)
    preflight.check_redis(settings.redis_url, **redis_options(settings))


@pytest.mark.parametrize(
    "credentials",
    [
        {},
        {"redis_username": "callpulse-app", "redis_password": "wrong"},
        {"redis_password": "valkey-acl-password-7f3e"},
    ],
    ids=["none", "wrong-password", "default-user"],
)
def test_without_the_right_credentials_redis_refuses(secure_redis: SecureRedis, credentials: dict[str, str]) -> None:
    settings = _settings(secure_redis.url, **credentials)
    with pytest.raises((redis.AuthenticationError, redis.ResponseError), match=r"(?i)auth|wrongpass|password"):
        _ping(settings)
    with pytest.raises(preflight.Unreachable, match="CALLPULSE_REDIS_USERNAME") as refused:
        preflight.check_redis(settings.redis_url, **redis_options(settings))
    assert "wrong" not in str(refused.value)


def test_tls_with_the_ca_from_the_settings(secure_redis: SecureRedis, tls_files: TlsFiles) -> None:
    settings = _settings(
        secure_redis.tls_url,
        redis_username=secure_redis.username,
        redis_password=secure_redis.password,
        redis_ssl_ca_file=str(tls_files.ca),
    )
    assert _ping(settings)
    mutual = settings.model_copy(
        update={"redis_ssl_cert_file": str(tls_files.client_cert), "redis_ssl_key_file": str(tls_files.client_key)}
    )
    assert _ping(mutual)


def test_tls_refuses_a_server_our_ca_did_not_sign(secure_redis: SecureRedis, tls_files: TlsFiles) -> None:
    settings = _settings(
        secure_redis.tls_url,
        redis_username=secure_redis.username,
        redis_password=secure_redis.password,
        redis_ssl_ca_file=str(tls_files.other_ca),
    )
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        _ping(settings)


def test_the_password_in_the_url_also_works(secure_redis: SecureRedis) -> None:
    url = f"redis://{secure_redis.username}:{secure_redis.password}@127.0.0.1:{secure_redis.port}/0"
    assert _ping(_settings(url))
