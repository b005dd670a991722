"""Ctrl-C ends the wait for a reply at once on every platform, Windows' semantics simulated here.

On Windows a Ctrl-C never interrupts a blocked socket read: the main thread only learns of it
when it runs Python code again. `windows_sigint` reproduces that on Linux with a sitecustomize:
SIGINT is blocked in every thread, and a helper thread that waits for it (sigwait) only sets
Python's interrupt flag (_thread.interrupt_main), as Windows' console handler does. Only code
that wakes up by itself notices the Ctrl-C; a client blocked in recv waits for data or its timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pytest
from conftest import ROOT, chat_terminals
from fake_langflow import FakeLangflow, Reply, event_stream, stream_events

RUN = "/api/v1/run/"
SILENCE = 30  # seconds the server sends nothing for
PROMPT_BACK = 1.5  # seconds allowed from Ctrl-C to the exit or the next prompt (about 0.1 s when idle)

WINDOWS_SIGINT = """\
import _thread, signal, threading

signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # every thread started later inherits it


def relay_ctrl_c():
    while True:
        signal.sigwait({signal.SIGINT})
        _thread.interrupt_main()  # sets the flag only: a blocked call in the main thread goes on


threading.Thread(target=relay_ctrl_c, daemon=True).start()
"""


@pytest.fixture
def windows_env(fake_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The fake server's settings, with Ctrl-C delivered as on Windows."""
    folder = tmp_path / "windows_sigint"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(WINDOWS_SIGINT)
    return {**fake_env, "PYTHONPATH": str(folder), "TERM": "dumb"}


def silent_stream() -> Reply:
    """A stream whose headers come at once, then nothing for SILENCE seconds (an agent thinking)."""
    reply = event_stream(stream_events("s", "hi", "late"))
    reply.chunks[0] = (SILENCE, reply.chunks[0][1])
    return reply


def wait_for_run(fake: FakeLangflow) -> None:
    deadline = time.monotonic() + 30
    while not fake.runs():
        assert time.monotonic() < deadline, "the client never sent its run"
        time.sleep(0.01)
    time.sleep(0.3)  # well inside the blocked read by now


def seconds_to_exit(process: subprocess.Popen) -> tuple[float, int]:
    started = time.monotonic()
    try:
        code = process.wait(timeout=SILENCE / 2)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return time.monotonic() - started, -1
    return time.monotonic() - started, code


def test_the_simulation_keeps_ctrl_c_from_interrupting_a_blocked_read(windows_env, fake):
    """The harness itself: under it, plain blocking code does not notice Ctrl-C until data comes."""
    fake.script(RUN, Reply(delay=SILENCE))
    blocked_read = (
        "import socket, sys; from urllib.parse import urlsplit; u = urlsplit(sys.argv[1]);"
        "s = socket.create_connection((u.hostname, u.port)); s.sendall(b'POST /api/v1/run/x HTTP/1.1\\r\\n"
        "Host: x\\r\\nContent-Length: 0\\r\\n\\r\\n'); s.recv(1)"
    )
    process = subprocess.Popen([sys.executable, "-c", blocked_read, windows_env["LANGFLOW_URL"]], env=windows_env)
    wait_for_run(fake)
    process.send_signal(signal.SIGINT)
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(timeout=2)
    process.kill()
    process.wait()


@pytest.mark.parametrize(
    ("args", "reply"),
    [
        (["--stream"], lambda: Reply(delay=SILENCE)),
        (["--stream"], silent_stream),
        (["--stream", "--json"], silent_stream),
        (["--text"], lambda: Reply(delay=SILENCE)),
        ([], lambda: Reply(delay=SILENCE)),
    ],
    ids=["stream-before-headers", "stream-before-first-event", "stream-json", "text", "json"],
)
def test_ctrl_c_ends_a_one_shot_wait_at_once_and_exits_130(windows_env, fake, args, reply):
    fake.script(RUN, reply())
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "chat_example.py"), *args, "hi"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=windows_env,
        text=True,
    )
    wait_for_run(fake)
    process.send_signal(signal.SIGINT)
    seconds, code = seconds_to_exit(process)
    assert code == 130 and seconds < PROMPT_BACK, f"exit {code} after {seconds:.2f} s"
    assert process.stderr.read().endswith("interrupted\n")


@pytest.fixture
def chat(windows_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., pexpect.spawn]]:
    """chat_session.py in a pseudo-terminal, Ctrl-C as on Windows, at its first prompt."""
    with chat_terminals({**windows_env, "INPUTRC": os.devnull}, tmp_path, timeout=5, size=(24, 200)) as start:

        def spawn(*args: str) -> pexpect.spawn:
            child = start(*args)
            child.expect_exact("User: ")
            return child

        yield spawn


@pytest.mark.parametrize(
    ("args", "reply"),
    [([], lambda: Reply(delay=SILENCE)), ([], silent_stream), (["--no-stream"], lambda: Reply(delay=SILENCE))],
    ids=["stream-before-headers", "stream-before-first-event", "no-stream"],
)
def test_ctrl_c_ends_a_chat_wait_at_once_and_retry_then_works(chat, fake, args, reply):
    fake.script(RUN, reply())
    child = chat(*args)
    child.sendline("slow question")
    wait_for_run(fake)
    started = time.monotonic()
    child.sendintr()
    child.expect_exact("[interrupted] (/retry sends it again)\r\nUser: ", timeout=SILENCE / 2)
    seconds = time.monotonic() - started
    assert seconds < PROMPT_BACK, f"back at the prompt after {seconds:.2f} s"
    child.sendline("/retry")
    child.expect_exact("AI: slow question\r\n\r\nUser: ")
    child.sendline("and the next turn")
    child.expect_exact("AI: and the next turn\r\n\r\nUser: ")


def test_a_conversation_still_uses_one_connection(chat, fake):
    child = chat()
    for number in range(5):
        child.sendline(f"turn {number}")
        child.expect_exact(f"AI: turn {number}\r\n\r\nUser: ")
    assert fake.connections == 1
