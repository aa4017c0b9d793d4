"""One batch's writes as a single Lua call: fenced by the stored offset, atomic, one round trip.

A batch used to be a MULTI/EXEC of hundreds of commands guarded by WATCH; packing and parsing a reply per
command cost more than the KPI logic. Now the store builds a ``WritePlan`` (the keys and a compact list of
operations, pure) and runs ``BATCH_SCRIPT`` once: it checks the partition's offset, applies every operation,
bumps the partition's write sequence and records which period keys changed at that sequence (the exporter
reads only those); likewise a live sequence ``lseq`` and which agents' live states changed at it. Every key
of a plan is under the partition's hash tag, so this runs on Redis Cluster too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

MAX_ARGS_PER_OP = 1_000
"""Operations are split so that Lua's ``unpack`` stays far below its C stack limit."""
CHANGED_KEPT = 4_096
"""Newest entries kept in each of a partition's change indexes (one per period key or agent written)."""

BATCH_SCRIPT = """
local stored = redis.call('HGET', KEYS[1], 'offset')
if (stored and tonumber(stored) or -1) ~= tonumber(ARGV[1]) then
  return 0
end
local ops = cjson.decode(ARGV[2])
for _, op in ipairs(ops) do
  local kind, key = op[1], KEYS[op[2]]
  if kind == 'hincr' then
    for i = 4, #op, 2 do
      redis.call('HINCRBY', key, op[i], op[i + 1])
    end
    if op[3] ~= '' then
      redis.call('EXPIRE', key, op[3])
    end
  elseif kind == 'zmax' then
    redis.call('ZADD', key, 'GT', unpack(op, 4))
    redis.call('EXPIRE', key, op[3])
  elseif kind == 'wrem' then
    redis.call('ZREM', key, unpack(op, 5))
    if redis.call('ZCARD', key) == 0 then
      redis.call('SREM', KEYS[op[3]], op[4])
    end
  else
    redis.call(kind, key, unpack(op, 3))
  end
end
local function index(names, sequence, key)  -- bump meta's sequence, note each name at it, keep the newest
  if #names > 0 then
    local seq = redis.call('HINCRBY', KEYS[1], sequence, 1)
    for _, name in ipairs(names) do
      redis.call('ZADD', key, seq, name)
    end
    redis.call('ZREMRANGEBYRANK', key, 0, -(tonumber(ARGV[4]) + 1))
  end
end
index(cjson.decode(ARGV[3]), 'seq', KEYS[2])
index(cjson.decode(ARGV[5]), 'lseq', KEYS[3])
return 1
"""


@dataclass
class WritePlan:
    """The keys and operations of one batch; ``meta``, ``changes`` and ``live_changes`` are always KEYS[1],
    KEYS[2] and KEYS[3]."""

    meta: str
    changes: str
    live_changes: str
    keys: list[str] = field(default_factory=list)
    ops: list[list[str | int]] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # period names (key suffixes) written by the batch
    live_changed: list[str] = field(default_factory=list)  # agents whose live state the batch set or deleted
    _index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.key(self.meta)
        self.key(self.changes)
        self.key(self.live_changes)

    def key(self, name: str) -> int:
        """The key's 1-based index in KEYS (added when new)."""
        index = self._index.get(name)
        if index is None:
            self.keys.append(name)
            index = self._index[name] = len(self.keys)
        return index

    def increment(self, key: str, deltas: dict[str, int], ttl_seconds: int | None) -> None:
        """HINCRBY every non-zero delta, then EXPIRE (unless ``ttl_seconds`` is None)."""
        pairs = [item for name, delta in deltas.items() if delta for item in (name, str(delta))]
        ttl = "" if ttl_seconds is None else str(ttl_seconds)
        for chunk in _chunks(pairs):
            self.ops.append(["hincr", self.key(key), ttl, *chunk])

    def raise_to(self, key: str, values: dict[str, int], ttl_seconds: int) -> None:
        """ZADD GT every member (a maximum only grows), then EXPIRE."""
        pairs = [item for name, value in values.items() for item in (str(value), name)]
        for chunk in _chunks(pairs):
            self.ops.append(["zmax", self.key(key), str(ttl_seconds), *chunk])

    def call(self, command: str, key: str, *args: str | int) -> None:
        """Any other command on one key; long argument lists are split into several calls."""
        texts = [str(arg) for arg in args]
        pair_sized = command in {"HSET"}  # field/value pairs must not be split apart
        for chunk in _chunks(texts, even=pair_sized):
            self.ops.append([command, self.key(key), *chunk])

    def remove_waiting(self, waiting_key: str, queues_key: str, qid: str, legs: list[str]) -> None:
        """ZREM the legs from the queue's waiting set; once it is empty, SREM the queue from ``queues_key``."""
        for chunk in _chunks(legs):
            self.ops.append(["wrem", self.key(waiting_key), self.key(queues_key), qid, *chunk])

    def mark_changed(self, period: str) -> None:
        self.changed.append(period)

    def arguments(self, expected_offset: int, kept: int = CHANGED_KEPT) -> list[int | bytes]:
        """``BATCH_SCRIPT``'s ARGV: run only if the stored offset is ``expected_offset``; keep ``kept``
        entries of each change index."""
        return [
            expected_offset,
            orjson.dumps(self.ops),
            orjson.dumps(self.changed),
            kept,
            orjson.dumps(self.live_changed),
        ]


def _chunks(items: list[str], *, even: bool = True) -> list[list[str]]:
    size = MAX_ARGS_PER_OP - (MAX_ARGS_PER_OP % 2 if even else 0)
    return [items[start : start + size] for start in range(0, len(items), size)]
