"""The terminal layer: the waiting line on stderr, and keys typed while a reply arrives.

Screens are rendered by pyte (a virtual VT100 terminal), so "erased completely" means the final
screen is exactly the screen of the same run without the waiting line (TERM=dumb).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pexpect
import pytest
from conftest import run_in_terminal, screen_lines, spawn_in_terminal
from fake_langflow import Reply, event_stream, json_reply, run_response, stream_events, tokens_apart, words

RUN = "/api/v1/run/"
WAIT = 2.3  # seconds the server thinks before it answers
LINE = "waiting for the flow…"


def slow_reply(mode: str, text: str = "the answer") -> Reply:
    if mode == "--stream":
        return event_stream(stream_events("s", "hi", text, words(text)), delay=WAIT)
    return json_reply(run_response("s", [text], "hi"), delay=WAIT)


def run_at_terminal(env: dict[str, str], cwd: Path, *args: str) -> str:
    """Everything a one-shot run of chat_example.py wrote to a terminal holding both stdout and stderr."""
    return run_in_terminal("chat_example.py", *args, env=env, cwd=cwd, size=(24, 100), timeout=20).before


def screen(output: str) -> list[str]:
    """The lines a terminal shows after this output, trailing blanks dropped."""
    return screen_lines(output, size=(24, 100))


@pytest.fixture
def xterm(fake_env: dict[str, str]) -> dict[str, str]:
    return {**fake_env, "TERM": "xterm", "NO_COLOR": "1"}


@pytest.mark.parametrize("mode", ["--stream", "--text", "--json"])
def test_the_waiting_line_counts_seconds_then_leaves_the_screen_as_it_would_be_without_it(fake, xterm, tmp_path, mode):
    fake.script(RUN, slow_reply(mode), slow_reply(mode))
    output = run_at_terminal(xterm, tmp_path, mode, "hi")
    assert all(f"{LINE} {second} s\x1b[K" in output for second in (0, 1, 2)), output
    assert f"⠋ {LINE} 0 s" in output and output.count(LINE) >= 10  # a new frame every 0.1 s
    assert screen(output) == screen(run_at_terminal({**xterm, "TERM": "dumb"}, tmp_path, mode, "hi"))
    assert LINE not in "\n".join(screen(output))


def test_the_waiting_line_is_erased_before_an_error(fake, xterm, tmp_path):
    fake.script(RUN, json_reply({"detail": "boom"}, status=500, delay=1.2))
    output = run_at_terminal(xterm, tmp_path, "--text", "hi")
    assert LINE in output
    assert screen(output) == ["error: HTTP 500: boom (check the flow's components in Langflow)"]


def test_the_waiting_line_falls_back_to_ascii_where_the_terminal_cannot_show_it(fake, xterm, tmp_path):
    fake.script(RUN, slow_reply("--text"))
    output = run_at_terminal({**xterm, "PYTHONIOENCODING": "ascii"}, tmp_path, "--text", "hi")
    assert "| waiting for the flow... 0 s" in output and "⠋" not in output


def test_there_is_no_waiting_line_with_term_dumb(fake, xterm, tmp_path):
    fake.script(RUN, slow_reply("--stream"))
    output = run_at_terminal({**xterm, "TERM": "dumb"}, tmp_path, "--stream", "hi")
    assert output == "the answer\r\n"


def test_there_is_no_waiting_line_when_stderr_is_not_a_terminal(fake, xterm, tmp_path):
    fake.script(RUN, slow_reply("--stream"))
    errors = tmp_path / "stderr.txt"
    child = run_in_terminal(
        "chat_example.py", "--stream", "hi", env=xterm, cwd=tmp_path, size=(24, 80), stderr=errors, timeout=20
    )
    assert child.before == "the answer\r\n" and errors.read_text() == ""


# --- The chat --------------------------------------------------------------------------------------


def chat(env: dict[str, str], workdir: Path, *args: str) -> pexpect.spawn:
    child = spawn_in_terminal(
        "chat_session.py", *args, env={**env, "INPUTRC": os.devnull}, cwd=workdir, size=(24, 100), timeout=10
    )
    child.expect_exact("User:")  # coloured or not
    return child


def chat_screen(child: pexpect.spawn) -> list[str]:
    """The chat's screen so far, without its banner."""
    return screen(child.logfile_read.getvalue())[2:]


@pytest.mark.parametrize("args", [[], ["--no-stream"]], ids=["stream", "no-stream"])
def test_the_chat_waits_visibly_and_the_transcript_stays_exact(fake, xterm, tmp_path, args):
    fake.script(RUN, slow_reply("--text" if args else "--stream"))
    child = chat(xterm, tmp_path, *args)
    child.sendline("hi")
    child.expect_exact(f"{LINE} 1 s")
    child.expect_exact("User: ")
    assert chat_screen(child) == ["User: hi", "AI: the answer", "", "User:"]
    child.close(force=True)


def interrupted_chat(env: dict[str, str], workdir: Path, fake) -> list[str]:
    """The screen of a chat whose first message is interrupted while the server thinks."""
    fake.script(RUN, Reply(delay=30))
    child = chat(env, workdir)
    child.sendline("slow")
    time.sleep(1.2)
    child.sendintr()
    child.expect_exact("[interrupted] (/retry sends it again)\r\n")
    child.expect_exact("User: ")
    child.close(force=True)
    return child.logfile_read.getvalue()


def test_ctrl_c_erases_the_waiting_line(fake, xterm, tmp_path):
    output = interrupted_chat(xterm, tmp_path, fake)
    assert f"{LINE} 1 s" in output
    without = interrupted_chat({**xterm, "TERM": "dumb"}, tmp_path, fake)
    assert screen(output)[2:] == screen(without)[2:]  # after the banner (its session ids differ)


def test_keys_typed_while_a_reply_streams_are_not_echoed_into_it_and_wait_for_the_next_prompt(fake, fake_env, tmp_path):
    fake.script(RUN, tokens_apart(["Once", " upon", " a", " time"], gap=0.4))
    child = chat({**fake_env, "TERM": "dumb"}, tmp_path)
    child.sendline("tell me a story")
    child.expect_exact("AI: Once")
    child.send("typed ahead")
    child.expect_exact("\r\n\r\nUser: ")
    assert child.before == " upon a time"
    child.expect_exact("typed ahead")
    child.sendline("")
    child.expect_exact("AI: typed ahead\r\n\r\nUser: ")
    child.close(force=True)


# --- colour: the labels, errors and frames, only where a terminal shows colour ---------------------

USER, AI, ERROR, DIM = "\x1b[1;36mUser:\x1b[0m", "\x1b[1;32mAI:\x1b[0m", "\x1b[1;31merror:\x1b[0m", "\x1b[2m"


def test_the_chat_colours_the_user_and_ai_labels_at_a_terminal(fake, fake_env, tmp_path):
    child = chat({**fake_env, "TERM": "xterm"}, tmp_path)
    child.sendline("hi")
    child.expect_exact(f"{AI} hi")
    assert f"{USER} hi" in child.logfile_read.getvalue()  # the prompt, then what was typed
    child.close(force=True)


@pytest.mark.parametrize("setting", [{"NO_COLOR": "1"}, {"TERM": "dumb"}], ids=["NO_COLOR", "TERM=dumb"])
def test_the_chat_has_no_colour_with_no_color_or_a_dumb_terminal(fake, fake_env, tmp_path, setting):
    child = chat({**fake_env, "TERM": "xterm", **setting}, tmp_path)
    child.sendline("/history")
    child.sendline("hi")
    child.expect_exact("AI: hi\r\n")
    child.expect_exact("User: ")
    assert "\x1b[1;3" not in child.logfile_read.getvalue() and DIM not in child.logfile_read.getvalue()
    child.close(force=True)


def test_an_error_line_is_coloured_at_a_terminal(fake, fake_env, tmp_path):
    fake.script(RUN, Reply(status=500, body={"detail": "boom"}))
    output = run_at_terminal({**fake_env, "TERM": "xterm"}, tmp_path, "--text", "hi")
    assert f"{ERROR} HTTP 500" in output


def test_history_at_a_terminal_is_framed_by_dim_lines(fake, fake_env, tmp_path):
    child = chat({**fake_env, "TERM": "xterm"}, tmp_path)
    child.sendline("hi")
    child.expect_exact(f"{AI} hi")
    child.sendline("/history")
    child.expect_exact("end of history")
    output = child.logfile_read.getvalue()
    assert f"{DIM}── history of session " in output and f"{DIM}── end of history ──" in output
    child.close(force=True)


def test_a_message_typed_at_the_terminal_after_dash_says_how_to_end_it(fake, fake_env, tmp_path):
    child = spawn_in_terminal("chat_example.py", "--text", "-", env={**fake_env, "TERM": "dumb"}, cwd=tmp_path)
    child.expect_exact("type the message; Ctrl-D at the start of a line ends it\r\n")
    child.sendline("hello there")
    child.sendeof()
    child.expect_exact("hello there\r\n")
    child.expect(pexpect.EOF)
