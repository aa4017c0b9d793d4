"""Names of every Redis key callpulse uses (pure functions; the worker writes them, the exporter reads them).

State belongs to the Kafka partition that produced it. All keys of one partition share one hash tag,
``{<prefix>:<stream>:<partition>}``, so a batch can be written in one transaction, also on Redis Cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Stream = Literal["contacts", "agents", "customers"]
STREAMS: tuple[Stream, ...] = ("contacts", "agents", "customers")


def partitions_key(prefix: str) -> str:
    """Set of ``<stream>:<partition>`` that have state: how the exporter finds them."""
    return f"{prefix}:partitions"


def rebuilding_key(prefix: str) -> str:
    """Hash ``<stream>:<partition>`` -> offset: partitions replaying Kafka to rebuild lost state, and the
    offset each must pass before its figures are whole again (the exporter withholds KPIs meanwhile)."""
    return f"{prefix}:rebuilding"


def partition_member(stream: Stream, partition: int) -> str:
    return f"{stream}:{partition}"


def parse_partition_member(member: str) -> tuple[Stream, int]:
    stream, _, partition = member.partition(":")
    if stream not in STREAMS or not partition.isdigit():
        raise ValueError(f"not a partition member: {member!r}")
    return stream, int(partition)


@dataclass(frozen=True, slots=True)
class PartitionKeys:
    prefix: str
    stream: Stream
    partition: int

    @property
    def tag(self) -> str:
        return f"{{{self.prefix}:{self.stream}:{self.partition}}}"

    @property
    def meta(self) -> str:
        """Hash: ``offset`` (last applied), ``watermark_ms``, ``stat:<name>`` counters."""
        return f"{self.tag}:meta"

    @property
    def changes(self) -> str:
        """Sorted set: period name (a period key without the tag, e.g. ``sum:<bucket>``) -> the partition's
        write sequence (meta ``seq``) that last changed it; the exporter re-reads only what changed."""
        return f"{self.tag}:changes"

    def period_key(self, period: str) -> str:
        """The key of a period name from ``changes``."""
        return f"{self.tag}:{period}"

    def period_name(self, key: str) -> str:
        return key.removeprefix(f"{self.tag}:")

    @property
    def records(self) -> str:
        """Hash: contact legs or agent timelines in progress, JSON per key."""
        return f"{self.tag}:records"

    @property
    def live(self) -> str:
        """Hash: agent id -> live state JSON (agents partitions only)."""
        return f"{self.tag}:live"

    @property
    def waiting_queues(self) -> str:
        """Set of the queue ids with a contact waiting in this partition, complete as of meta ``woffset``
        (contacts partitions; the exporter runs its waiting script only over these)."""
        return f"{self.tag}:waitq"

    @property
    def live_changes(self) -> str:
        """Sorted set: agent id -> the partition's live sequence (meta ``lseq``) that last set or deleted its
        live state; the exporter re-reads only those agents."""
        return f"{self.tag}:livechanges"

    @property
    def queues(self) -> str:
        """Set of queue ids this partition has figures or waiting contacts of."""
        return f"{self.tag}:queues"

    def waiting(self, qid: str) -> str:
        """Sorted set: leg key -> queued time in ms, contacts waiting now."""
        return f"{self.tag}:wait:{qid}"

    def sums(self, bucket_ms: int) -> str:
        """Hash: ``<qid>|<figure>`` -> integer sum, for one time bucket."""
        return f"{self.tag}:sum:{bucket_ms}"

    def maxima(self, bucket_ms: int) -> str:
        """Sorted set: ``<qid>|<figure>`` -> maximum, for one time bucket."""
        return f"{self.tag}:max:{bucket_ms}"

    def interval_sums(self, start_ms: int) -> str:
        """Like ``sums``, for one aligned report interval (kept for days, for trends and reports)."""
        return f"{self.tag}:isum:{start_ms}"

    def interval_maxima(self, start_ms: int) -> str:
        return f"{self.tag}:imax:{start_ms}"

    def day_sums(self, day: str) -> str:
        """Like ``sums``, for one local calendar day (``YYYY-MM-DD``): the 'today' window."""
        return f"{self.tag}:dsum:{day}"

    def day_maxima(self, day: str) -> str:
        return f"{self.tag}:dmax:{day}"


def figure_field(qid: str, figure: str) -> str:
    return f"{qid}|{figure}"


def split_figure_field(field: str) -> tuple[str, str]:
    qid, _, figure = field.rpartition("|")
    return qid, figure


STAT_PREFIX = "stat:"
WAITING_INDEX_OFFSET = "woffset"
"""Meta field: the offset as of which the partition's waiting queues' set is complete (equal to ``offset``
when the last writer kept the set; the exporter reads every queue's waiting set otherwise)."""
