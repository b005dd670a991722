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
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from types import ModuleType
from typing import NamedTuple, TextIO

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
    ("/sessions", "this flow's conversations on the server, most recent first"),
    ("/resume N|ID", "switch to conversation N of /sessions (or ID) and show its last turns"),
    ("/rename NAME", "rename this conversation on the server (also in the Playground)"),
    ("/forget", "delete this conversation on the server (asks first), start a new one"),
    ("/save PATH", "write this conversation to PATH: Markdown, or JSON if PATH ends in .json"),
    ('/multi or """', "type several lines as one message; end it the same way"),
    ("/exit, /quit", "leave (so does {end_key})"),
    ("//text", 'send "/text" (a message that starts with a slash)'),
]


def help_text(end_key: str) -> str:
    """The /help table, its second column aligned whatever the commands' lengths."""
    width = max(len(command) for command, _ in HELP_ROWS) + 2
    rows = [f"  {command.ljust(width)}{what.format(end_key=end_key)}" for command, what in HELP_ROWS]
    return "\n".join(["commands:", *rows, "Ctrl-C stops a reply that is arriving; /retry sends that message again."])


class Conversations(NamedTuple):
    """The flow's conversations on the server, injected into Chat like ask and history."""

    flow_messages: Callable[[], list[dict]]  # every stored message of the flow, any session
    messages: Callable[[str], list[dict]]  # one session's stored messages, oldest first
    rename: Callable[[str, str], None]  # (old id, new id)
    forget: Callable[[str], None]  # delete a session's messages


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
    parser.add_argument(
        "--list-sessions", action="store_true", help="list this flow's conversations on the server, then exit"
    )
    parser.add_argument("--json", action="store_true", help="with --list-sessions: print JSON, for scripts")
    parser.add_argument("--forget", metavar="ID", help="delete conversation ID on the server (no prompt), then exit")
    args = parser.parse_args(argv)
    if args.continue_last and args.session_id:
        parser.error("use either --session-id or --continue, not both")
    if args.list_sessions and args.forget:
        parser.error("use either --list-sessions or --forget, not both")
    if args.json and not args.list_sessions:
        parser.error("--json goes with --list-sessions")
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
    write_sessions(path, {**last_sessions(path), flow_key: session_id})


def flow_key(config: core.Config) -> str:
    return f"{config.url} {config.flow}"


def moved_session(sessions: dict[str, str], url: str, old: str, new: str | None) -> dict[str, str]:
    """The state after a conversation on this server was renamed to `new`, or forgotten (None).

    Langflow renames and deletes a session id in all of a user's flows, and a flow may be
    remembered under its uuid and its endpoint name: every entry of this server follows.
    """
    result = {}
    for key, session_id in sessions.items():
        if key.startswith(f"{url} ") and session_id == old:
            if new is None:
                continue
            session_id = new
        result[key] = session_id
    return result


def write_sessions(path: Path, sessions: dict[str, str]) -> None:
    """Write the state file atomically (a temp file renamed over it), readable only by the user."""
    handle, temp = tempfile.mkstemp(dir=private_dir(path.parent), prefix=".sessions-")  # created 0600
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(sessions, out, indent=2)
    os.replace(temp, path)


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


def session_mover(sessions_file: Path, url: str, warn: Callable[[str], None]) -> Callable[[str, str | None], None]:
    """Make -c follow a renamed conversation (new id) or let go of a forgotten one (None)."""

    def move(old: str, new: str | None) -> None:
        sessions = last_sessions(sessions_file)
        moved = moved_session(sessions, url, old, new)
        if moved == sessions:
            return
        try:
            write_sessions(sessions_file, moved)
        except OSError as exc:
            warn(f"warning: cannot update the state for -c: {exc.strerror or exc}")

    return move


# --- Conversations on the server: listing, recap, export (pure) -------------------------------

RECAP_TURNS = 3  # the last turns shown when a conversation is resumed
FIRST_MESSAGE_WIDTH = 60
TIMESTAMP = re.compile(r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.(\d+))?\s*(Z|UTC|[+-]\d\d:?\d\d)?")


def parse_time(stamp: object) -> datetime | None:
    """A Langflow timestamp ("2026-11-21 10:00:00.123456 UTC" from 1.13, or without a zone, or ISO
    with Z or an offset); one without a zone is UTC.

    Written out because Python 3.10's fromisoformat takes neither Z nor every fraction length.
    """
    match = TIMESTAMP.fullmatch(str(stamp or "").strip())
    if not match:
        return None
    day, clock, fraction, zone = match.groups()
    moment = datetime.fromisoformat(f"{day} {clock}").replace(microsecond=int((fraction or "0")[:6].ljust(6, "0")))
    offset = timedelta(0)
    if zone and zone not in ("Z", "UTC"):
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[-2:])) * (-1 if zone[0] == "-" else 1)
    return moment.replace(tzinfo=timezone(offset))


def iso_time(stamp: object) -> str:
    """A timestamp for scripts: ISO 8601 in UTC (the server's text if it cannot be read)."""
    moment = parse_time(stamp)
    return moment.astimezone(timezone.utc).isoformat() if moment else str(stamp or "")


def local_time(stamp: object, zone: tzinfo | None = None) -> str:
    """A timestamp for people: local time (or `zone`) to the minute."""
    moment = parse_time(stamp)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else str(stamp or "-")


def session_summaries(messages: list[dict]) -> list[dict]:
    """The flow's conversations from its stored messages, most recent first: id, last active
    (ISO 8601, UTC), message count, first user message. As the Playground does, sessions of
    Langflow's own agentic helpers ("agentic_...") are left out."""
    counts: dict[str, int] = {}
    last: dict[str, object] = {}
    first: dict[str, str] = {}
    seen: set[str] = set()
    for message in sorted(messages, key=lambda m: str(m.get("timestamp") or "")):
        session_id, message_id = str(message.get("session_id") or ""), message.get("id")
        if not session_id or session_id.startswith("agentic_") or (message_id and message_id in seen):
            continue  # an id seen twice: a message that moved between two pages while they were read
        seen.add(message_id)
        counts[session_id] = counts.get(session_id, 0) + 1
        last[session_id] = message.get("timestamp")
        if session_id not in first and message.get("sender") == "User":
            first[session_id] = str(message.get("text") or "")
    summaries = [  # each timestamp read once per conversation, not once per message
        {"session_id": key, "last_active": iso_time(last[key]), "messages": count, "first_message": first.get(key, "")}
        for key, count in counts.items()
    ]
    return sorted(summaries, key=lambda s: (s["last_active"], s["session_id"]), reverse=True)


def shortened(text: str, width: int = FIRST_MESSAGE_WIDTH) -> str:
    """One line of at most `width` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def sessions_table(sessions: list[dict], numbered: bool, zone: tzinfo | None = None) -> str:
    """The listing for people: numbered in the chat (for /resume N), last active in local time."""
    rows = [("#", "LAST ACTIVE", "MESSAGES", "SESSION", "FIRST MESSAGE")]
    for number, summary in enumerate(sessions, 1):
        row = (str(number), local_time(summary["last_active"], zone), str(summary["messages"]))
        rows.append((*row, summary["session_id"], shortened(summary["first_message"])))
    if not numbered:
        rows = [row[1:] for row in rows]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    lines = ("".join(cell.ljust(width + 2) for cell, width in zip(row, widths, strict=False)) + row[-1] for row in rows)
    return "\n".join(line.rstrip() for line in lines)


def transcript_line(sender: str, text: str) -> str:
    return f"{'User' if sender == 'User' else 'AI'}: {text}\n"


def recap_start(history: list[tuple[str, str]], turns: int = RECAP_TURNS) -> int:
    """Where the last `turns` turns begin: at the turns-th last user message."""
    users = [index for index, (sender, _text) in enumerate(history) if sender == "User"]
    return users[-turns] if len(users) >= turns else 0


def message_text(message: dict) -> str:
    return error_mark(message) + str(message.get("text") or "").strip()


def conversation_markdown(session_id: str, messages: list[dict], saved: datetime) -> str:
    """A conversation as Markdown: a header with the session id and dates, then ## User / ## AI."""
    first, last = (local_time(messages[i].get("timestamp")) for i in (0, -1)) if messages else ("-", "-")
    lines = [
        f"# Conversation {session_id}",
        "",
        f"- Session id: `{session_id}`",
        f"- Messages: {len(messages)}, from {first} to {last}",
        f"- Saved: {saved.strftime('%Y-%m-%d %H:%M %z')}",
    ]
    for message in messages:
        lines += ["", "## User" if message.get("sender") == "User" else "## AI", "", message_text(message)]
    return "\n".join(lines) + "\n"


def conversation_json(session_id: str, messages: list[dict], saved: datetime) -> str:
    """A conversation as JSON: the messages exactly as the server stored them."""
    document = {"session_id": session_id, "saved_at": saved.isoformat(), "messages": messages}
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def conversation_export(path: str, session_id: str, messages: list[dict], saved: datetime) -> str:
    """JSON when the path ends in .json, Markdown otherwise."""
    export = conversation_json if path.lower().endswith(".json") else conversation_markdown
    return export(session_id, messages, saved)


def write_atomically(path: Path, text: str) -> None:
    """A temp file next to it renamed over it: a crash never leaves half a file."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


# --- The conversation -------------------------------------------------------------------------


class Chat:
    """The conversation: commands, turns, /retry. The network is injected (ask, history, conversations)."""

    def __init__(
        self,
        ask: Ask,
        history: History,
        session_id: str,
        out: TextIO,
        err: TextIO,
        remember: Callable[[str], None],
        end_key: str = end_of_input_key(),
        conversations: Conversations | None = None,
        moved: Callable[[str, str | None], None] = lambda _old, _new: None,
        now: Callable[[], datetime] = lambda: datetime.now().astimezone(),
    ) -> None:
        self.ask = ask
        self.history = history
        self.session_id = session_id
        self.out = out
        self.err = err
        self.remember = remember
        self.end_key = end_key  # named in hints: Ctrl-D, or Ctrl-Z then Enter on Windows
        self.conversations = conversations
        self.moved = moved  # the state for -c follows a rename (new id) or a forget (None)
        self.now = now
        self.show = core.make_show(out)
        self.pending: str | None = None  # the last message that failed or was interrupted
        self.failed_turns = 0
        self.listed: list[str] = []  # the session ids of the last /sessions, for /resume N
        self.read_line: Callable[[str], str] | None = None  # the terminal's, for y/N questions

    def note(self, text: str) -> None:
        self.err.write(core.terminal_safe(text) + "\n")
        self.err.flush()

    def turn(self, message: str) -> bool:
        """Send one message and show the reply; a failure is reported and kept for /retry."""
        shown = had_text = False

        def show(text: str) -> None:
            nonlocal shown, had_text
            if not shown:
                self.show("AI: ")
                shown = True
            had_text = had_text or bool(text)
            self.show(text)

        try:
            self.ask(message, self.session_id, show)
            if shown and not had_text:
                core.empty_reply_note(self.out, self.err)
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
        elif name in ("/sessions", "/resume", "/rename", "/forget", "/save"):
            self.conversation_command(name, argument)
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
            self.show(transcript_line(sender, text))

    def conversation_command(self, name: str, argument: str) -> None:
        """The commands about the flow's stored conversations; a failed request is one line."""
        if self.conversations is None:
            self.note(f"{name} is not available here")
            return
        commands = {
            "/sessions": self.list_sessions,
            "/resume": self.resume,
            "/rename": self.rename,
            "/forget": self.forget,
            "/save": self.save,
        }
        try:
            commands[name](argument)
        except core.ClientError as error:
            self.note(f"error: {error}")

    def list_sessions(self, _argument: str = "") -> None:
        sessions = session_summaries(self.conversations.flow_messages())
        self.listed = [summary["session_id"] for summary in sessions]
        if not sessions:
            self.note("no conversations stored for this flow yet")
            return
        self.show(sessions_table(sessions, numbered=True) + "\n")
        self.note("/resume N switches to conversation N")

    def resume(self, argument: str) -> None:
        """/resume N (from the last /sessions) or /resume ID: switch, and show where it left off."""
        if not argument:
            self.note("usage: /resume N or /resume ID (/sessions lists the conversations)")
            return
        session_id = argument
        if argument.isdigit():
            if not self.listed:  # no /sessions yet: number them as /sessions would
                self.listed = [
                    summary["session_id"] for summary in session_summaries(self.conversations.flow_messages())
                ]
            if not 1 <= int(argument) <= len(self.listed):
                self.note(f"no conversation number {argument} (/sessions lists {len(self.listed)})")
                return
            session_id = self.listed[int(argument) - 1]
        history = self.history(session_id)
        if not history:
            self.note(f"no conversation {session_id} stored for this flow (/session {session_id} starts one)")
            return
        self.session_id = session_id
        self.remember(session_id)
        self.note(f"resumed session: {session_id}")
        self.show_recap(history)

    def recap(self) -> None:
        """The last turns of the current conversation, as when it is resumed (at start: -c, --session-id)."""
        try:
            history = self.history(self.session_id)
        except core.ClientError as error:
            self.note(f"error: {error}")
            return
        if history:
            self.show_recap(history)
        else:
            self.note("nothing stored for this session yet")

    def show_recap(self, history: list[tuple[str, str]]) -> None:
        start = recap_start(history)
        if start:
            self.note(f"... {start} earlier messages (/history shows them all)")
        for sender, text in history[start:]:
            self.show(transcript_line(sender, text))
        self.show("\n")

    def rename(self, name: str) -> None:
        """Rename on the server, so the Playground and --session-id NAME find it; never onto another conversation."""
        old = self.session_id
        if not name:
            self.note("usage: /rename NAME")
            return
        if name == old:
            self.note(f"this conversation is already called {name}")
            return
        if self.history(name):
            self.note(f"a conversation called {name} already exists for this flow (choose another name)")
            return
        if not self.history(old):
            self.session_id = name
            self.note(f"nothing stored yet: this conversation will be stored as {name}")
            return
        self.conversations.rename(old, name)
        self.session_id = name
        self.moved(old, name)
        self.remember(name)
        self.note(f"renamed {old} to {name}")

    def forget(self, _argument: str = "") -> None:
        """Delete this conversation on the server (after y at the prompt), then start a fresh one."""
        old = self.session_id
        stored = self.conversations.messages(old)
        if stored and not self.confirm(f"Delete conversation {old} ({len(stored)} messages) on the server? [y/N] "):
            self.note("kept")
            return
        if stored:
            self.conversations.forget(old)
        self.moved(old, None)
        self.session_id = core.new_session_id()
        self.note(f"forgot {old}; new session: {self.session_id}")

    def save(self, argument: str) -> None:
        """Write the conversation as the server stored it; an existing file is replaced only after y."""
        if not argument:
            self.note("usage: /save PATH (Markdown; JSON if PATH ends in .json)")
            return
        path = Path(argument).expanduser()
        messages = self.conversations.messages(self.session_id)
        if not messages:
            self.note("nothing stored for this conversation yet: nothing saved")
            return
        if path.exists() and not self.confirm(f"{path} exists; replace it? [y/N] "):
            self.note("not saved")
            return
        try:
            write_atomically(path, conversation_export(argument, self.session_id, messages, self.now()))
        except OSError as exc:
            self.note(f"error: cannot write {path}: {exc.strerror or exc}")
            return
        self.note(f"saved {len(messages)} messages to {path}")

    def confirm(self, question: str) -> bool:
        """y/N at the terminal; anything else, Ctrl-C or Ctrl-D is no."""
        if self.read_line is None:
            return False
        try:
            return self.read_line(question).strip().lower() in ("y", "yes")
        except (EOFError, KeyboardInterrupt):
            self.show("\n")
            return False

    def interactive(
        self, read_line: ReadLine, keep: Callable[[str], None] = lambda entry: None, echo: bool = False
    ) -> int:
        """The terminal loop: Ctrl-C at the prompt hints, during a reply stops it; end of input leaves.

        keep gets each entry for the input history; echo writes each message to stdout as in a
        piped transcript (for stdout redirected to a file while the user types at the terminal).
        """
        self.read_line = read_line
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


def make_ask(client: core.Client, stream: bool, display: core.TurnDisplay) -> Ask:
    def ask(message: str, session_id: str, show: Show) -> None:
        with display.turn():
            if stream:
                core.stream_reply(client, message, session_id, show)
                return
            show(core.reply_text(core.run_flow(client, message, session_id)))

    return ask


def make_history(client: core.Client) -> History:
    """The session's stored messages, oldest first (GET /api/v1/monitor/messages)."""

    def empty_reply_mark() -> str:  # the version is asked only if a reply was stored empty
        return core.stored_empty_reply_mark(core.server_version(client))

    def history(session_id: str) -> list[tuple[str, str]]:
        messages = core.session_messages(client, session_id)
        return [(str(m.get("sender", "")), stored_text(m, empty_reply_mark)) for m in messages]

    return history


def make_conversations(client: core.Client) -> Conversations:
    return Conversations(
        flow_messages=lambda: core.flow_messages(client),
        messages=lambda session_id: core.session_messages(client, session_id),
        rename=lambda old, new: core.rename_session(client, old, new),
        forget=lambda session_id: core.delete_session(client, session_id),
    )


def stored_text(message: dict, empty_reply_mark: Callable[[], str]) -> str:
    """A stored message as /history shows it: errors marked, a reply stored empty said so."""
    text = str(message.get("text") or "").strip()
    if message.get("category") == "error":
        return error_mark(message) + text
    if not text and message.get("sender") != "User":
        return empty_reply_mark()
    return text


def error_mark(message: dict) -> str:
    """A stored error (a component that raised) shows as such, not as a reply."""
    return f"[error from {message.get('sender_name') or 'the flow'}] " if message.get("category") == "error" else ""


def list_sessions(client: core.Client, as_json: bool, out: TextIO) -> int:
    """--list-sessions: the flow's conversations, most recent first (JSON for scripts)."""
    sessions = session_summaries(core.flow_messages(client))
    if as_json:
        core.print_json(sessions, out)
    elif sessions:
        core.make_show(out)(sessions_table(sessions, numbered=False) + "\n")
    else:
        client.say("no conversations stored for this flow yet")
    return core.EXIT_OK


def forget_session(client: core.Client, session_id: str, move: Callable[[str, str | None], None]) -> int:
    """--forget ID: delete a conversation of this flow on the server, without asking (for scripts)."""
    stored = core.session_messages(client, session_id)
    if not stored:
        raise core.ClientError(
            f"no conversation {session_id!r} stored for flow {client.config.flow} (--list-sessions lists them)"
        )
    core.delete_session(client, session_id)
    move(session_id, None)
    client.say(f"forgot conversation {session_id} ({len(stored)} messages)")
    return core.EXIT_OK


def run(args: argparse.Namespace, config: core.Config, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    core.require_flow(config)
    folder = Path(state_dir())
    sessions_file = folder / "sessions.json"
    display = core.turn_display(stdin, err, args.steps)
    client = core.connected_client(config, display)
    move = session_mover(sessions_file, config.url, client.say)
    try:
        if args.list_sessions:
            return list_sessions(client, args.json, out)
        if args.forget:
            return forget_session(client, args.forget, move)
        session_id, how = first_session_id(args, config, sessions_file)
        chat = Chat(
            make_ask(client, not args.no_stream, display),
            make_history(client),
            session_id,
            display.watch(out),
            err,
            remember=session_saver(sessions_file, flow_key(config), client.say),
            conversations=make_conversations(client),
            moved=move,
        )
        if not stdin.isatty():  # read as UTF-8, stray bytes replaced (core.utf8_stdio)
            return chat.piped(stdin)
        at_terminal = out.isatty()  # else input() has no line editing, and prompts go to stderr
        keep = enable_line_editing(folder / "history", client.say) if at_terminal else lambda entry: None
        err.write(banner(config, session_id, how, chat.end_key))
        err.flush()
        if how != "new":
            chat.recap()
        return chat.interactive(line_reader(stdin, out, err), keep, echo=not at_terminal)
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    return core.guarded_main(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
