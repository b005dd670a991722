"""Langflow 1.11+ against a real server started by the test suite: flows that pause for a human
(run in the background, answered with --choice, at a terminal, or later with --resume), and
--var read by a component through a global variable (1.7.1+).

Flows (tests/langflow_flows.py): `approval` (Human Input: Approve / Reject, replies
`approved: <message>` or `rejected: <message>`), `approval-agent` (an Agent whose Calculator tool
needs approval; its model is tests/openai_fake.py, which echoes the tool's answer), `variables`
(replies `<message> | FLOW_BOUND=<v> | FLOW_READ=<v>`).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pexpect
import pytest
import requests
from conftest import clean_env, script_runner, spawn_in_terminal

pytestmark = pytest.mark.e2e
NO_HUMAN_INPUT = "Human Input and tool approval begin in Langflow 1.11"
NO_VARIABLE_HEADERS = "per-request variables (X-LANGFLOW-GLOBAL-VAR-*) begin in Langflow 1.7.1"


@pytest.fixture
def lf_env(langflow, tmp_path: Path) -> dict[str, str]:
    return clean_env(
        LANGFLOW_URL=langflow.url,
        LANGFLOW_API_KEY=langflow.api_key,
        LANGFLOW_FLOW_ID="approval",
        XDG_STATE_HOME=str(tmp_path / "state"),
    )


@pytest.fixture
def run(lf_env: dict[str, str], tmp_path: Path):
    return script_runner(lf_env, tmp_path)


def job_status(langflow, job_id: str) -> str:
    response = requests.get(
        f"{langflow.url}/api/v2/workflows",
        params={"job_id": job_id},
        headers={"x-api-key": langflow.api_key},
        timeout=30,
    )
    body = response.json()
    return body["status"] if "status" in body else str(body.get("detail", {}).get("code"))


@pytest.mark.feature("variables")
@pytest.mark.lacks(before="1.7.1", reason=NO_VARIABLE_HEADERS)
def test_var_is_read_by_a_component_through_a_global_variable(run, lf_env):
    env = {**lf_env, "FLOW_READ": "read-from-env"}
    result = run(
        "--flow", "variables", "--text", "--var", "FLOW_BOUND=bound-by-flag", "--var", "FLOW_READ", "hi", env=env
    )
    assert (result.returncode, result.stdout) == (0, "hi | FLOW_BOUND=bound-by-flag | FLOW_READ=read-from-env\n")


@pytest.mark.feature("human input")
@pytest.mark.lacks(before="1.11", reason=NO_HUMAN_INPUT)
@pytest.mark.parametrize(("choice", "reply"), [("approve", "approved: ship it?"), ("Reject", "rejected: ship it?")])
def test_a_human_input_flow_answered_with_choice_replies_by_the_decision(run, choice, reply):
    result = run("--text", "--choice", choice, "ship it?")
    assert (result.returncode, result.stdout, result.stderr) == (0, reply + "\n", "")


@pytest.mark.feature("human input")
@pytest.mark.lacks(before="1.11", reason=NO_HUMAN_INPUT)
def test_a_pause_no_one_answers_exits_5_and_resume_answers_it_later(run, langflow):
    waiting = run("--text", "deploy?")
    assert waiting.returncode == 5, waiting.stderr
    job_id = re.search(r"--resume (\S+) --choice ACTION", waiting.stderr)[1]
    assert job_status(langflow, job_id) == "suspended"
    resumed = run("--text", "--resume", job_id, "--choice", "approve")
    assert (resumed.returncode, resumed.stdout) == (0, "approved: deploy?\n")
    again = run("--text", "--resume", job_id)
    assert (again.returncode, again.stdout) == (0, "approved: deploy?\n")


@pytest.mark.feature("human input")
@pytest.mark.lacks(before="1.11", reason=NO_HUMAN_INPUT)
def test_a_pause_is_answered_by_number_at_a_terminal(lf_env, tmp_path):
    child = spawn_in_terminal("chat_example.py", "--stream", "merge?", env=lf_env, cwd=tmp_path, timeout=60)
    child.expect_exact("the flow asks: merge?")
    child.expect_exact("choice (1-2): ")
    child.sendline("2")
    child.expect_exact("rejected: merge?")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


@pytest.mark.feature("human input")
@pytest.mark.lacks(before="1.11", reason=NO_HUMAN_INPUT)
@pytest.mark.lacks(
    "1.11.6",
    reason="fails the approved agent's tool call itself: its Agent's ComponentStructuredTool is given the tool's "
    "function as a string ('coroutine: Input should be callable'); 1.12 runs it",
)
@pytest.mark.parametrize(
    ("choice", "reply"),
    [
        ("approve", 'The tool said: {"result": "5"}'),
        ("reject", "User rejected the tool call for `evaluate_expression`"),
    ],
)
def test_an_agents_tool_approval_answered_with_choice(run, choice, reply):
    result = run("--flow", "approval-agent", "--text", "--choice", choice, "what is 2 + 3?")
    assert result.returncode == 0, result.stderr
    assert reply in result.stdout


@pytest.mark.feature("human input")
@pytest.mark.lacks(before="1.10", reason="background runs begin in Langflow 1.10")
def test_a_connection_cut_mid_reply_is_re_attached_and_the_server_ran_the_flow_once(lf_env, langflow, tmp_path):
    from tcp_proxy import TcpProxy

    message = "one two three four five six"
    with TcpProxy(int(langflow.url.rsplit(":", 1)[1])) as proxy:
        proxy.cut_on(b'"event": "token"')
        env = {**lf_env, "LANGFLOW_URL": proxy.url, "LANGFLOW_FLOW_ID": "counter"}
        result = script_runner(env, tmp_path)("--background", "--stream", "--session-id", "cut-1", message)
        assert proxy.cuts == 1
    assert (result.returncode, result.stdout) == (0, f"turn 1: {message}\n"), result.stderr
    assert "re-attaching" in result.stderr
    stored = requests.get(
        f"{langflow.url}/api/v1/monitor/messages",
        params={"flow_id": langflow.flow_ids["counter"], "session_id": "cut-1"},
        headers={"x-api-key": langflow.api_key},
        timeout=30,
    ).json()
    assert [(m["sender"], m["text"]) for m in stored] == [("User", message), ("Machine", f"turn 1: {message}")]


@pytest.mark.feature("human input")
@pytest.mark.lacks(before="1.11", reason=NO_HUMAN_INPUT)
def test_ctrl_c_at_a_pause_stops_the_run_at_the_server(lf_env, langflow, tmp_path):
    child = spawn_in_terminal(
        "chat_example.py", "--text", "--session-id", "stop-1", "stop me?", env=lf_env, cwd=tmp_path, timeout=60
    )
    child.expect_exact("choice (1-2): ")
    waiting = requests.get(
        f"{langflow.url}/api/v2/workflows/pending",
        params={"flow_id": langflow.flow_ids["approval"]},
        headers={"x-api-key": langflow.api_key},
        timeout=30,
    ).json()
    (job_id,) = [run["job_id"] for run in waiting if run["session_id"] == "stop-1"]
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    deadline = time.monotonic() + 10  # right after a stop, Langflow 1.13 may answer JOB_FAILED once
    while job_status(langflow, job_id) != "cancelled":
        assert time.monotonic() < deadline, "the run was not stopped"
        time.sleep(0.5)
