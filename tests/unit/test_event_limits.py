"""Each input limit (docs/events.md 7.1), at its edge: the last accepted value and the first rejected one, with
the exact reason; the limits are configurable, validated, and the docs list every reason and limit."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from callpulse.settings import Settings, load_settings
from processors.events import (
    AgentEvent,
    ContactEvent,
    Rejection,
    RejectReason,
    decode_agent_event,
    decode_contact_event,
)
from processors.limits import EventLimits

R = RejectReason
DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"
T_0900 = 1_795_424_400_000  # 2026-11-23T09:00:00Z
CONTACT: dict[str, Any] = {
    "schema_version": 1,
    "event_id": "pbx1-7-1",
    "event_time": "2026-11-23T09:00:00Z",
    "type": "queued",
    "tenant": "demo",
    "queue": "support",
    "channel": "voice",
    "contact_id": "call-7",
}
AGENT: dict[str, Any] = CONTACT | {"type": "available", "agent_id": "alice"}
del AGENT["contact_id"]
SMALL = EventLimits(
    max_event_bytes=1024,
    max_json_depth=4,
    max_string_length=200,
    max_name_length=8,
    max_id_length=16,
    max_queues=3,
    min_time_ms=T_0900 - 86_400_000,  # 2026-11-22T09:00:00Z
    max_future_ms=60_000,
)
DEFAULT = EventLimits()


def contact(**changes: Any) -> bytes:
    return json.dumps(CONTACT | changes).encode()


def agent(**changes: Any) -> bytes:
    return json.dumps(AGENT | changes).encode()


def nested(levels: int) -> Any:
    """An extra field that brings the event (an object: level 1) to ``levels`` levels."""
    value: Any = 0
    for _ in range(levels - 1):
        value = [value]
    return value


def padded(size: int, chunk: int = 100) -> bytes:
    """A valid contact event of exactly ``size`` bytes, padded with extra strings of at most ``chunk``."""
    pads: dict[str, str] = {}
    while len(contact(**pads, x_last="")) + chunk < size:
        pads[f"x{len(pads)}"] = "p" * chunk
    return contact(**pads, x_last="p" * (size - len(contact(**pads, x_last=""))))


def case(name: str, raw: bytes, limits: EventLimits, code: RejectReason | None, mentions: str = "", **kw: Any) -> Any:
    return pytest.param(raw, limits, kw.get("now_ms"), code, mentions, id=name)


CONTACT_CASES = [
    # size
    case("1024 bytes", padded(1024), SMALL, None),
    case("1025 bytes", padded(1025), SMALL, R.TOO_LARGE, "1024"),
    case("100k '[' is too large before it is too deep", b"[" * 100_000, DEFAULT, R.TOO_LARGE),
    # nesting: the event is level 1, so x: [[[0]]] makes 4
    case("depth 4", contact(x=nested(4)), SMALL, None),
    case("depth 5", contact(x=nested(5)), SMALL, R.TOO_DEEP, "4 levels"),
    case("depth 32", contact(x=nested(32)), DEFAULT, None),
    case("depth 33", contact(x=nested(33)), DEFAULT, R.TOO_DEEP, "32 levels"),
    case("depth of objects", contact(x={"a": {"b": {"c": {}}}}), SMALL, R.TOO_DEEP),
    case("32k levels in 64 KiB", b"[" * 32_768 + b"]" * 32_768, DEFAULT, R.TOO_DEEP),
    case("unclosed 64k levels", b"[" * 65_536, DEFAULT, R.TOO_DEEP),
    case("brackets in strings do not nest", contact(x="[{" * 90), SMALL, None),
    case("escaped quotes in strings", contact(x='\\"[[[[[[' * 10), SMALL, None),
    case("5 shallow arrays", contact(a=[], b=[], c=[[0]], d=[], e=[]), SMALL, None),
    # strings, anywhere
    case("string of 200", contact(x="s" * 200), SMALL, None),
    case("string of 201", contact(x="s" * 201), SMALL, R.STRING_TOO_LONG, "201 characters"),
    case("key of 201", contact(**{"k" * 201: 1}), SMALL, R.STRING_TOO_LONG),
    case("string of 201 in a list", contact(x=["s" * 201]), SMALL, R.STRING_TOO_LONG),
    case("an escape is one character", contact(x="\u00e9" * 100 + "s" * 100), SMALL, None),
    case("201 characters with escapes", contact(x="\u00e9" * 100 + "s" * 101), SMALL, R.STRING_TOO_LONG),
    case("a long queue is too long before it is invalid", contact(queue="q" * 300), SMALL, R.STRING_TOO_LONG),
    case("default: a string may fill the event", padded(65_536, chunk=65_536), DEFAULT, None),
    # names
    case("queue of 8", contact(queue="q" * 8), SMALL, None),
    case("queue of 9", contact(queue="q" * 9), SMALL, R.INVALID_VALUE, "the limit is 8"),
    case("tenant of 9", contact(tenant="t" * 9), SMALL, R.INVALID_VALUE, "'tenant' is 9 characters"),
    case("to_queue of 9", contact(type="transferred", to_queue="b" * 9), SMALL, R.INVALID_VALUE, "to_queue"),
    case("queue of 65 by default", contact(queue="q" * 65), DEFAULT, R.INVALID_VALUE, "the limit is 64"),
    *[
        case(f"queue with {label}", contact(queue=f"sup{char}port"), DEFAULT, R.INVALID_VALUE, "names are ASCII")
        for label, char in (
            ("newline", "\n"),
            ("carriage return", "\r"),
            ("quote", '"'),
            ("backslash", "\\"),
            ("NUL", "\x00"),
            ("DEL", "\x7f"),
            ("space", " "),
            ("brace", "}"),
            ("equals", "="),
            ("comma", ","),
            ("slash", "/"),
            ("e acute", "\u00e9"),
            ("zero-width space", "\u200b"),
            ("right-to-left override", "\u202e"),
        )
    ],
    # ids
    case("event_id of 16", contact(event_id="e" * 16), SMALL, None),
    case("event_id of 17", contact(event_id="e" * 17), SMALL, R.INVALID_VALUE, "the limit is 16"),
    case("contact_id of 17", contact(contact_id="c" * 17), SMALL, R.INVALID_VALUE, "contact_id"),
    case("agent_id of 17", contact(agent_id="a" * 17), SMALL, R.INVALID_VALUE, "agent_id"),
    case("customer_id of 17", contact(customer_id="c" * 17), SMALL, R.INVALID_VALUE, "customer_id"),
    case("agent_id of 129 by default", contact(agent_id="a" * 129), DEFAULT, R.INVALID_VALUE, "the limit is 128"),
    *[
        case(f"agent_id with {label}", contact(agent_id=f"al{char}ice"), DEFAULT, R.INVALID_VALUE, "printable ASCII")
        for label, char in (("newline", "\n"), ("tab", "\t"), ("space", " "), ("NUL", "\x00"), ("umlaut", "\u00fc"))
    ],
    # times: a floor, and a bound ahead of the reader's clock
    case("2000-01-01 by default", contact(event_time="2000-01-01T00:00:00Z"), DEFAULT, None),
    case("just before 2000", contact(event_time="1999-12-31T23:59:59.999Z"), DEFAULT, R.TOO_OLD, "2000-01-01"),
    case("the Unix epoch", contact(event_time="1970-01-01T00:00:00Z"), DEFAULT, R.TOO_OLD, "clock"),
    case("year 1", contact(event_time="0001-01-01T00:00:00Z"), DEFAULT, R.TOO_OLD),
    case("at the floor", contact(event_time="2026-11-22T09:00:00Z"), SMALL, None),
    case("1 ms before the floor", contact(event_time="2026-11-22T08:59:59.999Z"), SMALL, R.TOO_OLD),
    case(
        "opened_at before the floor",
        contact(type="resolved", opened_at="1999-01-01T00:00:00Z"),
        DEFAULT,
        R.TOO_OLD,
        "opened_at",
    ),
    case("60 s ahead", contact(event_time="2026-11-23T09:01:00Z"), SMALL, None, now_ms=T_0900),
    case("60.001 s ahead", contact(event_time="2026-11-23T09:01:00.001Z"), SMALL, R.FUTURE_EVENT, "60", now_ms=T_0900),
    case("300 s ahead by default", contact(event_time="2026-11-23T09:05:00Z"), DEFAULT, None, now_ms=T_0900),
    case(
        "301 s ahead", contact(event_time="2026-11-23T09:05:01Z"), DEFAULT, R.FUTURE_EVENT, "301.000 s", now_ms=T_0900
    ),
    case("year 9999, no clock given", contact(event_time="9999-12-31T23:59:59Z"), DEFAULT, None),
    case("year 9999", contact(event_time="9999-12-31T23:59:59Z"), DEFAULT, R.FUTURE_EVENT, now_ms=T_0900),
    case("far in the past is not future", contact(event_time="2001-01-01T00:00:00Z"), DEFAULT, None, now_ms=T_0900),
    # numbers that are not numbers, or not integers: there are no numeric durations in the contract
    *[
        case(f"csat {token}", contact(type="survey").replace(b'"survey"', b'"survey", "csat": ' + token), DEFAULT, code)
        for token, code in (
            (b"NaN", R.INVALID_JSON),
            (b"Infinity", R.INVALID_JSON),
            (b"-Infinity", R.INVALID_JSON),
            (b"1e999", R.INVALID_JSON),
            (b"4.0", R.WRONG_TYPE),
            (b"4e0", R.WRONG_TYPE),
            (b"-0.0", R.WRONG_TYPE),
            (b"-0", R.INVALID_VALUE),  # the integer 0: below 1
            (b"-1", R.INVALID_VALUE),
            (b"true", R.WRONG_TYPE),
            (b"18446744073709551616", R.WRONG_TYPE),  # over 64 bits: parsed as a float
            (b"-9223372036854775809", R.WRONG_TYPE),
            (b"99999999999999999999999999999", R.WRONG_TYPE),
        )
    ],
    case("schema_version over 64 bits", contact(schema_version=2**64 + 1), DEFAULT, R.UNSUPPORTED_VERSION),
    case(
        "opened_at after event_time",
        contact(type="resolved", opened_at="2026-11-23T09:00:01Z"),
        DEFAULT,
        R.NEGATIVE_DURATION,
    ),
]

AGENT_CASES = [
    case("3 queues", agent(queues=["a", "b", "c"]), SMALL, None),
    case("4 queues", agent(queues=["a", "b", "c", "d"]), SMALL, R.INVALID_VALUE, "1-3 valid queue names, got 4"),
    case("33 queues by default", agent(queues=[f"q{n}" for n in range(33)]), DEFAULT, R.INVALID_VALUE, "got 33"),
    case("a membership name of 9", agent(queues=["a", "b" * 9]), SMALL, R.INVALID_VALUE, "'queues[1]'"),
    case("a membership name with a quote", agent(queues=['b"x']), DEFAULT, R.INVALID_VALUE, "names are ASCII"),
    case("reason of 9", agent(type="aux", reason="r" * 9), SMALL, R.INVALID_VALUE, "'reason'"),
    case("reason with a newline", agent(type="aux", reason="lunch\n"), DEFAULT, R.INVALID_VALUE, "'reason'"),
    case("agent too old", agent(event_time="1999-06-01T00:00:00Z"), DEFAULT, R.TOO_OLD),
    case("agent in the future", agent(event_time="2026-11-23T10:00:00Z"), DEFAULT, R.FUTURE_EVENT, now_ms=T_0900),
    case("agent_id with quote and backslash", agent(agent_id='a"b\\c'), DEFAULT, None),  # printable ASCII: see below
]


def _check(result: Any, code: RejectReason | None, mentions: str, accepted: type) -> None:
    if code is None:
        assert isinstance(result, accepted), str(result)
    else:
        assert isinstance(result, Rejection), result
        assert result.code is code, str(result)
        assert mentions in result.detail, str(result)


@pytest.mark.parametrize(("raw", "limits", "now_ms", "code", "mentions"), CONTACT_CASES)
def test_contact_limit(raw: bytes, limits: EventLimits, now_ms: int | None, code: R | None, mentions: str) -> None:
    _check(decode_contact_event(raw, limits=limits, now_ms=now_ms), code, mentions, ContactEvent)


@pytest.mark.parametrize(("raw", "limits", "now_ms", "code", "mentions"), AGENT_CASES)
def test_agent_limit(raw: bytes, limits: EventLimits, now_ms: int | None, code: R | None, mentions: str) -> None:
    _check(decode_agent_event(raw, limits=limits, now_ms=now_ms), code, mentions, AgentEvent)


def test_the_older_max_bytes_keyword_still_works() -> None:
    raw = contact()
    assert isinstance(decode_contact_event(raw, max_bytes=len(raw)), ContactEvent)
    result = decode_agent_event(agent(), max_bytes=100)
    assert isinstance(result, Rejection)
    assert (result.code, "the limit is 100" in result.detail) == (R.TOO_LARGE, True)


def test_a_million_levels_are_refused_before_the_parser_sees_them() -> None:
    # 2 MB of nesting crashes orjson 3.8 (C stack), so this runs in a child: a crash fails the test, not the run
    code = (
        "from processors.events import decode_contact_event\n"
        "from processors.limits import EventLimits\n"
        "r = decode_contact_event(b'[' * 1_000_000 + b']' * 1_000_000, limits=EventLimits(max_event_bytes=4_000_000))\n"
        "print(r.code.value)\n"
    )
    root = Path(__file__).resolve().parents[2]
    child = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60, check=False
    )
    assert (child.returncode, child.stdout.strip()) == (0, "too_deep"), child.stderr


@pytest.mark.parametrize(
    ("changes", "mentions"),
    [
        ({"max_event_bytes": 0}, "max_event_bytes"),
        ({"max_json_depth": 1}, "max_json_depth"),
        ({"max_string_length": 127}, "max_string_length"),
        ({"max_name_length": 65}, "max_name_length"),
        ({"max_id_length": 0}, "max_id_length"),
        ({"max_queues": 33}, "max_queues"),
        ({"min_time_ms": -1}, "min_time_ms"),
        ({"max_future_ms": -1}, "max_future_ms"),
        ({"max_queues": 2.0}, "max_queues"),
        ({"max_json_depth": True}, "max_json_depth"),
    ],
)
def test_limits_are_validated(changes: dict[str, Any], mentions: str) -> None:
    with pytest.raises(ValueError, match=mentions):
        EventLimits(**changes)


def test_settings_build_the_limits() -> None:
    assert load_settings().event_limits == EventLimits()
    tight = load_settings(
        max_event_bytes=2048,
        max_json_depth=8,
        max_string_length=512,
        max_name_length=32,
        max_id_length=64,
        max_queues=8,
        min_event_time="2020-01-01T01:00:00+01:00",
        max_future_seconds=2.5,
    ).event_limits
    assert tight == EventLimits(2048, 8, 512, 32, 64, 8, 1_577_836_800_000, 2500)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("min_event_time", "2000-01-01"),
        ("max_name_length", 65),
        ("max_queues", 0),
        ("max_future_seconds", -1),
        ("max_json_depth", 1),
    ],
)
def test_bad_limit_settings_name_the_variable(name: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f"CALLPULSE_{name.upper()}"):
        load_settings(**{name: value})


# --------------------------------------------------------------------------------------------------- the docs


def _section(title: str) -> str:
    text = DOCS.read_text(encoding="utf-8")
    return text.split(title, 1)[1].split("\n## ", 1)[0]


def test_every_reason_is_documented() -> None:
    table = _section("## 7. What is rejected, and why")
    documented = set(re.findall(r"^\| `([a-z_]+)`", table, flags=re.MULTILINE))
    assert documented == {reason.value for reason in RejectReason}


def test_every_limit_is_documented_with_its_setting_default_and_reason() -> None:
    limits = _section("### 7.1 Limits")
    rows = {
        row.split("|")[2].strip(" `"): row
        for row in limits.splitlines()
        if row.startswith("| ") and "`CALLPULSE_" in row
    }
    settings = Settings.model_fields
    names = {
        "max_event_bytes": "max_event_bytes",
        "max_json_depth": "max_json_depth",
        "max_string_length": "max_string_length",
        "max_name_length": "max_name_length",
        "max_id_length": "max_id_length",
        "max_queues": "max_queues",
        "min_time_ms": "min_event_time",
        "max_future_ms": "max_future_seconds",
    }
    assert set(names) == {field.name for field in fields(EventLimits)}
    for setting in names.values():
        row = rows.get(f"CALLPULSE_{setting.upper()}")
        assert row is not None, f"CALLPULSE_{setting.upper()} is not in docs/events.md 7.1"
        default = settings[setting].default
        assert f"`{default:g}`" in row if isinstance(default, float) else f"`{default}`" in row, row
        assert re.search(r"`[a-z_]+`\s*\|\s*$", row), f"no reason code at the end of {row}"
