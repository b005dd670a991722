"""Conversations on the server: the listing, /resume and the recap, /rename, /forget,
/save, --list-sessions and --forget.

First the pure rules (listing, recap, export, state), then the conversation loop with the
server injected (exact transcripts, no HTTP), then the real client against the local fake
server (paging, faults, encoding), then the script in a pseudo-terminal (commands, y/N).
"""

from __future__ import annotations

import io
import json
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pexpect
import pytest
from conftest import API_KEY, SESSION, ChatTranscript, Output, TerminalOutput, chat_terminals, screen_lines
from fake_langflow import FakeFlow, FakeLangflow, json_reply

import chat_session
import chat_session as core
from chat_session import (
    Chat,
    change_session,
    conversation_export,
    local_time,
    moved_session,
    parse_time,
    recap_start,
    session_summaries,
    sessions_table,
)

SAVED = datetime(2026, 11, 21, 12, 30, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Local time is UTC in these tests (the listing shows local time)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


def stamp(minute: int) -> str:
    return f"2026-11-21 10:{minute:02d}:00.000000"


def message(session_id: str, sender: str, text: str, minute: int, **extra: object) -> dict:
    return {"session_id": session_id, "sender": sender, "text": text, "timestamp": stamp(minute), **extra}


# --- Pure rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-21 10:05:00",
        "2026-11-21 10:05:00.029219 UTC",
        "2026-11-21 10:05:00.123",
        "2026-11-21T10:05:00.123456Z",
        "2026-11-21T11:05:00.123456789+01:00",
        "2026-11-21 05:35:00-0430",
    ],
)
def test_timestamps_in_every_langflow_shape_are_read_as_the_same_moment(text: str) -> None:
    assert parse_time(text).astimezone(timezone.utc).replace(microsecond=0) == datetime(
        2026, 11, 21, 10, 5, tzinfo=timezone.utc
    )


def test_an_unreadable_timestamp_is_shown_as_the_server_sent_it() -> None:
    assert (parse_time("yesterday"), local_time("yesterday"), local_time(None)) == (None, "yesterday", "-")


def test_local_time_is_shown_in_the_given_zone_to_the_minute() -> None:
    assert local_time("2026-11-21 10:05:59", timezone(timedelta(hours=2))) == "2026-11-21 12:05"


def test_summaries_count_messages_and_keep_the_first_user_message_most_recent_first() -> None:
    messages = [
        message("old", "Machine", "greeting", 1),
        message("old", "User", "first question", 2),
        message("new", "User", "hello", 3),
        message("old", "User", "second question", 4),
        message("new", "Machine", "hi", 5),
    ]
    assert session_summaries(messages) == [
        {"session_id": "new", "last_active": "2026-11-21T10:05:00+00:00", "messages": 2, "first_message": "hello"},
        {
            "session_id": "old",
            "last_active": "2026-11-21T10:04:00+00:00",
            "messages": 3,
            "first_message": "first question",
        },
    ]


def test_summaries_leave_out_langflows_agentic_sessions_and_messages_read_twice() -> None:
    messages = [
        message("agentic_x", "User", "internal", 1),
        message("mine", "User", "a", 2, id="m1"),
        message("mine", "User", "a", 2, id="m1"),  # moved from one page to the next while they were read
    ]
    assert [(s["session_id"], s["messages"]) for s in session_summaries(messages)] == [("mine", 1)]


def test_first_message_is_shortened_to_one_line() -> None:
    assert core.one_line("line one\nline   two", 40) == "line one line two"
    assert core.one_line("x" * 100, 10) == "xxxxxxxxx…"


def test_the_table_is_aligned_and_numbered_for_resume() -> None:
    sessions = [
        {"session_id": "my notes", "last_active": "2026-11-21T10:05:00+00:00", "messages": 12, "first_message": "a"},
        {"session_id": "b", "last_active": "2026-11-20T09:00:00+00:00", "messages": 2, "first_message": "two\nlines"},
    ]
    assert sessions_table(sessions, numbered=True) == (
        "#  LAST ACTIVE       MESSAGES  SESSION   FIRST MESSAGE\n"
        "1  2026-11-21 10:05  12        my notes  a\n"
        "2  2026-11-20 09:00  2         b         two lines"
    )
    assert sessions_table(sessions, numbered=False).splitlines()[1] == "2026-11-21 10:05  12        my notes  a"


def test_recap_starts_at_the_third_last_user_message() -> None:
    history = [("User", "1"), ("Machine", "1"), ("User", "2"), ("Machine", "2")]
    assert recap_start(history * 3) == 6
    assert recap_start(history) == 0


def test_markdown_export_has_a_header_and_a_section_per_message() -> None:
    messages = [
        message("s1", "User", "Why?", 1),
        message("s1", "Machine", "Because.", 2),
        message("s1", "Machine", "boom", 3, category="error", sender_name="Prompt"),
    ]
    assert conversation_export("chat.md", "s1", messages, SAVED) == (
        "# Conversation s1\n\n"
        "- Session id: `s1`\n"
        "- Messages: 3, from 2026-11-21 10:01 to 2026-11-21 10:03\n"
        "- Saved: 2026-11-21 12:30 +0000\n\n"
        "## User\n\nWhy?\n\n## AI\n\nBecause.\n\n## AI\n\n[error from Prompt] boom\n"
    )


def test_json_export_holds_the_messages_exactly_as_stored() -> None:
    messages = [message("s1", "User", "héllo", 1, id="m1", files=[])]
    assert json.loads(conversation_export("chat.json", "s1", messages, SAVED)) == {
        "session_id": "s1",
        "saved_at": "2026-11-21T12:30:00+00:00",
        "messages": messages,
    }


def test_state_follows_a_rename_and_drops_a_forgotten_conversation_for_every_flow_key_of_the_server() -> None:
    state = {"http://a echo": "old", "http://a 0b6a-uuid": "old", "http://a other": "x", "http://b echo": "old"}
    assert moved_session(state, "http://a", "old", "new") == {
        **state,
        "http://a echo": "new",
        "http://a 0b6a-uuid": "new",
    }
    assert moved_session(state, "http://a", "old", None) == {"http://a other": "x", "http://b echo": "old"}


# --- The conversation loop, with the server injected ------------------------------------------


@dataclass
class StoredFlow(FakeFlow):
    """An echo flow that stores each turn's messages as Langflow does, per session, with a clock."""

    sessions: dict[str, list[dict]] = field(default_factory=dict)
    minute: int = 0
    renamed: list[tuple[str, str]] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)
    refusal: core.ClientError | None = None  # raised by rename and forget

    def ask(self, message_text: str, session_id: str, show, tweaks: dict | None = None) -> None:
        super().ask(message_text, session_id, show, tweaks)
        self.store(session_id, ("User", message_text), ("Machine", message_text))

    def store(self, session_id: str, *turns: tuple[str, str]) -> None:
        for sender, text in turns:
            self.minute += 1
            self.sessions.setdefault(session_id, []).append(message(session_id, sender, text, self.minute))

    def history(self, session_id: str) -> list[tuple[str, str]]:
        return [(m["sender"], m["text"]) for m in self.sessions.get(session_id, [])]

    def flow_messages(self) -> list[dict]:
        return [m for messages in self.sessions.values() for m in messages]

    def messages(self, session_id: str) -> list[dict]:
        return list(self.sessions.get(session_id, []))

    def rename(self, old: str, new: str) -> None:
        if self.refusal:
            raise self.refusal
        self.renamed.append((old, new))
        self.sessions[new] = [{**m, "session_id": new} for m in self.sessions.pop(old)]

    def forget(self, session_id: str) -> None:
        if self.refusal:
            raise self.refusal
        self.forgotten.append(session_id)
        del self.sessions[session_id]


@dataclass
class Talk(ChatTranscript):
    moves: list[tuple[str, str | None]] = field(default_factory=list)


def stored_talk(out: Output | None = None) -> Talk:
    flow, err, remembered, moves = StoredFlow(), Output(), [], []
    out = out if out is not None else Output()
    kept = SimpleNamespace(remember=remembered.append, moved=lambda old, new: moves.append((old, new)))
    terminal = core.Terminal(None, out, err, environ={"NO_COLOR": "1"})
    chat = Chat(flow, terminal, kept, SESSION, now=lambda: SAVED)  # type: ignore[arg-type]
    return Talk(flow, out, err, remembered, chat, moves=moves)


@pytest.fixture
def talk() -> Talk:
    return stored_talk()


def stored_output(talk: Talk) -> str:
    """What the commands printed after the typed lines (the prompts and echoes taken out)."""
    return "".join(line for line in talk.out.getvalue().splitlines(keepends=True) if not line.startswith("User: /"))


def test_sessions_lists_the_flows_conversations_numbered_most_recent_first(talk: Talk) -> None:
    talk.flow.store("older", ("User", "first\nquestion"), ("Machine", "answer"))
    talk.flow.store("newer", ("User", "hello"))
    talk.type("/sessions")
    assert talk.out.getvalue() == (
        "User: /sessions\n"
        "#  LAST ACTIVE       MESSAGES  SESSION  FIRST MESSAGE\n"
        "1  2026-11-21 10:03  1         newer    hello\n"
        "2  2026-11-21 10:02  2         older    first question\n"
        "User: \n"
    )
    assert talk.err.getvalue() == "/resume N switches to conversation N\n"


def test_sessions_shows_the_20_latest_and_sessions_all_every_one(talk: Talk) -> None:
    for number in range(25):
        talk.flow.store(f"c{number:02d}", ("User", "hi"))
    talk.type("/sessions")
    assert len([line for line in stored_output(talk).splitlines() if line[:1].isdigit()]) == 20
    assert talk.err.getvalue().splitlines()[0] == "the 20 latest; /sessions all lists every one"
    talk.type("/sessions all", "/resume 25")
    assert talk.chat.session_id == "c00"


def test_sessions_with_another_argument_says_how_to_use_it(talk: Talk) -> None:
    talk.type("/sessions everything")
    assert talk.err.getvalue() == "usage: /sessions or /sessions all\n"


def test_sessions_says_so_when_the_flow_has_none(talk: Talk) -> None:
    talk.type("/sessions")
    assert talk.err.getvalue() == "no conversations stored for this flow yet\n"


def test_resume_by_number_switches_shows_the_last_three_turns_and_continues_there(talk: Talk) -> None:
    for number in range(1, 6):
        talk.flow.store("long", ("User", f"q{number}"), ("Machine", f"a{number}"))
    talk.flow.store("other", ("User", "x"))
    talk.type("/sessions", "/resume 2", "next")
    assert talk.err.getvalue().splitlines()[1:] == [
        "resumed session: long",
        "── recap of session long, 4 earlier messages (/history shows them all) ──",
        "── end of recap ──",
    ]
    assert talk.out.getvalue().split("User: /resume 2\n")[1] == (
        "User: q3\nAI: a3\nUser: q4\nAI: a4\nUser: q5\nAI: a5\nUser: next\nAI: next\n\nUser: \n"
    )
    assert talk.flow.asked == [("next", "long")]
    assert talk.remembered == ["long", "long"]


def test_resume_by_number_before_any_listing_reads_the_listing_first(talk: Talk) -> None:
    talk.flow.store("only", ("User", "hi"))
    talk.type("/resume 1")
    assert talk.chat.session_id == "only"


def test_resume_by_id_switches_to_that_conversation(talk: Talk) -> None:
    talk.flow.store("my notes", ("User", "remember 42"), ("Machine", "ok"))
    talk.type("/resume my notes")
    assert talk.chat.session_id == "my notes"
    assert talk.out.getvalue() == "User: /resume my notes\nUser: remember 42\nAI: ok\nUser: \n"


def test_resume_of_an_unknown_id_or_number_says_so_and_stays(talk: Talk) -> None:
    talk.flow.store("one", ("User", "hi"))
    talk.type("/resume nope", "/resume 7", "/resume")
    assert talk.chat.session_id == SESSION
    assert talk.err.getvalue() == (
        "no conversation nope stored for this flow (/session nope starts one)\n"
        "no conversation number 7 (/sessions lists 1)\n"
        "usage: /resume N or /resume ID (/sessions lists the conversations)\n"
    )


def test_recap_shows_the_last_turns_of_the_current_conversation(talk: Talk) -> None:
    talk.flow.store(SESSION, ("User", "before"), ("Machine", "reply"))
    talk.chat.recap()
    assert (talk.out.getvalue(), talk.err.getvalue()) == (
        "User: before\nAI: reply\n",
        f"── recap of session {SESSION} ──\n── end of recap ──\n",
    )


def test_recap_of_a_session_with_nothing_stored_says_so(talk: Talk) -> None:
    talk.chat.recap()
    assert (talk.out.getvalue(), talk.err.getvalue()) == ("", "nothing stored for this session yet\n")


def test_rename_moves_the_conversation_on_the_server_and_continues_under_the_new_name(talk: Talk) -> None:
    talk.type("hello", "/rename my notes/2026", "again")
    assert talk.flow.renamed == [(SESSION, "my notes/2026")]
    assert talk.flow.asked[-1] == ("again", "my notes/2026")
    assert talk.moves == [(SESSION, "my notes/2026")]
    assert talk.remembered[-1] == "my notes/2026"
    assert talk.err.getvalue() == f"renamed {SESSION} to my notes/2026\n"


def test_rename_onto_another_conversations_name_is_refused(talk: Talk) -> None:
    talk.flow.store("taken", ("User", "x"))
    talk.type("hello", "/rename taken")
    assert (talk.flow.renamed, talk.chat.session_id) == ([], SESSION)
    assert talk.err.getvalue() == "a conversation called taken already exists for this flow (choose another name)\n"


def test_rename_before_anything_is_stored_only_changes_the_id_used(talk: Talk) -> None:
    talk.type("/rename later", "hi")
    assert (talk.flow.renamed, talk.flow.asked) == ([], [("hi", "later")])
    assert talk.err.getvalue() == "nothing stored yet: this conversation will be stored as later\n"


def test_rename_the_server_refuses_is_one_line_and_nothing_changes(talk: Talk) -> None:
    talk.flow.refusal = core.ClientError("HTTP 500: database is locked (check the Langflow server's logs)")
    talk.type("hello", "/rename x")
    assert (talk.chat.session_id, talk.moves) == (SESSION, [])
    assert talk.err.getvalue() == "error: HTTP 500: database is locked (check the Langflow server's logs)\n"


def test_forget_after_y_deletes_the_conversation_and_starts_a_new_one(talk: Talk, fresh_ids: None) -> None:
    talk.type("hello", "/forget", "y", "next")
    assert talk.flow.forgotten == [SESSION]
    assert talk.moves == [(SESSION, None)]
    assert talk.flow.asked[-1] == ("next", "session-2")
    assert f"Delete conversation {SESSION} (2 messages) on the server? [y/N] y\n" in talk.out.getvalue()
    assert talk.err.getvalue() == f"forgot {SESSION}; new session: session-2\n"


@pytest.mark.parametrize("answer", ["", "n", "yes please", EOFError])
def test_forget_keeps_the_conversation_unless_the_answer_is_y(talk: Talk, answer) -> None:
    talk.type("hello", "/forget", *([] if answer is EOFError else [answer]))
    assert (talk.flow.forgotten, talk.moves, talk.chat.session_id) == ([], [], SESSION)
    assert "kept\n" in talk.err.getvalue()


def test_forget_the_server_refuses_keeps_the_conversation(talk: Talk) -> None:
    talk.flow.refusal = core.ClientError("HTTP 409: storage unavailable (check the Langflow server's logs)")
    talk.type("hello", "/forget", "y")
    assert (talk.chat.session_id, talk.moves) == (SESSION, [])
    assert talk.err.getvalue().endswith("error: HTTP 409: storage unavailable (check the Langflow server's logs)\n")


def test_save_writes_markdown_as_the_server_stored_it(talk: Talk, tmp_path: Path) -> None:
    target = tmp_path / "chat.md"
    talk.type("hello", f"/save {target}")
    expected = conversation_export("chat.md", SESSION, talk.flow.messages(SESSION), SAVED)
    assert target.read_text(encoding="utf-8") == expected
    assert "## User\n\nhello\n\n## AI\n\nhello\n" in target.read_text(encoding="utf-8")
    assert talk.err.getvalue() == f"saved 2 messages to {target}\n"


def test_save_to_a_json_path_writes_json(talk: Talk, tmp_path: Path) -> None:
    target = tmp_path / "chat.JSON"
    talk.type("hello", f"/save {target}")
    assert json.loads(target.read_text(encoding="utf-8"))["messages"] == talk.flow.messages(SESSION)


def test_save_replaces_an_existing_file_only_after_y(talk: Talk, tmp_path: Path) -> None:
    target = tmp_path / "chat.md"
    target.write_text("precious")
    talk.type("hello", f"/save {target}", "n")
    assert target.read_text() == "precious"
    talk.type(f"/save {target}", "y")
    assert target.read_text().startswith(f"# Conversation {SESSION}")
    assert [name for name in os.listdir(tmp_path)] == ["chat.md"]  # no temp file left behind


def test_save_to_an_unwritable_place_is_one_line(talk: Talk, tmp_path: Path) -> None:
    talk.type("hello", f"/save {tmp_path}/missing/chat.md")
    assert talk.err.getvalue() == f"error: cannot write {tmp_path}/missing/chat.md: No such file or directory\n"


def test_save_with_nothing_stored_writes_nothing(talk: Talk, tmp_path: Path) -> None:
    talk.type(f"/save {tmp_path}/chat.md")
    assert (os.listdir(tmp_path), talk.err.getvalue()) == (
        [],
        "nothing stored for this conversation yet: nothing saved\n",
    )


def test_piped_lines_that_look_like_commands_are_sent_as_messages(talk: Talk) -> None:
    talk.flow.store(SESSION, ("User", "keep me"))
    assert talk.pipe("/forget\n/rename x\n") == 0
    assert talk.flow.asked == [("/forget", SESSION), ("/rename x", SESSION)]
    assert (talk.flow.forgotten, talk.flow.renamed) == ([], [])


def test_listing_in_the_chat_escapes_control_characters_at_a_terminal() -> None:
    talk = stored_talk(TerminalOutput())
    talk.flow.store("evil\x1b]0;x\x07", ("User", "hi"))
    talk.type("/sessions")
    assert "\x1b" not in talk.out.getvalue() and "evil\\x1b]0;x\\x07" in talk.out.getvalue()


# --- The real client against the local fake server: paging, faults, encoding ------------------

ECHO_UUID = "0b6a3b0e-1111-4c3a-9d55-000000000001"
SESSION_PATH = "/api/v1/monitor/messages/session/"


def store(fake: FakeLangflow, session_id: str, *texts: str) -> None:
    """Stored turns as the fake's echo flow stores them: each text from the user, then the reply."""
    for text in texts:
        for sender in ("User", "Machine"):
            fake.history[session_id].append(
                {
                    "id": f"m{fake.stored}",
                    "flow_id": ECHO_UUID,
                    "session_id": session_id,
                    "sender": sender,
                    "text": text,
                    "timestamp": timestamp(fake.stored),
                }
            )
            fake.stored += 1


def timestamp(number: int) -> str:
    from fake_langflow import timestamp as fake_timestamp

    return fake_timestamp(number)


@pytest.fixture
def server(fake: FakeLangflow):
    config = core.Config(url=fake.url, flow="echo", api_key=API_KEY, timeout=10, retries=0)
    made = core.Server(core.Client(config, core.Terminal(None, None, io.StringIO())))
    yield made
    made.close()


@pytest.fixture
def shell(cli, fake_env):
    """chat_session.py from the shell, local time UTC."""

    def run(*args: str, env: dict | None = None):
        return cli(*args, script="chat_session.py", env={**fake_env, "TZ": "UTC", **(env or {})})

    return run


def test_list_sessions_prints_the_table_most_recent_first(shell, fake: FakeLangflow) -> None:
    store(fake, "first", "Why is the sky blue?", "And the sea?")
    store(fake, "my notes", "remember 42")
    result = shell("--list-sessions")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (
        "LAST ACTIVE       MESSAGES  SESSION   FIRST MESSAGE\n"
        "2026-11-21 10:00  2         my notes  remember 42\n"
        "2026-11-21 10:00  4         first     Why is the sky blue?\n"
    )


def test_list_sessions_json_is_for_scripts(shell, fake: FakeLangflow) -> None:
    store(fake, "first", "hello")
    assert json.loads(shell("--list-sessions", "--json").stdout) == [
        {
            "session_id": "first",
            "last_active": "2026-11-21T10:00:01.000001+00:00",
            "messages": 2,
            "first_message": "hello",
        }
    ]


def test_list_sessions_of_a_flow_without_conversations_says_so_on_stderr(shell) -> None:
    result = shell("--list-sessions")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "no conversations stored for this flow yet\n")


@pytest.mark.parametrize("pages", [True, False], ids=["pages like 1.13", "does not page"])
def test_listing_a_busy_flow_reads_every_message_in_a_few_requests(server, fake: FakeLangflow, pages: bool) -> None:
    fake.pages = pages
    for number in range(50):
        store(fake, f"s{number:02d}", *[f"m{turn}" for turn in range(5)])  # 500 messages
    summaries = session_summaries(core.RemoteFlow(server, server.terminal, stream=True).flow_messages())
    assert [(s["session_id"], s["messages"]) for s in summaries] == [(f"s{n:02d}", 10) for n in range(49, -1, -1)]
    listings = [seen for seen in fake.requests if seen.path == "/api/v1/monitor/messages"]
    assert len(listings) == (3 if pages else 1)  # 200 + 200 + 100; or everything at once
    assert all(seen.query["flow_id"] == [ECHO_UUID] and "session_id" not in seen.query for seen in listings)


def test_listing_needs_no_sessions_endpoint(shell, fake: FakeLangflow) -> None:
    """Langflow 1.1 to 1.4 have no GET /monitor/messages/sessions; the listing comes from the messages."""
    fake.sessions_endpoint, fake.version = False, "1.4.3"
    store(fake, "old-release", "hi")
    assert "old-release" in shell("--list-sessions").stdout


def test_listing_by_endpoint_name_works_where_the_short_flow_listing_has_no_names(shell, fake: FakeLangflow) -> None:
    """Langflow 1.1's /flows/?header_flows=true leaves endpoint_name empty: the full listing has it."""
    fake.header_endpoint_names = False
    store(fake, "s", "hi")
    result = shell("--list-sessions")
    assert (result.returncode, result.stderr) == (0, "")
    listing = next(seen for seen in fake.requests if seen.path.startswith("/api/v1/monitor/messages"))
    assert listing.query["flow_id"] == [ECHO_UUID]


def conversations(fake: FakeLangflow, count: int) -> None:
    """`count` conversations c00, c01...: each later one more recently active."""
    for number in range(count):
        store(fake, f"c{number:02d}", f"question {number}")


def test_list_sessions_shows_the_20_latest_conversations_and_says_how_to_list_all(shell, fake: FakeLangflow) -> None:
    conversations(fake, 25)
    result = shell("--list-sessions")
    assert [line.split()[3] for line in result.stdout.splitlines()[1:]] == [f"c{n:02d}" for n in range(24, 4, -1)]
    assert result.stderr == "the 20 latest; --all lists every one\n"


def test_list_sessions_all_lists_every_conversation(shell, fake: FakeLangflow) -> None:
    conversations(fake, 25)
    result = shell("--list-sessions", "--all")
    assert len(result.stdout.splitlines()) == 1 + 25
    assert result.stderr == ""


def test_the_latest_conversations_cost_one_request_for_their_ids_and_one_each(shell, fake: FakeLangflow) -> None:
    conversations(fake, 25)
    shell("--list-sessions", "--flow", ECHO_UUID)
    monitor = [seen for seen in fake.requests if seen.path.startswith("/api/v1/monitor/")]
    assert [seen.path for seen in monitor] == ["/api/v1/monitor/messages/sessions"] + ["/api/v1/monitor/messages"] * 20
    assert all("session_id" in seen.query for seen in monitor[1:])  # never the flow's every message


def answered_at_once(fake: FakeLangflow, path: str, seconds: float) -> int:
    """The most requests to `path` the fake was answering at the same moment (each took `seconds`)."""
    starts = [seen.at for seen in fake.requests if seen.path == path]
    return max(sum(start <= moment < start + seconds for start in starts) for moment in starts)


def test_the_latest_conversations_are_read_four_at_once_in_their_order(server, fake: FakeLangflow) -> None:
    conversations(fake, 25)
    fake.slow["/api/v1/monitor/messages"] = 0.2
    listing = chat_session.recent_sessions(server, 20)
    assert [summary["session_id"] for summary in listing.sessions] == [f"c{n:02d}" for n in range(24, 4, -1)]
    assert answered_at_once(fake, "/api/v1/monitor/messages", 0.2) == chat_session.SUMMARY_CONNECTIONS == 4
    assert fake.connections == 1 + 4  # each reader keeps its one connection


def test_with_v_the_latest_conversations_are_read_one_at_a_time(shell, fake: FakeLangflow) -> None:
    conversations(fake, 25)
    fake.slow["/api/v1/monitor/messages"] = 0.05
    assert shell("--list-sessions", "-v").returncode == 0
    assert answered_at_once(fake, "/api/v1/monitor/messages", 0.05) == 1


def test_a_conversation_that_fails_to_read_fails_the_listing_with_its_error(shell, fake: FakeLangflow) -> None:
    conversations(fake, 25)
    fake.script("/api/v1/monitor/messages", json_reply(["c24", "c23"]), json_reply({"detail": "db locked"}, status=500))
    result = shell("--list-sessions")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "error: HTTP 500: db locked (check the flow's components in Langflow)\n"


def test_ctrl_c_while_the_latest_conversations_are_read_stops_every_reader(fake: FakeLangflow) -> None:
    conversations(fake, 25)
    fake.slow["/api/v1/monitor/messages"] = 0.5
    ticks = []

    def interrupt_on_second_tick() -> None:
        ticks.append(time.monotonic())
        if len(ticks) == 2:
            raise KeyboardInterrupt

    config = core.Config(url=fake.url, flow="echo", api_key=API_KEY, timeout=60, retries=0)
    server = core.Server(core.Client(config, core.Terminal(None, None, io.StringIO()), tick=interrupt_on_second_tick))
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        chat_session.recent_sessions(server, 20)
    assert time.monotonic() - started < 0.5  # before any conversation was answered
    time.sleep(1.5)  # readers that went on would have asked for the next conversations by now
    assert len([seen for seen in fake.requests if seen.path == "/api/v1/monitor/messages"]) == 4
    server.close()


def test_a_conversation_longer_than_one_window_shows_its_first_user_message_and_no_count(
    shell, fake: FakeLangflow
) -> None:
    store(fake, "long", *[f"turn {n}" for n in range(120)])  # 240 messages: more than 200 at once
    result = shell("--list-sessions", "--json")
    (summary,) = json.loads(result.stdout)
    assert (summary["first_message"], summary["messages"]) == ("turn 0", None)
    assert shell("--list-sessions").stdout.splitlines()[1].split()[2] == "-"


def test_before_1_12_5_the_latest_conversations_come_from_every_stored_message(shell, fake: FakeLangflow) -> None:
    fake.version = "1.12.4"
    conversations(fake, 25)
    result = shell("--list-sessions")
    assert len(result.stdout.splitlines()) == 1 + 20
    paths = [seen.path for seen in fake.requests]
    assert "/api/v1/monitor/messages/sessions" not in paths
    assert all("session_id" not in seen.query for seen in fake.requests if seen.path == "/api/v1/monitor/messages")


def test_all_goes_only_with_list_sessions(shell) -> None:
    result = shell("--all")
    assert result.returncode == 2
    assert "--all goes with --list-sessions" in result.stderr


def test_looking_an_endpoint_name_up_keeps_what_is_known_of_the_flow(server) -> None:
    server.pauses = True  # a flow /run refused as one that may pause: its runs go to the background
    assert (server.flow_uuid(), server.pauses, server.title()) == (ECHO_UUID, True, f"Echo ({ECHO_UUID})")


def test_listing_by_flow_uuid_asks_for_that_flow(shell, fake: FakeLangflow) -> None:
    store(fake, "s", "hi")
    assert shell("--list-sessions", "--flow", ECHO_UUID).returncode == 0
    monitor = [seen for seen in fake.requests if seen.path.startswith("/api/v1/monitor/")]
    assert "/api/v1/flows/" not in [seen.path for seen in fake.requests]  # no flow lookup for a uuid
    assert monitor and all(seen.query["flow_id"] == [ECHO_UUID] for seen in monitor if "session_id" not in seen.query)


def test_a_latest_conversation_is_read_without_the_flow_and_keeps_only_that_flows_messages(
    shell, fake: FakeLangflow
) -> None:
    store(fake, "shared-id", "asked in echo")
    other = {"flow_id": "0b6a3b0e-9999-4c3a-9d55-000000000009", "session_id": "shared-id", "sender": "User"}
    fake.history["shared-id"].insert(
        0, {**other, "id": "x1", "text": "asked in another flow", "timestamp": timestamp(0)}
    )
    (summary,) = json.loads(shell("--list-sessions", "--json").stdout)
    assert (summary["first_message"], summary["messages"]) == ("asked in echo", 2)
    (read,) = [seen for seen in fake.requests if "session_id" in seen.query]
    assert "flow_id" not in read.query


def test_a_conversation_with_no_message_visible_without_the_flow_is_asked_for_with_the_flow(
    shell, fake: FakeLangflow
) -> None:
    """As a flow shared with this user: its messages are listed only when the flow is named."""
    store(fake, "theirs", "hi")
    for message in fake.history["theirs"]:
        message.pop("flow_id")
    (summary,) = json.loads(shell("--list-sessions", "--json").stdout)
    assert (summary["first_message"], summary["messages"]) == ("hi", 2)
    reads = [seen for seen in fake.requests if "session_id" in seen.query]
    assert [seen.query.get("flow_id") for seen in reads] == [None, [ECHO_UUID]]


def test_rename_sends_a_name_with_spaces_and_slashes_encoded(server, fake: FakeLangflow) -> None:
    store(fake, "old id", "hi")
    change_session(server, "old id", "my notes/2026 & more?")
    patch = next(seen for seen in fake.requests if seen.method == "PATCH")
    assert patch.path == SESSION_PATH + "old%20id"
    assert patch.query == {"new_session_id": ["my notes/2026 & more?"]}
    assert [m["text"] for m in fake.history["my notes/2026 & more?"]] == ["hi", "hi"]


def test_a_conversation_whose_id_has_a_slash_is_renamed_and_deleted_message_by_message(server, fake) -> None:
    """Langflow decodes %2F before routing, so /monitor/messages/session/a%2Fb is no route (404)."""
    store(fake, "a/b", "one", "two")
    change_session(server, "a/b", "c/d")
    assert [m["text"] for m in fake.history["c/d"]] == ["one", "one", "two", "two"] and not fake.history["a/b"]
    change_session(server, "c/d", None)
    assert not fake.history["c/d"]
    assert not [seen for seen in fake.requests if seen.path.startswith(SESSION_PATH)]


def test_rename_of_an_unknown_session_is_the_servers_404(server, fake: FakeLangflow) -> None:
    with pytest.raises(core.ClientError, match="HTTP 404: No messages found with the given session ID"):
        change_session(server, "nope", "new")


def test_rename_the_server_refuses_is_a_client_error(server, fake: FakeLangflow) -> None:
    fake.script(SESSION_PATH, json_reply({"detail": "database is locked"}, status=500))
    with pytest.raises(core.ClientError, match=r"^HTTP 500: database is locked"):
        change_session(server, "a", "b")


@pytest.mark.parametrize(
    ("call", "what"),
    [(lambda s: change_session(s, "a", "b"), "renaming"), (lambda s: change_session(s, "a", None), "deleting")],
)
def test_a_server_without_the_endpoint_is_named_with_its_release(server, fake: FakeLangflow, call, what) -> None:
    fake.version = "1.0.19"
    fake.script(SESSION_PATH, json_reply({"detail": "Not Found"}, status=404))
    with pytest.raises(core.ClientError) as raised:
        call(server)
    assert str(raised.value) == (
        f"Langflow 1.0.19 does not offer {what} conversations through its API (Langflow 1.1.1 and later do)"
    )


def test_forget_from_the_shell_deletes_without_asking_and_lets_go_of_the_state(
    shell, fake: FakeLangflow, fake_env
) -> None:
    store(fake, "old", "hi")
    store(fake, "keep", "hi")
    state = Path(fake_env["XDG_STATE_HOME"]) / "langflow-chat" / "sessions.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({f"{fake.url} echo": "old"}))
    result = shell("--forget", "old")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "forgot conversation old (2 messages)\n")
    assert [seen.path for seen in fake.requests if seen.method == "DELETE"] == [SESSION_PATH + "old"]
    assert ("old" in fake.history, "keep" in fake.history) == (False, True)
    assert json.loads(state.read_text()) == {}
    assert shell("-c").returncode == 2  # nothing to continue


def test_forget_of_an_unknown_session_exits_1_and_deletes_nothing(shell, fake: FakeLangflow) -> None:
    result = shell("--forget", "nope")
    assert result.returncode == 1
    assert result.stderr == "error: no conversation 'nope' stored for flow echo (--list-sessions lists them)\n"
    assert not [seen for seen in fake.requests if seen.method == "DELETE"]


def test_forget_the_server_refuses_exits_1_with_its_reason(shell, fake: FakeLangflow) -> None:
    store(fake, "old", "hi")
    fake.script(SESSION_PATH, json_reply({"detail": "storage unavailable"}, status=409))
    result = shell("--forget", "old")
    assert result.returncode == 1
    assert result.stderr.startswith("error: HTTP 409: storage unavailable") and result.stderr.count("\n") == 1


def test_verbose_listing_and_forgetting_never_show_the_key(shell, fake: FakeLangflow) -> None:
    store(fake, "old", "hi")
    outputs = [shell("-v", "--list-sessions"), shell("-v", "--forget", "old"), shell("-v", "--forget", "gone")]
    assert all(API_KEY not in result.stdout + result.stderr for result in outputs)
    assert "[redacted]" in outputs[0].stderr


def test_json_goes_only_with_list_sessions_or_list_flows(shell) -> None:
    result = shell("--json")
    assert (result.returncode, result.stderr) == (
        2,
        "error: --json goes with --list-sessions or --list-flows (see chat_session.py --help)\n",
    )


# --- The script at a terminal -----------------------------------------------------------------


@pytest.fixture
def terminal(fake_env, tmp_path: Path):
    """Start chat_session.py in a pseudo-terminal (local time UTC); wait for its first prompt."""
    env = {**fake_env, "TERM": "dumb", "INPUTRC": os.devnull, "TZ": "UTC"}
    with chat_terminals(env, tmp_path, timeout=10, size=(24, 80)) as start:

        def spawn(*args: str, until: str = "User: ") -> pexpect.spawn:
            child = start(*args)
            child.expect_exact(until)
            return child

        yield spawn


def test_sessions_then_resume_by_number_at_a_terminal(terminal, fake: FakeLangflow) -> None:
    store(fake, "older", "q1", "q2")
    store(fake, "newer", "x")
    child = terminal()
    child.sendline("/sessions")
    child.expect_exact("2  2026-11-21 10:00  4         older    q1\r\n")
    child.expect_exact("User: ")
    child.sendline("/resume 2")
    child.expect_exact("User: q1\r\nAI: q1\r\nUser: q2\r\nAI: q2\r\n── end of recap ──\r\nUser: ")
    child.sendline("q3")
    child.expect_exact("AI: q3")
    assert [m["text"] for m in fake.history["older"]][-1] == "q3"


RECAP = "\r\n── recap of session mine ──\r\nUser: where were we\r\nAI: where were we\r\n── end of recap ──\r\n"


def test_session_id_at_start_shows_the_recap(terminal, fake: FakeLangflow) -> None:
    store(fake, "mine", "where were we")
    terminal("--session-id", "mine", until=f"Ctrl-D to quit{RECAP}User: ")


def test_forget_asks_y_n_and_deletes_only_after_y(terminal, fake: FakeLangflow) -> None:
    child = terminal("--session-id", "doomed")
    child.sendline("hello")
    child.expect_exact("AI: hello")
    child.sendline("/forget")
    child.expect_exact("Delete conversation doomed (2 messages) on the server? [y/N] ")
    child.sendline("")
    child.expect_exact("kept")
    assert "doomed" in fake.history
    child.sendline("/forget")
    child.expect_exact("[y/N] ")
    child.sendline("y")
    child.expect_exact("forgot doomed; new session: ")
    child.expect_exact("User: ")
    assert "doomed" not in fake.history


def test_rename_then_continue_by_name_and_by_c(terminal, fake: FakeLangflow) -> None:
    child = terminal()
    child.sendline("hello")
    child.expect_exact("AI: hello")
    child.sendline("/rename my notes")
    child.expect_exact("to my notes\r\nUser: ")
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    terminal("--session-id", "my notes", until="User: hello\r\nAI: hello\r\n── end of recap ──\r\nUser: ")
    terminal("-c", until="(continued); /help for commands, Ctrl-D to quit\r\n── recap of session my notes ──\r\n")


def test_save_asks_before_replacing_a_file(terminal, fake: FakeLangflow, tmp_path: Path) -> None:
    target = tmp_path / "chat.md"
    target.write_text("precious")
    child = terminal()
    child.sendline("hello")
    child.expect_exact("AI: hello")
    child.sendline(f"/save {target}")
    child.expect_exact("exists; replace it? [y/N] ")
    child.sendline("n")
    child.expect_exact("not saved")
    assert target.read_text() == "precious"
    child.sendline(f"/save {target}")
    child.expect_exact("[y/N] ")
    child.sendline("y")
    child.expect_exact("saved 2 messages")
    assert "## User\n\nhello\n\n## AI\n\nhello\n" in target.read_text()


def test_sessions_at_a_narrow_terminal_shorten_the_first_message_and_never_wrap(terminal, fake: FakeLangflow) -> None:
    store(fake, "a-rather-long-session-name", "tell me everything about the history of tea in great detail")
    child = terminal()
    child.sendline("/sessions")
    child.expect_exact("/resume N switches")
    lines = screen_lines(child.logfile_read.getvalue(), size=(24, 80))
    row = next(line for line in lines if line.startswith("1  "))
    assert row.endswith("…") and "tell me everything" in row and len(row) == 79
    assert lines[lines.index(row) + 1].startswith("/resume N")  # the next screen line is not the row's tail


def test_sessions_table_fits_a_width_by_shortening_the_first_message() -> None:
    sessions = [
        {"session_id": "s1", "last_active": "2026-11-21T10:00:00+00:00", "messages": 2, "first_message": "x" * 60}
    ]
    table = sessions_table(sessions, numbered=True, zone=timezone.utc, width=50).splitlines()
    assert [len(line) for line in table] == [len(table[0]), 49] and table[1].endswith("x…")


def test_sessions_table_counts_wide_characters_as_two_columns() -> None:
    sessions = [
        {"session_id": "s1", "last_active": "2026-11-21T10:00:00+00:00", "messages": 2, "first_message": "茶" * 30}
    ]
    row = sessions_table(sessions, numbered=True, zone=timezone.utc, width=50).splitlines()[1]
    assert sum(2 if char == "茶" else 1 for char in row) <= 49 and row.endswith("…")


def test_save_to_a_folder_is_a_clear_error_and_asks_nothing(talk: Talk, tmp_path: Path) -> None:
    talk.flow.store(SESSION, ("User", "hi"))
    talk.type(f"/save {tmp_path}")
    assert talk.err.getvalue() == f"error: {tmp_path} is a folder: give a file name (/save {tmp_path / 'chat.md'})\n"
