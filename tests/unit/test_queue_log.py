"""Asterisk queue_log: parsing and mapping each event type to exact contract-v1 events, garbage with its reason,
name sanitising, the parser state's checkpoint, the file follower (rotation, truncation, partial lines) and
the ingest loop with a fake Kafka."""

from __future__ import annotations

import io
import os
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from callpulse.cli import main
from callpulse.ingest_checkpoint import CheckpointError, load_checkpoint
from callpulse.ingest_queue_log import IngestOptions, SinkError, Topics, ingest
from callpulse.ingest_tail import FileTail
from fixtures.queue_logs import MORNING, MORNING_EVENTS, MORNING_QUIET_LINES
from processors.events import Rejection, decode_agent_event, decode_contact_event
from processors.queue_log import (
    LineReason,
    LineRef,
    LineResult,
    OutEvent,
    QueueLogConfig,
    QueueLogMapper,
    QueueLogState,
    file_key,
    sanitize_name,
)
from processors.timeutil import format_ms

T = 1_731_398_400  # 2024-11-12T08:00:00Z
KEY = "1731398400.cafe0001"
CONFIG = QueueLogConfig(tenant="acme", source="pbx1")


def _run(lines: list[str], config: QueueLogConfig = CONFIG) -> tuple[QueueLogMapper, list[LineResult]]:
    """Map lines given as 'seconds after T|callid|queue|agent|EVENT|data'; line i is at byte offset 100 * i."""
    mapper = QueueLogMapper(config)
    results = []
    for index, line in enumerate(lines):
        seconds, rest = line.split("|", 1)
        raw = f"{T + int(seconds)}|{rest}".encode()
        results.append(mapper.map_line(raw, LineRef(KEY, 100 * index)))
    return mapper, results


def _id(line: int, role: str) -> str:
    return f"pbx1-{KEY}-{100 * line:012d}-{role}"


def _common(line: int, role: str, at: int, kind: str, queue: str) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event_id": _id(line, role),
        "event_time": format_ms((T + at) * 1000),
        "type": kind,
        "tenant": "acme",
        "queue": queue,
        "channel": "voice",
    }


def C(
    line: int, role: str, at: int, kind: str, contact: str, *, queue: str = "support", agent: str | None = None
) -> Any:
    event = _common(line, role, at, kind, queue) | {"contact_id": contact}
    return OutEvent("contacts", contact, event | ({"agent_id": agent} if agent else {}))


def A(
    line: int,
    at: int,
    state: str,
    agent: str,
    queue: str = "support",
    *,
    role: str = "s",
    reason: str | None = None,
    queues: list[str] | None = None,
) -> Any:
    event = _common(line, role, at, state, queue) | {"agent_id": agent}
    event |= ({"reason": reason} if reason else {}) | ({"queues": queues} if queues else {})
    return OutEvent("agents", agent, event)


ENTER = "0|1731398400.1|support|NONE|ENTERQUEUE||+4930123|1"
CONNECT = "8|1731398400.1|support|SIP/1001|CONNECT|8|1731398408.2|3"
CALL = "1731398400.1"

# name -> (lines before, the line, config, the line's exact events)
CASES: dict[str, tuple[list[str], str, QueueLogConfig, list[Any]]] = {
    "ENTERQUEUE -> queued": ([], ENTER, CONFIG, [C(0, "q", 0, "queued", CALL)]),
    "CONNECT -> answered + agent on_contact": (
        [ENTER],
        CONNECT,
        CONFIG,
        [C(1, "a", 8, "answered", CALL, agent="SIP-1001"), A(1, 8, "on_contact", "SIP-1001")],
    ),
    "CONNECT of an unseen call -> queued at now - holdtime": (
        [],
        CONNECT,
        CONFIG,
        [
            C(0, "q", 0, "queued", CALL),
            C(0, "a", 8, "answered", CALL, agent="SIP-1001"),
            A(0, 8, "on_contact", "SIP-1001"),
        ],
    ),
    "COMPLETEAGENT -> ended + wrapup_ended at once + agent available": (
        [ENTER, CONNECT],
        "128|1731398400.1|support|SIP/1001|COMPLETEAGENT|8|120|1",
        CONFIG,
        [
            C(2, "e", 128, "ended", CALL, agent="SIP-1001"),
            C(2, "w", 128, "wrapup_ended", CALL, agent="SIP-1001"),
            A(2, 128, "available", "SIP-1001"),
        ],
    ),
    "COMPLETECALLER of an unseen call -> queued, answered rebuilt from holdtime and calltime": (
        [],
        "128|1731398400.1|support|SIP/1001|COMPLETECALLER|8|120|1",
        CONFIG,
        [
            C(0, "q", 0, "queued", CALL),
            C(0, "a", 8, "answered", CALL, agent="SIP-1001"),
            C(0, "e", 128, "ended", CALL, agent="SIP-1001"),
            C(0, "w", 128, "wrapup_ended", CALL, agent="SIP-1001"),
            A(0, 128, "available", "SIP-1001"),
        ],
    ),
    "COMPLETECALLER with a wrap-up time -> agent wrapup": (
        [ENTER, CONNECT],
        "128|1731398400.1|support|SIP/1001|COMPLETECALLER|8|120|1",
        QueueLogConfig(tenant="acme", source="pbx1", wrapup_seconds=15),
        [
            C(2, "e", 128, "ended", CALL, agent="SIP-1001"),
            C(2, "w", 128, "wrapup_ended", CALL, agent="SIP-1001"),
            A(2, 128, "wrapup", "SIP-1001"),
        ],
    ),
    "COMPLETEAGENT after a PAUSE during the call -> agent aux with that reason": (
        [ENTER, CONNECT, "60|NONE|support|SIP/1001|PAUSE|Coaching session"],
        "128|1731398400.1|support|SIP/1001|COMPLETEAGENT|8|120|1",
        CONFIG,
        [
            C(3, "e", 128, "ended", CALL, agent="SIP-1001"),
            C(3, "w", 128, "wrapup_ended", CALL, agent="SIP-1001"),
            A(3, 128, "aux", "SIP-1001", reason="Coaching-session"),
        ],
    ),
    "TRANSFER -> transferred + wrapup_ended + agent available": (
        [ENTER, CONNECT],
        "68|1731398400.1|support|SIP/1001|TRANSFER|2000|from-internal|8|60|1",
        CONFIG,
        [
            C(2, "r", 68, "transferred", CALL, agent="SIP-1001"),
            C(2, "w", 68, "wrapup_ended", CALL, agent="SIP-1001"),
            A(2, 68, "available", "SIP-1001"),
        ],
    ),
    "ATTENDEDTRANSFER of an unseen call (variable data before holdtime|calltime)": (
        [],
        "68|1731398400.1|support|SIP/1001|ATTENDEDTRANSFER|BRIDGE|4f1c-77|8|60|1",
        CONFIG,
        [
            C(0, "q", 0, "queued", CALL),
            C(0, "a", 8, "answered", CALL, agent="SIP-1001"),
            C(0, "r", 68, "transferred", CALL, agent="SIP-1001"),
            C(0, "w", 68, "wrapup_ended", CALL, agent="SIP-1001"),
            A(0, 68, "available", "SIP-1001"),
        ],
    ),
    "ENTERQUEUE of a transferred call in another queue -> a new leg, same contact": (
        [ENTER, CONNECT, "68|1731398400.1|support|SIP/1001|TRANSFER|2000|from-internal|8|60|1"],
        "68|1731398400.1|Billing Team|NONE|ENTERQUEUE||+4930123|1",
        CONFIG,
        [C(3, "q", 68, "queued", CALL, queue="Billing-Team")],
    ),
    "ENTERQUEUE of a call back in a queue it left -> contact <callid>-2": (
        [ENTER, "20|1731398400.1|support|NONE|ABANDON|1|1|20"],
        "30|1731398400.1|support|NONE|ENTERQUEUE||+4930123|1",
        CONFIG,
        [C(2, "q", 30, "queued", f"{CALL}-2")],
    ),
    "ABANDON -> abandoned": (
        [ENTER],
        "20|1731398400.1|support|NONE|ABANDON|1|1|20",
        CONFIG,
        [C(1, "x", 20, "abandoned", CALL)],
    ),
    "ABANDON of an unseen call -> queued at now - waittime": (
        [],
        "20|1731398400.1|support|NONE|ABANDON|1|1|20",
        CONFIG,
        [C(0, "q", 0, "queued", CALL), C(0, "x", 20, "abandoned", CALL)],
    ),
    "EXITWITHKEY -> abandoned (the caller chose to leave)": (
        [],
        "20|1731398400.1|support|NONE|EXITWITHKEY|5|1|1|20",
        CONFIG,
        [C(0, "q", 0, "queued", CALL), C(0, "x", 20, "abandoned", CALL)],
    ),
    "EXITWITHTIMEOUT -> timeout": (
        [ENTER],
        "300|1731398400.1|support|NONE|EXITWITHTIMEOUT|1|1|300",
        CONFIG,
        [C(1, "t", 300, "timeout", CALL)],
    ),
    "EXITEMPTY -> timeout (the queue ended the wait)": (
        [],
        "2|1731398400.1|support|NONE|EXITEMPTY|1|1|2",
        CONFIG,
        [C(0, "q", 0, "queued", CALL), C(0, "t", 2, "timeout", CALL)],
    ),
    "RINGNOANSWER -> nothing": ([ENTER], "20|1731398400.1|support|SIP/1001|RINGNOANSWER|15000", CONFIG, []),
    "PAUSE with a reason -> aux, reason sanitised": (
        [],
        "5|NONE|support|SIP/1001|PAUSE|Lunch break",
        CONFIG,
        [A(0, 5, "aux", "SIP-1001", reason="Lunch-break")],
    ),
    "PAUSE without a reason -> aux (unspecified)": (
        [],
        "5|NONE|support|SIP/1001|PAUSE|",
        CONFIG,
        [A(0, 5, "aux", "SIP-1001")],
    ),
    "PAUSE during a call -> nothing yet": ([ENTER, CONNECT], "60|NONE|support|SIP/1001|PAUSE|Lunch", CONFIG, []),
    "PAUSE that changes nothing (second queue of the same pause) -> nothing": (
        ["5|NONE|support|SIP/1001|ADDMEMBER|", "5|NONE|sales|SIP/1001|ADDMEMBER|", "9|NONE|sales|SIP/1001|PAUSE|Lunch"],
        "9|NONE|support|SIP/1001|PAUSE|Lunch",
        CONFIG,
        [],
    ),
    "UNPAUSE -> available": (
        ["5|NONE|support|SIP/1001|PAUSE|Lunch"],
        "65|NONE|support|SIP/1001|UNPAUSE|",
        CONFIG,
        [A(1, 65, "available", "SIP-1001")],
    ),
    "ADDMEMBER -> available": ([], "5|NONE|support|SIP/1001|ADDMEMBER|", CONFIG, [A(0, 5, "available", "SIP-1001")]),
    "ADDMEMBER PAUSED -> aux": (
        [],
        "5|NONE|support|PJSIP/1003|ADDMEMBER|PAUSED",
        CONFIG,
        [A(0, 5, "aux", "PJSIP-1003")],
    ),
    "ADDMEMBER of a second queue -> same state, the new membership": (
        ["5|NONE|support|SIP/1001|ADDMEMBER|"],
        "6|NONE|sales|SIP/1001|ADDMEMBER|",
        CONFIG,
        [A(1, 6, "available", "SIP-1001", queues=["sales", "support"])],
    ),
    "REMOVEMEMBER of one of two queues -> the rest of the membership": (
        ["5|NONE|support|SIP/1001|ADDMEMBER|", "6|NONE|sales|SIP/1001|ADDMEMBER|"],
        "9|NONE|support|SIP/1001|REMOVEMEMBER|",
        CONFIG,
        [A(2, 9, "available", "SIP-1001", queue="sales")],
    ),
    "REMOVEMEMBER of the last queue -> offline": (
        ["5|NONE|support|SIP/1001|ADDMEMBER|"],
        "9|NONE|support|SIP/1001|REMOVEMEMBER|",
        CONFIG,
        [A(1, 9, "offline", "SIP-1001")],
    ),
    "AGENTLOGIN without a queue -> available in the default queue": (
        [],
        "5|1731398405.9|NONE|Agent/1001|AGENTLOGIN|SIP/1001-00000001",
        QueueLogConfig(tenant="acme", source="pbx1", default_queue="support"),
        [A(0, 5, "available", "Agent-1001")],
    ),
    "AGENTLOGOFF -> offline in the agent's queue": (
        ["5|NONE|sales|Agent/1001|ADDMEMBER|"],
        "99|1731398405.9|NONE|Agent/1001|AGENTLOGOFF|SIP/1001-00000001|94",
        CONFIG,
        [A(1, 99, "offline", "Agent-1001", queue="sales")],
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_each_event_type_maps_to_exact_events(name: str) -> None:
    before, line, config, expected = CASES[name]
    _mapper, results = _run([*before, line], config)
    assert [result.rejection for result in results] == [None] * len(results)
    assert list(results[-1].events) == expected


def test_wrapup_time_ends_with_available_at_the_next_line_or_the_clock() -> None:
    config = QueueLogConfig(tenant="acme", source="pbx1", wrapup_seconds=15)
    complete = "128|1731398400.1|support|SIP/1001|COMPLETEAGENT|8|120|1"
    other = "150|1731398500.7|support|NONE|ENTERQUEUE||+4930999|1"
    _mapper, results = _run([ENTER, CONNECT, complete, other], config)
    assert list(results[3].events) == [
        A(2, 143, "available", "SIP-1001", role="d"),  # the wrap-up end, id from the COMPLETE line, first
        C(3, "q", 150, "queued", "1731398500.7"),
    ]
    mapper, _ = _run([ENTER, CONNECT, complete], config)
    assert mapper.advance((T + 142) * 1000) == []
    assert mapper.advance((T + 143) * 1000) == [A(2, 143, "available", "SIP-1001", role="d")]
    assert mapper.advance((T + 999) * 1000) == []
    mapper, results = _run([ENTER, CONNECT, complete, "130|NONE|support|SIP/1001|PAUSE|Break"], config)
    assert list(results[3].events) == [A(3, 130, "aux", "SIP-1001", reason="Break")]
    assert mapper.advance((T + 999) * 1000) == []  # the pause ended the wrap-up


def test_ringnoanswer_and_other_known_events_are_noted_not_rejected() -> None:
    _mapper, results = _run(
        [ENTER, "20|1731398400.1|support|SIP/1001|RINGNOANSWER|15000", "21|NONE|NONE|NONE|QUEUESTART|"]
    )
    assert [(r.events, r.rejection, r.event_name) for r in results[1:]] == [
        ((), None, "RINGNOANSWER"),
        ((), None, "QUEUESTART"),
    ]
    assert results[1].note is not None and "RINGNOANSWER" in results[1].note


R = LineReason
# (lines before, the line, reason, words of the detail)
GARBAGE: dict[str, tuple[list[str], bytes, LineReason, str]] = {
    "empty": ([], b"", R.EMPTY_LINE, "empty"),
    "blanks": ([], b"   \r\n", R.EMPTY_LINE, "empty"),
    "prose": ([], b"Asterisk Ready.", R.MALFORMED_LINE, "1 field"),
    "too few fields": ([], b"1731398400|1731398400.1|support", R.MALFORMED_LINE, "3 field"),
    "NULs after a crash": ([], b"\x00" * 64, R.MALFORMED_LINE, "1 field"),
    "empty event": ([], b"1731398400|1.1|support|NONE||x", R.MALFORMED_LINE, "event field is empty"),
    "words for epoch": ([], b"yesterday|1.1|support|NONE|ENTERQUEUE||1|1", R.BAD_EPOCH, "'yesterday'"),
    "fractional epoch": ([], b"1731398400.5|1.1|support|NONE|ENTERQUEUE||1|1", R.BAD_EPOCH, "whole seconds"),
    "negative epoch": ([], b"-1731398400|1.1|support|NONE|ENTERQUEUE||1|1", R.BAD_EPOCH, "whole seconds"),
    "epoch of 1970": ([], b"86400|1.1|support|NONE|ENTERQUEUE||1|1", R.BAD_EPOCH, "out of range"),
    "unknown event": ([], b"1731398400|1.1|support|NONE|TELEPORT|x", R.UNKNOWN_EVENT, "'TELEPORT'"),
    "lower-case event": ([], b"1731398400|1.1|support|NONE|enterqueue||1|1", R.UNKNOWN_EVENT, "not an Asterisk"),
    "too long": ([], b"1731398400|" + b"x" * 20_000, R.LINE_TOO_LONG, "over 16384 bytes"),
    "ENTERQUEUE without callid": ([], b"1731398400|NONE|support|NONE|ENTERQUEUE||1|1", R.MISSING_FIELD, "callid"),
    "ENTERQUEUE without queue": ([], b"1731398400|1.1|NONE|NONE|ENTERQUEUE||1|1", R.MISSING_FIELD, "queue name"),
    "queue of punctuation": ([], b"1731398400|1.1|///|NONE|ENTERQUEUE||1|1", R.BAD_NAME, "'///'"),
    "CONNECT without agent": ([], b"1731398408|1.1|support|NONE|CONNECT|8|1.2|3", R.MISSING_FIELD, "needs an agent"),
    "CONNECT of unseen call, bad holdtime": (
        [],
        b"1731398408|1.1|support|SIP/1001|CONNECT|eight|1.2|3",
        R.BAD_FIELD,
        "holdtime 'eight'",
    ),
    "ABANDON of unseen call, no waittime": (
        [],
        b"1731398420|1.1|support|NONE|ABANDON|1|1",
        R.MISSING_FIELD,
        "waittime",
    ),
    "ENTERQUEUE twice": (
        ["0|1.1|support|NONE|ENTERQUEUE||1|1"],
        b"1731398401|1.1|support|NONE|ENTERQUEUE||1|1",
        R.UNEXPECTED_EVENT,
        "again while waiting",
    ),
    "ABANDON after CONNECT": (
        ["0|1.1|support|NONE|ENTERQUEUE||1|1", "8|1.1|support|SIP/1001|CONNECT|8|1.2|3"],
        b"1731398420|1.1|support|NONE|ABANDON|1|1|20",
        R.UNEXPECTED_EVENT,
        "after it was answered",
    ),
    "AGENTLOGIN with no queue known": (
        [],
        b"1731398400|1.9|NONE|Agent/1001|AGENTLOGIN|SIP/1001-1",
        R.MISSING_FIELD,
        "no known queue",
    ),
}


@pytest.mark.parametrize("name", GARBAGE)
def test_lines_that_cannot_be_mapped_say_why(name: str) -> None:
    before, raw, reason, words = GARBAGE[name]
    mapper, _ = _run(before)
    state_before = mapper.state.to_json()
    result = mapper.map_line(raw, LineRef(KEY, 9999))
    assert result.events == ()
    assert result.rejection is not None and result.rejection.reason is reason, result
    assert words in result.rejection.detail
    assert mapper.state.to_json()["legs"] == state_before["legs"]  # a rejected line changes no call


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("SIP/1001", "SIP-1001"),
        ("PJSIP/alice", "PJSIP-alice"),
        ("Local/1001@from-queue/n", "Local-1001-from-queue-n"),
        ("José Núñez", "Jose-Nunez"),
        ("  support  ", "support"),
        ("__vip.line_2", "vip.line_2"),
        ("Sales & Billing!", "Sales-Billing"),
        ("///", None),
        ("ÅÄÖ", "AAO"),
        ("日本", None),
        ("q" * 100, "q" * 64),
    ],
)
def test_names_are_sanitised_to_the_contract_pattern(raw: str, name: str | None) -> None:
    assert sanitize_name(raw) == name


def test_config_is_validated() -> None:
    for bad in ({"tenant": "a b"}, {"channel": "fax"}, {"source": ""}, {"wrapup_seconds": -1}, {"default_queue": "/"}):
        with pytest.raises(ValueError):
            QueueLogConfig(**bad)  # type: ignore[arg-type]


def _map_file(lines: list[bytes], mapper: QueueLogMapper, start: int = 0) -> list[LineResult]:
    key = file_key(lines[0].rstrip(b"\n"))
    offset = sum(len(line) for line in lines[:start])
    results = []
    for line in lines[start:]:
        results.append(mapper.map_line(line.rstrip(b"\n"), LineRef(key, offset)))
        offset += len(line)
    return results


def test_the_fixture_maps_to_valid_events_in_file_order_with_the_hand_counted_totals() -> None:
    lines = MORNING.read_bytes().splitlines(keepends=True)
    results = _map_file(lines, QueueLogMapper(CONFIG))
    events = [out for result in results for out in result.events]
    assert [r.rejection for r in results if r.rejection] == []
    assert sum(1 for r in results if not r.events) == MORNING_QUIET_LINES
    assert Counter(out.stream for out in events) == MORNING_EVENTS
    ids = [out.event["event_id"] for out in events]
    assert len(set(ids)) == len(ids)
    lines_of_ids = [event_id.rsplit("-", 1)[0] for event_id in ids]
    assert lines_of_ids == sorted(lines_of_ids)  # in file order
    agent_ids = [out.event["event_id"] for out in events if out.stream == "agents"]
    assert agent_ids == sorted(agent_ids)  # the worker's order for one agent's events in the same second
    for out in events:
        decode = decode_contact_event if out.stream == "contacts" else decode_agent_event
        decoded = decode(orjson.dumps(out.event))
        assert not isinstance(decoded, Rejection), (decoded, out.event)
        assert out.key == out.event["contact_id" if out.stream == "contacts" else "agent_id"]
    waits: dict[str, list[int]] = {"support": [], "sales": []}  # answered waits per queue, from the events
    queued = {}
    for out in events:
        event = out.event
        leg = (event["queue"], out.key)
        if event["type"] == "queued":
            queued[leg] = event["event_time"]
        if event["type"] == "answered":
            waits[event["queue"]].append(_seconds_between(queued[leg], event["event_time"]))
    assert waits == {"support": [8, 30, 18, 28, 5], "sales": [12]}


def _seconds_between(start: str, end: str) -> int:
    from processors.timeutil import parse_event_time_ms

    return (parse_event_time_ms(end) - parse_event_time_ms(start)) // 1000


def test_a_replay_gives_the_same_ids_and_a_checkpointed_state_resumes_exactly() -> None:
    lines = MORNING.read_bytes().splitlines(keepends=True)
    straight = _map_file(lines, QueueLogMapper(CONFIG))
    assert _map_file(lines, QueueLogMapper(CONFIG)) == straight
    for cut in (1, 9, 23, 40):
        first = QueueLogMapper(CONFIG)
        head = _map_file(lines[:cut], first)
        saved = orjson.loads(orjson.dumps(first.state.to_json()))
        resumed = QueueLogMapper(CONFIG, QueueLogState.from_json(saved))
        assert head + _map_file(lines, resumed, start=cut) == straight, cut


def test_forgotten_calls_are_pruned_by_log_time() -> None:
    mapper, _ = _run(
        [ENTER, "1|1731398400.2|support|NONE|ENTERQUEUE||+49|1", "2|1731398400.2|support|NONE|ABANDON|1|1|1"]
    )
    assert set(mapper.state.legs) == {"support/1731398400.1", "support/1731398400.2"}
    mapper.map_line(f"{T + 3603}|NONE|NONE|NONE|QUEUESTART|".encode(), LineRef(KEY, 5000))
    assert set(mapper.state.legs) == {"support/1731398400.1"}  # closed: kept 1 h; open: 4 h
    mapper.map_line(f"{T + 4 * 3600 + 60}|NONE|NONE|NONE|QUEUESTART|".encode(), LineRef(KEY, 6000))
    assert mapper.state.legs == {}


def test_an_agent_whose_call_end_was_never_logged_is_freed_when_the_call_is_forgotten() -> None:
    mapper, _ = _run([ENTER, CONNECT])
    paused = mapper.map_line(f"{T + 60}|NONE|support|SIP/1001|PAUSE|Lunch".encode(), LineRef(KEY, 5000))
    assert paused.events == ()  # during the call
    later = f"{T + 4 * 3600 + 60}|NONE|support|SIP/1001|PAUSE|Lunch".encode()
    assert [out.event["type"] for out in mapper.map_line(later, LineRef(KEY, 6000)).events] == ["aux"]


# --- the file follower ------------------------------------------------------------------------------------


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(data)


def _raws(tail: FileTail, max_lines: int = 100) -> list[bytes]:
    return [line.raw for line in tail.read(max_lines)]


def test_follower_hands_out_complete_lines_only_and_the_last_partial_one_at_the_end_of_once(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_bytes(b"1|a\n2|b\n3|partial")
    tail = FileTail(path, follow=True)
    tail.start(None)
    assert _raws(tail) == [b"1|a", b"2|b"]
    assert tail.position is not None and tail.position.offset == 8
    _append(path, b" line\n4|d")
    assert _raws(tail) == [b"3|partial line"]
    once = FileTail(path, follow=False)
    once.start(None)
    assert _raws(once) == [b"1|a", b"2|b", b"3|partial line", b"4|d"]
    assert once.exhausted


def test_follower_finishes_a_rotated_file_then_reads_the_new_one(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_bytes(b"1|old-a\n")
    tail = FileTail(path, follow=True)
    tail.start(None)
    assert _raws(tail) == [b"1|old-a"]
    path.rename(tmp_path / "queue_log.1")
    path.write_bytes(b"")  # logrotate's create: empty until Asterisk reopens its log
    _append(tmp_path / "queue_log.1", b"2|old-b\n3|old-c")  # Asterisk still writes to the renamed file
    assert _raws(tail) == [b"2|old-b"]  # the old file may still grow: its partial line waits
    _append(path, b"4|new-a\n")  # Asterisk reopened: the old file is final
    lines = tail.read(100)
    assert [line.raw for line in lines] == [b"3|old-c", b"4|new-a"]
    assert lines[0].file_key != lines[1].file_key and lines[1].offset == 0
    assert tail.rotations == 1


def test_follower_reads_a_truncated_or_rewritten_file_again_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_bytes(b"1|a\n2|b\n")
    tail = FileTail(path, follow=True)
    tail.start(None)
    assert _raws(tail) == [b"1|a", b"2|b"]
    path.write_bytes(b"3|c\n")  # copytruncate: same inode, shorter
    assert _raws(tail) == [b"3|c"]
    with path.open("r+b") as handle:  # rewritten in place, longer than before
        handle.write(b"4|dd\n5|ee\n6|ff\n")
    assert _raws(tail) == [b"4|dd", b"5|ee", b"6|ff"]
    assert tail.truncations == 2


def test_follower_reads_the_rest_of_a_copytruncate_copy_before_the_truncated_file(tmp_path: Path) -> None:
    path, copy = tmp_path / "queue_log", tmp_path / "queue_log.1"
    path.write_bytes(b"1731398400|a\n")
    tail = FileTail(path, follow=True)
    tail.start(None)
    assert _raws(tail) == [b"1731398400|a"]
    position = tail.position
    _append(path, b"1731398401|b\n1731398402|c\n")
    copy.write_bytes(path.read_bytes())  # logrotate copytruncate: copy, then truncate in place
    path.write_bytes(b"1731398500|new\n")
    assert _raws(tail) == [b"1731398401|b", b"1731398402|c", b"1731398500|new"]
    resumed = FileTail(path, follow=True)  # the same while the follower was down
    assert "queue_log.1" in resumed.start(position)
    assert _raws(resumed) == [b"1731398401|b", b"1731398402|c", b"1731398500|new"]


def test_follower_resumes_in_a_file_rotated_while_it_was_down(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_bytes(b"1731398400|a\n1731398401|b\n")
    tail = FileTail(path, follow=True)
    tail.start(None)
    assert _raws(tail, 1) == [b"1731398400|a"]
    position = tail.position
    tail.close()
    path.rename(tmp_path / "queue_log.1")
    path.write_bytes(b"1731398500|new\n")
    resumed = FileTail(path, follow=True)
    assert "queue_log.1" in resumed.start(position)
    assert _raws(resumed) == [b"1731398401|b", b"1731398500|new"]
    resumed.close()
    (tmp_path / "queue_log.1").unlink()  # the checkpointed file is gone (deleted or compressed): from 0
    fresh = FileTail(path, follow=True)
    assert "from the start" in fresh.start(position)
    assert _raws(fresh) == [b"1731398500|new"]


def test_follower_can_start_at_the_end_and_waits_for_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    tail = FileTail(path, follow=True)
    assert "waiting" in tail.start(None)
    assert _raws(tail) == []
    path.write_bytes(b"1|a\n2|par")
    assert _raws(tail) == [b"1|a"]
    end = FileTail(path, follow=True)
    end.start(None, from_end=True)
    _append(path, b"tial\n3|c\n")
    assert _raws(end) == [b"2|partial", b"3|c"]
    with pytest.raises(FileNotFoundError):
        FileTail(tmp_path / "missing", follow=False).start(None)


# --- the ingest loop, with a fake Kafka -------------------------------------------------------------------


class FakeSink:
    def __init__(self, fail_after: int | None = None) -> None:
        self.pending: list[tuple[str, bytes, bytes]] = []
        self.acked: list[tuple[str, bytes, bytes]] = []
        self.fail_after = fail_after

    def send(self, topic: str, key: bytes, value: bytes, *, packed: bool = True) -> None:
        self.pending.append((topic, key, value))

    def flush(self) -> None:
        if self.fail_after is not None and len(self.acked) + len(self.pending) > self.fail_after:
            self.pending.clear()
            raise SinkError("broker gone")
        self.acked += self.pending
        self.pending.clear()

    def close(self) -> None:
        pass


TOPICS = Topics("t.contacts", "t.agents", "t.dead-letter")


def _ingest_once(path: Path, sink: FakeSink, checkpoint: Path, batch: int = 1000) -> str:
    err = io.StringIO()
    options = IngestOptions(path=path, config=CONFIG, follow=False, checkpoint=checkpoint, batch_lines=batch)
    ingest(options, sink, TOPICS, err=err, clock=lambda: T + 1000.0)
    return err.getvalue()


def test_once_produces_every_event_keyed_and_a_summary_then_resumes_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_bytes(MORNING.read_bytes() + b"1731398921|garbage\n")
    sink, checkpoint = FakeSink(), tmp_path / "ckpt.json"
    summary = _ingest_once(path, sink, checkpoint)
    by_topic = Counter(topic for topic, _key, _value in sink.acked)
    assert by_topic == {"t.contacts": 33, "t.agents": 23, "t.dead-letter": 1}
    for topic, key, value in sink.acked:
        if topic != "t.dead-letter":
            event = orjson.loads(value)
            assert key.decode() == event["contact_id" if topic == "t.contacts" else "agent_id"]
    letter = orjson.loads(sink.acked[-1][2])
    assert letter["reason"] == "malformed_line" and letter["payload"] == "1731398921|garbage"
    assert letter["line_offset"] == len(MORNING.read_bytes()) and letter["source"] == "pbx1"
    assert "lines read: 48 (with events 40, without event 7, rejected 1)" in summary
    assert "events produced: 56" in summary and "queued 12" in summary and "malformed_line 1" in summary
    saved = load_checkpoint(checkpoint)
    assert saved is not None and saved.position.offset == path.stat().st_size
    again = FakeSink()
    assert "lines read: 0" in _ingest_once(path, again, checkpoint)
    assert again.acked == []


def test_the_checkpoint_moves_only_with_acknowledged_batches_and_a_rerun_resends_the_same_ids(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_bytes(MORNING.read_bytes())
    checkpoint = tmp_path / "ckpt.json"
    failing = FakeSink(fail_after=20)
    with pytest.raises(SinkError):
        _ingest_once(path, failing, checkpoint, batch=10)
    saved = load_checkpoint(checkpoint)
    assert saved is not None
    delivered = len(failing.acked)
    lines_done = len(path.read_bytes()[: saved.position.offset].splitlines())
    assert 0 < lines_done < 47
    rest = FakeSink()
    _ingest_once(path, rest, checkpoint, batch=10)
    everything = FakeSink()
    _ingest_once(path, everything, tmp_path / "other.json")
    assert failing.acked + rest.acked == everything.acked  # nothing skipped, nothing repeated, same ids
    assert delivered < len(everything.acked)


def test_a_checkpoint_of_another_tenant_or_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_bytes(MORNING.read_bytes())
    checkpoint = tmp_path / "ckpt.json"
    _ingest_once(path, FakeSink(), checkpoint)
    other = IngestOptions(path=path, config=QueueLogConfig(tenant="other", source="pbx1"), checkpoint=checkpoint)
    with pytest.raises(CheckpointError, match="tenant 'acme'"):
        ingest(other, FakeSink(), TOPICS, err=io.StringIO())
    checkpoint.write_text("{not json")
    with pytest.raises(CheckpointError, match="not a callpulse queue_log checkpoint"):
        _ingest_once(path, FakeSink(), checkpoint)


def test_follow_stops_on_request_after_committing(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_bytes(MORNING.read_bytes())
    sink, stop, err = FakeSink(), threading.Event(), io.StringIO()

    class StopWhenIdle(FakeSink):
        def flush(self) -> None:
            super().flush()
            stop.set()

    sink = StopWhenIdle()
    options = IngestOptions(path=path, config=CONFIG, checkpoint=tmp_path / "ckpt.json", poll_seconds=0.01)
    ingest(options, sink, TOPICS, stop=stop, err=err)
    assert len(sink.acked) == 56
    assert ": stopped after" in err.getvalue()
    assert os.path.exists(tmp_path / "ckpt.json")


def test_follow_ends_wrapups_by_the_wall_clock_while_the_log_is_quiet(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    lines = [ENTER, CONNECT, "128|1731398400.1|support|SIP/1001|COMPLETEAGENT|8|120|1"]
    path.write_bytes(b"".join(f"{T + int(line.split('|')[0])}|{line.split('|', 1)[1]}\n".encode() for line in lines))
    stop = threading.Event()

    class StopAfterTheRelease(FakeSink):
        def flush(self) -> None:
            super().flush()
            if self.acked and orjson.loads(self.acked[-1][2])["event_id"].endswith("-d"):
                stop.set()

    sink = StopAfterTheRelease()
    config = QueueLogConfig(tenant="acme", source="pbx1", wrapup_seconds=15)
    options = IngestOptions(path=path, config=config, checkpoint=tmp_path / "ckpt", poll_seconds=0.01)
    ingest(options, sink, TOPICS, stop=stop, err=io.StringIO(), clock=lambda: T + 1000.0)
    states = [orjson.loads(value)["type"] for topic, _key, value in sink.acked if topic == "t.agents"]
    assert states == ["on_contact", "wrapup", "available"]
    assert orjson.loads(sink.acked[-1][2])["event_time"] == format_ms((T + 143) * 1000)
    saved = load_checkpoint(tmp_path / "ckpt")
    assert saved is not None and saved.parser["agents"]["SIP-1001"][-1] is None  # no wrap-up pending any more


@pytest.mark.parametrize("args", [["ingest", "--help"], ["ingest", "asterisk-queue-log", "--help"]])
def test_the_commands_have_help_with_examples(args: list[str]) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "Examples:" in result.output


def test_bad_options_are_refused_before_starting() -> None:
    result = CliRunner().invoke(main, ["ingest", "asterisk-queue-log", "x", "--tenant", "a b"])
    assert result.exit_code == 2
    assert "tenant 'a b'" in result.output
