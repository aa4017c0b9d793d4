"""The state one Kafka partition owns, and how a batch of its records changes it.

A partition processor is rebuilt from what the store holds (``records``, ``watermark_ms``, ``offset``) and
then fed batches in offset order. Records at or below ``offset`` were applied before and are skipped, which
is what makes a replay after a crash harmless. Each batch returns the ``BatchChanges`` to write atomically.
"""

from __future__ import annotations

from processors.agent_partition import AgentPartition
from processors.contact_partition import ContactPartition
from processors.customer_partition import CustomerPartition
from processors.partition_base import SEEN_PREFIX, PartitionBase, Record

__all__ = ["SEEN_PREFIX", "AgentPartition", "ContactPartition", "CustomerPartition", "PartitionBase", "Record"]
