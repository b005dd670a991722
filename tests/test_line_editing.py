"""Typing at the prompt with every readline a user's Python may have, and the platform conventions.

The readline variants, each put first on PYTHONPATH of chat_session.py in a pseudo-terminal:
- "gnu": this Python's own readline module (GNU readline, as Linux distributions build it);
- "none": no readline module at all, as Windows' CPython (tests/readline_variants/none);
- "pyreadline3": the functions pyreadline3 offers on Windows, no append_history_file and no
  set_auto_history (tests/readline_variants/pyreadline3, over GNU readline);
- "libedit-like": libedit's history-file behaviour in pure Python, refusing a file without its
  header (tests/readline_variants/libedit_like, over GNU readline);
- "libedit": CPython's real readline module compiled against Debian's libedit, as python.org's
  macOS and uv's Pythons ship it (built by tests/libedit_readline.py into .cache/).
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import libedit_readline
import pytest
from conftest import NEW_PROMPT, TESTS, Terminal, sent_messages
from fake_langflow import FakeLangflow
from hypothesis import given
from hypothesis import strategies as st
from libedit_readline import BuildError, build

from chat_session import (
    append_history,
    banner,
    enable_line_editing,
    end_of_input_key,
    history_entry,
    history_line,
    line_reader,
    open_history,
    read_history,
    readline_prompt,
    user_path,
)

UP = "\x1b[A"
PASTE = "\x1b[200~line one\nline two\x1b[201~"  # what a terminal sends for a pasted text, bracketed
SHIMS = TESTS / "readline_variants"
RECALLING = ["gnu", "pyreadline3", "libedit-like", "libedit"]  # the variants that recall lines


@pytest.fixture(scope="session")
def libedit_folder() -> Path:
    """The real libedit readline module's folder; a machine that cannot build it fails the tests that need it."""
    try:
        return build()
    except BuildError as error:
        pytest.fail(f"cannot build CPython's readline module against libedit: {error}")


@pytest.fixture
def variant_env(request: pytest.FixtureRequest) -> Callable[[str], dict[str, str]]:
    """The environment that gives chat_session.py the named readline variant."""

    def env(variant: str) -> dict[str, str]:
        folder = {
            "gnu": None,
            "none": SHIMS / "none",
            "pyreadline3": SHIMS / "pyreadline3",
            "libedit-like": SHIMS / "libedit_like",
            "libedit": request.getfixturevalue("libedit_folder") if variant == "libedit" else None,
        }[variant]
        return {"PYTHONPATH": str(folder)} if folder else {}

    return env


@pytest.fixture
def history_file(fake_env: dict[str, str]) -> Path:
    return Path(fake_env["XDG_STATE_HOME"]) / "langflow-chat" / "history"


def quit_chat(terminal: Terminal) -> None:
    terminal.type("/exit")
    assert terminal.exit_code() == 0


def recall(terminal: Terminal, presses: int = 1) -> None:
    """Press the up arrow, then Enter: the recalled entry is sent again."""
    terminal.child.send(UP * presses + "\r")


# --- Every readline variant gives a working chat, and keeps the history across runs -------------


@pytest.mark.parametrize("variant", [*RECALLING, "none"])
def test_a_chat_works_and_the_first_line_typed_is_sent(
    fake: FakeLangflow, spawn_session: Callable[..., Terminal], variant_env: Callable, variant: str
) -> None:
    terminal = spawn_session(env=variant_env(variant))
    terminal.say("first")
    terminal.say("second")
    quit_chat(terminal)

    assert sent_messages(fake) == ["first", "second"]
    assert "warning" not in terminal.screen and "error" not in terminal.screen


@pytest.mark.parametrize("variant", RECALLING)
def test_lines_from_an_earlier_run_are_recalled_with_the_up_arrow(
    fake: FakeLangflow, spawn_session: Callable[..., Terminal], variant_env: Callable, variant: str
) -> None:
    earlier = spawn_session(env=variant_env(variant))
    earlier.say("first question")
    earlier.say("second question")
    quit_chat(earlier)

    later = spawn_session(env=variant_env(variant))
    recall(later, presses=2)  # /exit, then the second question
    later.expect(f"AI: second question{NEW_PROMPT}")
    recall(later, presses=4)  # the second question (sent again), /exit, the second question, the first

    later.expect(f"AI: first question{NEW_PROMPT}")
    assert sent_messages(fake) == ["first question", "second question", "second question", "first question"]


@pytest.mark.parametrize("variant", RECALLING)
def test_a_multi_line_message_is_recalled_as_one_entry(
    fake: FakeLangflow, spawn_session: Callable[..., Terminal], variant_env: Callable, variant: str
) -> None:
    earlier = spawn_session(env=variant_env(variant))
    for line in ("/multi", "roses are red", "violets are blue"):
        earlier.type(line)
        earlier.expect("... ")
    earlier.type("/multi")
    earlier.expect(f"AI: roses are red\nviolets are blue{NEW_PROMPT}")
    earlier.ctrl_d()
    assert earlier.exit_code() == 0

    later = spawn_session(env=variant_env(variant))
    recall(later)

    later.expect(f"violets are blue{NEW_PROMPT}")
    assert sent_messages(fake) == ["roses are red\nviolets are blue"] * 2


@pytest.mark.parametrize("variant", RECALLING)
def test_the_history_file_is_private_and_keeps_no_empty_or_repeated_entry(
    spawn_session: Callable[..., Terminal], variant_env: Callable, history_file: Path, variant: str
) -> None:
    terminal = spawn_session(env=variant_env(variant))
    terminal.say("hello")
    terminal.say("hello")
    terminal.type("   ")
    terminal.expect("\nUser: ")
    terminal.say("bye")
    quit_chat(terminal)

    assert read_history(history_file) == ["hello", "bye", "/exit"]
    assert stat.S_IMODE(history_file.stat().st_mode) == 0o600


@pytest.mark.parametrize("variant", RECALLING)
def test_a_history_file_that_cannot_be_used_is_one_warning_and_the_chat_goes_on(
    fake: FakeLangflow, spawn_session: Callable[..., Terminal], variant_env: Callable, history_file: Path, variant: str
) -> None:
    history_file.mkdir(parents=True)  # a folder where the file should be

    terminal = spawn_session(env=variant_env(variant))
    terminal.say("hello")
    terminal.say("again")
    quit_chat(terminal)

    assert terminal.screen.count("warning") == 1
    assert f"warning: input history not kept: cannot use {history_file}: " in terminal.screen
    assert sent_messages(fake) == ["hello", "again"]


def test_a_python_without_readline_keeps_no_history_file(
    spawn_session: Callable[..., Terminal], variant_env: Callable, history_file: Path
) -> None:
    terminal = spawn_session(env=variant_env("none"))
    terminal.say("hello")
    quit_chat(terminal)

    assert not history_file.exists()


def test_a_libedit_history_file_written_elsewhere_is_read_without_its_header(
    fake: FakeLangflow, spawn_session: Callable[..., Terminal], variant_env: Callable, history_file: Path
) -> None:
    history_file.parent.mkdir(parents=True)
    history_file.write_text("_HiStOrY_V2_\nfrom libedit\n")

    terminal = spawn_session(env=variant_env("libedit"))
    recall(terminal)

    terminal.expect(f"AI: from libedit{NEW_PROMPT}")
    assert sent_messages(fake) == ["from libedit"]


@pytest.mark.parametrize("variant", ["libedit", "libedit-like"])
def test_libedit_refuses_a_history_file_without_its_header(variant_env: Callable, tmp_path: Path, variant: str) -> None:
    """Why the client writes its history file itself: libedit cannot read the file it starts from."""
    empty = tmp_path / "history"
    empty.touch()
    probe = (
        "import readline, sys\ntry:\n    readline.read_history_file(sys.argv[1])\nexcept OSError as e:\n    print(e)"
    )

    result = subprocess.run(
        [sys.executable, "-c", probe, str(empty)],
        env={**os.environ, **variant_env(variant)},
        capture_output=True,
        text=True,
    )

    assert result.stdout == "[Errno 22] Invalid argument\n"


def test_a_machine_that_cannot_build_libedits_module_is_told_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(libedit_readline, "EDITLINE_HEADER", tmp_path / "editline" / "readline.h")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # not root: apt-get is not an option

    with pytest.raises(BuildError, match=r"readline.h is missing: install libedit-dev \(e.g. sudo apt-get"):
        build(tmp_path / "cache")


def test_the_libedit_module_used_is_the_real_one(libedit_folder: Path) -> None:
    [module] = libedit_folder.glob("readline*.so")
    assert "libedit" in module.read_bytes().decode("latin-1")  # linked against libedit.so


# --- Paste ------------------------------------------------------------------------------------


def test_a_bracketed_paste_is_one_message_and_one_history_entry(
    fake: FakeLangflow, spawn_session: Callable[..., Terminal], history_file: Path
) -> None:
    terminal = spawn_session(env={"TERM": "xterm", "NO_COLOR": "1"})  # a terminal that knows bracketed paste
    terminal.child.send(PASTE + "\r")
    terminal.expect("AI: line one")
    terminal.expect("line two")
    terminal.expect("User: ")
    quit_chat(terminal)

    assert sent_messages(fake) == ["line one\nline two"]
    assert read_history(history_file) == ["line one\nline two", "/exit"]


def test_a_pasted_text_ending_in_a_line_break_is_sent_without_it(
    fake: FakeLangflow, spawn_session: Callable[..., Terminal]
) -> None:
    terminal = spawn_session(env={"TERM": "xterm", "NO_COLOR": "1"})
    terminal.child.send("\x1b[200~line one\rline two\r\x1b[201~\r")  # as xterm sends line breaks: CR
    terminal.expect("line two")
    terminal.expect("User: ")

    assert sent_messages(fake) == ["line one\nline two"]


def test_a_pasted_message_is_recalled_as_one_entry(fake: FakeLangflow, spawn_session: Callable[..., Terminal]) -> None:
    earlier = spawn_session(env={"TERM": "xterm", "NO_COLOR": "1"})
    earlier.child.send(PASTE + "\r")
    earlier.expect("User: ")
    quit_chat(earlier)

    later = spawn_session(env={"TERM": "xterm", "NO_COLOR": "1"})
    recall(later, presses=2)
    later.expect("line two")
    later.expect("User: ")

    assert sent_messages(fake) == ["line one\nline two"] * 2


# --- Ctrl-D and a redirected stdout -------------------------------------------------------------


def test_ctrl_d_inside_a_multi_line_message_ends_its_line_before_the_reply(
    fake: FakeLangflow, spawn_session: Callable[..., Terminal]
) -> None:
    terminal = spawn_session()
    terminal.type("/multi")
    terminal.expect("... ")
    terminal.type("abc")
    terminal.expect("... ")
    terminal.ctrl_d()

    terminal.expect(f"AI: abc{NEW_PROMPT}")
    assert "\n... abc\n... \nAI: abc\n" in terminal.screen
    assert sent_messages(fake) == ["abc"]


def test_with_stdout_redirected_prompts_stay_at_the_terminal_and_the_file_gets_the_transcript(
    fake: FakeLangflow, spawn_session: Callable[..., Terminal], tmp_path: Path
) -> None:
    log = tmp_path / "log.txt"
    terminal = spawn_session(stdout_file=log)
    terminal.type("hello")
    terminal.expect("User: ")
    terminal.type("/multi")
    terminal.expect("... ")
    terminal.ctrl_d()
    terminal.ctrl_d()
    assert terminal.exit_code() == 0

    assert log.read_text() == "User: hello\nAI: hello\n\n"
    assert terminal.screen.endswith(
        "User: hello\nUser: /multi\n(several lines: /multi on a line of its own sends them, Ctrl-D too)\n... \nUser: \n"
    )


def test_with_stdout_redirected_the_prompt_is_written_to_stderr() -> None:
    out, err = io.StringIO(), io.StringIO()
    read_line = line_reader(io.StringIO("hello\r\n"), out, err)

    assert read_line("User: ") == "hello"
    with pytest.raises(EOFError):
        read_line("User: ")
    assert (out.getvalue(), err.getvalue()) == ("", "User: User: \n")


# --- History entries and the history file -------------------------------------------------------


@given(st.lists(st.text(), max_size=5))
def test_any_entry_is_one_line_of_the_history_file_and_reads_back_the_same(entries: list[str]) -> None:
    assert not any("\n" in history_line(entry) or "\r" in history_line(entry) for entry in entries)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history"
        path.touch()
        for entry in entries:
            append_history(path, entry)

        assert read_history(path) == [entry for entry in entries if history_line(entry).strip()]
        assert [history_entry(history_line(entry)) for entry in entries] == entries


def test_the_history_file_keeps_the_last_thousand_entries(tmp_path: Path) -> None:
    path = tmp_path / "history"
    path.write_text("".join(f"entry {number}\n" for number in range(1500)))

    entries = open_history(path)

    assert entries == [f"entry {number}" for number in range(500, 1500)]
    assert read_history(path) == entries


def test_a_history_file_that_cannot_be_written_later_is_one_warning(tmp_path: Path) -> None:
    path, warnings = tmp_path / "state" / "history", []
    keep = enable_line_editing(path, warnings.append, readline=RecordingReadline(), environ={})
    path.unlink()
    path.mkdir()  # the file became a folder

    for entry in ("one", "two", "three"):
        keep(entry)

    assert warnings == [f"warning: input history not kept: cannot write {path}: Is a directory"]


def test_without_a_readline_module_nothing_is_kept_and_nothing_warns(tmp_path: Path) -> None:
    warnings: list[str] = []
    keep = enable_line_editing(tmp_path / "history", warnings.append, readline=None, environ={})
    keep("hello")

    assert warnings == []


class RecordingReadline:
    """A readline module that only records what it was given (GNU-like: it has set_auto_history)."""

    __doc__ = "Importing this module enables command line editing using GNU readline."
    _READLINE_VERSION = 0x0802

    def __init__(self) -> None:
        self.entries: list[str] = []

    def set_auto_history(self, enabled: bool) -> None:
        assert not enabled

    def parse_and_bind(self, string: str) -> None:
        pass

    def add_history(self, entry: str) -> None:
        self.entries.append(entry)


# --- Platform conventions -------------------------------------------------------------------------


def test_state_lives_under_localappdata_on_windows() -> None:
    environ = {"LOCALAPPDATA": r"C:\Users\ann\AppData\Local", "XDG_STATE_HOME": "/srv/state"}

    assert user_path("state", "history", "nt", environ) == r"C:\Users\ann\AppData\Local\langflow-chat\history"


def test_state_on_windows_without_localappdata_is_in_the_profiles_appdata_local() -> None:
    assert user_path("state", "history", "nt", {"USERPROFILE": r"C:\Users\ann"}) == (
        r"C:\Users\ann\AppData\Local\langflow-chat\history"
    )


def test_state_lives_under_xdg_state_home_elsewhere() -> None:
    environ = {"XDG_STATE_HOME": "/srv/state", "LOCALAPPDATA": r"C:\nowhere", "HOME": "/home/ann"}

    assert user_path("state", "history", "posix", environ) == "/srv/state/langflow-chat/history"


@pytest.mark.parametrize("xdg", [None, "", "relative/state"], ids=["unset", "empty", "relative"])
def test_state_without_a_usable_xdg_state_home_is_under_home_local_state(xdg: str | None) -> None:
    environ = {"HOME": "/home/ann"} | ({"XDG_STATE_HOME": xdg} if xdg is not None else {})

    assert user_path("state", "history", "posix", environ) == "/home/ann/.local/state/langflow-chat/history"


def test_the_end_of_input_key_is_ctrl_z_then_enter_on_windows_and_ctrl_d_elsewhere() -> None:
    assert (end_of_input_key("nt"), end_of_input_key("posix")) == ("Ctrl-Z then Enter", "Ctrl-D")


def test_the_banner_names_the_platforms_end_of_input_key() -> None:
    assert banner("http://localhost:7860", "Echo (b7860f19)", "s-1", "new", end_of_input_key("nt")) == (
        "Langflow chat: http://localhost:7860, flow Echo (b7860f19)\n"
        "session s-1 (new); /help for commands, Ctrl-Z then Enter to quit\n"
    )


class FakeReadline:
    def __init__(self, doc: str) -> None:
        self.__doc__ = doc


COLOURED_PROMPT = "\x1b[1;36mUser:\x1b[0m "


def test_gnu_readline_gets_the_prompts_colour_codes_marked_as_taking_no_columns() -> None:
    prompt = readline_prompt(
        COLOURED_PROMPT, FakeReadline("Importing this module enables command line editing using GNU readline.")
    )
    assert prompt == "\001\x1b[1;36m\002User:\001\x1b[0m\002 "


def test_libedit_gets_the_prompt_without_colour() -> None:
    prompt = readline_prompt(
        COLOURED_PROMPT, FakeReadline("Importing this module enables command line editing using libedit readline.")
    )
    assert prompt == "User: "


def test_without_a_line_editor_the_prompt_is_written_as_it_is() -> None:
    assert readline_prompt(COLOURED_PROMPT, None) == COLOURED_PROMPT
