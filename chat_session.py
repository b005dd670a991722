#!/usr/bin/env python3
"""Hold a conversation with a Langflow flow in the terminal.

Every turn carries the same session_id, so a flow with memory remembers the
conversation. Configuration, requests, streaming and errors come from chat_example.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from types import ModuleType
from typing import TextIO

import chat_example as core

Show = Callable[[str], None]
Ask = Callable[[str, str, Show], None]  # (message, session id, show) -> None; raises ClientError
History = Callable[[str], list[tuple[str, str]]]  # session id -> [(sender, text)], oldest first
ReadLine = Callable[[str], str]  # (prompt) -> the typed line; raises EOFError at the end of input

HELP_ROWS = [
    ("/help", "this help"),
    ("/new", "start a new conversation (a fresh session id)"),
    ("/session [ID]", "show the session id, or switch to conversation ID"),
    ("/retry", "send again the last message that failed or was interrupted"),
    ("/history", "this conversation as the server stored it"),
    ('/multi or """', "type several lines as one message; end it the same way"),
    ("/exit, /quit", "leave (so does {end_key})"),
    ("//text", 'send "/text" (a message that starts with a slash)'),
]


def help_text(end_key: str) -> str:
    """The /help table, its second column aligned whatever the commands' lengths."""
    width = max(len(command) for command, _ in HELP_ROWS) + 2
    rows = [f"  {command.ljust(width)}{what.format(end_key=end_key)}" for command, what in HELP_ROWS]
    return "\n".join(["commands:", *rows, "Ctrl-C stops a reply that is arriving; /retry sends that message again."])


EPILOG = (
    "At a terminal: a conversation with line editing and history. Piped: each non-empty line of\n"
    "standard input is one message, and standard output is a plain User:/AI: transcript.\n\n" + core.EXIT_CODES_HELP
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = core.ArgumentParser(
        prog="chat_session.py",
        description="Chat with a Langflow flow; every turn continues the same session.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    core.add_common_arguments(parser)
    parser.add_argument(
        "-c",
        "--continue",
        dest="continue_last",
        action="store_true",
        help="continue the last conversation with this flow",
    )
    parser.add_argument("--no-stream", action="store_true", help="wait for whole replies instead of streaming them")
    args = parser.parse_args(argv)
    if args.continue_last and args.session_id:
        parser.error("use either --session-id or --continue, not both")
    return args


# --- State: the last session per flow, and the input history ---------------------------------


def state_dir(os_name: str = os.name, environ: Mapping[str, str] = os.environ) -> PurePath:
    """Where this user's chat state belongs: %LOCALAPPDATA% on Windows, XDG_STATE_HOME elsewhere."""
    if os_name == "nt":
        home = environ.get("USERPROFILE") or os.path.expanduser("~")
        base = environ.get("LOCALAPPDATA") or str(PureWindowsPath(home, "AppData", "Local"))
        return PureWindowsPath(base, "langflow-chat")
    base = environ.get("XDG_STATE_HOME")
    if not base or not base.startswith("/"):  # the XDG spec: a relative path is to be ignored
        base = str(PurePosixPath(environ.get("HOME") or os.path.expanduser("~"), ".local", "state"))
    return PurePosixPath(base, "langflow-chat")


def end_of_input_key(os_name: str = os.name) -> str:
    """The key that ends input at this platform's terminal, as the banner and /help name it."""
    return "Ctrl-Z then Enter" if os_name == "nt" else "Ctrl-D"


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def last_sessions(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def remember_session(path: Path, flow_key: str, session_id: str) -> None:
    """Write the state file atomically (a temp file renamed over it), readable only by the user."""
    sessions = {**last_sessions(path), flow_key: session_id}
    handle, temp = tempfile.mkstemp(dir=private_dir(path.parent), prefix=".sessions-")  # created 0600
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(sessions, out, indent=2)
    os.replace(temp, path)


def flow_key(config: core.Config) -> str:
    return f"{config.url} {config.flow}"


def first_session_id(args: argparse.Namespace, config: core.Config, sessions_file: Path) -> tuple[str, str]:
    """The session to start in, and how it was chosen (for the banner)."""
    if args.session_id:
        return args.session_id, "given"
    if args.continue_last:
        session_id = last_sessions(sessions_file).get(flow_key(config))
        if not session_id:
            raise core.usage_error("no earlier conversation with this flow to continue (start one without -c)")
        return session_id, "continued"
    return core.new_session_id(), "new"


HISTORY_ENTRIES = 1000  # kept in the history file; older entries are dropped when a chat starts
LIBEDIT_HEADER = "_HiStOrY_V2_"  # the first line of a history file written by libedit


def history_line(entry: str) -> str:
    """One history entry as one line of the history file: backslashes and line breaks escaped."""
    return entry.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def history_entry(line: str) -> str:
    """The entry a history file line holds (the inverse of history_line)."""
    return re.sub(r"\\(.)", lambda match: {"n": "\n", "r": "\r"}.get(match[1], match[1]), line)


def read_history(path: Path) -> list[str]:
    """The history file's entries, oldest first (a libedit header line, from elsewhere, is skipped)."""
    lines = [line.removesuffix("\r") for line in path.read_text(encoding="utf-8", errors="replace").split("\n")]
    if lines[:1] == [LIBEDIT_HEADER]:
        lines = lines[1:]
    return [history_entry(line) for line in lines if line.strip()]


def write_history(path: Path, entries: list[str]) -> None:
    """Replace the history file atomically (a temp file renamed over it), readable only by the user."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".history-")  # created 0600
    with os.fdopen(handle, "w", encoding="utf-8", errors="replace", newline="\n") as out:
        out.writelines(history_line(entry) + "\n" for entry in entries)
    os.replace(temp, path)


def append_history(path: Path, entry: str) -> None:
    """Add one entry to the history file at once, so a crash loses none."""
    handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(handle, (history_line(entry) + "\n").encode("utf-8", errors="replace"))
    finally:
        os.close(handle)


def open_history(path: Path) -> list[str]:
    """The kept entries; creates the file (mode 0600) and drops entries beyond HISTORY_ENTRIES."""
    private_dir(path.parent)
    os.close(os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)
    entries = read_history(path)
    if len(entries) > HISTORY_ENTRIES:
        entries = entries[-HISTORY_ENTRIES:]
        write_history(path, entries)
    return entries


def load_readline() -> ModuleType | None:
    """This Python's readline module, or None (Windows' CPython has none)."""
    try:
        import readline
    except ImportError:
        return None
    return readline


def knows_bracketed_paste(readline: ModuleType, environ: Mapping[str, str]) -> bool:
    """GNU readline 7+ at a terminal that is not dumb (libedit and pyreadline3 do not know it)."""
    libedit = "libedit" in (readline.__doc__ or "")  # how to tell before Python 3.13's readline.backend
    backend = getattr(readline, "backend", "editline" if libedit else "readline")
    version = getattr(readline, "_READLINE_VERSION", 0)
    return backend == "readline" and version >= 0x0700 and environ.get("TERM") != "dumb"


def enable_line_editing(
    history_file: Path,
    warn: Callable[[str], None],
    readline: ModuleType | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Callable[[str], None]:
    """Line editing, pasting several lines as one message, and an input history kept across runs.

    Works with whatever readline this Python has (GNU readline, libedit, pyreadline3) or none.
    The file is written by the client itself, one entry a line: GNU readline's own file splits
    a multi-line entry, libedit's refuses a file without its header, pyreadline3 cannot append.
    Returns what keeps one entry (a typed line, or a whole multi-line message). The history is
    a convenience: any problem with its file is one warning, once, and the chat goes on.
    """
    readline = readline or load_readline()
    if readline is None:
        return lambda entry: None
    manual = hasattr(readline, "set_auto_history")  # pyreadline3 always adds each line itself
    if manual:
        readline.set_auto_history(False)  # so a multi-line message is one entry, not one per line
    if knows_bracketed_paste(readline, environ):
        readline.parse_and_bind("set enable-bracketed-paste on")  # CPython turns it off
    try:
        entries = open_history(history_file)
    except OSError as exc:
        warn(f"warning: input history not kept: cannot use {history_file}: {exc.strerror or exc}")
        history_file, entries = None, []
    for entry in entries:
        readline.add_history(entry)
    last = entries[-1] if entries else None

    def keep(entry: str) -> None:
        nonlocal last, history_file
        if not entry.strip() or entry == last:
            return
        last = entry
        if manual or "\n" in entry:
            with contextlib.suppress(ValueError):  # a NUL character: not for readline, still sent
                readline.add_history(entry)
        if history_file is None:
            return
        try:
            append_history(history_file, entry)
        except OSError as exc:
            warn(f"warning: input history not kept: cannot write {history_file}: {exc.strerror or exc}")
            history_file = None

    return keep


def session_saver(sessions_file: Path, key: str, warn: Callable[[str], None]) -> Callable[[str], None]:
    """Remember the session for -c; a state folder that cannot be written is one warning, not a failure."""
    warned = False

    def remember(session_id: str) -> None:
        nonlocal warned
        try:
            remember_session(sessions_file, key, session_id)
        except OSError as exc:
            if not warned:
                warn(f"warning: cannot remember this session for -c: {exc.strerror or exc}")
            warned = True

    return remember


# --- The conversation -------------------------------------------------------------------------


class Chat:
    """The conversation: commands, turns, /retry. The network is injected (ask, history)."""

    def __init__(
        self,
        ask: Ask,
        history: History,
        session_id: str,
        out: TextIO,
        err: TextIO,
        remember: Callable[[str], None],
        end_key: str = end_of_input_key(),
    ) -> None:
        self.ask = ask
        self.history = history
        self.session_id = session_id
        self.out = out
        self.err = err
        self.remember = remember
        self.end_key = end_key  # named in hints: Ctrl-D, or Ctrl-Z then Enter on Windows
        self.show = core.make_show(out)
        self.pending: str | None = None  # the last message that failed or was interrupted
        self.failed_turns = 0

    def note(self, text: str) -> None:
        self.err.write(core.terminal_safe(text) + "\n")
        self.err.flush()

    def turn(self, message: str) -> bool:
        """Send one message and show the reply; a failure is reported and kept for /retry."""
        shown = False

        def show(text: str) -> None:
            nonlocal shown
            if not shown:
                self.show("AI: ")
                shown = True
            self.show(text)

        try:
            self.ask(message, self.session_id, show)
        except core.ClientError as error:
            self.end_reply(shown)
            self.note(f"error: {error}")
            return self.keep_for_retry(message)
        except KeyboardInterrupt:
            self.end_reply(shown)
            self.keep_for_retry(message)
            raise
        self.end_reply(shown)
        self.pending = None
        self.remember(self.session_id)
        return True

    def end_reply(self, shown: bool) -> None:
        self.show("\n\n" if shown else "\n")

    def keep_for_retry(self, message: str) -> bool:
        self.pending = message
        self.failed_turns += 1
        return False

    def command(self, line: str) -> bool:
        """Run a /command; False means leave."""
        name, _, argument = line.strip().partition(" ")
        argument = argument.strip()
        if name in ("/exit", "/quit"):
            return False
        if name == "/help":
            self.note(help_text(self.end_key))
        elif name == "/new":
            self.session_id = core.new_session_id()
            self.note(f"new session: {self.session_id}")
        elif name == "/session" and argument:
            self.session_id = argument
            self.remember(argument)
            self.note(f"switched to session: {argument}")
        elif name == "/session":
            self.show(self.session_id + "\n")
        elif name == "/retry" and self.pending is None:
            self.note("nothing to retry: no message has failed")
        elif name == "/retry":
            self.turn(self.pending)
        elif name == "/history":
            self.show_history()
        else:
            self.note(f"unknown command {name} (/help lists them; //text sends a message starting with /)")
        return True

    def show_history(self) -> None:
        try:
            messages = self.history(self.session_id)
        except core.ClientError as error:
            self.note(f"error: {error}")
            return
        if not messages:
            self.note("no messages stored for this session yet")
        for sender, text in messages:
            self.show(f"{'User' if sender == 'User' else 'AI'}: {text}\n")

    def interactive(
        self, read_line: ReadLine, keep: Callable[[str], None] = lambda entry: None, echo: bool = False
    ) -> int:
        """The terminal loop: Ctrl-C at the prompt hints, during a reply stops it; end of input leaves.

        keep gets each entry for the input history; echo writes each message to stdout as in a
        piped transcript (for stdout redirected to a file while the user types at the terminal).
        """
        while True:
            try:
                entry, message = self.read_message(read_line)
            except KeyboardInterrupt:
                self.note(f"\n({self.end_key} or /exit to quit)")
                continue
            except EOFError:
                return core.EXIT_OK
            keep(entry)
            try:
                if message is None:
                    if entry.strip() and not self.command(entry):
                        return core.EXIT_OK
                elif message.strip():
                    if echo:
                        self.show(f"User: {message}\n")
                    self.turn(message)
            except KeyboardInterrupt:
                self.note("[interrupted]" + (" (/retry sends it again)" if self.pending else ""))

    def read_message(self, read_line: ReadLine) -> tuple[str, str | None]:
        """(the history entry, the message) a prompt reads; the message is None for a command.

        /multi and \"\"\" collect several lines; a line holding line breaks (a paste, or a recalled
        multi-line message) is a message as it is.
        """
        line = read_line("User: ")
        stripped = line.strip()
        if "\n" in line:
            message = line.rstrip("\n")  # a pasted text's last line break is not part of it
            return message, message
        if stripped.startswith("//"):
            return line, stripped[1:]
        if stripped == "/multi":
            message = "\n".join(read_until(lambda text: text.strip() == "/multi", read_line))
            return message, message
        if stripped.startswith('"""'):
            first = stripped[3:]
            if first.endswith('"""'):
                return line, first[:-3]
            lines = [first] if first else []
            lines += read_until(lambda text: text.rstrip().endswith('"""'), read_line, closing='"""')
            message = "\n".join(lines)
            return message, message
        return line, None if stripped.startswith("/") else line

    def piped(self, lines: TextIO) -> int:
        """Each non-empty line is one message; stdout is a plain transcript. Ctrl-C ends it all."""
        for line in lines:
            message = line.rstrip("\r\n")
            if message.strip():
                self.show(f"User: {message}\n")
                self.turn(message)
        return core.EXIT_FLOW if self.failed_turns else core.EXIT_OK


def read_until(is_last: Callable[[str], bool], read_line: ReadLine, closing: str = "") -> list[str]:
    """Lines of a multi-line message up to its closing line (its text before `closing` is kept)."""
    lines = []
    while True:
        try:
            line = read_line("... ")
        except EOFError:  # the end-of-input key ends the message too
            return lines
        if is_last(line):
            last = line.rstrip()[: -len(closing)] if closing else ""
            return [*lines, last] if last else lines
        lines.append(line)


# --- Reading what the user types ----------------------------------------------------------------


def line_reader(stdin: TextIO, out: TextIO, err: TextIO) -> ReadLine:
    """What reads one typed line after a prompt; at the end of input it ends the prompt's line.

    With stdout at the terminal this is input(), with line editing. With stdout redirected
    (chat_session.py > log.txt) the prompt goes to stderr, so the file gets only the transcript.
    """
    if out.isatty():
        return ending_line_on_eof(input, out)

    def read_plain(prompt: str) -> str:
        err.write(prompt)
        err.flush()
        line = stdin.readline()
        if not line:
            raise EOFError
        return line.removesuffix("\n").removesuffix("\r")

    return ending_line_on_eof(read_plain, err)


def ending_line_on_eof(read: ReadLine, prompts: TextIO) -> ReadLine:
    """The end-of-input key leaves the cursor after the prompt: end that line, so output starts on its own."""

    def read_line(prompt: str) -> str:
        try:
            return read(prompt)
        except EOFError:
            prompts.write("\n")
            prompts.flush()
            raise

    return read_line


def banner(config: core.Config, session_id: str, how: str, end_key: str) -> str:
    """What a chat at the terminal starts with, on stderr: where it talks, the session, how to leave."""
    return (
        f"Langflow chat: {config.url}, flow {config.flow}\n"
        f"session {session_id} ({how}); /help for commands, {end_key} to quit\n"
    )


# --- Wiring the conversation to Langflow ------------------------------------------------------


def make_ask(client: core.Client, stream: bool) -> Ask:
    def ask(message: str, session_id: str, show: Show) -> None:
        if stream:
            core.stream_flow(client, message, session_id, show)
            return
        show(core.reply_text(core.run_flow(client, message, session_id)))

    return ask


def make_history(client: core.Client) -> History:
    """The session's stored messages, oldest first (GET /api/v1/monitor/messages)."""

    def history(session_id: str) -> list[tuple[str, str]]:
        messages = core.session_messages(client, session_id)
        return [(str(m.get("sender", "")), error_mark(m) + str(m.get("text", "")).strip()) for m in messages]

    return history


def error_mark(message: dict) -> str:
    """A stored error (a component that raised) shows as such, not as a reply."""
    return f"[error from {message.get('sender_name') or 'the flow'}] " if message.get("category") == "error" else ""


def run(args: argparse.Namespace, config: core.Config, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    core.require_flow(config)
    folder = Path(state_dir())
    sessions_file = folder / "sessions.json"
    session_id, how = first_session_id(args, config, sessions_file)
    client = core.Client(config, log=err)
    chat = Chat(
        make_ask(client, stream=not args.no_stream),
        make_history(client),
        session_id,
        out,
        err,
        remember=session_saver(sessions_file, flow_key(config), client.say),
    )
    try:
        if not stdin.isatty():  # read as UTF-8, stray bytes replaced (core.utf8_stdio)
            return chat.piped(stdin)
        at_terminal = out.isatty()  # else input() has no line editing, and prompts go to stderr
        keep = enable_line_editing(folder / "history", client.say) if at_terminal else lambda entry: None
        err.write(banner(config, session_id, how, chat.end_key))
        err.flush()
        return chat.interactive(line_reader(stdin, out, err), keep, echo=not at_terminal)
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    return core.guarded_main(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
