"""First contact resolution: each customer's recent contacts and resolutions, keyed by a salted hash.

Contacts are partitioned by contact id, so one customer's contacts sit in many partitions. The worker
forwards a small record for every contact and resolution that carries a ``customer_id`` to the customers
topic, keyed by the hashed id (a repartition, as Kafka Streams does); this module is what a partition of
that topic keeps. A resolution at ``r`` is *repeated* when the same customer starts a contact in
``(r, r + N days]``; FCR over a window is ``1 - repeated / resolved`` for the resolutions in it, as known
now (a resolution can still turn into a repeat for N days). Customer ids are never stored in clear.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

import orjson

from processors.events import Rejection, RejectReason
from processors.figures import BucketKey, Figure, KpiPolicy
from processors.windows import bucket_start

CONTACT, RESOLUTION = "c", "r"


def hash_customer(customer_id: str, salt: bytes) -> str:
    """The only form in which a customer id is kept: HMAC-SHA256 with a secret salt, hex."""
    return hmac.new(salt, customer_id.encode(), hashlib.sha256).hexdigest()[:32]


def forward_record(customer_hash: str, *, kind: str, time_ms: int, event_id: str, qid: str) -> tuple[bytes, bytes]:
    """(key, value) of the record the contacts worker sends to the customers topic."""
    return customer_hash.encode(), orjson.dumps({"h": customer_hash, "k": kind, "t": time_ms, "e": event_id, "q": qid})


@dataclass(frozen=True, slots=True, order=True)
class Touch:
    time_ms: int
    event_id: str
    kind: str = field(compare=False)
    qid: str = field(compare=False)


@dataclass(slots=True)
class CustomerHistory:
    touches: list[Touch] = field(default_factory=list)

    def has_event(self, event_id: str) -> bool:
        return any(touch.event_id == event_id for touch in self.touches)

    def to_json(self) -> dict[str, Any]:
        return {"t": [[t.time_ms, t.event_id, t.kind, t.qid] for t in self.touches]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CustomerHistory:
        return cls([Touch(int(at), str(eid), str(kind), str(qid)) for at, eid, kind, qid in data["t"]])


def decode_forward(raw: bytes) -> tuple[str, Touch] | Rejection:
    """A record of the customers topic (written by callpulse itself), or why it cannot be used."""
    try:
        data = orjson.loads(raw)
        touch = Touch(int(data["t"]), str(data["e"]), str(data["k"]), str(data["q"]))
        if touch.kind not in {CONTACT, RESOLUTION}:
            raise ValueError(f"unknown kind {touch.kind!r}")
        return str(data["h"]), touch
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        return Rejection(RejectReason.INVALID_VALUE, f"not a customer record: {exc}")


def contributions(history: CustomerHistory, policy: KpiPolicy, repeat_window_ms: int) -> dict[BucketKey, int]:
    """Resolutions with a customer id, and those followed by a repeat contact, bucketed at resolution time."""
    sums: dict[BucketKey, int] = {}
    contacts = [touch.time_ms for touch in history.touches if touch.kind == CONTACT]
    for touch in history.touches:
        if touch.kind != RESOLUTION:
            continue
        bucket = bucket_start(touch.time_ms, policy.bucket_ms)
        resolved = (bucket, touch.qid, Figure.FCR_RESOLVED.value)
        sums[resolved] = sums.get(resolved, 0) + 1
        if any(touch.time_ms < at <= touch.time_ms + repeat_window_ms for at in contacts):
            repeated = (bucket, touch.qid, Figure.FCR_REPEATED.value)
            sums[repeated] = sums.get(repeated, 0) + 1
    return sums


def prune(history: CustomerHistory, horizon_ms: int) -> CustomerHistory:
    """Forget touches before ``horizon_ms`` (their figures are final)."""
    return CustomerHistory([touch for touch in history.touches if touch.time_ms >= horizon_ms])
