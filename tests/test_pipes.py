"""Pipes and line ends: a reader that closes the pipe early (`| head`), on Linux and as Windows
reports it, and Windows' "\\r\\n" line ends on stdin and in replies.

Windows is reproduced with a sitecustomize (on PYTHONPATH) that makes a write to a pipe whose
reader has gone raise OSError(EINVAL), as Windows' CRT does, instead of BrokenPipeError.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pexpect
import pytest
from conftest import ROOT, one_shot_at_terminal, sent_messages, spawn_in_terminal
from fake_langflow import event_stream, json_reply, run_response, stream_events

RUN = "/api/v1/run/"
WINDOWS_PIPES = textwrap.dedent(
    '''
    """Windows' semantics for stdout on Linux: writing to a closed pipe raises OSError(EINVAL)."""
    import errno
    import io
    import os
    import sys


    class WindowsPipe(io.RawIOBase):
        def __init__(self, fd):
            self.fd = fd

        def writable(self):
            return True

        def fileno(self):
            return self.fd

        def isatty(self):
            return os.isatty(self.fd)

        def write(self, data):
            try:
                return os.write(self.fd, data)
            except BrokenPipeError:
                raise OSError(errno.EINVAL, "Invalid argument") from None


    sys.stdout = io.TextIOWrapper(io.BufferedWriter(WindowsPipe(1)), encoding="utf-8")
    '''
)
PLATFORMS = ["linux", "windows"]


@pytest.fixture
def platform_env(fake_env: dict[str, str], tmp_path: Path):
    """The environment for a platform's pipe semantics."""
    folder = tmp_path / "windows-pipes"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(WINDOWS_PIPES)

    def env(platform: str) -> dict[str, str]:
        return {**fake_env, "PYTHONPATH": str(folder)} if platform == "windows" else fake_env

    return env


def start(env: dict[str, str], cwd: Path, *args: str, script: str = "chat_example.py", stdin=subprocess.DEVNULL):
    return subprocess.Popen(
        [sys.executable, str(ROOT / script), *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
    )


def quiet_exit(process: subprocess.Popen) -> tuple[int, bytes]:
    """The exit code and stderr, once the process ends."""
    return process.wait(timeout=30), process.stderr.read()


def test_the_simulation_makes_a_closed_pipe_an_einval_error(platform_env, tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(0.5); print('x' * 100_000)"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=platform_env("windows"),
    )
    process.stdout.close()
    exit_code, stderr = quiet_exit(process)
    assert exit_code != 0 and b"OSError: [Errno 22] Invalid argument" in stderr


# --- A reader that closes the pipe: a quiet exit 0 ---------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize(
    "mode", [["--text"], [], ["--stream"], ["--stream", "--json"]], ids=["text", "json", "stream", "stream-json"]
)
def test_a_pipe_closed_before_the_reply_is_a_quiet_exit_0(fake, platform_env, tmp_path, platform, mode):
    if "--stream" in mode:
        fake.script(RUN, event_stream(stream_events("s", "hi", "hi", ["hi"]), gap=0.1))
    else:
        fake.script(RUN, json_reply(run_response("s", ["hi"], "hi"), delay=0.5))
    process = start(platform_env(platform), tmp_path, "hi", *mode)
    process.stdout.close()  # as `| true` does
    assert quiet_exit(process) == (0, b"")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_long_reply_cut_by_head_is_a_quiet_exit_0(fake, platform_env, tmp_path, platform):
    fake.script(RUN, json_reply(run_response("s", ["line\n" * 200_000], "hi")))
    process = start(platform_env(platform), tmp_path, "hi", "--text")
    assert process.stdout.read(10) == b"line\nline\n"  # as `| head -2` does
    process.stdout.close()
    assert quiet_exit(process) == (0, b"")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_pipe_closed_before_the_last_newline_is_flushed_at_exit_is_a_quiet_exit_0(
    fake, platform_env, tmp_path, platform
):
    tokens = event_stream(stream_events("s", "hi", "hello", ["hello"]))
    tokens.chunks = [(0.0, chunk) for _, chunk in tokens.chunks[:3]] + [(0.5, c) for _, c in tokens.chunks[3:]]
    fake.script(RUN, tokens)
    process = start(platform_env(platform), tmp_path, "hi", "--stream")
    assert process.stdout.read(5) == b"hello"  # the token is flushed; the final newline waits for exit
    process.stdout.close()
    assert quiet_exit(process) == (0, b"")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_piped_conversation_whose_reader_leaves_is_a_quiet_exit_0(fake, platform_env, tmp_path, platform):
    fake.script(RUN, json_reply(run_response("s", ["one"], "one"), delay=0.5))
    process = start(platform_env(platform), tmp_path, "--no-stream", script="chat_session.py", stdin=subprocess.PIPE)
    process.stdout.close()
    process.stdin.write(b"one\ntwo\n")
    process.stdin.close()
    assert quiet_exit(process) == (0, b"")


# --- Line ends ------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["--text"], ["--text", "-"]])
def test_a_trailing_crlf_on_stdin_is_not_part_of_the_message(fake, cli, args):
    assert cli(*args, stdin="first line\r\nlast line\r\n").returncode == 0
    assert sent_messages(fake) == ["first line\r\nlast line"]


def test_piped_lines_ending_in_crlf_are_sent_without_the_cr(fake, cli):
    result = cli(stdin="one\r\ntwo\r\n", script="chat_session.py")
    assert (result.returncode, result.stdout) == (0, "User: one\nAI: one\n\nUser: two\nAI: two\n\n")
    assert sent_messages(fake) == ["one", "two"]


CRLF_REPLIES = {
    "--text": json_reply(run_response("s", ["one\r\ntwo\r\nbare\rcr"], "hi")),
    "--stream": event_stream(stream_events("s", "hi", "one\r\ntwo\r\nbare\rcr", ["one\r", "\ntwo\r\n", "bare\rcr"])),
}


@pytest.mark.parametrize("mode", CRLF_REPLIES)
def test_crlf_in_a_reply_is_a_line_break_at_a_terminal_and_a_bare_cr_stays_escaped(fake, fake_env, tmp_path, mode):
    fake.script(RUN, CRLF_REPLIES[mode])
    shown = one_shot_at_terminal(fake_env, tmp_path, "hi", mode)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == b"one\r\ntwo\r\nbare\\rcr\r\n"  # the terminal shows "\n" as "\r\n"


@pytest.mark.parametrize("mode", CRLF_REPLIES)
def test_crlf_in_a_reply_reaches_a_pipe_byte_for_byte(fake, fake_env, tmp_path, mode):
    fake.script(RUN, CRLF_REPLIES[mode])
    out, _ = start(fake_env, tmp_path, "hi", mode).communicate(timeout=30)
    assert out == b"one\r\ntwo\r\nbare\rcr\n"


def test_crlf_in_a_reply_is_a_line_break_in_a_chat_at_a_terminal(fake, fake_env, tmp_path):
    env = {**fake_env, "TERM": "dumb", "INPUTRC": os.devnull}
    child = spawn_in_terminal("chat_session.py", env=env, cwd=tmp_path, size=(24, 80), timeout=5, encoding=None)
    try:
        child.expect_exact(b"User: ")
        fake.script(RUN, CRLF_REPLIES["--stream"])
        child.sendline(b"hi")
        child.expect_exact(b"AI: one\r\ntwo\r\nbare\\rcr\r\n\r\nUser: ")
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
