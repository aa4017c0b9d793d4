"""atheris harness for the event decoders and the queue_log mapper; not part of the test suite (pytest collects
only ``test_*.py``). The hypothesis properties in tests/unit/test_fuzz_*.py run in CI; this runs for as long as
you let it, coverage-guided:

    pip install atheris
    cp -r tests/fuzz/seeds /tmp/corpus   # libFuzzer adds what it finds to the corpus directory
    PYTHONPATH=. python tests/fuzz/fuzz_decoders.py -atheris_runs=200000 /tmp/corpus

Each input is tried as a contact event, as an agent event (with and without a reader's clock) and as
queue_log lines. A finding is any exception, or an outcome that breaks the contract: a rejection without a
known reason and a one-line detail, or a mapped queue_log event the decoder refuses.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    import orjson

    from processors.events import Rejection, RejectReason, decode_agent_event, decode_contact_event
    from processors.queue_log import LineReason, LineRef, QueueLogConfig, QueueLogMapper

NOW_MS = 1_795_424_400_000  # 2026-11-23T09:00:00Z
REASONS = set(RejectReason)
LINE_REASONS = set(LineReason)


def one_input(data: bytes) -> None:
    for decode in (decode_contact_event, decode_agent_event):
        for now_ms in (None, NOW_MS):
            result = decode(data, now_ms=now_ms)
            if isinstance(result, Rejection):
                assert result.code in REASONS, result
                assert result.detail.strip() and "\n" not in result.detail, result
    mapper = QueueLogMapper(QueueLogConfig(tenant="acme", wrapup_seconds=10))
    offset = 0
    for line in data.split(b"\n"):
        mapped = mapper.map_line(line, LineRef("1731398400.cafe0001", offset))
        offset += len(line) + 1
        if mapped.rejection is not None:
            assert mapped.rejection.reason in LINE_REASONS and mapped.rejection.detail, mapped
        for out in mapped.events:
            decode = decode_contact_event if out.stream == "contacts" else decode_agent_event
            decoded = decode(orjson.dumps(out.event))
            assert not isinstance(decoded, Rejection), (decoded, out.event)


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
