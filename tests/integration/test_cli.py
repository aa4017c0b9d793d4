"""The CLI as an operator meets it: help with examples, clear errors for bad settings and unreachable parts."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from callpulse.embedded import free_port
from fixtures.pipeline import Pipeline, sample, scrape

pytestmark = pytest.mark.integration


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callpulse", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize("command", ["demo", "worker", "exporter", "simulate", "rules"])
def test_every_command_has_help_with_examples(command: str) -> None:
    result = _run(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Examples" in result.stdout or "examples" in result.stdout.lower()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CALLPULSE_KAFKA_BOOTSTRAP", "no-port-here", "CALLPULSE_KAFKA_BOOTSTRAP"),
        ("CALLPULSE_REDIS_URL", "http://x", "CALLPULSE_REDIS_URL"),
        ("CALLPULSE_WINDOWS", "300,301", "CALLPULSE_WINDOWS"),
        ("CALLPULSE_SERVICE_LEVEL_VARIANT", "most_flattering", "CALLPULSE_SERVICE_LEVEL_VARIANT"),
    ],
)
def test_bad_settings_are_refused_naming_the_variable(variable: str, value: str, message: str) -> None:
    result = _run("exporter", **{variable: value})
    assert result.returncode == 2
    assert message in result.stderr


def test_unreachable_redis_is_a_clear_error() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = _run("exporter", "--redis-url", url)
    assert result.returncode == 2
    assert f"cannot reach Redis at {url}" in result.stderr
    assert "CALLPULSE_REDIS_URL" in result.stderr


def test_unreachable_kafka_is_a_clear_error(redis_server: object) -> None:
    bootstrap = f"127.0.0.1:{free_port()}"
    result = _run("worker", "--kafka-bootstrap", bootstrap, CALLPULSE_REDIS_URL=redis_server.url)  # type: ignore[attr-defined]
    assert result.returncode == 2
    assert f"cannot reach Kafka at {bootstrap}" in result.stderr


def test_exporter_reports_redis_down_instead_of_stale_figures(pipeline: Pipeline) -> None:
    url = pipeline.start_exporter()
    assert sample(scrape(url), "callpulse_exporter_redis_up") == 1
    # point a second exporter at a dead Redis: it must start only if Redis answers, so stop Redis for the first
    port = free_port()
    dead = subprocess.Popen(
        [sys.executable, "-m", "callpulse", "exporter", "--port", str(port)],
        env={**pipeline.env(), "CALLPULSE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert dead.wait(30) == 2
    with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
        assert response.status == 200
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{url}/nothing", timeout=5)
    assert missing.value.code == 404


def test_simulate_writes_an_events_file_that_recompute_reads(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "day.jsonl"  # type: ignore[operator]
    result = _run("simulate", "--events-file", str(path), "--hours", "1", "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stderr and "100.0%" in result.stderr
    lines = path.read_text().splitlines()
    assert len(lines) > 500
    assert result.stderr.strip().endswith(f"wrote {len(lines)} events to {path} (seed 3, scale 1)")
