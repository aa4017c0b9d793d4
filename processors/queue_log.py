"""Asterisk ``queue_log`` lines -> contract-v1 events (pure: no I/O, no clock; positions and times are passed in).

Asterisk (1.8 and later) appends one line per queue event to ``/var/log/asterisk/queue_log``::

    epoch|callid|queuename|agent|EVENT|data1|data2|...

``epoch`` is whole seconds, ``callid`` the caller channel's uniqueid, ``agent`` the member name, and "NONE"
fills a field that has no value. :class:`QueueLogMapper` turns each line into the events it implies, given
what earlier lines said (:class:`QueueLogState`, small and JSON-serialisable so a reader can checkpoint it
with its byte position), or into a :class:`LineRejection` with a precise reason.

==================================  =========================================================================
Asterisk event (data fields)        contract-v1 events
==================================  =========================================================================
ENTERQUEUE (url|callerid|pos)       ``queued``
CONNECT (holdtime|bridged|ring)     ``answered`` (agent_id = the agent field); agent ``on_contact``
COMPLETEAGENT, COMPLETECALLER       ``ended`` + ``wrapup_ended`` at the same time (Asterisk logs no wrap-up:
(holdtime|calltime|origpos)         wrap-up time is 0); agent ``available``, or ``aux`` if paused during
                                    the call, or ``wrapup`` for ``wrapup_seconds`` then ``available``
TRANSFER, BLINDTRANSFER,            ``transferred`` + ``wrapup_ended`` (no ``to_queue``: Asterisk names an
ATTENDEDTRANSFER (...|hold|call|    extension, not a queue; a later ENTERQUEUE of the call opens the next
origpos)                            leg); agent as after COMPLETE*
ABANDON, EXITWITHKEY                ``abandoned`` (the caller left: hung up, or pressed a key to leave)
EXITWITHTIMEOUT                     ``timeout``
EXITEMPTY                           ``timeout`` (the queue, not the caller, ended the wait: no agent left,
                                    per ``leavewhenempty``)
PAUSE (reason)                      agent ``aux`` with the reason sanitised (none: "unspecified"); during a
                                    call nothing until the call ends
UNPAUSE                             agent ``available`` (during a call: nothing until the call ends)
ADDMEMBER ("PAUSED" or empty)       the queue joins the agent's membership: ``available`` (``aux`` if added
                                    paused) when not logged in yet, else the current state restated with
                                    the new ``queues``
REMOVEMEMBER                        membership shrinks: current state restated, ``offline`` when no queue
                                    is left
AGENTLOGIN / AGENTLOGOFF            agent ``available`` / ``offline``
RINGNOANSWER, RINGCANCELED          nothing: a missed ring changes no KPI and the agent stays as it was
                                    (with ``autopause`` Asterisk logs the PAUSE that follows)
QUEUESTART, CONFIGRELOAD, DID,      nothing (known, no KPI); PAUSEALL/UNPAUSEALL are followed by one
INFO, SYSCOMPAT, PAUSEALL, ...      PAUSE/UNPAUSE line per queue, which are mapped
==================================  =========================================================================

Names: queue and agent names are sanitised to the contract's name pattern (``SIP/1001`` -> ``SIP-1001``,
accents dropped), so two names that differ only in punctuation become one. Tenant and channel come from
:class:`QueueLogConfig`. The contact id is the callid; a call that enters a queue it already left gets
``<callid>-2`` there (a contract leg is one contact in one queue). Event ids are
``<source>-<file key>-<byte offset, 12 digits>-<role>``: a replay of the same file gives the same ids, and
ids sort in file order, which is how the worker orders two events of one agent in the same second.

When a call's earlier lines were not seen (a reader started mid-file), the missing ``queued``/``answered``
are rebuilt from the waits and talk times Asterisk logs (holdtime, calltime, waittime). Agent events are
only stated afresh when state, reason or membership change.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from processors.events import Channel
from processors.timeutil import format_ms

MAX_LINE_BYTES = 16 * 1024
MIN_EPOCH, MAX_EPOCH = 1_000_000_000, 9_999_999_999  # 2001-09-09 .. 2286-11-20
OPEN_LEG_RETENTION_MS = 4 * 3600 * 1000  # a call with no line for this long is forgotten (the worker's default)
CLOSED_LEG_RETENTION_MS = 3600 * 1000  # a finished leg is remembered this long, to spot a call re-entering
MAX_QUEUES = 32
MAX_DURATION_SECONDS = 7 * 86_400  # a logged wait, hold or talk time longer than this is a bad field

_NOT_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_SOURCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
_EPOCH = re.compile(r"[0-9]{1,12}")
_EVENT = re.compile(r"[A-Z][A-Z0-9_]{0,39}")
_ID = re.compile(r"[\x21-\x7e]{1,80}")

Stream = Literal["contacts", "agents"]
WAITING, TALKING, CLOSED = "waiting", "talking", "closed"

IGNORED_EVENTS = {
    "RINGNOANSWER": "RINGNOANSWER: a missed ring changes no KPI",
    "RINGCANCELED": "RINGCANCELED: a cancelled ring changes no KPI",
    "QUEUESTART": "QUEUESTART: no KPI",
    "CONFIGRELOAD": "CONFIGRELOAD: no KPI",
    "DID": "DID: no KPI",
    "INFO": "INFO: no KPI",
    "SYSCOMPAT": "SYSCOMPAT: no KPI",
    "AGENTDUMP": "AGENTDUMP: the caller keeps waiting",
    "AGENTCALLED": "AGENTCALLED: ringing is not a state change",
    "PAUSEALL": "PAUSEALL: the per-queue PAUSE lines are mapped",
    "UNPAUSEALL": "UNPAUSEALL: the per-queue UNPAUSE lines are mapped",
    "PENALTY": "PENALTY: no KPI",
}


class LineReason(StrEnum):
    """Why a line could not be mapped; the ``reason`` of its dead letter."""

    EMPTY_LINE = "empty_line"
    LINE_TOO_LONG = "line_too_long"
    MALFORMED_LINE = "malformed_line"
    BAD_EPOCH = "bad_epoch"
    UNKNOWN_EVENT = "unknown_event"
    MISSING_FIELD = "missing_field"
    BAD_FIELD = "bad_field"
    BAD_NAME = "bad_name"
    UNEXPECTED_EVENT = "unexpected_event"


@dataclass(frozen=True, slots=True)
class LineRejection:
    reason: LineReason
    detail: str


@dataclass(frozen=True, slots=True)
class QueueLogLine:
    """One syntactically valid line; "NONE" and empty fields are ``None`` (data fields: "")."""

    epoch: int
    callid: str | None
    queue: str | None
    agent: str | None
    event: str
    data: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LineRef:
    """Where a line is: the file (its first-line fingerprint, see :func:`file_key`) and its byte offset."""

    file_key: str
    offset: int


@dataclass(frozen=True, slots=True)
class OutEvent:
    stream: Stream
    key: str  # the Kafka key: contact_id or agent_id
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LineResult:
    event_name: str  # the Asterisk event ("" when the line is not even parsable)
    events: tuple[OutEvent, ...] = ()
    rejection: LineRejection | None = None
    note: str | None = None  # why a mapped line gave no event


@dataclass(frozen=True, slots=True)
class QueueLogConfig:
    tenant: str = "default"
    channel: str = "voice"
    source: str = "asterisk"  # first part of every event id: one per PBX
    wrapup_seconds: int = 0  # Asterisk's queues.conf wrapuptime: agents are in wrapup this long after a call
    default_queue: str | None = None  # for AGENTLOGIN/OFF lines without a queue, of agents with no known queue

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.tenant):
            raise ValueError(f"tenant {self.tenant!r} must match {_NAME.pattern}")
        if self.channel not in {channel.value for channel in Channel}:
            raise ValueError(f"channel {self.channel!r} is not one of voice, chat, email, social")
        if not _SOURCE.fullmatch(self.source):
            raise ValueError(f"source id {self.source!r} must match {_SOURCE.pattern}")
        if not 0 <= self.wrapup_seconds <= 86_400:
            raise ValueError("wrapup seconds must be 0-86400")
        if self.default_queue is not None and not _NAME.fullmatch(self.default_queue):
            raise ValueError(f"default queue {self.default_queue!r} must match {_NAME.pattern}")


def sanitize_name(text: str, max_length: int = 64) -> str | None:
    """``text`` as a contract name (``[A-Za-z0-9][A-Za-z0-9_.-]*``): accents dropped, other runs -> '-'."""
    plain = unicodedata.normalize("NFKD", text.strip()).encode("ascii", "ignore").decode()
    name = _NOT_NAME.sub("-", plain).lstrip("-_.")[:max_length].rstrip("-")
    return name or None


def file_key(first_line: bytes) -> str:
    """A file's identity for event ids: its first line's epoch and a hash of that line. A rotated file
    keeps it (same content), a new or rewritten file gets another; ids of older files sort first."""
    head = first_line.split(b"|", 1)[0].strip()
    epoch = int(head) if head.isdigit() and len(head) <= 10 else 0
    digest = hashlib.blake2b(first_line.rstrip(b"\r\n"), digest_size=4).hexdigest()
    return f"{epoch:010d}.{digest}"


def _field(value: str) -> str | None:
    value = value.strip()
    return None if value in {"", "NONE"} else value


def parse_line(raw: bytes) -> QueueLogLine | LineRejection:
    """Split one line (without or with its newline); check the epoch and the event name's form."""
    if len(raw) > MAX_LINE_BYTES:
        return LineRejection(LineReason.LINE_TOO_LONG, f"line is over {MAX_LINE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # names are sanitised to ASCII anyway
    text = text.rstrip("\r\n")
    if not text.strip():
        return LineRejection(LineReason.EMPTY_LINE, "empty line")
    fields = text.split("|")
    if len(fields) < 5:
        return LineRejection(
            LineReason.MALFORMED_LINE, f"{len(fields)} field(s), expected epoch|callid|queue|agent|EVENT[|data...]"
        )
    epoch_text = fields[0].strip()
    if not _EPOCH.fullmatch(epoch_text):
        return LineRejection(LineReason.BAD_EPOCH, f"epoch {epoch_text[:24]!r} is not whole seconds since 1970")
    epoch = int(epoch_text)
    if not MIN_EPOCH <= epoch <= MAX_EPOCH:
        return LineRejection(LineReason.BAD_EPOCH, f"epoch {epoch} is out of range ({MIN_EPOCH}-{MAX_EPOCH})")
    event = fields[4].strip()
    if not event:
        return LineRejection(LineReason.MALFORMED_LINE, "the event field is empty")
    if not _EVENT.fullmatch(event):
        return LineRejection(LineReason.UNKNOWN_EVENT, f"{event[:40]!r} is not an Asterisk queue event name")
    data = tuple("" if value.strip() == "NONE" else value.strip() for value in fields[5:])
    return QueueLogLine(epoch, _field(fields[1]), _field(fields[2]), _field(fields[3]), event, data)


@dataclass(slots=True)
class Leg:
    stage: str  # WAITING, TALKING or CLOSED
    visit: int  # 1 for the first time the call is in this queue
    agent: str | None
    last_ms: int


@dataclass(slots=True)
class AgentInfo:
    queues: list[str] = field(default_factory=list)  # membership, sorted
    state: str | None = None  # the state of the last event sent
    queue: str | None = None  # ... its queue
    reason: str | None = None  # ... its aux reason
    shown: list[str] = field(default_factory=list)  # ... the membership it stated
    paused: bool = False
    pause_reason: str | None = None
    call: str | None = None  # the callid the agent is talking on
    due: tuple[int, str, str] | None = None  # wrap-up ends: (time ms, event id, queue) of the ``available``


@dataclass(slots=True)
class QueueLogState:
    """What the mapper remembers between lines; checkpointed with the reader's position."""

    newest_ms: int = 0
    legs: dict[str, Leg] = field(default_factory=dict)  # "queue/callid" -> leg
    agents: dict[str, AgentInfo] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "v": 1,
            "newest": self.newest_ms,
            "legs": {key: [leg.stage, leg.visit, leg.agent, leg.last_ms] for key, leg in sorted(self.legs.items())},
            "agents": {
                agent: [a.queues, a.state, a.queue, a.reason, a.shown, a.paused, a.pause_reason, a.call, a.due]
                for agent, a in sorted(self.agents.items())
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QueueLogState:
        if data.get("v") != 1:
            raise ValueError(f"unknown queue_log parser state version {data.get('v')!r}")
        legs = {key: Leg(str(s), int(v), a, int(t)) for key, (s, v, a, t) in data["legs"].items()}
        agents = {
            agent: AgentInfo(list(q), s, cq, r, list(shown), bool(p), pr, c, _due(due))
            for agent, (q, s, cq, r, shown, p, pr, c, due) in data["agents"].items()
        }
        return cls(int(data["newest"]), legs, agents)


class _Reject(Exception):
    def __init__(self, reason: LineReason, detail: str) -> None:
        super().__init__(detail)
        self.rejection = LineRejection(reason, detail)


@dataclass(frozen=True, slots=True)
class _Line:
    parsed: QueueLogLine
    ref: LineRef
    source: str

    @property
    def time_ms(self) -> int:
        return self.parsed.epoch * 1000

    def event_id(self, role: str) -> str:
        return f"{self.source}-{self.ref.file_key}-{self.ref.offset:012d}-{role}"

    def callid(self) -> str:
        callid = self.parsed.callid
        if callid is None:
            raise _Reject(LineReason.MISSING_FIELD, f"{self.parsed.event} needs a callid")
        if not _ID.fullmatch(callid):
            raise _Reject(LineReason.BAD_FIELD, f"callid {callid[:40]!r} is not 1-80 printable characters")
        return callid

    def queue(self, *, required: bool = True) -> str | None:
        raw = self.parsed.queue
        if raw is None:
            if required:
                raise _Reject(LineReason.MISSING_FIELD, f"{self.parsed.event} needs a queue name")
            return None
        name = sanitize_name(raw)
        if name is None:
            raise _Reject(LineReason.BAD_NAME, f"queue {raw[:40]!r} has no letter or digit to make a name of")
        return name

    def agent(self, *, required: bool = True) -> str | None:
        raw = self.parsed.agent
        if raw is None:
            if required:
                raise _Reject(LineReason.MISSING_FIELD, f"{self.parsed.event} needs an agent")
            return None
        name = sanitize_name(raw, 128)
        if name is None:
            raise _Reject(LineReason.BAD_NAME, f"agent {raw[:40]!r} has no letter or digit to make a name of")
        return name

    def seconds(self, index: int, what: str) -> int:
        """Data field ``index`` (negative: from the end) as whole non-negative seconds."""
        data = self.parsed.data
        text = data[index] if -len(data) <= index < len(data) else ""
        if not text:
            raise _Reject(
                LineReason.MISSING_FIELD, f"{self.parsed.event} of an unseen call needs its {what} to rebuild it"
            )
        if not (text.isascii() and text.isdigit()):  # not "²" or "٣", which str.isdigit also accepts
            raise _Reject(LineReason.BAD_FIELD, f"{what} {text[:20]!r} is not whole seconds")
        if len(text) > 7 or int(text) > MAX_DURATION_SECONDS:
            raise _Reject(LineReason.BAD_FIELD, f"{what} {text[:20]} s is over {MAX_DURATION_SECONDS} s (7 days)")
        return int(text)


Handled = tuple[list[OutEvent], str | None]


class QueueLogMapper:
    """Maps lines in file order; ``state`` is everything it needs to resume after the last line mapped."""

    def __init__(self, config: QueueLogConfig, state: QueueLogState | None = None) -> None:
        self.config = config
        self.state = state or QueueLogState()
        self._next_due = self._earliest_due()  # so that ``advance`` costs nothing when no wrap-up is pending

    def map_line(self, raw: bytes, ref: LineRef) -> LineResult:
        parsed = parse_line(raw)
        if isinstance(parsed, LineRejection):
            return LineResult("", rejection=parsed)
        handler = _HANDLERS.get(parsed.event)
        if handler is None and parsed.event not in IGNORED_EVENTS:
            return LineResult(
                parsed.event, rejection=LineRejection(LineReason.UNKNOWN_EVENT, f"unknown event {parsed.event!r}")
            )
        line = _Line(parsed, ref, self.config.source)
        released = self.advance(line.time_ms)
        self._note_time(line.time_ms)
        if handler is None:
            return LineResult(parsed.event, tuple(released), note=IGNORED_EVENTS[parsed.event])
        try:
            events, note = handler(self, line)
        except _Reject as reject:
            return LineResult(parsed.event, tuple(released), rejection=reject.rejection)
        return LineResult(parsed.event, tuple(released + events), note=None if events else note)

    def advance(self, now_ms: int) -> list[OutEvent]:
        """The ``available`` of agents whose wrap-up time is over at ``now_ms`` (log time or wall clock)."""
        if self._next_due is None or self._next_due > now_ms:
            return []
        events = []
        for agent_id, info in sorted(self.state.agents.items()):
            if info.due is not None and info.due[0] <= now_ms:
                due_ms, event_id, queue = info.due
                event = self._state(agent_id, info, "available", queue, event_id=event_id, at_ms=due_ms)
                events += [event] if event else []
        self._next_due = self._earliest_due()
        return events

    def _earliest_due(self) -> int | None:
        return min((info.due[0] for info in self.state.agents.values() if info.due is not None), default=None)

    # --- contacts -------------------------------------------------------------------------------------

    def _enter(self, line: _Line) -> Handled:
        callid, queue = line.callid(), _required(line.queue())
        leg = self.state.legs.get(f"{queue}/{callid}")
        if leg is not None and leg.stage != CLOSED:
            raise _Reject(LineReason.UNEXPECTED_EVENT, f"call {callid} entered {queue} again while {leg.stage} there")
        visit = leg.visit + 1 if leg else 1
        self.state.legs[f"{queue}/{callid}"] = Leg(WAITING, visit, None, line.time_ms)
        return [self._contact(line, "q", "queued", queue, _contact_id(callid, visit))], None

    def _connect(self, line: _Line) -> Handled:
        callid, queue, agent = line.callid(), _required(line.queue()), _required(line.agent())
        leg = self.state.legs.get(f"{queue}/{callid}")
        events = []
        if leg is not None and leg.stage == TALKING:
            raise _Reject(LineReason.UNEXPECTED_EVENT, f"call {callid} was already answered in {queue}")
        if leg is None or leg.stage == CLOSED:
            waited = line.seconds(0, "holdtime")
            leg = Leg(WAITING, leg.visit + 1 if leg else 1, None, line.time_ms)
            events.append(self._contact(line, "q", "queued", queue, _contact_id(callid, leg.visit), shift_s=-waited))
        self.state.legs[f"{queue}/{callid}"] = Leg(TALKING, leg.visit, agent, line.time_ms)
        events.append(self._contact(line, "a", "answered", queue, _contact_id(callid, leg.visit), agent=agent))
        info = self._agent_info(agent)
        _join(info, queue)
        info.call = callid
        state = self._state(agent, info, "on_contact", queue, event_id=line.event_id("s"), at_ms=line.time_ms)
        return events + ([state] if state else []), None

    def _finish(self, line: _Line, kind: str, hold_index: int, call_index: int) -> Handled:
        callid, queue = line.callid(), _required(line.queue())
        leg = self.state.legs.get(f"{queue}/{callid}")
        agent = line.agent(required=False) or (leg.agent if leg else None)
        if agent is None:
            raise _Reject(LineReason.MISSING_FIELD, f"{line.parsed.event} needs an agent")
        contact_events = []
        if leg is None or leg.stage == CLOSED:
            held, talked = line.seconds(hold_index, "holdtime"), line.seconds(call_index, "calltime")
            leg = Leg(WAITING, leg.visit + 1 if leg else 1, None, line.time_ms - (held + talked) * 1000)
            queued = self._contact(line, "q", "queued", queue, _contact_id(callid, leg.visit), shift_s=-held - talked)
            contact_events.append(queued)
        contact_id = _contact_id(callid, leg.visit)
        if leg.stage == WAITING:  # not answered yet in this file: answered when the talk began (not before queued)
            shift = max(-line.seconds(call_index, "calltime"), (leg.last_ms - line.time_ms) // 1000)
            contact_events.append(self._contact(line, "a", "answered", queue, contact_id, shift_s=shift, agent=agent))
        contact_events.append(self._contact(line, _ROLES[kind], kind, queue, contact_id, agent=agent))
        contact_events.append(self._contact(line, "w", "wrapup_ended", queue, contact_id, agent=agent))
        self.state.legs[f"{queue}/{callid}"] = Leg(CLOSED, leg.visit, agent, line.time_ms)
        return contact_events + self._after_call(line, agent, queue, callid), None

    def _leave(self, line: _Line, kind: str, wait_index: int) -> Handled:
        callid, queue = line.callid(), _required(line.queue())
        leg = self.state.legs.get(f"{queue}/{callid}")
        if leg is not None and leg.stage == TALKING:
            raise _Reject(LineReason.UNEXPECTED_EVENT, f"{line.parsed.event} of call {callid} after it was answered")
        events = []
        if leg is None or leg.stage == CLOSED:
            waited = line.seconds(wait_index, "waittime")
            leg = Leg(WAITING, leg.visit + 1 if leg else 1, None, line.time_ms)
            events.append(self._contact(line, "q", "queued", queue, _contact_id(callid, leg.visit), shift_s=-waited))
        events.append(self._contact(line, _ROLES[kind], kind, queue, _contact_id(callid, leg.visit)))
        self.state.legs[f"{queue}/{callid}"] = Leg(CLOSED, leg.visit, None, line.time_ms)
        return events, None

    def _contact(
        self,
        line: _Line,
        role: str,
        kind: str,
        queue: str,
        contact_id: str,
        *,
        shift_s: int = 0,
        agent: str | None = None,
    ) -> OutEvent:
        event = self._common(line.event_id(role), line.time_ms + shift_s * 1000, kind, queue)
        event["contact_id"] = contact_id
        if agent is not None:
            event["agent_id"] = agent
        return OutEvent("contacts", contact_id, event)

    # --- agents ---------------------------------------------------------------------------------------

    def _after_call(self, line: _Line, agent: str, queue: str, callid: str) -> list[OutEvent]:
        info = self._agent_info(agent)
        if info.call not in {None, callid}:
            return []  # the agent is already on another call
        info.call = None
        _join(info, queue)
        at, event_id = line.time_ms, line.event_id("s")
        if info.paused:
            event = self._state(agent, info, "aux", queue, info.pause_reason, event_id=event_id, at_ms=at)
        elif self.config.wrapup_seconds:
            event = self._state(agent, info, "wrapup", queue, event_id=event_id, at_ms=at)
            info.due = (at + self.config.wrapup_seconds * 1000, line.event_id("d"), queue)
            self._next_due = min(self._next_due or info.due[0], info.due[0])
        else:
            event = self._state(agent, info, "available", queue, event_id=event_id, at_ms=at)
        return [event] if event else []

    def _pause(self, line: _Line, paused: bool) -> Handled:
        agent, line_queue = _required(line.agent()), line.queue(required=False)
        info = self.state.agents.get(agent) or AgentInfo()
        queue = self._agent_queue(line, info, line_queue)
        reason = sanitize_name(line.parsed.data[0]) if paused and line.parsed.data else None
        info = self._agent_info(agent)
        _join(info, line_queue)
        info.paused, info.pause_reason = paused, reason
        if info.call is not None:
            return [], f"{line.parsed.event} during a call: the agent's state changes when the call ends"
        state = "aux" if paused else "available"
        event = self._state(agent, info, state, queue, reason, event_id=line.event_id("s"), at_ms=line.time_ms)
        return ([event] if event else []), "agent state unchanged"

    def _login(self, line: _Line, logged_in: bool) -> Handled:
        agent, line_queue = _required(line.agent()), line.queue(required=False)
        queue = self._agent_queue(line, self.state.agents.get(agent) or AgentInfo(), line_queue)
        info = self._agent_info(agent)
        _join(info, line_queue)
        info.paused, info.pause_reason, info.call = False, None, None
        state = "available" if logged_in else "offline"
        event = self._state(agent, info, state, queue, event_id=line.event_id("s"), at_ms=line.time_ms)
        return ([event] if event else []), "agent state unchanged"

    def _member(self, line: _Line, added: bool) -> Handled:
        agent, queue = _required(line.agent()), _required(line.queue())
        info = self._agent_info(agent)
        state, reason, current = info.state, info.reason, info.queue
        if added:
            _join(info, queue)
            if state in {None, "offline"}:
                info.paused, info.pause_reason = line.parsed.data[:1] == ("PAUSED",), None
                state, reason, current = ("aux" if info.paused else "available"), None, queue
        else:
            info.queues = [name for name in info.queues if name != queue]
            if not info.queues:
                info.paused, info.pause_reason, info.call = False, None, None
                state, reason, current = "offline", None, queue
            elif current not in info.queues:
                current = info.queues[0]
        event = self._state(
            agent, info, state or "available", current or queue, reason, event_id=line.event_id("s"), at_ms=line.time_ms
        )
        return ([event] if event else []), "agent state unchanged"

    def _agent_queue(self, line: _Line, info: AgentInfo, line_queue: str | None) -> str:
        queue = line_queue or info.queue or (info.queues[0] if info.queues else None) or self.config.default_queue
        if queue is None:
            raise _Reject(
                LineReason.MISSING_FIELD,
                f"{line.parsed.event} has no queue and agent {line.parsed.agent} has no known queue "
                "(set a default queue)",
            )
        return queue

    def _agent_info(self, agent: str) -> AgentInfo:
        return self.state.agents.setdefault(agent, AgentInfo())

    def _state(
        self,
        agent: str,
        info: AgentInfo,
        state: str,
        queue: str,
        reason: str | None = None,
        *,
        event_id: str,
        at_ms: int,
    ) -> OutEvent | None:
        """The agent's new state as an event, or None when state, reason and membership are unchanged.
        A new state ends a pending wrap-up; restating the same state (new membership) keeps it."""
        if state != info.state:
            info.due = None
        members = sorted({*info.queues, queue})
        if len(members) > MAX_QUEUES:
            members = sorted({queue, *[name for name in members if name != queue][: MAX_QUEUES - 1]})
        if state == info.state and reason == info.reason and members == info.shown:
            return None
        if state == info.state and reason == info.reason and info.queue in members:
            queue = info.queue  # only the membership changed: keep counting the state under its queue
        info.state, info.queue, info.reason, info.shown = state, queue, reason, members
        event = self._common(event_id, at_ms, state, queue) | {"agent_id": agent}
        if reason is not None and state == "aux":
            event["reason"] = reason
        if members != [queue]:
            event["queues"] = members
        return OutEvent("agents", agent, event)

    # --- common ---------------------------------------------------------------------------------------

    def _common(self, event_id: str, at_ms: int, kind: str, queue: str) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "event_id": event_id,
            "event_time": format_ms(at_ms),
            "type": kind,
            "tenant": self.config.tenant,
            "queue": queue,
            "channel": self.config.channel,
        }

    def _note_time(self, time_ms: int) -> None:
        """Forget legs nobody will finish; done when the log's time enters a new minute."""
        if time_ms // 60_000 > self.state.newest_ms // 60_000:
            kept, lost = {}, set()
            for key, leg in self.state.legs.items():
                if time_ms - leg.last_ms <= (CLOSED_LEG_RETENTION_MS if leg.stage == CLOSED else OPEN_LEG_RETENTION_MS):
                    kept[key] = leg
                elif leg.stage == TALKING:
                    lost.add(key.split("/", 1)[1])
            self.state.legs = kept
            for info in self.state.agents.values():
                if info.call in lost:
                    info.call = None  # its end was never logged: let PAUSE/UNPAUSE apply again
        self.state.newest_ms = max(self.state.newest_ms, time_ms)


_ROLES = {"ended": "e", "transferred": "r", "abandoned": "x", "timeout": "t"}


def _due(value: Any) -> tuple[int, str, str] | None:
    return None if value is None else (int(value[0]), str(value[1]), str(value[2]))


def _required(value: str | None) -> str:
    assert value is not None  # the accessors raise when a required field is missing
    return value


def _contact_id(callid: str, visit: int) -> str:
    return callid if visit == 1 else f"{callid}-{visit}"


def _join(info: AgentInfo, queue: str | None) -> None:
    if queue is not None and queue not in info.queues:
        info.queues = sorted([*info.queues, queue])


_HANDLERS: dict[str, Callable[[QueueLogMapper, _Line], Handled]] = {
    "ENTERQUEUE": QueueLogMapper._enter,
    "CONNECT": QueueLogMapper._connect,
    "COMPLETEAGENT": lambda mapper, line: mapper._finish(line, "ended", 0, 1),
    "COMPLETECALLER": lambda mapper, line: mapper._finish(line, "ended", 0, 1),
    # transfers: the data before holdtime|calltime|origposition varies (extension|context, BRIDGE|id, ...)
    "TRANSFER": lambda mapper, line: mapper._finish(line, "transferred", -3, -2),
    "BLINDTRANSFER": lambda mapper, line: mapper._finish(line, "transferred", -3, -2),
    "ATTENDEDTRANSFER": lambda mapper, line: mapper._finish(line, "transferred", -3, -2),
    "ABANDON": lambda mapper, line: mapper._leave(line, "abandoned", 2),
    "EXITWITHKEY": lambda mapper, line: mapper._leave(line, "abandoned", 3),
    "EXITWITHTIMEOUT": lambda mapper, line: mapper._leave(line, "timeout", 2),
    "EXITEMPTY": lambda mapper, line: mapper._leave(line, "timeout", 2),
    "PAUSE": lambda mapper, line: mapper._pause(line, paused=True),
    "UNPAUSE": lambda mapper, line: mapper._pause(line, paused=False),
    "ADDMEMBER": lambda mapper, line: mapper._member(line, added=True),
    "REMOVEMEMBER": lambda mapper, line: mapper._member(line, added=False),
    "AGENTLOGIN": lambda mapper, line: mapper._login(line, logged_in=True),
    "AGENTLOGOFF": lambda mapper, line: mapper._login(line, logged_in=False),
}
