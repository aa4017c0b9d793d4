"""Fault tests: real servers killed, stopped and emptied under load (see docs/reliability.md)."""

from fixtures.faults import own_kafka, own_redis

__all__ = ["own_kafka", "own_redis"]
