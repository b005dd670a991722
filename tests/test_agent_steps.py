"""An agent's steps: the pure rule that reads them from Langflow's events, and how both scripts show them.

The event shapes are Langflow's own (lfx/schema/content_types.py, lfx/base/agents/events.py; up to
1.6, langflow/base/agents/events.py): see `agent_events` and `old_agent_steps` in fake_langflow.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT, run_in_terminal, spawn_in_terminal
from fake_langflow import (
    agent_events,
    agent_message,
    chain_start_log,
    event_line,
    event_stream,
    message_event,
    old_agent_steps,
    tool_content,
    tool_end_log,
    tool_start_log,
)

from chat_session import event_steps, tee_steps

RUN = "/api/v1/run/"
TOOL = "evaluate_expression"
ANSWER = "2 + 3 is 5."
CALL = 'calling evaluate_expression {"expression": "2 + 3"}'
RESULT = 'evaluate_expression returned: {"result": "5"}'


def steps_of(events: list[dict]) -> list[str]:
    shown: list[str] = []
    for _event in tee_steps(events, shown.append):
        pass
    return shown


class AnyRun:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and len(other) == 36


ANY_RUN = AnyRun()  # a LangChain run id


def a_tool_call(**kwargs) -> list[dict]:
    return agent_events("s", "What is 2 + 3?", ANSWER, TOOL, {"expression": "2 + 3"}, {"result": "5"}, **kwargs)


# --- The rule ----------------------------------------------------------------------------------


def test_a_tool_call_shows_its_input_once_then_its_result_once():
    assert steps_of(a_tool_call()) == [CALL, RESULT]


def test_a_failed_tool_shows_its_error():
    events = agent_events("s", "hi", "sorry", TOOL, {"expression": "1/0"}, None, error="division by zero")
    assert steps_of(events) == ['calling evaluate_expression {"expression": "1/0"}', f"{TOOL} failed: division by zero"]


def test_a_tool_result_logged_before_the_answer_is_shown_before_its_tokens():
    order: list[str] = []
    for event in tee_steps(a_tool_call(), order.append):
        if event["event"] == "token":
            order.append("token")
    assert order[:3] == [CALL, RESULT, "token"] and order.count(RESULT) == 1


def test_a_logged_tool_result_is_the_content_of_its_envelope():
    assert event_steps(tool_end_log(TOOL, {"result": "5"})) == [(("log", ANY_RUN, "returned"), RESULT)]


def test_a_logged_tool_start_shows_the_tools_input():
    assert event_steps(tool_start_log(TOOL, {"expression": "2 + 3"})) == [(("log", ANY_RUN, "call"), CALL)]


def test_the_frameworks_other_logs_are_not_steps():
    assert event_steps(chain_start_log("What is 2 + 3?")) == []


def test_without_tool_logs_the_steps_come_from_the_agents_message():
    assert steps_of(a_tool_call(logs=False)) == [CALL, RESULT]


def test_a_tool_output_in_its_envelope_shows_its_content():
    envelope = {"content": '{"result": "5"}', "type": "tool", "name": TOOL, "artifact": {"result": "5"}}
    (_call, (_key, result)) = event_steps(agent_message("s", "m", [tool_content(TOOL, {"a": 1}, output=envelope)]))
    assert result == RESULT


def test_the_steps_of_langflow_up_to_1_6_are_read_from_the_agent_steps_group():
    call = tool_content(TOOL, {"expression": "2 + 3"})
    done = tool_content(TOOL, {"expression": "2 + 3"}, output="5")
    events = [
        agent_message("s", "m", old_agent_steps("hi", [call])),
        agent_message("s", "m", old_agent_steps("hi", [done])),
    ]
    assert steps_of(events) == [CALL, "evaluate_expression returned: 5"]


def test_a_tool_whose_input_is_not_known_yet_waits_for_it():
    blank = tool_content(TOOL, {})
    assert event_steps(agent_message("s", "m", [blank])) == []


def test_text_contents_are_the_answer_not_steps():
    text = {"type": "text", "text": "The answer", "header": {}}
    assert event_steps(agent_message("s", "m", [text], text="The answer")) == []


def test_the_users_own_message_holds_no_steps():
    event = message_event("hi", "User", "s", "u")
    event["data"]["content_blocks"] = [tool_content(TOOL, {"x": 1}, output=1)]
    assert event_steps(event) == []


def test_a_log_event_is_a_step_each_time():
    log = {"event": "log", "data": {"name": "Log 1", "message": "Calculation result: 5", "type": "text"}}
    assert steps_of([log, log]) == ["log: Calculation result: 5"] * 2


def test_long_results_are_shortened_to_one_line():
    output = "line one\nline two " + "x" * 500
    (_call, (_key, result)) = event_steps(agent_message("s", "m", [tool_content(TOOL, {"a": 1}, output=output)]))
    assert "\n" not in result and len(result) < 250 and result.startswith(f"{TOOL} returned: line one line two")


def test_steps_of_two_messages_are_kept_apart():
    first = agent_message("s", "m1", [tool_content(TOOL, {"a": 1}, output=1)])
    second = agent_message("s", "m2", [tool_content(TOOL, {"a": 1}, output=1)])
    assert len(steps_of([first, second])) == 4


# --- Both scripts -------------------------------------------------------------------------------


def agent_reply():
    return event_stream(a_tool_call())


def test_steps_flag_shows_the_steps_on_stderr_when_it_is_not_a_terminal(cli, fake):
    fake.script(RUN, agent_reply())
    result = cli("--stream", "--steps", "What is 2 + 3?")
    assert result.returncode == 0 and result.stdout == ANSWER + "\n"
    assert result.stderr == f"  {CALL}\n  {RESULT}\n"


def test_without_the_flag_a_pipe_gets_no_steps(cli, fake):
    fake.script(RUN, agent_reply())
    result = cli("--stream", "What is 2 + 3?")
    assert (result.stdout, result.stderr) == (ANSWER + "\n", "")


def test_stream_json_prints_every_event_as_before(cli, fake):
    events = a_tool_call()
    fake.script(RUN, event_stream(events))
    result = cli("--stream", "--json", "--steps", "What is 2 + 3?")
    assert [json.loads(line) for line in result.stdout.splitlines()] == events
    assert result.stderr == f"  {CALL}\n  {RESULT}\n"


def test_a_piped_chat_shows_steps_with_the_flag_and_an_unchanged_transcript(cli, fake):
    fake.script(RUN, agent_reply())
    result = cli("--steps", stdin="What is 2 + 3?\n", script="chat_session.py")
    assert result.stdout == f"User: What is 2 + 3?\nAI: {ANSWER}\n\n"
    assert result.stderr == f"  {CALL}\n  {RESULT}\n"


WAITING_LINE = re.compile(r"\r[^\r\n]*waiting for the flow[^\r\n]*\x1b\[K|\r\x1b\[K")  # see test_terminal.py


def at_terminal(fake_env, cwd, *args, script="chat_example.py", **env) -> str:
    """What a run with stdout and stderr on one terminal wrote, without the waiting line."""
    child = run_in_terminal(script, *args, env={**fake_env, "TERM": "dumb", **env}, cwd=cwd)
    assert child.exitstatus == 0, child.before
    return WAITING_LINE.sub("", child.before).replace("\r\n", "\n")


def test_at_a_terminal_the_steps_come_dimmed_before_the_answer(fake, fake_env, tmp_path):
    fake.script(RUN, agent_reply())
    screen = at_terminal(fake_env, tmp_path, "--stream", "What is 2 + 3?", TERM="xterm")
    assert screen == f"\x1b[2m  {CALL}\x1b[22m\n\x1b[2m  {RESULT}\x1b[22m\n{ANSWER}\n"


def test_a_result_the_server_sends_after_the_answer_is_shown_after_its_line(fake, fake_env, tmp_path):
    fake.script(RUN, event_stream(a_tool_call(logs=False)))
    screen = at_terminal(fake_env, tmp_path, "--stream", "What is 2 + 3?", NO_COLOR="1")
    assert screen == f"  {CALL}\n{ANSWER}\n  {RESULT}\n"


def test_no_color_leaves_the_steps_plain(fake, fake_env, tmp_path):
    fake.script(RUN, agent_reply())
    screen = at_terminal(fake_env, tmp_path, "--stream", "What is 2 + 3?", NO_COLOR="1")
    assert screen == f"  {CALL}\n  {RESULT}\n{ANSWER}\n"


def test_no_steps_hides_them_at_a_terminal(fake, fake_env, tmp_path):
    fake.script(RUN, agent_reply())
    assert at_terminal(fake_env, tmp_path, "--stream", "--no-steps", "What is 2 + 3?") == ANSWER + "\n"


def test_a_tool_output_cannot_send_escape_codes_to_the_terminal(fake, fake_env, tmp_path):
    events = agent_events("s", "hi", "ok", TOOL, {"a": 1}, "\x1b]0;pwned\x07")
    fake.script(RUN, event_stream(events))
    screen = at_terminal(fake_env, tmp_path, "--stream", "hi", NO_COLOR="1")
    assert "\x1b]" not in screen and "\\x1b]0;pwned\\x07" in screen


def test_the_chat_shows_steps_between_the_question_and_the_answer(fake, fake_env, tmp_path):
    fake.script(RUN, agent_reply())
    env = {**fake_env, "TERM": "dumb", "NO_COLOR": "1", "INPUTRC": os.devnull}
    child = spawn_in_terminal("chat_session.py", env=env, cwd=tmp_path)
    child.expect_exact("User: ")
    child.sendline("What is 2 + 3?")
    child.expect_exact("\r\nUser: ")
    assert child.before.replace("\r\n", "\n") == f"What is 2 + 3?\n  {CALL}\n  {RESULT}\nAI: {ANSWER}\n"
    child.close(force=True)


def test_a_server_without_steps_shows_none(cli, fake):
    result = cli("--stream", "--steps", "hello")
    assert (result.stdout, result.stderr) == ("hello\n", "")


def test_steps_in_one_chunk_with_the_tokens_are_still_in_order(cli, fake):
    fake.script(RUN, event_stream([b"".join(event_line(event) for event in a_tool_call())]))
    result = cli("--stream", "--steps", "What is 2 + 3?")
    assert (result.stdout, result.stderr) == (ANSWER + "\n", f"  {CALL}\n  {RESULT}\n")


def test_help_names_the_steps_flags():
    for script in ("chat_example.py", "chat_session.py"):
        out = subprocess.run([sys.executable, str(ROOT / script), "--help"], capture_output=True, text=True).stdout
        assert "--steps, --no-steps" in out


@pytest.fixture(autouse=True)
def _no_developer_term(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)


def test_at_a_terminal_a_long_step_is_cut_to_one_screen_line(fake, fake_env, tmp_path):
    events = agent_events("s", "hi", "ok", TOOL, {"expression": "1 + " * 40 + "1"}, "x" * 150)
    fake.script(RUN, event_stream(events))
    env = {**fake_env, "TERM": "dumb"}
    child = run_in_terminal("chat_example.py", "--stream", "hi", env=env, cwd=tmp_path, size=(24, 60))
    lines = child.before.split("\r\n")
    assert lines[0].startswith(f'  calling {TOOL} {{"expression": "1 + 1') and len(lines[0]) == 59
    assert len(lines[1]) == 59 and lines[2] == "ok"


@pytest.mark.parametrize("mode", ["--text", "--json"])
def test_the_modes_that_wait_for_the_whole_reply_show_the_steps_too(cli, fake, mode):
    fake.script(RUN, agent_reply())
    result = cli(mode, "--steps", "What is 2 + 3?")
    assert result.returncode == 0 and ANSWER in result.stdout
    assert result.stderr == f"  {CALL}\n  {RESULT}\n"


def test_a_chat_without_streaming_shows_the_steps_too(cli, fake):
    fake.script(RUN, agent_reply())
    result = cli("--steps", "--no-stream", stdin="What is 2 + 3?\n", script="chat_session.py")
    assert result.stdout == f"User: What is 2 + 3?\nAI: {ANSWER}\n\n"
    assert result.stderr == f"  {CALL}\n  {RESULT}\n"
