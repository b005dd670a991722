"""Conversations on a real Langflow: list, resume, rename, forget, save.

They run on the release under test (see conftest.py); chats use --no-stream, as Langflow 1.1.1
stores a streamed reply with empty text and these tests compare what the server stored.

The `counter` flow replies `turn N: <message>`, N being how many user messages the server holds
for the session, so a resumed or renamed conversation that really continues on the server
says so in its next reply.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pexpect
import pytest
import requests
from conftest import chat_terminals, clean_env, script_runner

pytestmark = pytest.mark.e2e


@pytest.fixture
def lf_env(langflow, tmp_path: Path) -> dict[str, str]:
    return clean_env(
        LANGFLOW_URL=langflow.url,
        LANGFLOW_API_KEY=langflow.api_key,
        LANGFLOW_FLOW_ID=langflow.counter_endpoint,
        XDG_STATE_HOME=str(tmp_path / "state"),
        TZ="UTC",
    )


@pytest.fixture
def run(lf_env: dict[str, str], tmp_path: Path):
    return script_runner(lf_env, tmp_path)


@pytest.fixture
def chat(lf_env: dict[str, str], tmp_path: Path):
    """chat_session.py in a pseudo-terminal, waiting for `until` (its first prompt by default)."""
    with chat_terminals({**lf_env, "TERM": "dumb"}, tmp_path, timeout=60, size=(40, 250)) as start:

        def spawn(*args: str, until: str = "User: ") -> pexpect.spawn:
            child = start("--no-stream", *args)
            child.expect_exact(until)
            return child

        yield spawn


def say(child: pexpect.spawn, message: str) -> str:
    child.sendline(message)
    child.expect_exact("\r\n\r\nUser: ")
    return child.before


def leave(child: pexpect.spawn) -> None:
    child.sendline("/exit")
    child.expect(pexpect.EOF)


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def converse(run, session_id: str, *messages: str) -> None:
    for message in messages:
        result = run("--text", "--session-id", session_id, message)
        assert result.returncode == 0, result.stderr


def server_messages(langflow, session_id: str) -> list[dict]:
    """The conversation as the server holds it, read with requests (not the client)."""
    response = requests.get(
        f"{langflow.url}/api/v1/monitor/messages",
        params={"flow_id": langflow.counter_id, "session_id": session_id, "limit": 200},
        headers={"x-api-key": langflow.api_key},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()


def listed(run, *args: str) -> list[dict]:
    result = run("--list-sessions", "--json", *args, script="chat_session.py")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.feature("sessions")
def test_listing_shows_each_conversation_most_recent_first_with_its_count_and_first_message(run):
    names = [unique("list-a"), unique("list-b"), unique("list-c")]
    converse(run, names[0], "first of a", "second of a")
    converse(run, names[1], "only b")
    converse(run, names[2], "first of c\nwith a second line")
    mine = [s for s in listed(run) if s["session_id"] in names]
    assert [(s["session_id"], s["messages"], s["first_message"]) for s in mine] == [
        (names[2], 2, "first of c\nwith a second line"),
        (names[1], 2, "only b"),
        (names[0], 4, "first of a"),
    ]
    table = run("--list-sessions", script="chat_session.py").stdout
    assert re.search(rf"  2 +{names[1]} +only b\n", table)
    assert re.search(rf"  2 +{names[2]} +first of c with a second line\n", table)


@pytest.mark.feature("sessions")
def test_listing_by_flow_uuid_is_the_same_as_by_endpoint_name(run, langflow):
    converse(run, unique("by-uuid"), "hi")
    assert listed(run, "--flow", langflow.counter_id) == listed(run)


@pytest.mark.feature("sessions")
def test_sessions_and_resume_by_number_continue_the_conversation_on_the_server(run, chat):
    name = unique("resume")
    converse(run, name, "one", "two")
    child = chat()
    child.sendline("/sessions")
    child.expect(rf"\r\n(\d+) +\S+ \S+ +4 +{name} +one\r\n")
    number = child.match.group(1)
    child.expect_exact("User: ")
    child.sendline(f"/resume {number}")
    child.expect_exact(f"resumed session: {name}\r\n── recap of session {name} ──\r\nUser: one\r\nAI: turn 1: one\r\n")
    child.expect_exact("User: two\r\nAI: turn 2: two\r\n── end of recap ──\r\n")
    assert "AI: turn 3: three" in say(child, "three")


@pytest.mark.feature("sessions")
def test_session_id_and_c_at_start_show_the_recap(run, chat):
    name = unique("recap")
    converse(run, name, "one")
    child = chat(
        "--session-id", name, until=f"quit\r\n── recap of session {name} ──\r\nUser: one\r\nAI: turn 1: one\r\n"
    )
    assert "AI: turn 2: two" in say(child, "two")
    leave(child)
    chat(
        "-c", until=f"(continued); /help for commands, Ctrl-D to quit\r\n── recap of session {name} ──\r\nUser: one\r\n"
    )


@pytest.mark.feature("sessions")
def test_rename_moves_the_conversation_and_resumes_by_name(run, chat, langflow):
    old, new = unique("before"), unique("my notes/2026")  # a space and a slash
    converse(run, old, "one")
    child = chat("--session-id", old, until="AI: turn 1: one\r\n── end of recap ──\r\nUser: ")
    child.sendline(f"/rename {new}")
    child.expect_exact(f"renamed {old} to {new}\r\nUser: ")
    assert "AI: turn 2: two" in say(child, "two")
    leave(child)
    assert server_messages(langflow, old) == []
    assert [m["text"] for m in server_messages(langflow, new)] == ["one", "turn 1: one", "two", "turn 2: two"]
    child = chat("--session-id", new, until="AI: turn 2: two\r\n── end of recap ──\r\nUser: ")
    assert "AI: turn 3: three" in say(child, "three")
    leave(child)
    chat("-c", until=f"session {new} (continued)")


@pytest.mark.feature("sessions")
def test_rename_onto_a_name_in_use_is_refused(run, chat, langflow):
    mine, taken = unique("mine"), unique("taken")
    converse(run, mine, "mine")
    converse(run, taken, "taken")
    child = chat("--session-id", mine, until="AI: turn 1: mine\r\n── end of recap ──\r\nUser: ")
    child.sendline(f"/rename {taken}")
    child.expect_exact(f"a conversation called {taken} already exists for this flow (choose another name)")
    assert [m["text"] for m in server_messages(langflow, taken)] == ["taken", "turn 1: taken"]


def playground_sessions(langflow) -> list[str]:
    """The Playground's list of this flow's conversations (GET /monitor/messages/sessions, 1.6+)."""
    response = requests.get(
        f"{langflow.url}/api/v1/monitor/messages/sessions",
        params={"flow_id": langflow.counter_id, "limit": 200},
        headers={"x-api-key": langflow.api_key},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()


@pytest.mark.feature("sessions")
def test_forget_from_the_shell_removes_it_from_the_server_and_the_listing(run, langflow):
    name = unique("forget")
    converse(run, name, "one")
    result = run("--forget", name, script="chat_session.py")
    assert (result.returncode, result.stderr) == (0, f"forgot conversation {name} (2 messages)\n")
    assert server_messages(langflow, name) == []
    assert name not in [s["session_id"] for s in listed(run)]


@pytest.mark.lacks(before="1.5", reason="has no GET /api/v1/monitor/messages/sessions (the Playground's list)")
@pytest.mark.feature("sessions")
def test_a_forgotten_conversation_leaves_the_playgrounds_list(run, langflow):
    name = unique("forget-playground")
    converse(run, name, "one")
    assert name in playground_sessions(langflow)
    assert run("--forget", name, script="chat_session.py").returncode == 0
    assert name not in playground_sessions(langflow)


@pytest.mark.feature("sessions")
def test_forget_at_the_terminal_asks_then_starts_a_new_conversation(run, chat, langflow, lf_env):
    name = unique("forget-here")
    # a piped chat, so -c remembers it (--no-stream, as 1.1.1 stores a streamed reply empty)
    assert run("--no-stream", "--session-id", name, script="chat_session.py", stdin="one\n").returncode == 0
    child = chat("-c", until="AI: turn 1: one\r\n── end of recap ──\r\nUser: ")
    child.sendline("/forget")
    child.expect_exact(f"Delete conversation {name} (2 messages) on the server? [y/N] ")
    child.sendline("y")
    child.expect_exact(f"forgot {name}; new session: ")
    assert "AI: turn 1: fresh" in say(child, "fresh")
    assert server_messages(langflow, name) == []
    leave(child)
    state = json.loads((Path(lf_env["XDG_STATE_HOME"]) / "langflow-chat" / "sessions.json").read_text())
    assert name not in state.values() and len(state) == 1


@pytest.mark.feature("history")
@pytest.mark.parametrize("suffix", [".md", ".json"])
def test_save_writes_what_the_server_stored(run, chat, langflow, tmp_path, suffix):
    name = unique("save")
    converse(run, name, "one", "two")
    target = tmp_path / f"saved{suffix}"
    child = chat("--session-id", name, until="AI: turn 2: two\r\n── end of recap ──\r\nUser: ")
    child.sendline(f"/save {target}")
    child.expect_exact(f"saved 4 messages to {target}")
    stored = server_messages(langflow, name)
    text = target.read_text(encoding="utf-8")
    if suffix == ".json":
        assert json.loads(text)["messages"] == stored
    else:
        sections = re.findall(r"^## (User|AI)\n\n(.*?)\n(?=\n## |\Z)", text, flags=re.S | re.M)
        assert sections == [("User" if m["sender"] == "User" else "AI", m["text"]) for m in stored]
        assert f"- Session id: `{name}`" in text
