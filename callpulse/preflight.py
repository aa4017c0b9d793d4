"""Checks that Kafka and Redis answer before a part starts, with errors that say what to do."""

from __future__ import annotations

from redis import Redis
from redis.exceptions import RedisError


class Unreachable(RuntimeError):
    """A dependency did not answer; the message names the setting to fix."""


def check_redis(url: str, *, timeout_seconds: float = 5.0) -> None:
    client = Redis.from_url(url, socket_connect_timeout=timeout_seconds, socket_timeout=timeout_seconds)
    try:
        client.ping()
    except RedisError as exc:
        raise Unreachable(
            f"cannot reach Redis at {url}: {exc}. Start Redis or set CALLPULSE_REDIS_URL (or --redis-url)."
        ) from None
    finally:
        client.close()


def check_kafka(bootstrap: str, *, timeout_seconds: float = 10.0) -> None:
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap.split(","),
            request_timeout_ms=int(timeout_seconds * 1000),
            bootstrap_timeout_ms=int(timeout_seconds * 1000),
        )
        admin.list_topics()
    except (KafkaError, OSError, ValueError) as exc:
        raise Unreachable(
            f"cannot reach Kafka at {bootstrap}: {exc}. Start the broker or set CALLPULSE_KAFKA_BOOTSTRAP "
            "(or --kafka-bootstrap)."
        ) from None
    else:
        admin.close()
