"""Both scripts against the release under test as a user's server runs it (`langflow_as_shipped`,
conftest.py): none of tests/langflow_patches' fixes, and Langflow's transaction, vertex-build and
key-usage writes on, as Langflow ships. What a user sees there: ordinary turns, a Human Input pause,
an Agent's tool approval, and the message and output types (--input-type, --output-type).

The other end-to-end modules keep the patched, quieter server, where it makes them deterministic:
unpatched, an Agent's tool approval pauses only about one run in two (its checkpoint race, see
langflow_patches/sitecustomize.py), so the tests of it here accept either outcome a user can get.

Flows (tests/langflow_flows.py): `echo`, `counter` (`turn N: <message>`, N the session's user
messages so far), `approval` (Human Input), `approval-agent` (an Agent whose Calculator tool needs
approval; its model is tests/openai_fake.py, which echoes the tool's answer) and `text-echo`
(Text Input into Text Output).
"""

from __future__ import annotations

import json
from pathlib import Path

import pexpect
import pytest
from conftest import clean_env, script_runner, spawn_in_terminal

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.only(
        since="1.13",
        reason="a server as shipped is run for the release users get (1.13): older ones are tested patched, "
        "as their key-usage writes fail runs with 'database is locked'",
    ),
]
AGENT_QUESTION = "what is 2 + 3?"
AGENT_APPROVED = 'The tool said: {"result": "5"}'  # the OpenAI fake's answer once the tool has run


@pytest.fixture
def lf_env(langflow_as_shipped, tmp_path: Path) -> dict[str, str]:
    return clean_env(
        LANGFLOW_URL=langflow_as_shipped.url,
        LANGFLOW_API_KEY=langflow_as_shipped.api_key,
        LANGFLOW_FLOW_ID="echo",
        XDG_STATE_HOME=str(tmp_path / "state"),
    )


@pytest.fixture
def run(lf_env: dict[str, str], tmp_path: Path):
    return script_runner(lf_env, tmp_path)


# --- Ordinary turns -------------------------------------------------------------------------------


@pytest.mark.feature("text")
def test_a_one_shot_prints_the_reply_text(run):
    result = run("--text", "Why is the sky blue?")
    assert (result.returncode, result.stdout, result.stderr) == (0, "Why is the sky blue?\n", "")


@pytest.mark.feature("stream")
def test_a_one_shot_streams_the_reply(run):
    result = run("--flow", "counter", "--stream", "one two three")
    assert (result.returncode, result.stdout, result.stderr) == (0, "turn 1: one two three\n", "")


@pytest.mark.feature("text")
def test_a_piped_chat_remembers_the_conversation(run):
    result = run("--flow", "counter", script="chat_session.py", stdin="first\nsecond\n")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "User: first\nAI: turn 1: first\n\nUser: second\nAI: turn 2: second\n\n"


# --- Flows that ask a human ---------------------------------------------------------------------


@pytest.mark.feature("human input")
def test_a_human_input_pause_answered_with_choice_replies_by_the_decision(run):
    result = run("--flow", "approval", "--text", "--choice", "approve", "ship it?")
    assert (result.returncode, result.stdout, result.stderr) == (0, "approved: ship it?\n", "")


@pytest.mark.feature("human input")
def test_an_agents_tool_approval_with_choice_replies_with_the_tools_answer_or_empty(run):
    """Either the run paused, --choice approved the tool and the reply is its answer; or Langflow
    lost the pause to its own checkpoint race and the run ended with an empty reply, which a user
    gets as an empty line and exit 0. Both are a user's outcomes on Langflow 1.13 as shipped."""
    result = run("--flow", "approval-agent", "--text", "--choice", "approve", AGENT_QUESTION)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout in (AGENT_APPROVED + "\n", "\n")


@pytest.mark.feature("human input")
def test_an_agents_tool_approval_at_a_terminal_is_asked_and_approved_by_number_or_is_empty(lf_env, tmp_path):
    """At a terminal: either the question, its four choices, "1" typed and the tool's answer; or,
    when Langflow lost the pause to its own checkpoint race, the "(empty reply)" note. Exit 0 both ways."""
    child = spawn_in_terminal(
        "chat_example.py", "--flow", "approval-agent", "--text", AGENT_QUESTION, env=lf_env, cwd=tmp_path, timeout=60
    )
    if child.expect_exact(["choice (1-4): ", pexpect.EOF]) == 0:
        screen = child.logfile_read.getvalue()
        assert 'the flow asks: run the tool evaluate_expression with {"expression": "2 + 3"}?' in screen
        assert all(f"{n}. {label}" in screen for n, label in enumerate(["Approve", "Edit", "Reject", "Respond"], 1))
        child.sendline("1")
        child.expect_exact(AGENT_APPROVED)
        child.expect(pexpect.EOF)
    else:
        assert "(empty reply)" in child.logfile_read.getvalue()
    child.close()
    assert child.exitstatus == 0


# --- --input-type and --output-type ---------------------------------------------------------------


@pytest.mark.feature("text")
@pytest.mark.parametrize("flow", ["echo", "text-echo"])
def test_input_type_any_reaches_chat_and_text_inputs(run, flow):
    result = run("--flow", flow, "--text", "--input-type", "any", "hi")
    assert (result.returncode, result.stdout, result.stderr) == (0, "hi\n", "")


@pytest.mark.feature("text")
def test_input_type_text_reaches_a_text_input(run):
    result = run("--flow", "text-echo", "--text", "--input-type", "text", "hi")
    assert (result.returncode, result.stdout, result.stderr) == (0, "hi\n", "")


@pytest.mark.feature("text")
def test_input_type_text_does_not_reach_a_chat_input_so_the_reply_is_empty(run):
    result = run("--text", "--input-type", "text", "hi")
    assert (result.returncode, result.stdout, result.stderr) == (0, "\n", "")


@pytest.mark.feature("text")
@pytest.mark.parametrize("output_type", ["text", "any"])
def test_output_types_text_and_any_return_the_reply(run, output_type):
    result = run("--text", "--output-type", output_type, "hi")
    assert (result.returncode, result.stdout, result.stderr) == (0, "hi\n", "")


@pytest.mark.feature("JSON")
def test_output_type_debug_returns_every_components_output(run):
    result = run("--json", "--output-type", "debug", "hi")
    assert result.returncode == 0, result.stderr
    (run_outputs,) = json.loads(result.stdout)["outputs"]
    shown = [(out["component_display_name"], out["results"]["message"]["text"]) for out in run_outputs["outputs"]]
    assert shown == [("Chat Input", "hi"), ("Chat Output", "hi")]
