"""Both scripts against a real `lfx serve` (tests/lfx_server.py) of the flow files the tests write:
`echo` replies with the message; `counter` replies `turn N: <message>` and raises on "explode".
The client is pointed at it by LANGFLOW_URL alone and tells it from Langflow by its answers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import chat_terminals, clean_env, script_runner

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.only("1.13.0", reason="lfx serve does not depend on the Langflow release under test: run once"),
]

NOT_OFFERED = (
    "lfx serve does not offer stored conversations (history, sessions, rename, forget, save) (a Langflow server does)"
)
COMPONENT_FAILED = (
    "error: the flow failed: CounterModel: counter exploded on request (check the flow's components in Langflow)"
)
TERMINAL_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


@pytest.fixture
def lfx_env(lfx_serve, tmp_path: Path) -> dict[str, str]:
    return clean_env(
        LANGFLOW_URL=lfx_serve.url,
        LANGFLOW_API_KEY=lfx_serve.api_key,
        LANGFLOW_FLOW_ID=lfx_serve.counter_id,
        XDG_STATE_HOME=str(tmp_path / "state"),
    )


@pytest.fixture
def run(lfx_env: dict[str, str], tmp_path: Path):
    return script_runner(lfx_env, tmp_path)


def error_line(result, exit_code: int) -> str:
    assert result.returncode == exit_code, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    return result.stderr.strip()


def test_the_default_json_is_lfx_serves_result_with_the_reply(run):
    result = run("hello lfx")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert (answer["result"], answer["success"]) == ("turn 1: hello lfx", True)


def test_text_prints_the_reply(run):
    assert run("--text", "hello lfx").stdout == "turn 1: hello lfx\n"


def test_stream_prints_the_reply(run):
    assert run("--stream", "hello lfx").stdout == "turn 1: hello lfx\n"


def test_stream_json_prints_the_end_event_with_the_reply(run):
    (line,) = run("--stream", "--json", "hello lfx").stdout.splitlines()
    assert json.loads(line)["data"]["result"]["result"] == "turn 1: hello lfx"


def test_a_flow_is_run_by_its_name(run):
    assert run("--flow", "echo", "--text", "by name").stdout == "by name\n"


def test_list_flows_shows_both_flow_files(run, lfx_serve):
    rows = {tuple(line.split()) for line in run("--list-flows").stdout.splitlines()[1:]}
    assert rows == {("-", lfx_serve.echo_id, "echo"), ("-", lfx_serve.counter_id, "counter")}


@pytest.mark.parametrize("mode", ["--text", "--stream"])
def test_a_failing_component_of_a_real_lfx_serve_is_the_flow_error_with_its_message(run, mode):
    assert error_line(run(mode, "explode"), 1) == COMPONENT_FAILED


@pytest.mark.parametrize(
    ("key", "problem"), [("", "this server needs an API key"), ("wrong", "the server refused the API key")]
)
def test_a_missing_or_wrong_key_is_an_authentication_error(run, lfx_env, key, problem):
    result = run("--text", "hi", env={**lfx_env, "LANGFLOW_API_KEY": key})
    assert error_line(result, 3).startswith(f"error: HTTP 401: {problem} (")


def test_an_unknown_flow_is_said_so(run):
    result = run("--flow", "00000000-0000-4000-8000-000000000000", "--text", "hi")
    assert error_line(result, 1).startswith("error: no flow named '00000000-0000-4000-8000-000000000000' on lfx serve")


def test_list_sessions_says_lfx_serve_does_not_offer_them(run):
    assert error_line(run("--list-sessions", script="chat_session.py"), 1) == f"error: {NOT_OFFERED}"


def test_a_piped_chat_keeps_its_session_and_replies_each_turn(run):
    result = run("--session-id", "lfx-talk", stdin="first\nsecond\n", script="chat_session.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "User: first\nAI: turn 1: first\n\nUser: second\nAI: turn 1: second\n\n"


def test_the_chat_at_a_terminal_streams_replies_and_says_history_is_not_offered(lfx_env, tmp_path):
    with chat_terminals({**lfx_env, "NO_COLOR": "1"}, tmp_path, timeout=30) as start:
        child = start("--session-id", "lfx-terminal")
        child.expect(r"User: $")  # the recap at the start says the server keeps no conversation
        assert f"error: {NOT_OFFERED}" in TERMINAL_CONTROL.sub("", child.before)
        child.sendline("hello there")
        child.expect(r"User: $")
        assert "AI: turn 1: hello there" in TERMINAL_CONTROL.sub("", child.before)
        child.sendline("/history")
        child.expect(r"User: $")
        assert f"error: {NOT_OFFERED}" in TERMINAL_CONTROL.sub("", child.before)
