"""Checks that Kafka and Redis answer before a part starts, with errors that say what to do."""

from __future__ import annotations

from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from callpulse.redis_security import redacted_url


class Unreachable(RuntimeError):
    """A dependency did not answer; the message names the setting to fix."""


def check_redis(url: str, *, timeout_seconds: float = 5.0, **options: Any) -> None:
    """PING ``url``; ``options`` are the client's credentials and TLS files (``redis_security.redis_options``)."""
    client = Redis.from_url(url, socket_connect_timeout=timeout_seconds, socket_timeout=timeout_seconds, **options)
    try:
        client.ping()
    except RedisError as exc:
        raise Unreachable(
            f"cannot reach Redis at {redacted_url(url)}: {exc}. Start Redis or set CALLPULSE_REDIS_URL "
            "(or --redis-url), and CALLPULSE_REDIS_USERNAME/PASSWORD and CALLPULSE_REDIS_SSL_* if it needs them."
        ) from None
    finally:
        client.close()


def check_kafka(bootstrap: str, *, timeout_seconds: float = 10.0, **client_kwargs: Any) -> None:
    """A metadata request; ``client_kwargs`` are the SASL/TLS ones (``KafkaSecurity.client_kwargs``)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap.split(","),
            request_timeout_ms=int(timeout_seconds * 1000),
            bootstrap_timeout_ms=int(timeout_seconds * 1000),
            **client_kwargs,
        )
        admin.list_topics()
    except (KafkaError, OSError, ValueError) as exc:
        raise Unreachable(
            f"cannot reach Kafka at {bootstrap}: {exc}. Start the broker or set CALLPULSE_KAFKA_BOOTSTRAP "
            "(or --kafka-bootstrap), and CALLPULSE_KAFKA_SECURITY_PROTOCOL/SASL_*/SSL_* if it needs them."
        ) from None
    else:
        admin.close()
