"""The conversation loop of chat_session.py without HTTP: commands, turns, /retry, Ctrl-C, Ctrl-D, pipes.

`Chat` gets the network injected, so here a `FakeFlow` answers (an echo flow unless a reply is
scripted) and a scripted keyboard types. The keyboard writes what `input()` and the terminal would
write on standard output: the prompt, and the typed line with its newline. Transcripts are compared
whole: all of standard output, all of standard error.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import CTRL_C, SESSION, ChatTranscript, Output, TerminalOutput
from fake_langflow import FakeFlow

import chat_session as core
from chat_session import Chat, end_of_input_key

DROPPED = "the connection dropped before the reply was complete (try again; the flow may have run)"
FLOW_FAILED = "HTTP 500: Error building Component Prompt: boom (check the flow's components in Langflow)"
NOT_A_COMMAND = "unknown command {} (/help lists them; //text sends a message starting with /)\n"


def conversation(out: Output | None = None, end_key: str = "Ctrl-D", err: Output | None = None) -> ChatTranscript:
    flow, remembered = FakeFlow(), []
    out = out if out is not None else Output()
    err = err if err is not None else Output()
    kept = SimpleNamespace(remember=remembered.append, moved=not_offered)
    terminal = core.Terminal(None, out, err, environ={"NO_COLOR": "1"})
    chat = Chat(flow, terminal, kept, SESSION, end_key=end_key)  # type: ignore[arg-type]
    return ChatTranscript(flow, out, err, remembered, chat)


def not_offered(*_args: object) -> None:
    pytest.fail("the chat loop's tests store no conversations")


@pytest.fixture
def talk() -> ChatTranscript:
    return conversation()


# --- Turns and the session id -----------------------------------------------------------------


def test_each_message_is_answered_after_ai_and_every_turn_uses_the_same_session_id(talk: ChatTranscript) -> None:
    assert talk.type("hello", "how are you") == 0

    assert talk.flow.asked == [("hello", SESSION), ("how are you", SESSION)]
    assert talk.out.getvalue() == "User: hello\nAI: hello\n\nUser: how are you\nAI: how are you\n\nUser: \n"
    assert talk.err.getvalue() == ""


def test_a_reply_in_pieces_is_shown_piece_by_piece_on_one_line(talk: ChatTranscript) -> None:
    talk.flow.will_reply("The sky", " is blue", ".")

    talk.type("Why is the sky blue?")

    assert talk.out.getvalue() == "User: Why is the sky blue?\nAI: The sky is blue.\n\nUser: \n"


def test_an_empty_reply_is_a_reply_with_an_empty_ai_line(talk: ChatTranscript) -> None:
    talk.flow.will_reply("")

    assert talk.pipe("say nothing\n") == 0

    assert talk.out.getvalue() == "User: say nothing\nAI: \n\n"
    assert (talk.err.getvalue(), talk.remembered) == ("", [SESSION])


def test_an_empty_reply_at_a_terminal_is_noted_on_the_ai_line() -> None:
    talk = conversation(out=TerminalOutput(), err=TerminalOutput())
    talk.flow.will_reply("")

    talk.type("say nothing")

    assert talk.out.getvalue() == "User: say nothing\nAI: \n\nUser: \n"
    assert talk.err.getvalue() == "(empty reply)"  # between "AI: " and the line's end on the screen


def test_an_empty_reply_with_only_stderr_at_a_terminal_is_noted_on_a_line_of_its_own() -> None:
    talk = conversation(err=TerminalOutput())
    talk.flow.will_reply("")

    talk.pipe("say nothing\n")

    assert talk.err.getvalue() == "(empty reply)\n"


def test_a_successful_turn_remembers_the_session(talk: ChatTranscript) -> None:
    talk.type("hello")

    assert talk.remembered == [SESSION]


def test_blank_lines_at_the_prompt_send_nothing(talk: ChatTranscript) -> None:
    talk.type("", "   ", "hello")

    assert talk.flow.asked == [("hello", SESSION)]
    assert talk.out.getvalue() == "User: \nUser:    \nUser: hello\nAI: hello\n\nUser: \n"


def test_every_message_and_command_is_one_history_entry_also_after_a_failed_turn(talk: ChatTranscript) -> None:
    talk.flow.will_reply(core.ClientError(FLOW_FAILED))

    talk.type("this one fails", "/multi", "line one", "line two", "/multi", '"""a', 'b"""', "//x", "/exit")

    assert talk.kept == ["this one fails", "line one\nline two", "a\nb", "//x", "/exit"]


def test_a_line_holding_line_breaks_is_one_message_even_if_it_starts_with_a_slash(talk: ChatTranscript) -> None:
    talk.type("/etc/hosts says:\n127.0.0.1 localhost")  # a paste, or a multi-line entry recalled

    assert talk.flow.asked == [("/etc/hosts says:\n127.0.0.1 localhost", SESSION)]
    assert talk.kept == ["/etc/hosts says:\n127.0.0.1 localhost"]


def test_with_echo_each_message_is_written_to_stdout_as_in_a_piped_transcript(talk: ChatTranscript) -> None:
    talk.type("hello", "/session", echo=True)

    assert talk.out.getvalue() == f"User: hello\nAI: hello\n\n{SESSION}\n"
    assert talk.err.getvalue() == "User: hello\nUser: /session\nUser: \n"


# --- Commands ----------------------------------------------------------------------------------


def test_new_starts_a_fresh_session_and_names_it_on_stderr(talk: ChatTranscript, fresh_ids: None) -> None:
    talk.type("hello", "/new", "hello again")

    assert talk.flow.asked == [("hello", SESSION), ("hello again", "session-2")]
    assert talk.out.getvalue() == (
        "User: hello\nAI: hello\n\nUser: /new\nUser: hello again\nAI: hello again\n\nUser: \n"
    )
    assert talk.err.getvalue() == "new session: session-2\n"


def test_session_prints_the_session_id_on_stdout(talk: ChatTranscript) -> None:
    talk.type("/session")

    assert talk.out.getvalue() == f"User: /session\n{SESSION}\nUser: \n"
    assert talk.err.getvalue() == ""


def test_session_with_an_id_switches_to_that_conversation_and_remembers_it(talk: ChatTranscript) -> None:
    talk.flow.stored["earlier-chat-7"] = [("User", "hello")]
    talk.type("/session earlier-chat-7")

    assert talk.remembered == ["earlier-chat-7"]
    assert talk.err.getvalue() == "switched to session: earlier-chat-7\n"

    talk.type("where were we?")

    assert talk.flow.asked == [("where were we?", "earlier-chat-7")]


def test_session_with_an_id_the_server_does_not_know_asks_before_starting_it(talk: ChatTranscript) -> None:
    talk.type("/session typo", "n", "/session new-topic", "y")

    assert talk.out.getvalue().count("No conversation typo is stored for this flow; start one under that id? [y/N] ")
    assert talk.err.getvalue() == f"still in session: {SESSION}\nswitched to session: new-topic\n"
    assert talk.chat.session_id == "new-topic"


def test_flows_lists_the_flows_numbered_with_endpoint_and_name_on_stdout(talk: ChatTranscript) -> None:
    talk.type("/flows")

    assert talk.out.getvalue() == (
        "User: /flows\n"
        "#  ENDPOINT    NAME\n"
        "1  echo        Echo\n"
        "2  echo-twice  Echo twice\n"
        "3  -           Basic Prompting\n"
        "User: \n"
    )
    assert talk.err.getvalue() == "/flow N (or its endpoint name) continues with that flow\n"


def test_flows_fit_the_width_of_a_terminal() -> None:
    talk = conversation(out=TerminalOutput())
    talk.flow.flow_list[2]["name"] = "A flow whose name is far too long for a narrow terminal"

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("shutil.get_terminal_size", lambda: SimpleNamespace(columns=30, lines=24))
        talk.type("/flows")

    listing = talk.out.getvalue().splitlines()[1:-1]
    assert listing[3] == "3  -           A flow whose …" and max(map(len, listing)) == 29


@pytest.mark.parametrize(
    ("typed", "picked"),
    [("2", 1), ("echo-twice", 1), ("echo", 0), ("7c9e", 2), ("0b6a3b0e-1111-4c3a-9d55-000000000001", 0)],
)
def test_flow_continues_with_that_flow_in_a_new_conversation(
    talk: ChatTranscript, fresh_ids: None, typed: str, picked: int
) -> None:
    listed = talk.flow.flow_list[picked]
    talk.type("hello", f"/flow {typed}", "hello there")

    assert talk.flow.used == [listed]
    assert talk.flow.asked == [("hello", SESSION), ("hello there", "session-2")]
    assert talk.err.getvalue() == f"flow {listed['name']} ({listed['id']}); new session: session-2\n"
    assert talk.chat.last.flow == (listed["endpoint_name"] or listed["id"])  # what -c remembers it under


def test_files_attached_for_one_flow_do_not_go_to_the_next(talk: ChatTranscript) -> None:
    talk.type("/file a.png", "/flow 2", "hello", "/file")

    assert talk.flow.tweaks == [None]
    assert talk.err.getvalue().endswith("no file attached\n")


@pytest.mark.parametrize("typed", ["", "ech", "4", "nope"])
def test_flow_naming_no_flow_or_several_says_so_and_stays(talk: ChatTranscript, typed: str) -> None:
    talk.type(f"/flow {typed}".strip(), "hello")

    assert (talk.flow.used, talk.flow.asked) == ([], [("hello", SESSION)])
    assert talk.err.getvalue() == f"no flow {typed!r} (/flows lists them; /flow N or an endpoint name picks one)\n"


def test_file_uploads_files_for_the_next_message_only_and_file_alone_shows_them(talk: ChatTranscript) -> None:
    talk.type("/file", "/file a.png 'my notes.txt'", "/file b.pdf", "/file", "what are these?", "and now?", "/file")

    assert talk.flow.attached == [["a.png", "my notes.txt"], ["b.pdf"]]
    files = ["uploaded/a.png", "uploaded/my notes.txt", "uploaded/b.pdf"]
    assert talk.flow.tweaks == [{"Chat Input": {"files": files}}, None]
    attached = "attached to your next message: a.png, my notes.txt, b.pdf\n"
    assert talk.err.getvalue() == (
        "no file attached\nattached to your next message: a.png, my notes.txt\n" + attached * 2 + "no file attached\n"
    )


def test_files_stay_attached_until_a_message_gets_through(talk: ChatTranscript) -> None:
    talk.flow.will_reply(core.ClientError(FLOW_FAILED))
    talk.type("/file a.png", "what is this?", "/retry")

    assert talk.flow.tweaks == [{"Chat Input": {"files": ["uploaded/a.png"]}}] * 2
    assert (talk.chat.files, talk.chat.tweaks) == ([], None)


def test_file_with_an_unclosed_quote_is_one_error_line(talk: ChatTranscript) -> None:
    talk.type("/file 'a.png")

    assert talk.err.getvalue() == "error: /file 'a.png: No closing quotation\n"
    assert talk.flow.attached == []


def edited_files(log: Path) -> list[tuple[str, str, str]]:
    """(file, mode, size at the start) of each file the fake editor was given."""
    return [tuple(line.rsplit(" ", 3)[1:]) for line in log.read_text().splitlines()]


def test_edit_sends_what_was_saved_in_the_editor_as_one_message(
    talk: ChatTranscript, fake_editor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VISUAL", fake_editor.command)
    monkeypatch.setenv("EDITOR_LOG", str(fake_editor.log))
    monkeypatch.setenv("EDITOR_TEXT", "Summarise this:\n\n- one\n- two\n\n")

    talk.type("/edit")

    assert talk.flow.asked == [("Summarise this:\n\n- one\n- two", SESSION)]
    assert talk.out.getvalue() == "User: /edit\nAI: Summarise this:\n\n- one\n- two\n\nUser: \n"
    assert talk.err.getvalue() == "Summarise this:\n\n- one\n- two\n"  # what was sent, as it goes
    assert talk.kept == ["Summarise this:\n\n- one\n- two"]  # the message, for the arrow keys
    [(path, mode, size)] = edited_files(fake_editor.log)
    assert (mode, size) == ("600", "0") and not Path(path).exists()  # private, empty, deleted after


@pytest.mark.parametrize(("text", "code", "said"), [(" \n\n", "0", "nothing written"), ("hi", "1", "exit status 1")])
def test_edit_with_nothing_written_or_a_failed_editor_sends_nothing(
    talk: ChatTranscript, fake_editor, monkeypatch: pytest.MonkeyPatch, text: str, code: str, said: str
) -> None:
    monkeypatch.setenv("VISUAL", fake_editor.command)
    monkeypatch.setenv("EDITOR_LOG", str(fake_editor.log))
    monkeypatch.setenv("EDITOR_TEXT", text)
    monkeypatch.setenv("EDITOR_EXIT", code)

    talk.type("/edit", "hello")

    assert talk.flow.asked == [("hello", SESSION)] and said in talk.err.getvalue()
    [(path, _mode, _size)] = edited_files(fake_editor.log)
    assert not Path(path).exists()


@pytest.mark.parametrize("chosen", ["VISUAL", "EDITOR", "vi"])
def test_the_editor_is_visual_else_editor_else_vi(fake_editor, tmp_path: Path, chosen: str) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "vi").write_text(f'#!/bin/sh\nexec {fake_editor.command} vi "$@"\n')
    (tmp_path / "bin" / "vi").chmod(0o755)
    visual, editor = f"{fake_editor.command} visual", f"{fake_editor.command} editor"
    environ = {"VISUAL": {"VISUAL": visual, "EDITOR": editor}, "EDITOR": {"EDITOR": editor}, "vi": {}}[chosen]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
        patch.setenv("EDITOR_LOG", str(fake_editor.log))
        patch.setenv("EDITOR_TEXT", "hi")
        assert core.edited_text(environ) == "hi"
    assert fake_editor.log.read_text().startswith(f"['{chosen.lower()}'] ")


def test_retry_after_a_failure_resends_the_same_message_in_the_same_session(talk: ChatTranscript) -> None:
    talk.flow.will_reply(core.ClientError(FLOW_FAILED))

    talk.type("hello", "/retry")

    assert talk.flow.asked == [("hello", SESSION), ("hello", SESSION)]
    assert talk.out.getvalue() == "User: hello\n\nUser: /retry\nAI: hello\n\nUser: \n"


def test_retry_shows_the_message_it_sends_again(talk: ChatTranscript) -> None:
    talk.flow.will_reply(core.ClientError(FLOW_FAILED))

    talk.type("hello\nagain", "/retry")

    assert talk.err.getvalue() == f"error: {FLOW_FAILED}\nsending again: hello again\n"


def test_retry_with_nothing_failed_says_so_and_sends_nothing(talk: ChatTranscript) -> None:
    talk.type("/retry")

    assert talk.flow.asked == []
    assert talk.out.getvalue() == "User: /retry\nUser: \n"
    assert talk.err.getvalue() == "nothing to retry: no message has failed\n"


def test_a_successful_retry_leaves_nothing_to_retry(talk: ChatTranscript) -> None:
    talk.flow.will_reply(core.ClientError(FLOW_FAILED))

    talk.type("hello", "/retry", "/retry")

    assert talk.flow.asked == [("hello", SESSION), ("hello", SESSION)]
    assert talk.err.getvalue().endswith("\nnothing to retry: no message has failed\n")


def test_history_shows_the_stored_conversation_as_user_and_ai_lines(talk: ChatTranscript) -> None:
    talk.flow.stored[SESSION] = [("User", "hello"), ("Machine", "Hi! How can I help?"), ("User", "a joke")]

    talk.type("/history")

    assert talk.out.getvalue() == "User: /history\nUser: hello\nAI: Hi! How can I help?\nUser: a joke\nUser: \n"


def test_history_is_framed_on_stderr_so_it_is_not_taken_for_new_turns(talk: ChatTranscript) -> None:
    talk.flow.stored[SESSION] = [("User", "hello"), ("Machine", "Hi!")]

    talk.type("/history")

    assert talk.err.getvalue() == f"── history of session {SESSION}: 2 messages ──\n── end of history ──\n"


def test_history_shows_a_reply_this_chat_interrupted_as_interrupted(talk: ChatTranscript) -> None:
    talk.flow.will_reply("Once upon", KeyboardInterrupt())
    talk.type("a story")
    talk.flow.stored[SESSION] = [
        ("User", "a story"),
        ("Machine", "(empty reply)"),
        ("User", "hi"),
        ("Machine", "(empty reply)"),
    ]

    talk.type("/history")

    assert talk.out.getvalue().endswith("User: a story\nAI: (interrupted)\nUser: hi\nAI: (empty reply)\nUser: \n")


def test_history_of_a_session_with_no_messages_says_so(talk: ChatTranscript) -> None:
    talk.type("/history")

    assert talk.out.getvalue() == "User: /history\nUser: \n"
    assert talk.err.getvalue() == "no messages stored for this session yet\n"


def test_history_that_cannot_be_fetched_is_one_error_line(talk: ChatTranscript) -> None:
    talk.flow.history_failure = core.ClientError(DROPPED)

    assert talk.type("/history", "hello") == 0

    assert talk.err.getvalue() == f"error: {DROPPED}\n"
    assert talk.flow.asked == [("hello", SESSION)]


def test_ctrl_c_while_history_loads_returns_to_the_prompt(talk: ChatTranscript) -> None:
    talk.flow.history_failure = KeyboardInterrupt()

    assert talk.type("/history", "hello") == 0

    assert talk.flow.asked == [("hello", SESSION)]


def test_multi_sends_the_lines_up_to_the_next_multi_as_one_message(talk: ChatTranscript) -> None:
    talk.type("/multi", "roses are red", "", "violets are blue", "/multi")

    assert talk.flow.asked == [("roses are red\n\nviolets are blue", SESSION)]
    assert talk.out.getvalue() == (
        "User: /multi\n... roses are red\n... \n... violets are blue\n... /multi\n"
        "AI: roses are red\n\nviolets are blue\n\n"
        "User: \n"
    )


def test_triple_quotes_send_the_lines_between_them_as_one_message(talk: ChatTranscript) -> None:
    talk.type('"""', "roses are red", 'violets are blue"""')

    assert talk.flow.asked == [("roses are red\nviolets are blue", SESSION)]
    assert talk.out.getvalue() == (
        'User: """\n... roses are red\n... violets are blue"""\nAI: roses are red\nviolets are blue\n\nUser: \n'
    )


def test_text_on_the_lines_of_the_triple_quotes_is_part_of_the_message(talk: ChatTranscript) -> None:
    talk.type('"""roses are red', "violets are blue", 'sugar is sweet"""')

    assert talk.flow.asked == [("roses are red\nviolets are blue\nsugar is sweet", SESSION)]


def test_triple_quotes_on_one_line_send_that_line(talk: ChatTranscript) -> None:
    talk.type('"""one line"""')

    assert talk.flow.asked == [("one line", SESSION)]
    assert talk.out.getvalue() == 'User: """one line"""\nAI: one line\n\nUser: \n'


def test_ctrl_d_inside_a_multi_line_message_sends_what_was_typed(talk: ChatTranscript) -> None:
    assert talk.type("/multi", "half a thought") == 0

    assert talk.flow.asked == [("half a thought", SESSION)]


def test_ctrl_c_inside_a_multi_line_message_drops_it(talk: ChatTranscript) -> None:
    talk.type("/multi", "never mind", CTRL_C, "hello")

    assert talk.flow.asked == [("hello", SESSION)]
    assert talk.err.getvalue().endswith("\n\n(Ctrl-D or /exit to quit)\n")


@pytest.mark.parametrize(
    ("opening", "hint"),
    [
        ("/multi", "(several lines: /multi on a line of its own sends them, Ctrl-D too)"),
        ('"""', '(several lines: """ at the end of a line sends them, Ctrl-D too)'),
    ],
)
def test_a_multi_line_message_says_how_to_end_it(talk: ChatTranscript, opening: str, hint: str) -> None:
    talk.type(opening, "one", "two")

    assert talk.err.getvalue() == hint + "\n"
    assert talk.flow.asked == [("one\ntwo", SESSION)]


def test_an_unknown_command_is_not_sent_and_points_to_help(talk: ChatTranscript) -> None:
    talk.type("/frobnicate now")

    assert talk.flow.asked == []
    assert talk.out.getvalue() == "User: /frobnicate now\nUser: \n"
    assert talk.err.getvalue() == NOT_A_COMMAND.format("/frobnicate")


def test_a_double_slash_sends_the_message_with_one_slash(talk: ChatTranscript) -> None:
    talk.type("//etc/hosts is a file")

    assert talk.flow.asked == [("/etc/hosts is a file", SESSION)]
    assert talk.out.getvalue() == "User: //etc/hosts is a file\nAI: /etc/hosts is a file\n\nUser: \n"


def test_help_lists_every_command_on_stderr(talk: ChatTranscript) -> None:
    talk.type("/help")

    assert talk.out.getvalue() == "User: /help\nUser: \n"
    for command in ("/help", "/new", "/session [ID]", "/retry", "/history", "/multi", '"""', "/exit", "/quit", "//"):
        assert command in talk.err.getvalue()
    assert talk.flow.asked == []


def test_the_help_table_aligns_its_second_column(talk: ChatTranscript) -> None:
    talk.type("/help")

    rows = [line for line in talk.err.getvalue().splitlines() if line.startswith("  ")]
    columns = {re.match(r"  \S.*?  +", row).end() for row in rows}
    assert len(rows) >= 8
    assert len(columns) == 1, "\n".join(rows)


def test_help_and_the_quit_hint_name_ctrl_z_then_enter_on_windows() -> None:
    talk = conversation(end_key=end_of_input_key("nt"))

    talk.type(CTRL_C, "/help")

    assert "\n(Ctrl-Z then Enter or /exit to quit)\n" in talk.err.getvalue()
    assert "leave (so does Ctrl-Z then Enter)" in talk.err.getvalue()
    assert "Ctrl-D" not in talk.err.getvalue()


@pytest.mark.parametrize("command", ["/exit", "/quit"])
def test_exit_and_quit_leave_with_status_0(talk: ChatTranscript, command: str) -> None:
    assert talk.type(command, "never sent") == 0

    assert talk.flow.asked == []
    assert talk.out.getvalue() == f"User: {command}\n"


# --- Ctrl-D, Ctrl-C and failures ----------------------------------------------------------------


def test_ctrl_d_at_the_prompt_ends_the_line_and_leaves_with_status_0(talk: ChatTranscript) -> None:
    assert talk.type() == 0

    assert talk.out.getvalue() == "User: \n"
    assert talk.err.getvalue() == ""


def test_ctrl_c_at_the_prompt_hints_how_to_quit_and_prompts_again(talk: ChatTranscript) -> None:
    assert talk.type(CTRL_C, "hello") == 0

    assert talk.out.getvalue() == "User: User: hello\nAI: hello\n\nUser: \n"
    assert talk.err.getvalue() == "\n(Ctrl-D or /exit to quit)\n"


def test_ctrl_c_during_a_reply_keeps_what_was_shown_and_says_interrupted(talk: ChatTranscript) -> None:
    talk.flow.will_reply("Once", " upon", KeyboardInterrupt())

    assert talk.type("tell me a story", "hello") == 0

    assert talk.out.getvalue() == "User: tell me a story\nAI: Once upon\n\nUser: hello\nAI: hello\n\nUser: \n"
    assert talk.err.getvalue() == "[interrupted] (/retry sends it again)\n"


def test_ctrl_c_before_any_reply_ends_the_line(talk: ChatTranscript) -> None:
    talk.flow.will_reply(KeyboardInterrupt())

    talk.type("tell me a story")

    assert talk.out.getvalue() == "User: tell me a story\n\nUser: \n"
    assert talk.err.getvalue() == "[interrupted] (/retry sends it again)\n"


def test_retry_resends_an_interrupted_message_in_the_same_session(talk: ChatTranscript) -> None:
    talk.flow.will_reply("Once", KeyboardInterrupt())

    talk.type("tell me a story", "/retry")

    assert talk.flow.asked == [("tell me a story", SESSION), ("tell me a story", SESSION)]
    assert talk.out.getvalue().endswith("User: /retry\nAI: tell me a story\n\nUser: \n")


def test_a_failed_turn_is_one_error_line_and_the_conversation_goes_on(talk: ChatTranscript) -> None:
    talk.flow.will_reply(core.ClientError(FLOW_FAILED))

    assert talk.type("first", "second") == 0

    assert talk.flow.asked == [("first", SESSION), ("second", SESSION)]
    assert talk.out.getvalue() == "User: first\n\nUser: second\nAI: second\n\nUser: \n"
    assert talk.err.getvalue() == f"error: {FLOW_FAILED}\n"


def test_a_failure_mid_reply_ends_the_reply_before_the_error(talk: ChatTranscript) -> None:
    talk.flow.will_reply("Once", core.ClientError(DROPPED))

    talk.type("tell me a story")

    assert talk.out.getvalue() == "User: tell me a story\nAI: Once\n\nUser: \n"
    assert talk.err.getvalue() == f"error: {DROPPED}\n"


# --- Piped -------------------------------------------------------------------------------------


def test_piped_lines_give_a_plain_user_ai_transcript_and_exit_0(talk: ChatTranscript) -> None:
    assert talk.pipe("Why is the sky blue?\nCan you tell me a joke?\n") == 0

    assert talk.out.getvalue() == (
        "User: Why is the sky blue?\nAI: Why is the sky blue?\n\n"
        "User: Can you tell me a joke?\nAI: Can you tell me a joke?\n\n"
    )
    assert talk.err.getvalue() == ""
    assert talk.flow.asked == [("Why is the sky blue?", SESSION), ("Can you tell me a joke?", SESSION)]


def test_piped_blank_lines_are_skipped(talk: ChatTranscript) -> None:
    talk.pipe("\nhello\n\n   \nbye\n")

    assert talk.flow.asked == [("hello", SESSION), ("bye", SESSION)]
    assert talk.out.getvalue() == "User: hello\nAI: hello\n\nUser: bye\nAI: bye\n\n"


def test_piped_line_endings_are_not_part_of_the_message(talk: ChatTranscript) -> None:
    talk.pipe("hello\r\nbye")

    assert talk.flow.asked == [("hello", SESSION), ("bye", SESSION)]


def test_piped_lines_starting_with_a_slash_are_messages_not_commands(talk: ChatTranscript) -> None:
    talk.pipe("/exit\n/help\n")

    assert talk.flow.asked == [("/exit", SESSION), ("/help", SESSION)]
    assert talk.err.getvalue() == ""


def test_a_failed_piped_turn_is_reported_the_next_line_still_sent_and_the_exit_is_1(talk: ChatTranscript) -> None:
    talk.flow.will_reply(core.ClientError(FLOW_FAILED))

    assert talk.pipe("first\nsecond\n") == 1

    assert talk.flow.asked == [("first", SESSION), ("second", SESSION)]
    assert talk.out.getvalue() == "User: first\n\nUser: second\nAI: second\n\n"
    assert talk.err.getvalue() == f"error: {FLOW_FAILED}\n"


def test_ctrl_c_during_a_piped_turn_stops_the_whole_replay(talk: ChatTranscript) -> None:
    talk.flow.will_reply("par", KeyboardInterrupt())

    with pytest.raises(KeyboardInterrupt):
        talk.chat.piped(io.StringIO("first\nsecond\n"))

    assert talk.flow.asked == [("first", SESSION)]
    assert talk.out.getvalue() == "User: first\nAI: par\n\n"


# --- Terminal safety ---------------------------------------------------------------------------


def test_control_characters_in_a_reply_are_escaped_at_a_terminal() -> None:
    talk = conversation(out=TerminalOutput())
    talk.flow.will_reply("\x1b[2J", "cleared\x07")

    talk.pipe("clear the screen\n")

    assert talk.out.getvalue() == "User: clear the screen\nAI: \\x1b[2Jcleared\\x07\n\n"


def test_control_characters_in_a_reply_pass_through_when_stdout_is_not_a_terminal(talk: ChatTranscript) -> None:
    talk.flow.will_reply("\x1b[2J", "cleared\x07")

    talk.pipe("clear the screen\n")

    assert talk.out.getvalue() == "User: clear the screen\nAI: \x1b[2Jcleared\x07\n\n"


def test_control_characters_in_the_stored_history_are_escaped_at_a_terminal() -> None:
    talk = conversation(out=TerminalOutput())
    talk.flow.stored[SESSION] = [("User", "hello"), ("Machine", "\x1b]0;new title\x07hi")]

    talk.type("/history")

    assert talk.out.getvalue() == "User: /history\nUser: hello\nAI: \\x1b]0;new title\\x07hi\nUser: \n"
