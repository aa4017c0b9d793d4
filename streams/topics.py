"""Creating callpulse's topics with the configured partition count (brokers may auto-create with fewer)."""

from __future__ import annotations

import logging
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)


def ensure_topics(
    bootstrap: str, names: list[str], *, partitions: int, replication: int = 1, **client_kwargs: Any
) -> list[str]:
    """Create the topics that do not exist yet; return the ones created. Existing topics are left as they are.

    ``client_kwargs``: SASL/TLS keyword arguments of kafka-python (``KafkaSecurity.client_kwargs``)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","), **client_kwargs)
    try:
        existing = set(admin.list_topics())
        missing = [name for name in names if name not in existing]
        if missing:
            try:
                admin.create_topics([NewTopic(name, partitions, replication) for name in missing])
            except TopicAlreadyExistsError:
                log.info("topics %s were created meanwhile", missing)
            else:
                log.info("created topics %s with %d partitions", missing, partitions)
        return missing
    finally:
        admin.close()
