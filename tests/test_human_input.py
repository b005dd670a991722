"""Flows that pause for a human (Langflow 1.11+): /api/v1/run refuses them, so they run as v2
background runs; a pause is answered at the terminal, with --choice, or later with --resume.
Against the fake Langflow server's v2 workflows API (tests/fake_langflow.py); the same against a
real Langflow 1.13 is in test_e2e.py."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pexpect
import pytest
from conftest import ROOT, spawn_in_terminal
from fake_langflow import FakeLangflow, human_input_event, tool_approval_event, v2_reply_events, words

APPROVED, REJECTED = "approved: hi", "rejected: hi"


def approval_flow(fake: FakeLangflow, prompt: str = "ship it?") -> None:
    """The next run of `echo` pauses once (Approve / Reject), then replies by the decision."""
    fake.hitl_flows.add("echo")
    fake.v2_script(
        [human_input_event(prompt)],
        {"approve": v2_reply_events("s", APPROVED, words(APPROVED)), "reject": v2_reply_events("s", REJECTED)},
    )


def the_job(fake: FakeLangflow):
    (job,) = fake.jobs.values()
    return job


def wait_until(condition, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# --- Scripts: --choice, exit 5, --resume -----------------------------------------------------------


@pytest.mark.parametrize("mode", ["--text", "--stream"])
def test_a_flow_refused_by_run_runs_in_the_background_and_choice_answers_its_pause(cli, fake, mode):
    approval_flow(fake)
    result = cli(mode, "--choice", "approve", "hi")
    assert (result.returncode, result.stdout, result.stderr) == (0, APPROVED + "\n", "")
    job = the_job(fake)
    assert [decision["decision"] for decision in job.decisions] == [{"action_id": "approve"}]


def test_choice_may_name_the_label_in_any_case(cli, fake):
    approval_flow(fake)
    result = cli("--text", "--choice", "REJECT", "hi")
    assert (result.returncode, result.stdout) == (0, REJECTED + "\n")


def test_the_background_run_carries_the_message_session_and_flow_uuid(cli, fake):
    approval_flow(fake)
    cli("--text", "--choice", "approve", "--session-id", "s-1", "hi")
    (submit,) = [seen for seen in fake.requests if seen.path == "/api/v2/workflows" and seen.method == "POST"]
    body = submit.json()
    assert (body["mode"], body["input_value"], body["session_id"]) == ("background", "hi", "s-1")
    assert body["flow_id"] == fake.flows[0]["id"]


def test_a_choice_the_request_does_not_allow_is_a_usage_error_naming_the_allowed_ones(cli, fake):
    approval_flow(fake)
    result = cli("--text", "--choice", "maybe", "hi")
    assert result.returncode == 2
    assert result.stderr == "error: --choice maybe is not one of this request's choices: approve, reject\n"
    assert the_job(fake).decisions == []


def test_without_a_terminal_or_choice_the_run_ends_with_exit_5_and_the_command_that_answers_it(cli, fake):
    approval_flow(fake)
    result = cli("--text", "hi")
    job = the_job(fake)
    assert (result.returncode, result.stdout) == (5, "")
    assert result.stderr == (
        "error: waiting for a human decision: ship it? [approve, reject] "
        f"(answer with: chat_example.py --resume {job.job_id} --choice ACTION)\n"
    )
    assert job.status == "suspended"


def test_json_prints_the_waiting_request_on_stdout_with_exit_5(cli, fake):
    approval_flow(fake)
    result = cli("--json", "hi")
    pending = json.loads(result.stdout)
    assert result.returncode == 5
    assert pending["job_id"] == the_job(fake).job_id
    assert (pending["prompt"], pending["allowed_decisions"]) == ("ship it?", ["approve", "reject"])


def test_resume_with_choice_answers_the_paused_run_and_prints_its_reply(cli, fake):
    approval_flow(fake)
    cli("--text", "hi")
    result = cli("--text", "--resume", the_job(fake).job_id, "--choice", "reject")
    assert (result.returncode, result.stdout, result.stderr) == (0, REJECTED + "\n", "")


def test_resume_of_a_finished_run_prints_its_reply(cli, fake):
    approval_flow(fake)
    cli("--text", "--choice", "approve", "hi")
    result = cli("--text", "--resume", the_job(fake).job_id)
    assert (result.returncode, result.stdout) == (0, APPROVED + "\n")


def test_resume_prints_the_runs_json_by_default(cli, fake):
    approval_flow(fake)
    cli("--text", "--choice", "approve", "hi")
    result = cli("--resume", the_job(fake).job_id)
    answer = json.loads(result.stdout)
    assert (answer["object"], answer["status"], answer["output"]["text"]) == ("response", "completed", APPROVED)


def test_several_pauses_in_one_turn_are_each_answered(cli, fake):
    fake.hitl_flows.add("echo")
    fake.v2_script(
        [human_input_event("first?")],
        {"approve": [human_input_event("second?")]},
        {"approve": v2_reply_events("s", "both approved")},
    )
    result = cli("--text", "--choice", "approve", "hi")
    assert (result.returncode, result.stdout) == (0, "both approved\n")
    assert len(the_job(fake).decisions) == 2


def test_resume_of_an_unknown_run_is_a_flow_error_with_the_servers_reason(cli, fake):
    result = cli("--text", "--resume", "00000000-0000-4000-8000-000000000000")
    assert result.returncode == 1
    assert "No background run for job 00000000-0000-4000-8000-000000000000" in result.stderr


def test_resume_on_a_server_without_the_v2_api_says_so(cli, fake):
    fake.v2 = False
    result = cli("--text", "--resume", "00000000-0000-4000-8000-000000000000")
    assert result.returncode == 1
    assert result.stderr.startswith("error: Langflow 1.13.0 has no background runs (the v2 workflows API)")


def test_resume_refused_as_not_resumable_is_an_error_with_the_servers_reason(cli, fake):
    approval_flow(fake)
    cli("--text", "hi")
    job = the_job(fake)
    job.request = {**job.request, "request_id": "other"}  # the pause the events show is no longer current
    result = cli("--text", "--resume", the_job(fake).job_id, "--choice", "approve")
    assert result.returncode == 1
    assert "Job is not suspended, already resumed, or the request_id is stale" in result.stderr


def test_var_with_a_flow_that_pauses_is_a_usage_error_and_nothing_runs_in_the_background(cli, fake):
    approval_flow(fake)
    result = cli("--text", "--var", "MODEL_KEY=k", "--choice", "approve", "hi")
    assert result.returncode == 2
    assert "Langflow ignores --var" in result.stderr
    assert fake.jobs == {}


def test_a_chat_runs_every_later_turn_of_such_a_flow_in_the_background(cli, fake):
    fake.hitl_flows.add("echo")
    result = cli(stdin="one\ntwo\n", script="chat_session.py")
    assert result.returncode == 0, result.stderr
    assert len(fake.jobs) == 2 and len(fake.runs()) == 1
    assert "AI: one" in result.stdout and "AI: two" in result.stdout


# --- At a terminal -------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["2", "reject", "Reject"])
def test_at_a_terminal_the_pause_is_shown_with_numbered_choices_and_answered_by_number_or_label(
    fake, fake_env, tmp_path, answer
):
    approval_flow(fake)
    child = spawn_in_terminal("chat_example.py", "--text", "hi", env=fake_env, cwd=tmp_path)
    child.expect_exact("the flow asks: ship it?")
    child.expect_exact("1. Approve")
    child.expect_exact("2. Reject")
    child.expect_exact("choice (1-2): ")
    child.sendline(answer)
    child.expect_exact(REJECTED)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_at_a_terminal_an_answer_that_is_no_choice_is_asked_again(fake, fake_env, tmp_path):
    approval_flow(fake)
    child = spawn_in_terminal("chat_example.py", "--text", "hi", env=fake_env, cwd=tmp_path)
    child.expect_exact("choice (1-2): ")
    child.sendline("7")
    child.expect_exact("choice (1-2): ")
    child.sendline("1")
    child.expect_exact(APPROVED)
    child.expect(pexpect.EOF)


def test_a_tool_approval_shows_the_tool_and_its_input(fake, fake_env, tmp_path):
    fake.hitl_flows.add("echo")
    fake.v2_script(
        [tool_approval_event("evaluate_expression", {"expression": "2 + 3"})],
        {"approve": v2_reply_events("s", "5"), "reject": v2_reply_events("s", "no")},
    )
    child = spawn_in_terminal("chat_example.py", "--text", "hi", env=fake_env, cwd=tmp_path)
    child.expect_exact('the flow asks: run the tool evaluate_expression with {"expression": "2 + 3"}?')
    child.expect_exact("choice (1-2): ")
    child.sendline("approve")
    child.expect_exact("5")
    child.expect(pexpect.EOF)
    assert the_job(fake).decisions[0]["decision"] == {"action_id": "approve"}


TOOL_ACTIONS = ("approve", "edit", "reject", "respond")  # every decision Langflow's tool approval knows


def tool_approval_flow(fake: FakeLangflow) -> None:
    """The next run of `echo` is an Agent asking to run evaluate_expression on 2 + 3, with all four
    choices; it then replies by the decision."""
    fake.hitl_flows.add("echo")
    replies = {"approve": "5", "edit": "the tool said 7", "reject": "not run", "respond": "the agent goes on"}
    fake.v2_script(
        [tool_approval_event("evaluate_expression", {"expression": "2 + 3"}, actions=TOOL_ACTIONS)],
        {action: v2_reply_events("s", reply) for action, reply in replies.items()},
    )


def tool_question_at_a_terminal(fake_env, tmp_path) -> pexpect.spawn:
    """chat_example.py at a terminal, at the tool approval's choice prompt."""
    child = spawn_in_terminal("chat_example.py", "--text", "hi", env=fake_env, cwd=tmp_path)
    child.expect_exact("1. Approve")
    child.expect_exact("2. Edit")
    child.expect_exact("3. Reject")
    child.expect_exact("4. Respond")
    child.expect_exact("choice (1-4): ")
    return child


def ended(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def test_a_tool_approval_edited_at_the_terminal_runs_the_tool_with_the_input_typed(fake, fake_env, tmp_path):
    tool_approval_flow(fake)
    child = tool_question_at_a_terminal(fake_env, tmp_path)
    child.sendline("edit")
    child.expect_exact("the tool's input as a JSON object: ")
    child.sendline('{"expression": "3 + 4"}')
    child.expect_exact("the tool said 7")
    assert ended(child) == 0
    assert the_job(fake).decisions[0]["decision"] == {"action_id": "edit", "values": {"args": {"expression": "3 + 4"}}}


def test_an_edited_tool_input_that_is_not_a_json_object_is_asked_again(fake, fake_env, tmp_path):
    tool_approval_flow(fake)
    child = tool_question_at_a_terminal(fake_env, tmp_path)
    child.sendline("2")
    for typed in ("3 + 4", '["3 + 4"]'):
        child.expect_exact("the tool's input as a JSON object: ")
        child.sendline(typed)
    child.expect_exact("the tool's input as a JSON object: ")
    child.sendline('{"expression": "3 + 4"}')
    child.expect_exact("the tool said 7")
    assert ended(child) == 0
    assert [body["decision"]["values"] for body in the_job(fake).decisions] == [{"args": {"expression": "3 + 4"}}]


def test_the_end_of_input_at_the_tool_input_prompt_leaves_the_run_waiting_with_exit_5(fake, fake_env, tmp_path):
    tool_approval_flow(fake)
    child = tool_question_at_a_terminal(fake_env, tmp_path)
    child.sendline("2")
    child.expect_exact("the tool's input as a JSON object: ")
    child.sendeof()
    assert ended(child) == 5
    assert the_job(fake).decisions == []


def test_a_tool_approval_answered_with_respond_at_the_terminal_sends_the_message_for_the_agent(
    fake, fake_env, tmp_path
):
    tool_approval_flow(fake)
    child = tool_question_at_a_terminal(fake_env, tmp_path)
    child.sendline("respond")
    child.expect_exact("message for the agent (Enter: none): ")
    child.sendline("use 3 + 4 instead")
    child.expect_exact("the agent goes on")
    assert ended(child) == 0
    sent = the_job(fake).decisions[0]["decision"]
    assert sent == {"action_id": "respond", "values": {"message": "use 3 + 4 instead"}}


def test_respond_with_no_message_at_the_terminal_sends_the_decision_alone(fake, fake_env, tmp_path):
    tool_approval_flow(fake)
    child = tool_question_at_a_terminal(fake_env, tmp_path)
    child.sendline("4")
    child.expect_exact("message for the agent (Enter: none): ")
    child.sendline("")
    child.expect_exact("the agent goes on")
    assert ended(child) == 0
    assert the_job(fake).decisions[0]["decision"] == {"action_id": "respond"}


def test_the_chat_asks_at_the_terminal_and_streams_the_reply(fake, fake_env, tmp_path):
    approval_flow(fake)
    child = spawn_in_terminal("chat_session.py", env={**fake_env, "NO_COLOR": "1"}, cwd=tmp_path)
    child.expect_exact("User: ")
    child.sendline("hi")
    child.expect_exact("choice (1-2): ")
    child.sendline("approve")
    child.expect_exact(APPROVED)
    child.expect_exact("User: ")
    child.sendeof()
    child.expect(pexpect.EOF)


# --- Ctrl-C --------------------------------------------------------------------------------------


def test_ctrl_c_during_a_background_run_stops_it_at_the_server(fake, fake_env, cli):
    fake.hitl_flows.add("echo")
    fake.v2_script([], hang=True)
    command = [sys.executable, str(ROOT / "chat_example.py"), "--text", "hi"]
    process = subprocess.Popen(command, env=fake_env, cwd=cli.workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_until(lambda: any(seen.path.endswith("/events") for seen in fake.requests))
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 130, err
    assert the_job(fake).status == "cancelled"
    assert b"stopping the run at the server" in err


# --- The chat: /history and /pending ---------------------------------------------------------------


def history_at_terminal(fake_env, tmp_path, session_id: str) -> tuple[str, str]:
    """What chat_session.py shows at a terminal: the recap when it starts, then /history."""
    child = spawn_in_terminal(
        "chat_session.py", "--session-id", session_id, env={**fake_env, "NO_COLOR": "1"}, cwd=tmp_path
    )
    child.expect(r"User: $")
    recap = child.before
    child.sendline("/history")
    child.expect(r"User: $")
    history = child.before
    child.sendeof()
    child.expect(pexpect.EOF)
    return recap, history


def test_history_and_the_recap_show_a_pause_as_what_was_asked_and_answered(cli, fake, fake_env, tmp_path):
    approval_flow(fake)
    cli("--text", "--choice", "approve", "--session-id", "s-1", "hi")
    recap, history = history_at_terminal(fake_env, tmp_path, "s-1")
    for shown in (recap, history):
        assert "AI: [asked] ship it? [answered] Approve" in shown
        assert f"AI: {APPROVED}" in shown


def test_history_shows_a_pause_not_answered_yet_as_waiting(cli, fake, fake_env, tmp_path):
    approval_flow(fake)
    cli("--text", "--session-id", "s-1", "hi")
    _, history = history_at_terminal(fake_env, tmp_path, "s-1")
    assert "AI: [asked] ship it? [answered] (waiting for a decision)" in history


def test_pending_lists_the_flows_waiting_runs_and_answers_one_at_the_terminal(fake, fake_env, tmp_path, cli):
    approval_flow(fake, prompt="deploy to prod?")
    cli("--text", "--session-id", "from-elsewhere", "hi")
    child = spawn_in_terminal("chat_session.py", env={**fake_env, "NO_COLOR": "1"}, cwd=tmp_path)
    child.expect_exact("User: ")
    child.sendline("/pending")
    child.expect_exact("1.  from-elsewhere  deploy to prod?")
    child.expect_exact("User: ")
    child.sendline("/pending 1")
    child.expect_exact("choice (1-2): ")
    child.sendline("approve")
    child.expect_exact(APPROVED)
    child.expect_exact("User: ")
    child.sendeof()
    child.expect(pexpect.EOF)
    assert the_job(fake).status == "completed"


def test_ctrl_c_at_the_question_stops_the_run_at_the_server(fake, fake_env, tmp_path):
    approval_flow(fake)
    child = spawn_in_terminal("chat_example.py", "--text", "hi", env=fake_env, cwd=tmp_path)
    child.expect_exact("choice (1-2): ")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert the_job(fake).status == "cancelled"


def test_resume_refused_as_an_invalid_decision_is_an_error_with_the_servers_reason(cli, fake):
    approval_flow(fake)
    cli("--text", "hi")
    job = the_job(fake)
    job.request = {**job.request, "allowed_decisions": ["reject"]}  # the server allows less than its events said
    result = cli("--text", "--resume", job.job_id, "--choice", "approve")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "approve" in result.stderr
    assert job.decisions == [] and job.status == "suspended"
