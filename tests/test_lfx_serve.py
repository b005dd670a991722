"""Both scripts against `lfx serve` (Langflow's runtime without UI or database), as its fake
(tests/fake_langflow.py FakeLfxServe) answers: recognised from what it answers, runs at its own
paths, and one line for what it does not offer. The real one: tests/test_e2e_lfx_client.py."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import API_KEY, clean_env, script_runner
from fake_langflow import FakeLfxServe

import chat_session

FLOW_ID = FakeLfxServe.FLOW_ID
NOT_OFFERED = "lfx serve does not offer stored conversations (history, sessions, rename, forget, save)"


@pytest.fixture
def lfx() -> FakeLfxServe:
    server = FakeLfxServe(api_key=API_KEY)
    yield server
    server.close()


@pytest.fixture
def lfx_env(lfx: FakeLfxServe, tmp_path) -> dict[str, str]:
    state = str(tmp_path / "state")
    return clean_env(LANGFLOW_URL=lfx.url, LANGFLOW_FLOW_ID=FLOW_ID, LANGFLOW_API_KEY=API_KEY, XDG_STATE_HOME=state)


@pytest.fixture
def run(lfx_env: dict[str, str], tmp_path):
    return script_runner(lfx_env, tmp_path)


def one_error(result: subprocess.CompletedProcess, exit_code: int) -> str:
    assert result.returncode == exit_code, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    return result.stderr.strip()


def stored(lfx: FakeLfxServe) -> chat_session.RemoteFlow:
    config = chat_session.Config(url=lfx.url, flow=FLOW_ID, api_key=API_KEY, timeout=10, retries=0)
    server = chat_session.Server(chat_session.Client(config))
    return chat_session.RemoteFlow(server, server.terminal, stream=True)


def test_a_new_one_shot_meets_a_404_at_langflows_run_path_asks_what_the_server_is_and_runs_there(run, lfx):
    assert run("--text", "hello").stdout == "hello\n"
    asked = [(seen.method, seen.path) for seen in lfx.requests]
    assert asked == [
        ("POST", f"/api/v1/run/{FLOW_ID}"),
        ("GET", "/api/v1/version"),
        ("GET", "/health"),
        ("POST", f"/flows/{FLOW_ID}/stream"),
    ]


def test_the_default_json_is_the_servers_result_object(run):
    result = run("hello")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["result"] == "hello"


def test_stream_prints_the_reply_and_a_newline(run):
    assert run("--stream", "hello").stdout == "hello\n"


def test_stream_json_prints_the_servers_end_event(run):
    (line,) = run("--stream", "--json", "hello").stdout.splitlines()
    assert json.loads(line)["data"]["result"]["result"] == "hello"


def test_each_chat_turn_carries_the_chats_session_id(run, lfx):
    result = run("--session-id", "talk-1", stdin="first\nsecond\n", script="chat_session.py")
    assert result.stdout == "User: first\nAI: first\n\nUser: second\nAI: second\n\n"
    assert [seen.json()["session_id"] for seen in lfx.runs()] == ["talk-1", "talk-1"]


def test_a_flow_is_found_by_its_name_and_run_by_its_id(run, lfx):
    assert run("--flow", "echo", "--text", "hi").stdout == "hi\n"
    assert lfx.runs()[-1].path == f"/flows/{FLOW_ID}/stream"


def test_list_flows_shows_each_flows_id_and_name(run):
    assert run("--list-flows").stdout.splitlines()[1].split() == ["-", FLOW_ID, "echo"]


def test_a_missing_key_is_an_authentication_error(run, lfx_env):
    result = run("--text", "hi", env={**lfx_env, "LANGFLOW_API_KEY": ""})
    assert one_error(result, 3).startswith("error: HTTP 401: this server needs an API key (set LANGFLOW_API_KEY")


def test_an_unknown_flow_id_says_there_is_no_such_flow(run):
    result = run("--flow", "00000000-0000-4000-8000-000000000000", "--text", "hi")
    assert one_error(result, 1) == (
        "error: no flow named '00000000-0000-4000-8000-000000000000' on lfx serve (--list-flows shows the flows)"
    )


def test_an_unknown_flow_name_names_the_server(run):
    result = run("--flow", "nope", "--text", "hi")
    assert one_error(result, 1) == "error: no flow named 'nope' on lfx serve (--list-flows shows the flows)"


def test_a_failing_component_is_the_flow_error_with_its_message(run, lfx):
    lfx.failing_message = "Error building Component CounterModel: \n\ncounter exploded on request"
    assert one_error(run("--text", "explode"), 1) == (
        "error: the flow failed: CounterModel: counter exploded on request (check the flow's components in Langflow)"
    )


def test_tweaks_are_refused_before_the_run(run, lfx):
    result = run("--session-id", "s", "--tweaks", '{"ChatInput-x": {"sender_name": "me"}}', "--text", "hi")
    assert one_error(result, 1) == "error: lfx serve does not offer tweaks (--tweaks) (a Langflow server does)"
    assert lfx.runs() == []


def test_files_are_refused_before_any_upload(run, tmp_path):
    picture = tmp_path / "a.png"
    picture.write_bytes(b"png")
    result = run("--file", str(picture), "--text", "hi")
    assert one_error(result, 1) == "error: lfx serve does not offer files (--file) (a Langflow server does)"


def test_list_sessions_says_the_server_does_not_offer_them(run):
    result = run("--list-sessions", script="chat_session.py")
    assert one_error(result, 1) == f"error: {NOT_OFFERED} (a Langflow server does)"


@pytest.mark.parametrize(
    "use",
    [
        lambda s: s.history("s"),
        lambda s: s.messages("s"),
        lambda s: s.flow_messages(),
        lambda s: s.rename("s", "t"),
        lambda s: s.forget("s"),
    ],
    ids=["history", "messages", "sessions", "rename", "forget"],
)
def test_every_stored_conversation_feature_is_one_not_offered_line(lfx, use):
    with pytest.raises(chat_session.ClientError) as refused:
        use(stored(lfx))
    assert str(refused.value) == f"{NOT_OFFERED} (a Langflow server does)"
    assert lfx.runs() == []


def test_version_names_lfx_serve(run, lfx):
    assert run("--version").stdout.splitlines()[1] == f"server: {lfx.url}: lfx serve"
