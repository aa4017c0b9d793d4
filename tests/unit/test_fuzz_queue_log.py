"""Fuzzing the Asterisk queue_log parser and mapper: whatever the lines, nothing raises; each line is mapped
or rejected with a known reason, and every event the mapper emits is a valid contract-v1 event, keyed by
its contact or agent id. The parser state survives a JSON checkpoint unchanged."""

from __future__ import annotations

import re

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors.events import AgentEvent, ContactEvent, decode_agent_event, decode_contact_event
from processors.queue_log import (
    IGNORED_EVENTS,
    MAX_LINE_BYTES,
    LineReason,
    LineRef,
    LineRejection,
    LineResult,
    QueueLogConfig,
    QueueLogLine,
    QueueLogMapper,
    QueueLogState,
    parse_line,
    sanitize_name,
)

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
T = 1_731_398_400  # 2024-11-12T08:00:00Z
MAPPED = ["ENTERQUEUE", "CONNECT", "COMPLETEAGENT", "COMPLETECALLER", "TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER"]
MAPPED += ["ABANDON", "EXITWITHKEY", "EXITWITHTIMEOUT", "EXITEMPTY", "PAUSE", "UNPAUSE", "ADDMEMBER", "REMOVEMEMBER"]
MAPPED += ["AGENTLOGIN", "AGENTLOGOFF"]
EVENTS = MAPPED + sorted(IGNORED_EVENTS) + ["BOGUS", "enterqueue", "", " CONNECT ", "CONNECT\x00"]

unicode_text = st.text(max_size=30)
plausible_epochs = st.integers(0, 600).map(lambda seconds: str(T + seconds))  # a few minutes: lines about one call
epochs = st.one_of(
    plausible_epochs,
    st.integers(0, 10**13).map(str),
    st.sampled_from(["", "NONE", "-1", " 1731398400 ", "1731398400.5", "1e9", "\u0661\u0667\u0663\u0661"]),
    unicode_text,
)
callids = st.one_of(st.sampled_from(["c1", "c2", "c3", "1731398400.17", "NONE", ""]), unicode_text)
queues = st.one_of(
    st.sampled_from(["support", "sales", "Support Team", "file d'attente é", "NONE", "", "///", "a/b"]),
    unicode_text,
    st.builds(lambda n: "q" * n, st.integers(60, 5000)),
)
agents = st.one_of(
    st.sampled_from(["SIP/1001", "Agent/1", "PJSIP/alice", "Zoë", "NONE", "", "\u200b"]),
    unicode_text,
    st.builds(lambda n: "a" * n, st.integers(120, 5000)),
)
data_fields = st.one_of(
    st.integers(0, 900).map(str),
    st.sampled_from(["", "NONE", "PAUSED", "-1", " 5 ", "5.0", "\u00b2", "\u0663", "99999999999999999999", "604801"]),
    st.integers(0, 10**12).map(str),
    unicode_text,
)
plausible_lines = st.builds(
    lambda epoch, callid, queue, agent, event, data: "|".join([epoch, callid, queue, agent, event, *data]),
    plausible_epochs,
    st.sampled_from(["c1", "c2", "c3"]),
    st.sampled_from(["support", "sales", "Support Team"]),
    st.sampled_from(["SIP/1001", "Agent/1", "NONE"]),
    st.sampled_from(MAPPED),
    st.lists(data_fields, max_size=5),
)
lines = st.builds(
    lambda epoch, callid, queue, agent, event, data, ending: (
        "|".join([epoch, callid, queue, agent, event, *data]) + ending
    ),
    epochs,
    callids,
    queues,
    agents,
    st.sampled_from(EVENTS),
    st.lists(data_fields, max_size=5),
    st.sampled_from(["", "\n", "\r\n"]),
)
encoded_lines = st.one_of(
    plausible_lines.map(str.encode),
    plausible_lines.map(str.encode),
    lines.map(lambda text: text.encode("utf-8", errors="surrogatepass")),
    lines.map(lambda text: text.encode("latin-1", errors="replace")),
    st.binary(max_size=200),
    st.binary(max_size=40).map(lambda raw: b"|".join([str(T).encode(), raw, b"q", b"a", b"ENTERQUEUE"])),
)
configs = st.builds(
    QueueLogConfig,
    tenant=st.sampled_from(["acme", "t" * 64]),
    channel=st.sampled_from(["voice", "chat"]),
    source=st.sampled_from(["pbx1", "s" * 32]),
    wrapup_seconds=st.sampled_from([0, 15]),
    default_queue=st.sampled_from([None, "support"]),
)


def check_result(result: LineResult, config: QueueLogConfig) -> None:
    if result.rejection is not None:
        assert result.rejection.reason in set(LineReason)
        assert result.rejection.detail.strip()
    for out in result.events:
        check_event(out.stream, out.key, out.event, config)


def check_event(stream: str, key: str, event: dict[str, object], config: QueueLogConfig) -> None:
    raw = orjson.dumps(event)
    if stream == "contacts":
        contact = decode_contact_event(raw)
        assert isinstance(contact, ContactEvent), (contact, event)
        assert contact.contact_id == key
        where = contact.where
    else:
        assert stream == "agents"
        agent = decode_agent_event(raw)
        assert isinstance(agent, AgentEvent), (agent, event)
        assert agent.agent_id == key
        where = agent.where
    assert (where.tenant, where.channel.value) == (config.tenant, config.channel)


@FUZZ
@given(raw=st.one_of(encoded_lines, st.binary(max_size=300)))
def test_parse_line_never_raises(raw: bytes) -> None:
    parsed = parse_line(raw)
    if isinstance(parsed, LineRejection):
        assert parsed.reason in set(LineReason) and parsed.detail.strip()
    else:
        assert isinstance(parsed, QueueLogLine)
        assert 1_000_000_000 <= parsed.epoch <= 9_999_999_999
        assert re.fullmatch(r"[A-Z][A-Z0-9_]{0,39}", parsed.event)


@FUZZ
@given(config=configs, raws=st.lists(encoded_lines, min_size=1, max_size=15), later=st.integers(0, 10**6))
def test_any_lines_map_to_valid_events_or_a_reason(config: QueueLogConfig, raws: list[bytes], later: int) -> None:
    mapper = QueueLogMapper(config)
    offset = 0
    for raw in raws:
        check_result(mapper.map_line(raw, LineRef("1731398400.cafe0001", offset)), config)
        offset += len(raw) + 1
    for out in mapper.advance((T + later) * 1000):
        check_event(out.stream, out.key, out.event, config)
    checkpoint = orjson.loads(orjson.dumps(mapper.state.to_json()))
    assert QueueLogState.from_json(checkpoint) == mapper.state


@settings(max_examples=30, deadline=None)
@given(size=st.integers(MAX_LINE_BYTES - 64, MAX_LINE_BYTES + 64), where=st.sampled_from(["callid", "queue", "agent"]))
def test_huge_fields(size: int, where: str) -> None:
    fields = {"callid": "c1", "queue": "support", "agent": "SIP/1"}
    head = f"{T}|{fields['callid']}|{fields['queue']}|{fields['agent']}|CONNECT|5|c1|1"
    fields[where] = "x" * (size - len(head) + len(fields[where]))
    raw = f"{T}|{fields['callid']}|{fields['queue']}|{fields['agent']}|CONNECT|5|c1|1".encode()
    assert len(raw) == size
    result = QueueLogMapper(QueueLogConfig()).map_line(raw, LineRef("k", 0))
    check_result(result, QueueLogConfig())
    if size > MAX_LINE_BYTES:
        assert result.rejection is not None and result.rejection.reason is LineReason.LINE_TOO_LONG
    elif where == "callid":
        assert result.rejection is not None and result.rejection.reason is LineReason.BAD_FIELD
    else:
        assert result.rejection is None and result.events  # the name is cut to its limit


@FUZZ
@given(text=st.text(max_size=200), max_length=st.sampled_from([64, 128]))
def test_sanitized_names_fit_the_contract(text: str, max_length: int) -> None:
    name = sanitize_name(text, max_length)
    assert name is None or (NAME.fullmatch(name) and len(name) <= max_length), name


@settings(max_examples=60, deadline=None)
@given(
    event=st.sampled_from(["CONNECT", "COMPLETECALLER", "TRANSFER", "ABANDON", "EXITWITHTIMEOUT", "EXITWITHKEY"]),
    value=st.sampled_from(["\u00b2", "\u0663", "\uff15", "-5", "5.5", "604801", "99999999999999999999", "1e3"]),
)
def test_durations_that_are_not_whole_seconds_in_range_are_bad_fields(event: str, value: str) -> None:
    # an unseen call is rebuilt from the times it logs: each must be ASCII digits, at most 7 days
    raw = "|".join([str(T), "c1", "support", "SIP/1", event, *[value] * 5]).encode()
    result = QueueLogMapper(QueueLogConfig()).map_line(raw, LineRef("k", 0))
    assert result.rejection is not None and result.rejection.reason is LineReason.BAD_FIELD, result
    assert result.events == ()
