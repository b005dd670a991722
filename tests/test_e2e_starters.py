"""Both scripts against Langflow 1.13's own starter projects, their model being the OpenAI fake.

The flows are the starter projects as Langflow ships them (tests/starter_flows.py), with
gpt-4o-mini chosen as the UI stores it; Langflow's model components call tests/openai_fake.py,
which answers `You said: <last user message> (earlier user messages: N)`, calls the calculator
when offered it for a message holding an arithmetic expression, then answers
`The tool said: <the tool's result>`, and fails on request.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pexpect
import pytest
from conftest import chat_terminals, clean_env, screen_lines, script_runner
from langflow_server import ensure_langflow
from openai_fake import FAIL_MESSAGE, FAIL_WORD, TOOL
from starter_flows import create_starters, starter_folder

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.only(since="1.13.0", reason="these starter projects (agents, unified model field) are 1.13's"),
]

# What each starter project is asked in every mode, and its exact reply.
TOOL_RESULT = '{"result": "5"}'  # what Langflow 1.13's calculator tool returns to the model
ASKED = {
    "basic-prompting": ("Why is the sky blue?", "You said: Why is the sky blue? (earlier user messages: 0)"),
    "memory-chatbot": ("I am Ada", "You said: I am Ada (earlier user messages: 0)"),
    "simple-agent": ("What is 2 + 3?", f"The tool said: {TOOL_RESULT}"),
}


@pytest.fixture(scope="module")
def starters(langflow) -> dict[str, str]:
    """The starter projects created on the suite's Langflow: endpoint name -> flow id."""
    folder = starter_folder(ensure_langflow(langflow.release))
    return create_starters(langflow.url, langflow.username, langflow.password, folder)


@pytest.fixture
def env(langflow, starters, tmp_path: Path) -> dict[str, str]:
    return clean_env(
        LANGFLOW_URL=langflow.url,
        LANGFLOW_API_KEY=langflow.api_key,
        XDG_STATE_HOME=str(tmp_path / "state"),
    )


@pytest.fixture
def run(env: dict[str, str], tmp_path: Path):
    return script_runner(env, tmp_path)


@pytest.fixture
def terminal(env: dict[str, str], tmp_path: Path):
    """Start chat_session.py in a pseudo-terminal (no colour), at its first prompt; closed at the end."""
    with chat_terminals({**env, "NO_COLOR": "1"}, tmp_path, timeout=90) as start:

        def spawn(*args: str) -> pexpect.spawn:
            child = start(*args)
            child.expect_exact("User: ")
            return child

        yield spawn


def say(child: pexpect.spawn, message: str) -> str:
    """Send one line and return what was shown up to the next prompt."""
    child.sendline(message)
    child.expect_exact("User: ")
    return child.before


def events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def finished_reply(stream: list[dict]) -> str:
    """The text of the last finished AI message of a `--stream --json` run."""
    replies = [
        event["data"]["text"]
        for event in stream
        if event.get("event") == "add_message"
        and event["data"].get("sender") != "User"
        and event["data"].get("properties", {}).get("state") == "complete"
    ]
    return replies[-1]


def tool_uses(stream: list[dict]) -> list[dict]:
    """The `tool_use` contents of the partial AI messages (the agent's steps), in order."""
    return [
        content
        for event in stream
        if event.get("event") == "add_message" and event["data"].get("properties", {}).get("state") == "partial"
        for block in event["data"].get("content_blocks") or []
        for content in block.get("contents") or []
        if content.get("type") == "tool_use"
    ]


def user_messages(request: dict) -> list[str]:
    return [message["content"] for message in request["messages"] if message["role"] == "user"]


# --- every mode of both scripts, against each starter project ---------------------------------


@pytest.mark.parametrize("flow", list(ASKED))
@pytest.mark.parametrize("mode", [["--text"], ["--stream"]], ids=["text", "stream"])
def test_starter_reply_is_printed_exactly(run, flow, mode):
    message, reply = ASKED[flow]
    result = run(*mode, "--flow", flow, message)
    assert (result.returncode, result.stdout, result.stderr) == (0, reply + "\n", "")


@pytest.mark.parametrize("flow", list(ASKED))
def test_starter_json_output_holds_the_reply(run, flow):
    message, reply = ASKED[flow]
    result = run("--flow", flow, message)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["outputs"][0]["outputs"][0]["results"]["message"]["text"] == reply


@pytest.mark.parametrize("flow", list(ASKED))
def test_starter_stream_json_events_hold_the_reply_token_by_token(run, flow):
    message, reply = ASKED[flow]
    result = run("--stream", "--json", "--flow", flow, message)
    assert result.returncode == 0, result.stderr
    stream = events(result.stdout)
    tokens = [event["data"]["chunk"] for event in stream if event["event"] == "token"]
    assert (finished_reply(stream), "".join(tokens)) == (reply, reply)
    assert len([token for token in tokens if token]) == len(reply.split())  # the fake's words, one by one
    assert stream[-1]["event"] == "end"


@pytest.mark.parametrize("flow", list(ASKED))
def test_starter_piped_session_prints_the_transcript(run, flow):
    message, reply = ASKED[flow]
    result = run("--flow", flow, script="chat_session.py", stdin=message + "\n")
    assert (result.returncode, result.stdout) == (0, f"User: {message}\nAI: {reply}\n\n"), result.stderr


@pytest.mark.parametrize("flow", list(ASKED))
def test_starter_terminal_session_shows_the_reply(terminal, flow):
    message, reply = ASKED[flow]
    shown = say(terminal("--flow", flow), message)
    assert f"AI: {reply}\r\n" in shown


# --- Basic Prompting: the prompt reaches the model --------------------------------------------


def test_basic_prompting_sends_its_prompt_as_the_system_message(run, openai_model):
    result = run("--text", "--flow", "basic-prompting", "Tell me about flows")
    assert result.returncode == 0, result.stderr
    sent = openai_model.requests[-1]["messages"]
    assert [message["role"] for message in sent] == ["system", "user"]
    assert sent[0]["content"].startswith("Answer the user as if you were a GenAI expert")
    assert sent[1]["content"] == "Tell me about flows"


# --- Memory Chatbot: memory within a session, none across sessions ----------------------------


def test_memory_chatbot_remembers_the_turns_of_one_session(run, openai_model):
    result = run("--flow", "memory-chatbot", script="chat_session.py", stdin="I am Ada\nI like tea\nWho am I?\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "User: I am Ada\nAI: You said: I am Ada (earlier user messages: 0)\n\n"
        "User: I like tea\nAI: You said: I like tea (earlier user messages: 1)\n\n"
        "User: Who am I?\nAI: You said: Who am I? (earlier user messages: 2)\n\n"
    )
    assert user_messages(openai_model.requests[-1]) == ["I am Ada", "I like tea", "Who am I?"]


def test_memory_chatbot_does_not_share_memory_across_sessions(run, openai_model):
    first = run("--text", "--flow", "memory-chatbot", "I am Ada")
    second = run("--text", "--flow", "memory-chatbot", "Who am I?")
    assert (first.stdout, second.stdout) == (
        "You said: I am Ada (earlier user messages: 0)\n",
        "You said: Who am I? (earlier user messages: 0)\n",
    )
    assert user_messages(openai_model.requests[-1]) == ["Who am I?"]


def test_memory_chatbot_continues_a_session_given_by_id(run):
    run("--text", "--flow", "memory-chatbot", "--session-id", "starter-memory", "I am Ada")
    second = run("--text", "--flow", "memory-chatbot", "--session-id", "starter-memory", "Who am I?")
    assert second.stdout == "You said: Who am I? (earlier user messages: 1)\n"


def test_memory_chatbot_at_a_terminal_remembers_until_new(terminal):
    child = terminal("--flow", "memory-chatbot")
    say(child, "I am Ada")
    assert "AI: You said: Who am I? (earlier user messages: 1)" in say(child, "Who am I?")
    say(child, "/new")
    assert "AI: You said: Who am I? (earlier user messages: 0)" in say(child, "Who am I?")


# --- Simple Agent: a tool call --------------------------------------------------------------


def test_simple_agent_answers_with_the_result_of_its_tool_call(run, openai_model):
    requests_before = len(openai_model.requests)
    result = run("--text", "--flow", "simple-agent", "What is 12 * 7?")
    assert result.returncode == 0, result.stderr
    first, second = openai_model.requests[requests_before:]
    assert TOOL in [tool["function"]["name"] for tool in first["tools"]]
    call, tool_result = second["messages"][-2:]
    assert call["tool_calls"][0]["function"] == {"name": TOOL, "arguments": '{"expression": "12 * 7"}'}
    assert (tool_result["role"], tool_result["content"]) == ("tool", '{"result": "84"}')
    assert result.stdout == 'The tool said: {"result": "84"}\n'


def test_simple_agent_stream_json_shows_the_tool_call_in_partial_messages(run):
    result = run("--stream", "--json", "--flow", "simple-agent", "What is 2 + 3?")
    assert result.returncode == 0, result.stderr
    steps = tool_uses(events(result.stdout))
    assert steps, "no tool_use content in the partial add_message events"
    assert {(step["name"], json.dumps(step["tool_input"])) for step in steps} == {(TOOL, '{"expression": "2 + 3"}')}
    assert steps[0]["header"]["title"] == f"Accessing **{TOOL}**" and steps[0]["output"] is None
    assert steps[-1]["header"]["title"] == f"Executed **{TOOL}**"
    assert steps[-1]["output"]["content"] == TOOL_RESULT


# --- a failing model ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [["--text"], ["--stream"]], ids=["text", "stream"])
@pytest.mark.parametrize("flow", ["basic-prompting", "simple-agent"])
def test_model_failure_exits_1_with_one_clear_line(run, flow, mode):
    result = run(*mode, "--flow", flow, f"please {FAIL_WORD}")
    assert (result.returncode, result.stdout.strip()) == (1, "")
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert FAIL_MESSAGE in result.stderr
    assert "Traceback" not in result.stderr


def test_simple_agent_steps_show_the_tool_call_then_its_output_on_stderr(run):
    result = run("--stream", "--steps", "--flow", "simple-agent", "What is 2 + 3?")
    assert (result.returncode, result.stdout) == (0, f"The tool said: {TOOL_RESULT}\n"), result.stderr
    assert result.stderr == f'  calling {TOOL} {{"expression": "2 + 3"}}\n  {TOOL} returned: {TOOL_RESULT}\n'


def test_simple_agent_at_a_terminal_shows_the_tools_output_before_the_answer_and_never_after(terminal):
    child = terminal("--flow", "simple-agent")
    say(child, "What is 2 + 3?")
    lines = screen_lines(child.logfile_read.getvalue(), size=(40, 200))
    assert lines[lines.index("User: What is 2 + 3?") :] == [
        "User: What is 2 + 3?",
        f'  calling {TOOL} {{"expression": "2 + 3"}}',
        f"  {TOOL} returned: {TOOL_RESULT}",
        f"AI: The tool said: {TOOL_RESULT}",
        "",
        "User:",
    ]


def test_a_file_attached_in_the_chat_is_read_by_the_flows_model_with_the_next_message_only(terminal, tmp_path):
    (tmp_path / "note.txt").write_text("the code is 42\n", encoding="utf-8")
    child = terminal("--flow", "basic-prompting")
    assert "attached to your next message: note.txt" in say(child, "/file note.txt")
    shown = say(child, "What does the note say?")
    # the model got the file's text after the message's (its stored name: a timestamp, then the file's)
    assert re.search(r"You said: What does the note say\?File '[^']*note\.txt' contents:\r\nthe code is 42\r\n", shown)
    assert "note.txt" not in say(child, "And now?")
