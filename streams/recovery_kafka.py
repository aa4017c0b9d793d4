"""The Faust consumer as ``streams.recovery`` sees it: seek a partition, list the assignment, committed offsets."""

from __future__ import annotations

import logging
from typing import Any

from aiokafka.errors import KafkaError
from faust.types import TP

from streams.recovery import PartitionId
from streams.redis_keys import Stream

log = logging.getLogger(__name__)


class FaustConsumer:
    """``topics`` maps each stream to its topic name; ``app`` is the Faust app whose consumer is used."""

    def __init__(self, app: Any, topics: dict[Stream, str]) -> None:
        self.app = app
        self.topics = topics
        self.streams = {topic: stream for stream, topic in topics.items()}

    async def seek(self, stream: Stream, partition: int, offset: int) -> None:
        tp = TP(self.topics[stream], partition)
        try:
            await self.app.consumer.seek_wait({tp: offset})
        except (KafkaError, TimeoutError) as exc:  # e.g. revoked meanwhile: its next owner rewinds it
            log.warning("could not seek %s to offset %d: %s", tp, offset, exc)

    def assigned(self) -> list[PartitionId]:
        if self.app.rebalancing:
            return []
        assignment = self.app.consumer.assignment()
        return sorted((self.streams[tp.topic], tp.partition) for tp in assignment if tp.topic in self.streams)

    def committed(self, stream: Stream, partition: int) -> int | None:
        # Faust keeps the group's committed offsets of its assignment (read from the broker when the
        # partitions were assigned, updated at each commit); 0 and None both mean nothing committed
        offset = self.app.consumer._committed_offset.get(TP(self.topics[stream], partition))
        return int(offset) if offset else None
