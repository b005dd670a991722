"""The API key is never shown: a server that echoes it in any error field, in any mode of either
script, gets it back as [redacted]. The redaction is the Voice's (the one writer of stderr lines)
and the stored conversation's, not each caller's, so these tests go through the whole program."""

from __future__ import annotations

import json

import pytest
from conftest import API_KEY
from fake_langflow import error_event, event_stream, json_reply

RUN = "/api/v1/run/"
MESSAGES = "/api/v1/monitor/messages"
ECHOED = f"the key {API_KEY} is not valid here"

# Every place a Langflow error answer can carry text, each holding the key.
ERROR_ANSWERS = {
    "400 detail": json_reply({"detail": ECHOED}, status=400),
    "500 detail as JSON in a string": json_reply(
        {"detail": json.dumps({"message": f"Error building Component Prompt: {ECHOED}", "traceback": None})},
        status=500,
    ),
    "422 list of errors": json_reply({"detail": [{"loc": ["body", "x"], "msg": ECHOED, "type": "x"}]}, status=422),
    "plain text body": json_reply(ECHOED, status=502, content_type="text/plain"),
    "error event, a message": event_stream([error_event("Prompt", ECHOED, "message")]),
    "error event, an envelope": event_stream([error_event("Prompt", ECHOED, "error")]),
}
ONE_SHOT_MODES = {"JSON": [], "--text": ["--text"], "--stream": ["--stream"], "--stream --json": ["--stream", "--json"]}


@pytest.mark.parametrize("answer", ERROR_ANSWERS, ids=list(ERROR_ANSWERS))
@pytest.mark.parametrize("mode", ONE_SHOT_MODES, ids=list(ONE_SHOT_MODES))
@pytest.mark.parametrize("verbose", [[], ["-v"]], ids=["quiet", "verbose"])
def test_a_one_shot_never_shows_a_key_the_server_echoes(cli, fake, answer, mode, verbose):
    fake.script(RUN, ERROR_ANSWERS[answer])
    result = cli("hi", *ONE_SHOT_MODES[mode], *verbose)
    assert result.returncode != 0
    assert "[redacted]" in result.stderr
    assert API_KEY not in result.stdout + result.stderr


@pytest.mark.parametrize("answer", ERROR_ANSWERS, ids=list(ERROR_ANSWERS))
@pytest.mark.parametrize("flags", [[], ["--no-stream"]], ids=["streaming", "--no-stream"])
def test_a_piped_chat_never_shows_a_key_the_server_echoes(cli, fake, answer, flags):
    fake.script(RUN, ERROR_ANSWERS[answer])
    result = cli(*flags, script="chat_session.py", stdin="this one fails\nhello\n")
    assert result.returncode == 1 and "AI: hello" in result.stdout
    assert API_KEY not in result.stdout + result.stderr


def test_the_chat_at_a_terminal_never_shows_a_key_the_server_echoes(fake, spawn_session):
    terminal = spawn_session()
    fake.script(RUN, ERROR_ANSWERS["500 detail as JSON in a string"])
    terminal.type("this one fails")
    terminal.expect("[redacted]")
    terminal.expect("User: ")
    terminal.ctrl_d()
    assert terminal.exit_code() == 0
    assert API_KEY not in terminal.screen


def test_history_never_shows_a_key_held_by_a_stored_error(fake, spawn_session):
    terminal = spawn_session("--session-id", "s")
    fake.store("s", "User", "hello")
    fake.store("s", "Machine", ECHOED, category="error", sender_name="Prompt")
    terminal.type("/history")
    terminal.expect("[error from Prompt] the key [redacted] is not valid here")
    terminal.expect("User: ")
    terminal.ctrl_d()
    assert terminal.exit_code() == 0
    assert API_KEY not in terminal.screen


@pytest.mark.parametrize("command", ["/sessions", "/history"])
def test_a_listing_the_server_refuses_with_the_key_never_shows_it(fake, spawn_session, command):
    terminal = spawn_session()
    fake.script(MESSAGES, json_reply({"detail": ECHOED}, status=500))
    terminal.type(command)
    terminal.expect("[redacted]")
    terminal.expect("User: ")
    terminal.ctrl_d()
    assert terminal.exit_code() == 0
    assert API_KEY not in terminal.screen


def test_list_sessions_from_the_shell_never_shows_a_key_the_server_echoes(cli, fake):
    fake.script(MESSAGES, json_reply({"detail": ECHOED}, status=500))
    result = cli("--list-sessions", script="chat_session.py")
    assert result.returncode == 1 and "[redacted]" in result.stderr
    assert API_KEY not in result.stdout + result.stderr
