"""``callpulse top`` as a supervisor runs it: in a real terminal (a detached tmux pane), over a real worker
and Redis, showing the exporter's numbers; ``q`` quits and leaves the terminal as it was. And ``--once``.

Script (seconds after B = now - 120 s; voice threshold 20 s, short abandon 5 s):

        B   5   10      30  40  50  60  70  80
    c1  Q-------A===============E---W                 wait 10 (in T), handled
    c2      Q-----------------------A===============E---W   wait 35 (after T), handled
    c3          Q-------X                             abandoned after 20 s
    c4                                  Q.........    still waiting (60 s at B+120)
    agents: a1 available -> on_contact 10 -> wrapup 40 -> available 50;  a2 available 0 -> on_contact 40 -> aux 80

    15m: offered 3, answered 2, SL 1/3 = 33.3% (abandons against), abandon 33.3%, ASA 22.5 s -> 00:22
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from callpulse.embedded import free_port, start_redis, wait_until
from callpulse.top_text import percent
from fixtures.pipeline import ROOT, Pipeline, produce, sample, scrape
from fixtures.script import Script

pytestmark = pytest.mark.e2e

QID = "acme/support/voice"
VOICE = {"tenant": "acme", "queue": "support", "channel": "voice"}
COLUMNS = ("qid", "waiting", "longest", "sl", "abandon", "asa", "aht", "avail", "on_contact", "wrapup", "aux")


def _script(base_ms: int) -> Script:
    s = Script(base_ms)
    s.contact(0, "queued", "c1")
    s.contact(10, "answered", "c1", agent_id="a1")
    s.contact(40, "ended", "c1", agent_id="a1")
    s.contact(50, "wrapup_ended", "c1")
    s.contact(5, "queued", "c2")
    s.contact(40, "answered", "c2", agent_id="a2")
    s.contact(70, "ended", "c2")
    s.contact(80, "wrapup_ended", "c2")
    s.contact(10, "queued", "c3")
    s.contact(30, "abandoned", "c3")
    s.contact(60, "queued", "c4")
    s.agent(-30, "available", "a1")
    s.agent(10, "on_contact", "a1")
    s.agent(40, "wrapup", "a1")
    s.agent(50, "available", "a1")
    s.agent(0, "available", "a2")
    s.agent(40, "on_contact", "a2")
    s.agent(80, "aux", "a2", reason="break")
    return s


@pytest.fixture
def loaded(pipeline: Pipeline) -> str:
    """The pipeline with the script applied by a real worker; returns the exporter's URL."""
    script = _script(int(time.time() * 1000) - 120_000)
    worker = pipeline.start_worker()
    url = pipeline.start_exporter()
    topics = {"contacts": pipeline.contacts_topic, "agents": pipeline.agents_topic}
    sent = produce(
        pipeline.kafka.url,
        [(topics[stream], key.encode(), orjson.dumps(event)) for stream, key, event in script.events],
    )
    pipeline.wait_for_records(sent, watch=[worker])
    return url


class Tmux:
    """A private tmux server (its own socket) with one detached 160x40 session running a plain bash."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.base = ["tmux", "-L", name, "-f", os.devnull]
        self.env = {key: value for key, value in env.items() if key not in ("TMUX", "TMUX_PANE")}
        self.env.setdefault("TERM", "xterm-256color")
        self.env["PS1"] = "$ "

    def __call__(self, *args: str) -> str:
        done = subprocess.run(
            [*self.base, *args], env=self.env, capture_output=True, text=True, timeout=10, check=False
        )
        assert done.returncode == 0, f"tmux {' '.join(args)}: {done.stderr}"
        return done.stdout

    def start(self) -> None:
        self("new-session", "-d", "-x", "160", "-y", "40", "-s", "board", "bash --norc --noprofile")

    def type(self, text: str) -> None:
        self("send-keys", "-t", "board", "-l", text)
        self("send-keys", "-t", "board", "Enter")

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "board")

    def stop(self) -> None:
        subprocess.run([*self.base, "kill-server"], env=self.env, capture_output=True, timeout=10, check=False)


@pytest.fixture
def tmux(unique_name: str) -> Iterator[Callable[[dict[str, str]], Tmux]]:
    """Start a private tmux server whose shell has the given environment; stopped after the test."""
    if shutil.which("tmux") is None:
        if os.environ.get("CI"):
            pytest.fail("tmux is not installed: CI must install Debian's tmux package (apt-get install tmux)")
        pytest.skip("tmux is not installed (apt-get install tmux)")
    started: list[Tmux] = []

    def start(env: dict[str, str]) -> Tmux:
        terminal = Tmux(unique_name, env)
        started.append(terminal)
        terminal.start()
        return terminal

    try:
        yield start
    finally:
        for terminal in started:
            terminal.stop()


def _row(screen: str) -> dict[str, str] | None:
    for line in screen.splitlines():
        tokens = line.split()
        if tokens and tokens[0] == QID:
            return dict(zip(COLUMNS, tokens, strict=False))
    return None


def _seconds(mmss: str) -> int:
    minutes, seconds = mmss.split(":")
    return int(minutes) * 60 + int(seconds)


def _wait_for_screen(tmux: Tmux, what: str, check: Callable[[str], bool]) -> str:
    try:
        wait_until(lambda: check(tmux.screen()), 30, 0.1, what)
    except TimeoutError:
        raise AssertionError(f"{what} never showed; last screen:\n{tmux.screen()}") from None
    return tmux.screen()


def _wait_for_row(
    tmux: Tmux, what: str, check: Callable[[dict[str, str], str], bool] = lambda _row, _screen: True
) -> tuple[dict[str, str], str]:
    seen: list[tuple[dict[str, str], str]] = []

    def found() -> bool:
        screen = tmux.screen()
        row = _row(screen)
        if row is not None and check(row, screen):
            seen.append((row, screen))
            return True
        return False

    try:
        wait_until(found, 30, 0.1, what)
    except TimeoutError:
        raise AssertionError(f"{what} never showed; last screen:\n{tmux.screen()}") from None
    return seen[-1]


def _assert_exited_and_restored(terminal: Tmux, tmp_path: Path) -> None:
    """top's shell line printed its exit code 0, and the terminal is as the shell left it."""
    _wait_for_screen(terminal, "top to exit", lambda screen: "top-exited-0" in screen)
    assert "Redis ok" not in terminal.screen()  # back on the normal screen: the board was on the alternate one
    assert terminal("display-message", "-p", "-t", "board", "#{alternate_on} #{cursor_flag}").split() == ["0", "1"]
    stty = tmp_path / "stty.txt"
    terminal.type(f"stty -a > {shlex.quote(str(stty))}")
    wait_until(lambda: stty.exists() and "icanon" in stty.read_text(), 10, 0.1, "stty output")
    modes = stty.read_text().split()
    assert "icanon" in modes and "echo" in modes and "-icanon" not in modes and "-echo" not in modes


def test_top_in_a_real_terminal_shows_the_exporters_figures_and_q_restores_it(
    tmux: Callable[[dict[str, str]], Tmux], pipeline: Pipeline, loaded: str, tmp_path: Path
) -> None:
    terminal = tmux(pipeline.env())
    command = shlex.join([sys.executable, "-m", "callpulse", "top", "--interval", "0.5"])
    terminal.type(f"{command}; echo top-exited-$?")

    first, screen = _wait_for_row(terminal, "the queue row")
    shown_at = time.monotonic()
    assert "window 15m" in screen and "Redis ok" in screen and "q quit" in screen
    assert [first[column] for column in ("waiting", "avail", "on_contact", "wrapup", "aux")] == [
        "1",
        "1",
        "0",
        "0",
        "1",
    ]
    assert _seconds(first["longest"]) >= 60
    assert (first["asa"], first["aht"]) == ("00:22", "00:40")

    samples = scrape(loaded)
    for window in ("15m", "1h"):
        assert sample(samples, "callpulse_queue_service_level_ratio", **VOICE, window=window) == pytest.approx(1 / 3)
    exported_sl = percent(sample(samples, "callpulse_queue_service_level_ratio", **VOICE, window="15m"))
    assert first["sl"] == exported_sl == "33.3%"
    assert first["abandon"] == percent(sample(samples, "callpulse_queue_abandon_ratio", **VOICE, window="15m"))

    later, _ = _wait_for_row(
        terminal, "a longer wait", lambda row, _screen: _seconds(row["longest"]) > _seconds(first["longest"])
    )
    assert _seconds(later["longest"]) - _seconds(first["longest"]) <= time.monotonic() - shown_at + 1

    terminal("send-keys", "-t", "board", "w")
    hour, _ = _wait_for_row(terminal, "the 1h window", lambda _row, screen: "window 1h" in screen)
    assert hour["sl"] == percent(sample(scrape(loaded), "callpulse_queue_service_level_ratio", **VOICE, window="1h"))
    terminal("send-keys", "-t", "board", "s")
    _wait_for_screen(terminal, "sorting by name", lambda screen: "s sort: queue name -> longest wait" in screen)

    terminal("send-keys", "-t", "board", "q")
    _assert_exited_and_restored(terminal, tmp_path)


def test_once_prints_one_plain_frame_with_the_exporters_figures(pipeline: Pipeline, loaded: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "callpulse", "top", "--once", "--window", "5m"],
        env=pipeline.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout
    lines = done.stdout.splitlines()
    assert "window 5m" in lines[0] and "Redis ok" in lines[0]
    row = _row(done.stdout)
    assert row is not None, done.stdout
    assert (row["waiting"], row["asa"]) == ("1", "00:22")
    assert _seconds(row["longest"]) >= 60
    exported = percent(sample(scrape(loaded), "callpulse_queue_service_level_ratio", **VOICE, window="5m"))
    assert row["sl"] == exported == "33.3%"


def test_top_says_redis_is_unreachable_and_recovers_when_it_is_back(
    tmux: Callable[[dict[str, str]], Tmux], unique_name: str, tmp_path: Path
) -> None:
    port = free_port()
    redis = start_redis(port=port, log_dir=tmp_path / "first")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CALLPULSE_REDIS_URL": redis.url,
        "CALLPULSE_REDIS_PREFIX": unique_name,
    }
    terminal = tmux(env)
    try:
        command = shlex.join([sys.executable, "-m", "callpulse", "top", "--interval", "0.2"])
        terminal.type(f"{command}; echo top-exited-$?")
        _wait_for_screen(terminal, "the empty board", lambda screen: "Redis ok" in screen and "no queue has" in screen)
        redis.stop()
        screen = _wait_for_screen(terminal, "Redis unreachable", lambda screen: "Redis unreachable (" in screen)
        assert "retrying every 0.2s" in screen and "Redis unreachable: no figures shown" in screen
        redis = start_redis(port=port, log_dir=tmp_path / "second")
        _wait_for_screen(terminal, "Redis back", lambda screen: "Redis ok" in screen)
    finally:
        redis.stop()
    terminal("send-keys", "-t", "board", "C-c")  # Ctrl-C quits too, and restores the terminal
    _assert_exited_and_restored(terminal, tmp_path)
