"""Logs carry no event payloads: the Kafka client libraries log every record's bytes at DEBUG (customer ids
included), so their loggers stay at INFO or above whatever CALLPULSE_LOG_LEVEL says."""

from __future__ import annotations

import logging

PAYLOAD_LOGGERS = ("aiokafka", "kafka")


def keep_payloads_out_of_logs() -> None:
    for name in PAYLOAD_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(max(logging.INFO, logger.getEffectiveLevel()))
