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
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO

import chat_example as core

Show = Callable[[str], None]
Ask = Callable[[str, str, Show], None]  # (message, session id, show) -> None; raises ClientError
History = Callable[[str], list[tuple[str, str]]]  # session id -> [(sender, text)], oldest first

HELP = """\
commands:
  /help            this help
  /new             start a new conversation (a fresh session id)
  /session [ID]    show the session id, or switch to conversation ID
  /retry           send again the last message that failed or was interrupted
  /history         this conversation as the server stored it
  /multi or \"\"\"     type several lines as one message; end it the same way
  /exit, /quit     leave (so does Ctrl-D)
  //text           send "/text" (a message that starts with a slash)
Ctrl-C stops a reply that is arriving; /retry sends that message again."""

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


def state_dir(environ: Mapping[str, str] = os.environ) -> Path:
    base = environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "langflow-chat"


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


def enable_line_editing(history_file: Path, warn: Callable[[str], None]) -> Callable[[], None]:
    """readline editing and a persistent input history (mode 0600); returns what saves a line.

    The history is a convenience: if its file cannot be written, say so once and go on.
    """
    import readline

    readline.set_history_length(2000)
    try:
        private_dir(history_file.parent)
        os.close(os.open(history_file, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600))
        os.chmod(history_file, 0o600)
        readline.read_history_file(history_file)
    except OSError as exc:
        warn(f"warning: input history not kept: cannot use {history_file}: {exc.strerror or exc}")
        return lambda: None

    def save_last_line() -> None:
        with contextlib.suppress(OSError):
            readline.append_history_file(1, history_file)

    return save_last_line


def session_saver(sessions_file: Path, key: str, warn: Callable[[str], None]) -> Callable[[str], None]:
    """Remember the session for -c; a state folder that cannot be written is a warning, not a failure."""

    def remember(session_id: str) -> None:
        try:
            remember_session(sessions_file, key, session_id)
        except OSError as exc:
            warn(f"warning: cannot remember this session for -c: {exc.strerror or exc}")

    return remember


# --- The conversation -------------------------------------------------------------------------


class Chat:
    """The conversation: commands, turns, /retry. The network is injected (ask, history)."""

    def __init__(
        self, ask: Ask, history: History, session_id: str, out: TextIO, err: TextIO, remember: Callable[[str], None]
    ) -> None:
        self.ask = ask
        self.history = history
        self.session_id = session_id
        self.out = out
        self.err = err
        self.remember = remember
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
            self.note(HELP)
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

    def interactive(self, read_line: Callable[[str], str], after_line: Callable[[], None] = lambda: None) -> int:
        """The terminal loop: Ctrl-C at the prompt hints, during a reply stops it; Ctrl-D leaves."""
        while True:
            try:
                line = read_line("User: ")
                after_line()
                message = self.read_multiline(line, read_line, after_line)
            except KeyboardInterrupt:
                self.note("\n(Ctrl-D or /exit to quit)")
                continue
            except EOFError:
                self.show("\n")
                return core.EXIT_OK
            try:
                if message is None:
                    if line.strip() and not self.command(line):
                        return core.EXIT_OK
                elif message.strip():
                    self.turn(message)
            except KeyboardInterrupt:
                self.note("[interrupted]" + (" (/retry sends it again)" if self.pending else ""))

    def read_multiline(self, line: str, read_line: Callable[[str], str], after_line: Callable[[], None]) -> str | None:
        """The message a line starts, or None for a command. /multi and \"\"\" collect several lines."""
        stripped = line.strip()
        if stripped.startswith("//"):
            return stripped[1:]
        if stripped == "/multi":
            return "\n".join(read_until(lambda text: text.strip() == "/multi", read_line, after_line))
        if stripped.startswith('"""'):
            first = stripped[3:]
            if first.endswith('"""'):
                return first[:-3]
            lines = [first] if first else []
            lines += read_until(lambda text: text.rstrip().endswith('"""'), read_line, after_line, closing='"""')
            return "\n".join(lines)
        return None if stripped.startswith("/") else line

    def piped(self, lines: TextIO) -> int:
        """Each non-empty line is one message; stdout is a plain transcript. Ctrl-C ends it all."""
        for line in lines:
            message = line.rstrip("\r\n")
            if message.strip():
                self.show(f"User: {message}\n")
                self.turn(message)
        return core.EXIT_FLOW if self.failed_turns else core.EXIT_OK


def read_until(
    is_last: Callable[[str], bool], read_line: Callable[[str], str], after_line: Callable[[], None], closing: str = ""
) -> list[str]:
    """Lines of a multi-line message up to its closing line (its text before `closing` is kept)."""
    lines = []
    while True:
        try:
            line = read_line("... ")
        except EOFError:  # Ctrl-D ends the message too
            return lines
        after_line()
        if is_last(line):
            last = line.rstrip()[: -len(closing)] if closing else ""
            return [*lines, last] if last else lines
        lines.append(line)


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
    folder = state_dir()
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
        save_line = enable_line_editing(folder / "history", client.say)
        err.write(f"Langflow chat: {config.url}, flow {config.flow}\n")
        err.write(f"session {session_id} ({how}); /help for commands, Ctrl-D to quit\n")
        return chat.interactive(input, save_line)
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    return core.guarded_main(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
