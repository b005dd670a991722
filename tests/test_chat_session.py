"""chat_session.py as a user runs it: in a real pseudo-terminal, and piped, against the fake Langflow.

The fake server is an echo flow unless a test scripts its replies, so a message typed at the
terminal comes back as the reply. Terminal output is compared with "\\r\\n" read as "\\n".
The commands and the transcript of each turn are specified in memory (test_chat_loop.py); here
a test is at a terminal only for what needs one: the banner, tokens as they come, escaping,
a real Ctrl-C, the input history file.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import API_KEY, NEW_PROMPT, ROOT, Terminal, chat_terminals, run_in_terminal, sent_messages
from fake_langflow import (
    FakeLangflow,
    Reply,
    error_event,
    event_line,
    event_stream,
    json_reply,
    run_response,
    stream_events,
    tokens_apart,
)

import chat_session as core
from chat_session import enable_line_editing

Completed = subprocess.CompletedProcess[str]
SCRIPT = str(ROOT / "chat_session.py")
RUN = "/api/v1/run/"
TIMEOUT = 5  # seconds; reached only when the expected text never comes

FLOW_ERROR = json_reply(
    {"detail": json.dumps({"message": "Error building Component Prompt: missing variable", "traceback": None})},
    status=500,
)
FLOW_ERROR_LINE = "error: the flow failed: Prompt: missing variable (check the flow's components in Langflow)"
DROPPED_LINE = "error: the connection dropped before the reply was complete (try again; the flow may have run)"


@pytest.fixture
def piped(cli: Callable[..., Completed]) -> Callable[..., Completed]:
    """Run chat_session.py with standard input from a pipe."""

    def run(*args: str, stdin: str, env: dict[str, str] | None = None, timeout: float = 60) -> Completed:
        return cli(*args, stdin=stdin, env=env, script="chat_session.py", timeout=timeout)

    return run


def sent_session_ids(fake: FakeLangflow) -> list[str]:
    return [seen.json()["session_id"] for seen in fake.runs()]


def banner(fake: FakeLangflow, session_id: str, how: str) -> str:
    flow = f"{fake.flows[0]['name']} ({fake.flows[0]['id']})"  # the echo flow as the flow list names it
    return f"Langflow chat: {fake.url}, flow {flow}\nsession {session_id} ({how}); /help for commands, Ctrl-D to quit\n"


def interrupt_a_story(fake: FakeLangflow, terminal: Terminal) -> None:
    """Ask for a slowly streamed story and press Ctrl-C after its first word."""
    fake.script(RUN, tokens_apart(["Once", " upon", " a", " time"], gap=0.5))
    terminal.type("tell me a story")
    terminal.expect("AI: Once")
    terminal.ctrl_c()
    terminal.expect("[interrupted] (/retry sends it again)\nUser: ")


# --- The terminal: banner, prompt, replies -----------------------------------------------------


def test_the_banner_names_server_flow_and_session_on_stderr_not_stdout(
    fake: FakeLangflow, spawn_session: Callable[..., Terminal], tmp_path: Path
) -> None:
    errors = tmp_path / "stderr.txt"
    terminal = spawn_session(stderr_file=errors)
    terminal.say("hello")
    terminal.ctrl_d()

    assert terminal.exit_code() == 0
    [session_id] = sent_session_ids(fake)
    assert errors.read_text() == banner(fake, session_id, "new")
    assert terminal.screen == "User: hello\nAI: hello\n\nUser: \n"


def test_tokens_are_shown_as_they_arrive_not_when_the_reply_ends(
    fake: FakeLangflow, spawn_session: Callable[..., Terminal]
) -> None:
    terminal = spawn_session()
    fake.script(RUN, tokens_apart(["The sky", " is", " blue"], gap=0.5))
    terminal.type("Why is the sky blue?")

    terminal.expect("AI: The sky")
    first_token_seen = time.monotonic()
    terminal.expect(f" blue{NEW_PROMPT}")

    assert time.monotonic() - first_token_seen > 0.4  # the last token is sent 1 s after the first


def test_no_stream_shows_the_whole_reply_at_once(fake: FakeLangflow, spawn_session: Callable[..., Terminal]) -> None:
    terminal = spawn_session("--no-stream")
    fake.script(RUN, tokens_apart(["one", " two", " three"], gap=0.5))
    terminal.type("count")
    terminal.expect("AI: one", timeout=10)
    first_word_shown = time.monotonic()
    terminal.expect(f" two three{NEW_PROMPT}")

    last_token_sent = fake.sent[-2][0]  # the end event comes after it
    assert first_word_shown > last_token_sent


def test_escape_codes_in_a_reply_are_shown_escaped_at_the_terminal(
    fake: FakeLangflow, spawn_session: Callable[..., Terminal]
) -> None:
    terminal = spawn_session()
    fake.script(RUN, event_stream(stream_events("session", "clear", "\x1b[2Jwiped")))
    terminal.type("clear")

    terminal.expect(f"AI: \\x1b[2Jwiped{NEW_PROMPT}")
    assert "\x1b" not in terminal.screen


def test_escape_codes_in_an_error_message_are_shown_escaped_at_the_terminal(
    fake: FakeLangflow, spawn_session: Callable[..., Terminal]
) -> None:
    terminal = spawn_session()
    fake.script(RUN, json_reply({"detail": "\x1b]0;pwned\x07\x1b[2Jboom"}, status=500))
    terminal.type("hello")

    terminal.expect("error: HTTP 500: ")
    terminal.expect("\nUser: ")
    assert "\x1b" not in terminal.screen


# --- The session id ------------------------------------------------------------------------------


def test_each_new_process_starts_a_fresh_session(fake: FakeLangflow, spawn_session: Callable[..., Terminal]) -> None:
    for _ in range(2):
        spawn_session().say("hello")

    first, second = sent_session_ids(fake)
    assert first != second


def test_session_id_flag_is_the_session_of_the_first_turn(
    fake: FakeLangflow, spawn_session: Callable[..., Terminal]
) -> None:
    terminal = spawn_session("--session-id", "my-chat-42")
    terminal.say("hello")

    assert sent_session_ids(fake) == ["my-chat-42"]
    assert terminal.screen.startswith(banner(fake, "my-chat-42", "given"))


def test_continue_resumes_the_last_conversation_with_this_flow(
    fake: FakeLangflow, spawn_session: Callable[..., Terminal]
) -> None:
    earlier = spawn_session()
    earlier.say("remember me")
    earlier.ctrl_d()
    assert earlier.exit_code() == 0

    later = spawn_session("-c")
    later.say("do you remember me?")

    first, second = sent_session_ids(fake)
    assert second == first
    assert later.screen.startswith(banner(fake, first, "continued"))


def test_continue_without_an_earlier_conversation_is_a_usage_error(
    fake: FakeLangflow, piped: Callable[..., Completed]
) -> None:
    result = piped("-c", stdin="hello\n")

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == "error: no earlier conversation with this flow to continue (start one without -c)\n"
    assert fake.runs() == []


# --- Ctrl-C: a real SIGINT mid-reply and at readline's prompt ------------------------------------


def test_ctrl_c_mid_reply_returns_to_the_prompt_and_the_next_turn_works(
    fake: FakeLangflow, spawn_session: Callable[..., Terminal]
) -> None:
    terminal = spawn_session()
    interrupt_a_story(fake, terminal)

    terminal.say("are you still there?")
    assert " time" not in terminal.screen


def test_ctrl_c_at_a_real_terminals_prompt_hints_how_to_quit(spawn_session: Callable[..., Terminal]) -> None:
    terminal = spawn_session()
    # readline draws the prompt before it waits for a key: a Ctrl-C in between is only seen at the
    # next key (CPython's readline loop), which no person can type that fast; a test can
    time.sleep(0.3)
    terminal.ctrl_c()

    terminal.expect("\n(Ctrl-D or /exit to quit)\nUser: ")
    terminal.say("still here")


# --- The start check: the URL, the key and the flow, before anything is typed --------------------

UNKNOWN_UUID = "0b6a3b0e-9999-4c3a-9d55-000000000009"


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def fault_settings(fault: str, fake: FakeLangflow) -> dict[str, str]:
    """The settings of a chat that cannot run; a one-shot run meets the same fault (scripted for a
    flow the fake would otherwise echo)."""
    if fault == "wrong key":
        return {"LANGFLOW_API_KEY": "sk-wrong"}
    if fault == "closed port":
        return {"LANGFLOW_URL": closed_port_url()}
    flow = "no-such-flow" if fault == "unknown endpoint name" else UNKNOWN_UUID
    fake.script(RUN, json_reply({"detail": f"Flow identifier {flow} not found"}, status=404))
    return {"LANGFLOW_FLOW_ID": flow}


@pytest.mark.parametrize("fault", ["unknown endpoint name", "unknown uuid", "wrong key", "closed port"])
def test_a_chat_that_cannot_run_ends_before_the_first_message_with_the_one_shots_line(
    fake: FakeLangflow, fake_env, piped, cli, fault: str
) -> None:
    env = {**fake_env, **fault_settings(fault, fake)}
    chat = piped("--retries", "0", stdin="hello\n", env=env)
    assert fake.runs() == [] and chat.stdout == ""
    one_shot = cli("hello", "--retries", "0", env=env)
    assert (chat.returncode, chat.stderr) == (one_shot.returncode, one_shot.stderr)
    assert chat.returncode != 0 and chat.stderr.count("\n") == 1


def test_a_chat_at_a_terminal_with_an_unknown_flow_ends_before_the_prompt(fake_env, tmp_path: Path) -> None:
    env = {**fake_env, "LANGFLOW_FLOW_ID": "no-such-flow", "NO_COLOR": "1"}
    child = run_in_terminal("chat_session.py", env=env, cwd=tmp_path)
    shown = child.logfile_read.getvalue()
    assert child.exitstatus == 1 and "User: " not in shown and "Langflow chat:" not in shown
    assert "error: no flow named 'no-such-flow' on Langflow 1.13.0" in shown


def test_a_chat_with_a_tweak_for_a_missing_component_ends_before_the_first_message(
    fake: FakeLangflow, piped, cli
) -> None:
    tweaks = ("--tweaks", '{"Nope-1": {"x": 1}}')
    chat = piped(*tweaks, stdin="hello\n")
    one_shot = cli("hello", *tweaks)
    assert (chat.returncode, chat.stderr) == (one_shot.returncode, one_shot.stderr) == (2, one_shot.stderr)
    assert "has no component 'Nope-1'" in chat.stderr and fake.runs() == []


@pytest.mark.parametrize("flow", ["echo", "0b6a3b0e-1111-4c3a-9d55-000000000001"], ids=["name", "uuid"])
def test_the_start_check_is_one_request(fake: FakeLangflow, fake_env, piped, flow: str) -> None:
    assert piped(stdin="", env={**fake_env, "LANGFLOW_FLOW_ID": flow}).returncode == 0
    assert [seen.path for seen in fake.requests] == ["/api/v1/flows/"]


# --- Files in the chat -----------------------------------------------------------------------------


def test_file_uploads_to_the_flow_and_attaches_to_the_next_message_only(
    fake: FakeLangflow, spawn_session: Callable[..., Terminal], tmp_path: Path
) -> None:
    (tmp_path / "terminal" / "note.txt").write_text("a file for the flow")
    terminal = spawn_session()
    terminal.type("/file missing.txt")
    terminal.expect("error: cannot read --file missing.txt: No such file or directory\nUser: ")
    terminal.type("/file note.txt")
    terminal.expect("attached to your next message: note.txt\nUser: ")
    terminal.say("what is this?")
    terminal.say("and this?")

    uploads = [seen.path for seen in fake.requests if seen.path.startswith("/api/v1/files/upload/")]
    assert uploads == [f"/api/v1/files/upload/{fake.flows[0]['id']}"]
    first, second = (seen.json().get("tweaks") for seen in fake.runs())
    assert (first, second) == ({"Chat Input": {"files": [f"{fake.flows[0]['id']}/2026-11-21_note.txt"]}}, None)


def test_file_on_langflow_1_1_1_takes_one_file_per_message(
    fake: FakeLangflow, spawn_session: Callable[..., Terminal], tmp_path: Path
) -> None:
    fake.version = "1.1.1"
    for name in ("a.txt", "b.txt"):
        (tmp_path / "terminal" / name).write_text(name)
    terminal = spawn_session()
    terminal.type("/file a.txt b.txt")
    terminal.expect("error: Langflow 1.1.1 takes one file per message\nUser: ")
    terminal.type("/file a.txt")
    terminal.expect("attached to your next message: a.txt\nUser: ")
    terminal.type("/file b.txt")
    terminal.expect("error: Langflow 1.1.1 takes one file per message\nUser: ")


def test_edit_gives_the_editor_the_terminal_ctrl_c_included_then_sends_what_it_saved(
    fake: FakeLangflow, spawn_session: Callable[..., Terminal], fake_editor
) -> None:
    env = {**fake_editor.env, "EDITOR_TEXT": "a long\nmessage\n", "EDITOR_WAITS_FOR_CTRL_C": "1"}
    terminal = spawn_session(env=env)
    terminal.type("/edit")
    terminal.expect("/edit\nediting...\n")  # no waiting line: the editor has the screen
    terminal.ctrl_c()  # the editor's, as in vi: the chat neither stops it nor takes it
    terminal.expect("the editor got Ctrl-C\na long\nmessage\nAI: a long\nmessage\n\nUser: ")  # after the tty's ^C
    assert sent_messages(fake) == ["a long\nmessage"]


# --- A flow picked at the start ------------------------------------------------------------------

PICK = "flow (a number, an endpoint name or its start): "


@pytest.fixture
def no_flow_env(fake_env) -> dict[str, str]:
    env = {name: value for name, value in fake_env.items() if name != "LANGFLOW_FLOW_ID"}
    return {**env, "TERM": "dumb", "INPUTRC": os.devnull}


def test_at_a_terminal_without_a_flow_the_flows_are_listed_fitting_the_width_and_one_is_picked(
    fake: FakeLangflow, no_flow_env, tmp_path: Path
) -> None:
    fake.flows[1]["name"] = "Basic Prompting, with a name far too long for this narrow terminal"
    with chat_terminals(no_flow_env, tmp_path, TIMEOUT, size=(24, 50)) as start:
        terminal = Terminal(start(), TIMEOUT)
        terminal.expect(PICK)
        terminal.type("nope")
        terminal.expect(f"'nope' names no one flow of the list\n{PICK}")
        terminal.type("ec")  # the start of an endpoint name
        terminal.say("hello")
        terminal.ctrl_d()
        assert terminal.exit_code() == 0
    assert terminal.screen.startswith(
        f"No flow given; the flows this key can run on {fake.url}:\n"
        "#  ENDPOINT  NAME\n"
        "1  echo      Echo\n"
        "2  -         Basic Prompting, with a name far to…\n"  # 49 columns: none wraps
        f"{PICK}nope\n"
    )
    [session_id] = sent_session_ids(fake)
    assert banner(fake, session_id, "new") in terminal.screen
    assert [seen.path for seen in fake.requests].count("/api/v1/flows/") == 1  # no other listing for the banner
    assert [seen.path for seen in fake.runs()] == ["/api/v1/run/echo"]


def test_ctrl_d_at_the_flow_question_leaves_with_0_and_sends_nothing(
    fake: FakeLangflow, no_flow_env, tmp_path: Path
) -> None:
    with chat_terminals(no_flow_env, tmp_path, TIMEOUT) as start:
        terminal = Terminal(start(), TIMEOUT)
        terminal.expect(PICK)
        terminal.ctrl_d()
        assert terminal.exit_code() == 0
    assert fake.runs() == [] and "User:" not in terminal.screen


@pytest.mark.parametrize("how", ["piped", "json"])
def test_piped_or_with_json_no_flow_is_still_the_one_line_no_flow_given(no_flow_env, piped, tmp_path, how) -> None:
    if how == "piped":
        result = piped(stdin="hi\n", env=no_flow_env)
        code, shown = result.returncode, result.stderr
    else:
        child = run_in_terminal("chat_session.py", "--list-sessions", "--json", env=no_flow_env, cwd=tmp_path)
        code, shown = child.exitstatus, child.logfile_read.getvalue()
    assert code == 2 and shown.startswith("error: no flow given: ") and shown.count("\n") == 1


# --- Piped -------------------------------------------------------------------------------------


def test_piped_lines_give_a_plain_user_ai_transcript_on_stdout(piped: Callable[..., Completed]) -> None:
    result = piped(stdin="Why is the sky blue?\nCan you tell me a joke?\n")

    assert result.returncode == 0
    assert result.stdout == (
        "User: Why is the sky blue?\nAI: Why is the sky blue?\n\n"
        "User: Can you tell me a joke?\nAI: Can you tell me a joke?\n\n"
    )
    assert result.stderr == ""


@pytest.mark.parametrize(("input_type", "output_type"), [("text", "debug"), ("any", "any"), ("chat", "text")])
def test_every_turn_sends_the_input_and_output_type_as_given(
    fake: FakeLangflow, piped: Callable[..., Completed], input_type: str, output_type: str
) -> None:
    result = piped("--input-type", input_type, "--output-type", output_type, stdin="one\ntwo\n")

    assert result.returncode == 0, result.stderr
    assert [(seen.json()["input_type"], seen.json()["output_type"]) for seen in fake.runs()] == [
        (input_type, output_type)
    ] * 2


def test_a_piped_conversation_uses_one_connection_and_one_session(
    fake: FakeLangflow, piped: Callable[..., Completed]
) -> None:
    assert piped(stdin="one\ntwo\nthree\n").returncode == 0

    assert fake.connections == 1
    assert len(fake.runs()) == 3
    assert len(set(sent_session_ids(fake))) == 1


def test_a_piped_conversation_without_streaming_also_uses_one_connection(
    fake: FakeLangflow, piped: Callable[..., Completed]
) -> None:
    # chunked JSON bodies: the connection is reusable only if each body is read to its last chunk
    for text in ("one", "two", "three"):
        body = json.dumps(run_response("s", [text], text)).encode()
        fake.script(RUN, Reply(chunks=[(0, body[:20]), (0, body[20:])]))

    result = piped("--no-stream", stdin="one\ntwo\nthree\n")

    assert result.stdout == "User: one\nAI: one\n\nUser: two\nAI: two\n\nUser: three\nAI: three\n\n"
    assert fake.connections == 1


@pytest.mark.parametrize("mode", [(), ("--no-stream",)], ids=["stream", "whole"])
def test_the_session_the_server_answers_in_wins_and_continue_remembers_it(
    fake: FakeLangflow, piped: Callable[..., Completed], mode: tuple[str, ...]
) -> None:
    fake.answer_session = "gateway-42"  # as a server or gateway that picks its own session id
    result = piped("-v", *mode, stdin="one\ntwo\n")
    assert result.returncode == 0 and result.stdout == "User: one\nAI: one\n\nUser: two\nAI: two\n\n"
    first, second = sent_session_ids(fake)
    assert first != "gateway-42" and second == "gateway-42"
    assert result.stderr.count("the server answered in session gateway-42: the conversation goes on there\n") == 1
    assert piped(*mode, "-c", stdin="three\n").returncode == 0
    assert sent_session_ids(fake)[2] == "gateway-42"


@pytest.mark.parametrize(
    ("failure", "error_line"), [(FLOW_ERROR, FLOW_ERROR_LINE), (Reply(drop=True), DROPPED_LINE)], ids=["500", "dropped"]
)
def test_a_failed_piped_turn_is_reported_on_stderr_the_rest_still_sent_and_the_exit_is_1(
    fake: FakeLangflow, piped: Callable[..., Completed], failure: Reply, error_line: str
) -> None:
    fake.script(RUN, failure)

    result = piped(stdin="first\nsecond\n")

    assert result.returncode == 1
    assert result.stdout == "User: first\n\nUser: second\nAI: second\n\n"
    assert result.stderr == error_line + "\n"
    assert sent_messages(fake) == ["first", "second"]
    assert len(set(sent_session_ids(fake))) == 1


def test_a_component_failing_mid_stream_as_in_langflow_1_6_is_reported_with_its_stored_error(
    fake: FakeLangflow, piped: Callable[..., Completed]
) -> None:
    fake.failing = ("OldModel", "old model exploded on request")

    result = piped(stdin="first\nsecond\n")

    assert result.returncode == 1
    assert result.stdout == "User: first\n\nUser: second\nAI: second\n\n"
    assert result.stderr == (
        "error: the flow failed: OldModel: old model exploded on request (check the flow's components in Langflow)\n"
    )


@pytest.mark.parametrize("flags", [[], ["--no-stream"]], ids=["streaming", "--no-stream"])
def test_an_empty_reply_is_an_empty_ai_line_and_no_message_is_the_no_text_error(
    fake: FakeLangflow, piped: Callable[..., Completed], flags: list[str]
) -> None:
    no_message = {"session_id": "s", "outputs": []}
    fake.script(
        RUN,
        event_stream(stream_events("s", "first", "", tokens=None)),
        event_stream([{"event": "end", "data": {"result": no_message}}]),
    )

    result = piped(*flags, stdin="first\nsecond\n")

    assert result.returncode == 1
    assert result.stdout == "User: first\nAI: \n\nUser: second\n\n"
    assert result.stderr.startswith("error: the flow returned no message (check that the flow ends in a Chat Output")


@pytest.mark.parametrize("flags", [[], ["--no-stream"]], ids=["streaming", "--no-stream"])
def test_a_failing_component_is_reported_at_its_first_error_event(
    fake: FakeLangflow, piped: Callable[..., Completed], flags: list[str]
) -> None:
    first, second = (error_event("Agent", "model said no", shape) for shape in ("message", "error"))
    fake.script(RUN, Reply(content_type="text/event-stream", chunks=[(0, event_line(first)), (30, event_line(second))]))

    result = piped(*flags, stdin="hi\n", timeout=20)  # Langflow 1.13 sends the second one 12-59 s later

    assert result.stderr == "error: the flow failed: Agent: model said no (check the flow's components in Langflow)\n"


def test_ctrl_c_during_a_piped_conversation_stops_it_with_exit_130(
    fake: FakeLangflow, fake_env: dict[str, str], tmp_path: Path
) -> None:
    fake.script(RUN, tokens_apart(["first", " token", " never"], gap=2.0))
    process = subprocess.Popen(
        [sys.executable, SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=fake_env,
        cwd=tmp_path,
        text=True,
    )
    process.stdin.write("slow one\nnever sent\n")
    process.stdin.close()
    assert process.stdout.read(len("User: slow one\nAI: first")) == "User: slow one\nAI: first"
    process.send_signal(2)  # SIGINT, as Ctrl-C in the terminal that runs the pipe

    assert process.wait(timeout=TIMEOUT) == 130
    assert process.stderr.read() == "\ninterrupted\n"
    assert sent_messages(fake) == ["slow one"]


# --- What is kept on disk, and what is never shown ---------------------------------------------


def test_the_state_folder_and_files_are_private(
    fake_env: dict[str, str], spawn_session: Callable[..., Terminal]
) -> None:
    terminal = spawn_session()
    terminal.say("hello")
    terminal.ctrl_d()
    assert terminal.exit_code() == 0

    folder = Path(fake_env["XDG_STATE_HOME"]) / "langflow-chat"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "sessions.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "history").stat().st_mode) == 0o600


def test_a_state_folder_that_cannot_be_written_is_one_warning_not_a_failure(
    fake_env: dict[str, str], piped: Callable[..., Completed], tmp_path: Path
) -> None:
    not_a_folder = tmp_path / "state-is-a-file"
    not_a_folder.write_text("")

    result = piped(stdin="hello\nagain\n", env={**fake_env, "XDG_STATE_HOME": str(not_a_folder)})

    assert (result.returncode, result.stdout) == (0, "User: hello\nAI: hello\n\nUser: again\nAI: again\n\n")
    assert result.stderr == "warning: cannot remember this session for -c: Not a directory\n"


def test_a_history_file_that_cannot_be_used_is_a_warning_and_lines_are_not_saved(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "state-is-a-file"
    not_a_folder.write_text("")
    warnings: list[str] = []

    keep = enable_line_editing(not_a_folder / "history", warnings.append)
    keep("hello")

    [warning] = warnings
    assert warning.startswith(f"warning: input history not kept: cannot use {not_a_folder / 'history'}: ")


def test_typed_lines_are_kept_in_the_history_file_also_after_a_failed_turn(
    fake: FakeLangflow, fake_env: dict[str, str], spawn_session: Callable[..., Terminal]
) -> None:
    terminal = spawn_session()
    terminal.say("hello")
    fake.script(RUN, FLOW_ERROR)
    terminal.type("this one fails")
    terminal.expect(f"{FLOW_ERROR_LINE}\nUser: ")
    terminal.type("/exit")
    assert terminal.exit_code() == 0

    history = Path(fake_env["XDG_STATE_HOME"]) / "langflow-chat" / "history"
    assert history.read_text().splitlines() == ["hello", "this one fails", "/exit"]


@pytest.mark.parametrize("flags", [[], ["-v"]], ids=["quiet", "verbose"])
def test_the_api_key_is_never_shown_at_the_terminal(
    fake: FakeLangflow, spawn_session: Callable[..., Terminal], flags: list[str]
) -> None:
    terminal = spawn_session(*flags)
    terminal.say("hello")
    fake.script(RUN, FLOW_ERROR)
    terminal.type("this one fails")
    terminal.expect(f"{FLOW_ERROR_LINE}\nUser: ")
    terminal.type("/history")
    terminal.expect("AI: hello\n── end of history ──\nUser: ")
    terminal.ctrl_d()
    assert terminal.exit_code() == 0

    assert API_KEY not in terminal.screen


@pytest.mark.parametrize("flags", [[], ["-v"]], ids=["quiet", "verbose"])
def test_the_api_key_is_never_printed_when_piped(
    fake: FakeLangflow, piped: Callable[..., Completed], flags: list[str]
) -> None:
    fake.script(RUN, FLOW_ERROR)

    result = piped(*flags, stdin="this one fails\nhello\n")

    assert result.returncode == 1
    assert API_KEY not in result.stdout
    assert API_KEY not in result.stderr


def stored_history(fake: FakeLangflow, session_id: str) -> list[tuple[str, str]]:
    """/history's messages for a session, read from the fake server by the real client."""
    config = core.Config(url=fake.url, flow="echo", api_key=API_KEY, timeout=10, retries=0)
    server = core.Server(core.Client(config))
    try:
        return core.RemoteFlow(server, server.terminal, stream=True).history(session_id)
    finally:
        server.close()


def store_messages(fake: FakeLangflow, session_id: str, count: int) -> None:
    for number in range(count):
        stamp = f"2026-11-21 10:{number // 60:02d}:{number % 60:02d}"
        fake.history[session_id].append({"sender": "User", "text": f"m{number}", "timestamp": stamp})


def test_history_of_a_conversation_longer_than_a_page_shows_every_message_in_order(fake: FakeLangflow) -> None:
    store_messages(fake, "long", 450)
    texts = [text for _sender, text in stored_history(fake, "long")]
    assert texts == [f"m{number}" for number in range(450)]


def test_history_from_a_server_that_does_not_page_is_read_without_repeats(fake: FakeLangflow) -> None:
    fake.pages = False
    store_messages(fake, "long", 200)
    texts = [text for _sender, text in stored_history(fake, "long")]
    assert texts == [f"m{number}" for number in range(200)]


@pytest.mark.parametrize(
    ("version", "mark"), [("1.1.1", "(not stored by this server)"), ("1.13.0", "(empty reply)")], ids=["1.1", "1.2+"]
)
def test_history_marks_a_reply_the_server_stored_empty(fake: FakeLangflow, version: str, mark: str) -> None:
    # Langflow up to 1.1 stores every streamed reply empty; later releases only a reply that was empty
    fake.version = version
    fake.store("s", "User", "hello")
    fake.store("s", "Machine", "")

    assert stored_history(fake, "s") == [("User", "hello"), ("Machine", mark)]


def test_history_asks_the_servers_version_only_for_a_reply_stored_empty(fake: FakeLangflow) -> None:
    fake.store("s", "User", "hello")
    fake.store("s", "Machine", "hello")

    assert stored_history(fake, "s") == [("User", "hello"), ("Machine", "hello")]
    assert "/api/v1/version" not in [seen.path for seen in fake.requests]


@pytest.mark.parametrize("flags", [[], ["--no-stream"]], ids=["streaming", "--no-stream"])
def test_a_conversation_with_langflow_1_1_1_shows_the_replies_of_its_stream_urls(
    fake: FakeLangflow, piped: Callable[..., Completed], flags: list[str]
) -> None:
    fake.version = "1.1.1"

    result = piped(*flags, stdin="hello old world\nagain\n")

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "User: hello old world\nAI: hello old world\n\nUser: again\nAI: again\n\n"
