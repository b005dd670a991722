"""Both scripts against a real Langflow server started by the test suite.

The release is the one under test (`--langflow=1.1.1` or LANGFLOW_TEST_RELEASE=1.1.1; 1.13.0 by
default); what a release cannot do is a strict xfail there (`lacks`, see conftest.py), and each
test names the compatibility-matrix feature it proves (`feature`).

The flows (tests/langflow_flows.py): `echo` replies with the message; `counter` replies
`turn N: <message>` word by word (0.1 s apart, 1 s with "slowly"), where N is how many user
messages the server has stored for the session, and raises on "explode".
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest
import requests
from conftest import ROOT, chat_terminals, clean_env, run_in_terminal, script_runner

pytestmark = pytest.mark.e2e
COMPONENT_FAILED = (
    "error: the flow failed: CounterModel: counter exploded on request (check the flow's components in Langflow)"
)

STORES_STREAM_EMPTY = "stores a streamed reply with empty text and never fills it in"


@pytest.fixture
def lf_env(langflow, tmp_path: Path) -> dict[str, str]:
    return clean_env(
        LANGFLOW_URL=langflow.url,
        LANGFLOW_API_KEY=langflow.api_key,
        LANGFLOW_FLOW_ID=langflow.counter_endpoint,
        XDG_STATE_HOME=str(tmp_path / "state"),
    )


@pytest.fixture
def run(lf_env: dict[str, str], tmp_path: Path):
    return script_runner(lf_env, tmp_path)


@pytest.fixture
def session(lf_env: dict[str, str], tmp_path: Path):
    """Start chat_session.py in a pseudo-terminal, at its first prompt; closed at the end."""
    with chat_terminals(lf_env, tmp_path, timeout=30) as start:

        def spawn(*args: str) -> pexpect.spawn:
            child = start(*args)
            wait_for_prompt(child)
            return child

        yield spawn


TERMINAL_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


def wait_for_prompt(child: pexpect.spawn) -> str:
    """What was shown up to the prompt, as a person reads it (no terminal control sequences).

    The prompt is the `User: ` the output ends with (its label coloured or not): a recap's
    `User: ...` lines come before it.
    """
    child.expect(r"User:(?:\x1b\[0m)? $")
    return TERMINAL_CONTROL.sub("", child.before)


def stored_turns(shown: str) -> str:
    """The lines between the header and the footer of a /history."""
    return shown.split(" messages ──\n", 1)[1].split("── end of history ──")[0]


def say(child: pexpect.spawn, message: str) -> str:
    """Send one line and return what was shown up to the next prompt."""
    child.sendline(message)
    return wait_for_prompt(child)


def turn_number(shown: str) -> int:
    return int(re.search(r"AI: turn (\d+):", shown).group(1))


def stored_messages(langflow, flow_id: str, session_id: str) -> list[dict]:
    response = requests.get(
        f"{langflow.url}/api/v1/monitor/messages",
        params={"flow_id": flow_id, "session_id": session_id},
        headers={"x-api-key": langflow.api_key},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()


# --- chat_example.py --------------------------------------------------------------------------


@pytest.mark.feature("JSON")
def test_json_output_has_the_session_id_and_the_outputs(run):
    result = run("--flow", "echo", "hello JSON")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert re.fullmatch(r"[0-9a-f-]{36}", body["session_id"])
    assert body["outputs"][0]["outputs"][0]["results"]["message"]["text"] == "hello JSON"


@pytest.mark.feature("text")
def test_text_prints_exactly_the_reply(run):
    result = run("--text", "Why is the sky blue?")
    assert (result.returncode, result.stdout, result.stderr) == (0, "turn 1: Why is the sky blue?\n", "")


@pytest.mark.feature("text")
def test_flow_is_reachable_by_uuid_and_by_endpoint_name(run, langflow):
    by_id = run("--text", "--flow", langflow.echo_id, "by id")
    by_name = run("--text", "--flow", langflow.echo_endpoint, "by name")
    assert (by_id.stdout, by_name.stdout) == ("by id\n", "by name\n")


@pytest.mark.feature("stream")
def test_stream_prints_tokens_as_the_model_produces_them(lf_env, tmp_path):
    """The counter sends one word a second here; the first must show long before the last."""
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "chat_example.py"), "--stream", "tell it slowly"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=lf_env,
        cwd=tmp_path,
    )
    arrivals = []
    deadline = time.monotonic() + 60
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"the reply did not end within 60 s; so far: {arrivals!r}"
        if not select.select([process.stdout], [], [], left)[0]:
            continue
        chunk = os.read(process.stdout.fileno(), 4096)
        if not chunk:  # the end of the reply
            break
        arrivals.append((time.monotonic(), chunk))
    process.wait(timeout=30)
    shown = b"".join(chunk for _, chunk in arrivals).decode()
    assert (process.returncode, shown) == (0, "turn 1: tell it slowly\n")
    assert len(arrivals) >= 4
    assert arrivals[-1][0] - arrivals[0][0] > 2.5  # five words, one second apart


@pytest.mark.feature("stream")
def test_stream_of_a_flow_without_tokens_prints_the_reply_once(run):
    result = run("--stream", "--flow", "echo", "no tokens here")
    assert (result.returncode, result.stdout) == (0, "no tokens here\n")


@pytest.mark.feature("auth")
def test_wrong_key_exits_3_saying_the_key_was_refused(run, lf_env):
    result = run("--text", "hi", env={**lf_env, "LANGFLOW_API_KEY": "sk-wrong"})
    assert result.returncode == 3
    assert "the server refused the API key (check LANGFLOW_API_KEY" in result.stderr


@pytest.mark.feature("auth")
def test_missing_key_exits_3_saying_a_key_is_needed(run, lf_env):
    env = {name: value for name, value in lf_env.items() if name != "LANGFLOW_API_KEY"}
    result = run("--text", "hi", env=env)
    assert result.returncode == 3
    assert "this server needs an API key (set LANGFLOW_API_KEY" in result.stderr


@pytest.mark.feature("errors")
def test_unknown_flow_exits_1_naming_it(run):
    result = run("--text", "--flow", "no-such-flow", "hi")
    assert result.returncode == 1
    assert "no-such-flow" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.feature("errors")
def test_raising_component_exits_1_with_its_own_message(run):
    result = run("--text", "please explode")
    assert result.returncode == 1
    assert result.stderr == COMPONENT_FAILED + "\n"


@pytest.mark.feature("errors")
def test_raising_component_while_streaming_exits_1_with_its_own_message(run):
    result = run("--stream", "please explode")
    assert result.returncode == 1
    assert result.stderr == COMPONENT_FAILED + "\n"


@pytest.mark.feature("flows")
def test_list_flows_lists_the_test_flows(run, langflow):
    result = run("--list-flows")
    assert result.returncode == 0
    rows = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()[1:]}
    assert rows["echo"] == langflow.echo_id and rows["counter"] == langflow.counter_id


@pytest.mark.feature("flows")
def test_list_flows_as_json(run, langflow):
    flows = json.loads(run("--list-flows", "--json").stdout)
    assert {"endpoint_name": "counter", "id": langflow.counter_id, "name": "counter"} in flows


@pytest.mark.feature("flows")
def test_a_chat_without_a_flow_lists_the_flows_asks_which_and_flow_moves_to_another(lf_env, langflow, tmp_path):
    env = {name: value for name, value in lf_env.items() if name != "LANGFLOW_FLOW_ID"}
    with chat_terminals({**env, "NO_COLOR": "1"}, tmp_path, timeout=30) as start:
        child = start()
        child.expect_exact("flow (a number, an endpoint name or its start): ")
        listed = TERMINAL_CONTROL.sub("", child.before)
        child.sendline("ech")
        shown = wait_for_prompt(child)
        assert f"flow echo ({langflow.echo_id})" in shown  # the banner names it as the flow list does
        assert "AI: hello" in say(child, "hello")
        assert f"flow counter ({langflow.counter_id}); new session: " in say(child, "/flow counter")
        assert turn_number(say(child, "hi")) == 1
    rows = {line.split()[1]: line.split()[0] for line in listed.splitlines() if line[:1].isdigit()}
    assert {"echo", "counter"} <= set(rows) and listed.splitlines()[1].split() == ["#", "ENDPOINT", "NAME"]


@pytest.mark.feature("NDJSON")
def test_stream_json_prints_one_event_per_line_ending_with_the_result(run):
    result = run("--stream", "--json", "count these words")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    tokens = "".join(event["data"]["chunk"] for event in events if event["event"] == "token")
    assert tokens == "turn 1: count these words"
    assert events[-1]["event"] == "end"
    assert "turn 1: count these words" in json.dumps(events[-1]["data"]["result"])


@pytest.mark.feature("NDJSON")
def test_stream_json_of_a_failing_flow_exits_1_with_its_message(run):
    result = run("--stream", "--json", "please explode")
    assert result.returncode == 1, result.stderr
    assert "counter exploded on request" in result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1


@pytest.mark.feature("files")
def test_file_is_uploaded_and_stored_on_the_user_message(run, langflow, tmp_path):
    picture = tmp_path / "note.txt"
    picture.write_text("a file for the flow")
    result = run("--flow", "echo", "--file", str(picture), "--session-id", "file-session", "what is this")
    assert result.returncode == 0, result.stderr
    stored = stored_messages(langflow, langflow.echo_id, "file-session")
    # the turn's first stored message: the user's (Langflow 1.1 and 1.6 store the echo flow's
    # reply over it, as the same message, sender and all)
    assert "note.txt" in str(stored[0]["files"])


@pytest.mark.feature("sessions")
def test_two_one_shot_calls_do_not_share_memory(run):
    first, second = run("--text", "first"), run("--text", "second")
    assert (first.stdout, second.stdout) == ("turn 1: first\n", "turn 1: second\n")


@pytest.mark.feature("sessions")
def test_given_session_id_continues_the_conversation(run):
    run("--text", "--session-id", "one-shot-memory", "one")
    assert run("--text", "--session-id", "one-shot-memory", "two").stdout == "turn 2: two\n"


@pytest.mark.feature("version")
def test_version_shows_the_servers_langflow_version(run, langflow):
    result = run("--version")
    assert result.returncode == 0, result.stderr
    assert langflow.release in result.stdout + result.stderr


# --- chat_session.py --------------------------------------------------------------------------


@pytest.mark.feature("sessions")
def test_conversation_remembers_its_turns(session):
    child = session()
    assert [turn_number(say(child, message)) for message in ("a", "b", "c")] == [1, 2, 3]


@pytest.mark.feature("sessions")
def test_new_process_and_new_command_start_again_at_1(session):
    first = session()
    say(first, "a")
    assert turn_number(say(first, "b")) == 2
    assert turn_number(say(session(), "fresh")) == 1
    say(first, "/new")
    assert turn_number(say(first, "after new")) == 1


@pytest.mark.feature("sessions")
def test_session_id_and_continue_carry_the_count_on(session):
    first = session("--session-id", "e2e-continued")
    say(first, "a")
    first.sendline("/exit")
    first.expect(pexpect.EOF)
    assert turn_number(say(session("--session-id", "e2e-continued"), "b")) == 2
    assert turn_number(say(session("-c"), "c")) == 3


@pytest.mark.feature("history")
def test_history_shows_the_stored_turns(session):
    # on a release that stores a streamed reply empty (1.1.1), the chat asks without streaming
    child = session()
    say(child, "first question")
    assert stored_turns(say(child, "/history")) == "User: first question\nAI: turn 1: first question\n"


@pytest.mark.feature("history")
def test_history_shows_turns_sent_without_streaming(session):
    child = session("--no-stream")
    say(child, "first question")
    assert stored_turns(say(child, "/history")) == "User: first question\nAI: turn 1: first question\n"


@pytest.mark.feature("history")
@pytest.mark.only("1.1.1", reason=f"only Langflow 1.1.1 {STORES_STREAM_EMPTY}")
def test_history_says_when_the_server_did_not_store_a_streamed_reply(run, session):
    # a new one-shot conversation streams (nothing is to continue it), so 1.1.1 stores its reply empty
    streamed = run("--stream", "-v", "first question")
    session_id = re.search(r"session id: (\S+)", streamed.stderr)[1]
    child = session("--session-id", session_id)
    assert stored_turns(say(child, "/history")) == "User: first question\nAI: (not stored by this server)\n"


@pytest.mark.feature("stream")
def test_ctrl_c_during_a_slow_reply_returns_to_the_prompt(session):
    child = session()
    child.sendline("answer slowly please")  # a word a second; 1.1.1's whole reply comes only at the end
    child.expect("waiting for the flow")  # the turn has begun: the line was read and the message sent
    time.sleep(0.5)
    child.sendintr()
    child.expect_exact("[interrupted]")
    wait_for_prompt(child)
    assert re.search(r"AI: turn \d+: next", say(child, "next"))


@pytest.mark.feature("errors")
def test_raising_component_leaves_the_conversation_usable(session):
    child = session()
    say(child, "one")
    shown = say(child, "now explode")
    assert COMPONENT_FAILED in shown
    assert "AI: turn 3: still here" in say(child, "still here")


@pytest.mark.feature("text")
def test_piped_conversation_prints_a_plain_transcript(run):
    result = run(script="chat_session.py", stdin="Why is the sky blue?\nCan you tell me a joke?\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "User: Why is the sky blue?\nAI: turn 1: Why is the sky blue?\n\n"
        "User: Can you tell me a joke?\nAI: turn 2: Can you tell me a joke?\n\n"
    )


# --- The chat's start check, the user-level settings file ------------------------------------

UNKNOWN_UUID = "0b6a3b0e-9999-4c3a-9d55-000000000009"


def fault_settings(fault: str, lf_env: dict[str, str]) -> dict[str, str]:
    if fault == "no key":
        return {name: value for name, value in lf_env.items() if name != "LANGFLOW_API_KEY"}
    changed = {"unknown flow name": ("LANGFLOW_FLOW_ID", "no-such-flow"), "wrong key": ("LANGFLOW_API_KEY", "sk-wrong")}
    name, value = changed.get(fault, ("LANGFLOW_FLOW_ID", UNKNOWN_UUID))
    return {**lf_env, name: value}


@pytest.mark.feature("errors")
@pytest.mark.parametrize("fault", ["unknown flow name", "unknown flow uuid", "wrong key", "no key"])
def test_a_chat_that_cannot_run_ends_before_the_first_message_as_a_one_shot_would(run, lf_env, fault):
    env = fault_settings(fault, lf_env)
    chat = run(stdin="hi\n", env=env, script="chat_session.py")
    one_shot = run("--text", "hi", env=env)
    assert chat.stdout == "" and chat.returncode in (1, 3)
    assert (chat.returncode, chat.stderr) == (one_shot.returncode, one_shot.stderr)


@pytest.mark.feature("errors")
def test_a_chat_with_a_flow_unknown_to_real_langflow_ends_before_the_prompt(lf_env, tmp_path):
    env = {**lf_env, "LANGFLOW_FLOW_ID": "no-such-flow", "NO_COLOR": "1"}  # the texts plain
    child = run_in_terminal("chat_session.py", env=env, cwd=tmp_path, timeout=60)
    shown = child.logfile_read.getvalue()
    assert child.exitstatus == 1 and "User: " not in shown
    assert "error: no flow named 'no-such-flow' on Langflow" in shown


def user_settings(tmp_path: Path, text: str) -> dict[str, str]:
    """A private user-level settings file holding `text`; an environment with no other settings."""
    path = tmp_path / "config" / "langflow-chat" / ".env"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return clean_env(XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_STATE_HOME=str(tmp_path / "state"))


@pytest.mark.feature("text")
def test_the_user_settings_file_alone_reaches_the_server(run, langflow, tmp_path):
    settings = f"LANGFLOW_URL={langflow.url}\nLANGFLOW_API_KEY={langflow.api_key}\nLANGFLOW_FLOW_ID=echo\n"
    env = user_settings(tmp_path, settings)
    one_shot = run("--text", "from any folder", env=env)
    chat = run(stdin="and a chat\n", env=env, script="chat_session.py")
    assert (one_shot.returncode, one_shot.stdout) == (0, "from any folder\n"), one_shot.stderr
    assert (chat.returncode, chat.stdout) == (0, "User: and a chat\nAI: and a chat\n\n"), chat.stderr


@pytest.mark.feature("version")
def test_version_names_the_user_settings_file_it_read(run, langflow, tmp_path):
    env = user_settings(tmp_path, f"LANGFLOW_URL={langflow.url}\n")
    lines = run("--version", env=env).stdout.splitlines()
    assert lines[1] == f"server: {langflow.url}: Langflow {langflow.release}"
    assert lines[2] == f"settings read from {tmp_path / 'config' / 'langflow-chat' / '.env'}"
