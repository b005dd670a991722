#!/usr/bin/env python3
"""Hold a conversation with a Langflow flow in the terminal.

Every turn carries the same session_id, so a flow with memory remembers the conversation.
What a one-shot also needs (configuration, the run, the stream, errors, the terminal layer)
comes from chat_example.py; what only a conversation needs lives here, top-down:

  1. Arguments
  2. Local state       the last conversation per flow (for -c), the input history, atomic writes
  3. Line editing      readline, libedit, pyreadline3 or none
  4. Stored            the flow's conversations on the server: the calls, listing, recap, export
  5. The chat          the command table, the conversation's state, the loop
  6. main
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
import unicodedata
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from types import ModuleType
from typing import TYPE_CHECKING, NamedTuple, TextIO, TypeVar

import chat_example as core

if TYPE_CHECKING:
    import argparse

T = TypeVar("T")
Show = Callable[[str], None]
Ask = Callable[[str, str, Show], None]  # (message, session id, show) -> None; raises ClientError
ReadLine = Callable[[str], str]  # (prompt) -> the typed line; raises EOFError at the end of input

# === 1. Arguments ================================================================================

EPILOG = (
    "At a terminal: a conversation with line editing and history. Piped: each non-empty line of\n"
    "standard input is one message, and standard output is a plain User:/AI: transcript.\n\n" + core.EXIT_CODES_HELP
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = core.argument_parser(
        "chat_session.py", "Chat with a Langflow flow; every turn continues the same session.", EPILOG
    )
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
    parser.add_argument(
        "--json", action="store_true", help="with --list-sessions or --list-flows: print JSON, for scripts"
    )
    parser.add_argument(
        "--all", action="store_true", help=f"with --list-sessions: every conversation (default: the {RECENT} latest)"
    )
    parser.add_argument("--forget", metavar="ID", help="delete conversation ID on the server (no prompt), then exit")
    args = parser.parse_args(argv)
    if args.continue_last and args.session_id:
        parser.error("use either --session-id or --continue, not both")
    if sum(map(bool, (args.list_sessions, args.forget, args.list_flows))) > 1:
        parser.error("use one of --list-sessions, --list-flows and --forget")
    if args.json and not (args.list_sessions or args.list_flows):
        parser.error("--json goes with --list-sessions or --list-flows")
    if args.all and not args.list_sessions:
        parser.error("--all goes with --list-sessions")
    return args


# === 2. Local state: the last conversation per flow, the input history ===========================


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


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def write_atomically(path: Path, text: str) -> None:
    """A temp file next to it (created readable only by the user) renamed over it: a crash never
    leaves half a file. Characters a file cannot hold (a stray surrogate) are replaced."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", errors="replace", newline="\n") as out:
            out.write(text)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def last_sessions(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def remember_session(path: Path, flow_key: str, session_id: str) -> None:
    write_sessions(path, {**last_sessions(path), flow_key: session_id})


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
    write_atomically(private_dir(path.parent) / path.name, json.dumps(sessions, indent=2))


class LastSessions:
    """The last conversation per server and flow, for -c (a JSON file in the user's state folder).
    A folder that cannot be written is one warning, once, not a failure."""

    def __init__(self, path: Path, config: core.Config, warn: Callable[[str], None]) -> None:
        self.path, self.url, self.warn = path, config.url, warn
        self.key = f"{config.url} {config.flow}"
        self.warned = False

    def last(self) -> str | None:
        return last_sessions(self.path).get(self.key)

    def remember(self, session_id: str) -> None:
        try:
            remember_session(self.path, self.key, session_id)
        except OSError as exc:
            if not self.warned:
                self.warn(f"warning: cannot remember this session for -c: {exc.strerror or exc}")
            self.warned = True

    def moved(self, old: str, new: str | None) -> None:
        """-c follows a renamed conversation (new id) or lets go of a forgotten one (None)."""
        sessions = last_sessions(self.path)
        moved = moved_session(sessions, self.url, old, new)
        if moved == sessions:
            return
        try:
            write_sessions(self.path, moved)
        except OSError as exc:
            self.warn(f"warning: cannot update the state for -c: {exc.strerror or exc}")


def first_session_id(args: argparse.Namespace, last: LastSessions) -> tuple[str, str]:
    """The session to start in, and how it was chosen (for the banner)."""
    if args.session_id:
        return args.session_id, "given"
    if args.continue_last:
        session_id = last.last()
        if not session_id:
            raise core.usage_error("no earlier conversation with this flow to continue (start one without -c)")
        return session_id, "continued"
    return core.new_session_id(), "new"


# === 3. Line editing =============================================================================

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
    write_atomically(path, "".join(history_line(entry) + "\n" for entry in entries))


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


# === 4. Stored: the flow's conversations on the server ===========================================


def flow_messages(server: core.Server) -> list[dict]:
    """Every message the flow has stored, in all its conversations: one paged listing, not a
    request per conversation, so a busy flow lists fast."""
    params = {"flow_id": server.flow_uuid()}
    return [m for m in core.monitor_list(server, "/api/v1/monitor/messages", params) if isinstance(m, dict)]


RECENT = 20  # conversations /sessions and --list-sessions show unless asked for all
MESSAGE_WINDOW = 200  # the most messages Langflow answers at once (1.12.2+: the newest ones)
SUMMARY_CONNECTIONS = 4  # conversations read at once: Langflow spends 16-23 ms on each answer (1.13)


class Listing(NamedTuple):
    sessions: list[dict]  # summaries, most recently active first
    more: bool  # the flow has more conversations than these


def recent_sessions(server: core.Server, count: int) -> Listing | None:
    """The `count` most recently active conversations: their ids in one request, then one request
    per conversation for its newest messages. None if the server cannot list them in that order
    (before Langflow 1.12.5): then every message of the flow is read instead."""
    if not server.dialect().lists_recent_sessions:
        return None
    flow_id = server.flow_uuid()
    params = {"flow_id": flow_id, "limit": min(2 * count + 1, MESSAGE_WINDOW)}  # room for agentic_ ones
    answer = server.client.request("GET", "/api/v1/monitor/messages/sessions", params=params)
    ids = [str(i) for i in server.client.json_list(answer, "conversation list") if not str(i).startswith("agentic_")]
    return Listing(summaries_at_once(server, flow_id, ids[:count]), more=len(ids) > count)


class Abandoned(Exception):
    """A summary no one waits for any more: another one failed, or the user pressed Ctrl-C."""


def summaries_at_once(server: core.Server, flow_id: str, ids: list[str]) -> list[dict]:
    """Each conversation's summary, in the order of `ids`, read over SUMMARY_CONNECTIONS connections
    at once (one with -v, so the trace reads in order). The main thread waits in short steps, so
    Ctrl-C is noticed at once; the first failure is raised, and the other readers stop at their
    next step."""
    import queue
    import threading

    todo: queue.Queue = queue.Queue()
    for index, session_id in enumerate(ids):
        todo.put((index, session_id))
    done: queue.Queue = queue.Queue()
    over = threading.Event()

    def abandoned() -> None:
        if over.is_set():
            raise Abandoned

    def read() -> None:
        reader = core.Server(core.Client(server.config, server.voice, tick=abandoned))
        try:
            while not over.is_set():
                try:
                    index, session_id = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    done.put((index, session_summary(reader, flow_id, session_id), None))
                except BaseException as error:  # noqa: BLE001 - raised again in the main thread
                    done.put((index, {}, error))
        finally:
            reader.close()

    for _ in range(min(1 if server.config.verbose else SUMMARY_CONNECTIONS, len(ids))):
        threading.Thread(target=read, daemon=True).start()
    summaries = [{} for _ in ids]
    try:
        for _ in ids:
            index, summary, error = core.waited(done, server.client.tick)
            if error is not None:
                raise error
            summaries[index] = summary
    finally:
        over.set()
    return summaries


def session_summary(server: core.Server, flow_id: str, session_id: str) -> dict:
    """One conversation's summary from its newest messages (Langflow 1.12.2+ answers the newest
    window). A conversation longer than the window is read further for its first user message,
    and its message count is left out (None): only an exact count is shown."""
    params = {"flow_id": flow_id, "session_id": session_id, "limit": MESSAGE_WINDOW}
    window = sorted(session_window(server, params), key=lambda m: str(m.get("timestamp")))
    whole = len(window) < MESSAGE_WINDOW
    if whole:
        users = [m for m in window if m.get("sender") == "User"]
    else:
        users = core.dicts(core.monitor_list(server, "/api/v1/monitor/messages", {**params, "sender": "User"}))
        users.sort(key=lambda m: str(m.get("timestamp")))
    return {
        "session_id": session_id,
        "last_active": iso_time(window[-1].get("timestamp")) if window else "",
        "messages": len(window) if whole else None,
        "first_message": str(users[0].get("text") or "") if users else "",
    }


def session_window(server: core.Server, params: dict) -> list[dict]:
    """A conversation's newest messages in the flow of params. Asked first without the flow, which
    spares Langflow its check of the flow's permissions (a quarter of its work for such an answer,
    1.13); that answer serves when it is the whole conversation in the user's own flows and holds
    messages of this flow, which are kept. Else (a conversation longer than the window, or a flow
    shared with this user) the flow's messages are asked for."""
    flow_id = params["flow_id"]
    anywhere = message_list(server, {k: v for k, v in params.items() if k != "flow_id"})
    this_flow = [m for m in anywhere if core.same_uuid(str(m.get("flow_id")), flow_id)]
    if this_flow and len(anywhere) < MESSAGE_WINDOW:
        return this_flow
    return message_list(server, params)


def message_list(server: core.Server, params: dict) -> list[dict]:
    answer = server.client.request("GET", "/api/v1/monitor/messages", params=params)
    return core.dicts(server.client.json_list(answer, "message list"))


def session_path(session_id: str) -> str:
    return f"/api/v1/monitor/messages/session/{core.quoted(session_id)}"


def rename_session(server: core.Server, old: str, new: str) -> None:
    """Move a conversation's messages to a new session id (the Playground shows the new name)."""
    if "/" in old:  # Langflow's route takes one path segment, and decodes %2F first: message by message
        for message_id in session_message_ids(server, old):
            server.client.request("PUT", f"/api/v1/monitor/messages/{message_id}", json={"session_id": new}).close()
        return
    change_session(server, "PATCH", old, "renaming conversations", params={"new_session_id": new})


def delete_session(server: core.Server, session_id: str) -> None:
    """Delete a conversation's messages on the server."""
    if "/" in session_id:  # as in rename_session: by the messages' ids instead
        ids = session_message_ids(server, session_id)
        server.client.request("DELETE", "/api/v1/monitor/messages", json=ids).close()
        return
    change_session(server, "DELETE", session_id, "deleting conversations")


def session_message_ids(server: core.Server, session_id: str) -> list[str]:
    return [str(m["id"]) for m in core.session_messages(server, session_id) if m.get("id")]


def change_session(server: core.Server, method: str, session_id: str, what: str, **kwargs: object) -> None:
    """PATCH or DELETE a conversation. A server without the endpoint answers the router's own 404
    or 405 for this path (a missing session is a 404 with the endpoint's own detail)."""
    try:
        server.client.request(method, session_path(session_id), **kwargs).close()
    except core.ClientError as error:
        if core.route_missing(error) and server.dialect().stores_conversations:
            raise core.failure_error("missing-endpoint", server=server.name(), what=what) from error
        raise


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


def sessions_table(sessions: list[dict], numbered: bool, zone: tzinfo | None = None, width: int | None = None) -> str:
    """The listing for people: numbered in the chat (for /resume N), last active in local time.
    At a terminal `width` columns wide no line wraps: the first message is shortened to fit (a
    line still too wide is cut)."""
    rows = [("#", "LAST ACTIVE", "MESSAGES", "SESSION", "FIRST MESSAGE")]
    for number, summary in enumerate(sessions, 1):
        count = "-" if summary["messages"] is None else str(summary["messages"])
        row = (str(number), local_time(summary["last_active"], zone), count)
        rows.append((*row, summary["session_id"], core.one_line(summary["first_message"], FIRST_MESSAGE_WIDTH)))
    rows = rows if numbered else [row[1:] for row in rows]
    if width is None:
        return core.aligned(rows)
    room = width - 1 - sum(max(len(row[column]) for row in rows) + 2 for column in range(len(rows[0]) - 1))
    rows = [(*row[:-1], fitted(row[-1], room)) for row in rows]
    return "\n".join(fitted(line, width - 1) for line in core.aligned(rows).split("\n"))


def columns_of(text: str) -> int:
    """How many terminal columns a text takes: wide (East Asian) characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def fitted(text: str, columns: int) -> str:
    """The text cut to at most `columns` terminal columns, a cut marked with "…"."""
    if columns_of(text) <= columns:
        return text
    kept, used = [], 1
    for char in text:
        used += columns_of(char)
        if used > columns:
            break
        kept.append(char)
    return "".join(kept) + "…" if columns > 0 else ""


def stored_text(message: dict, empty_reply_mark: Callable[[], str]) -> str:
    """A stored message as /history shows it: errors marked, a pause for a human as what was asked
    and answered, a reply stored empty said so."""
    text = str(message.get("text") or "").strip()
    if message.get("category") == "error":
        return error_mark(message) + text
    pause = pause_text(message)
    if not text and pause:
        return pause
    if not text and message.get("sender") != "User":
        return empty_reply_mark()
    return text


def pause_text(message: dict) -> str:
    """A stored pause (Langflow keeps it as an empty AI message holding the question): what it
    asked, and what was answered; "" for any other message."""
    for block in message.get("content_blocks") or []:
        for content in block.get("contents") or [] if isinstance(block, dict) else []:
            if isinstance(content, dict) and content.get("type") == "human_input":
                action = content.get("submitted_action")
                labels = dict(core.request_choices(content))
                answer = labels.get(action, action) if action else "stopped" if content.get("superseded") else ""
                asked = core.one_line(core.request_question(content), 200)
                return f"[asked] {asked} [answered] {answer or '(waiting for a decision)'}"
    return ""


def error_mark(message: dict) -> str:
    """A stored error (a component that raised) shows as such, not as a reply."""
    return f"[error from {message.get('sender_name') or 'the flow'}] " if message.get("category") == "error" else ""


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


class Stored(NamedTuple):
    """The flow's conversations on the server, as the chat uses them (the network, injected)."""

    history: Callable[[str], list[tuple[str, str]]]  # session id -> [(sender, text)], oldest first
    messages: Callable[[str], list[dict]]  # one session's stored messages, oldest first
    flow_messages: Callable[[], list[dict]]  # every stored message of the flow, any session
    rename: Callable[[str, str], None]  # (old id, new id)
    forget: Callable[[str], None]  # delete a session's messages
    recent: Callable[[int], Listing | None] = lambda _count: None  # the N latest; None: not offered


EMPTY_REPLY = "(empty reply)"
INTERRUPTED = "(interrupted)"  # an empty reply this chat cut short with Ctrl-C
RETRY_SHOWN = 200  # characters of the message /retry sends again, shown on one line


def stored_on(server: core.Server) -> Stored:
    """Stored, over HTTP. A server that stores no messages (`lfx serve`) says so in one line."""

    def empty_reply_mark() -> str:  # the dialect is asked only if a reply was stored empty
        stored = server.dialect().stores_streamed_replies
        return EMPTY_REPLY if stored else "(not stored by this server)"

    def history(session_id: str) -> list[tuple[str, str]]:
        """A stored error can hold what the server echoed, the key included: redacted like stderr."""
        messages = offered(lambda: core.session_messages(server, session_id))
        return [(str(m.get("sender", "")), server.voice.redact(stored_text(m, empty_reply_mark))) for m in messages]

    def not_offered() -> core.ClientError:
        what = "stored conversations (history, sessions, rename, forget, save)"
        return core.failure_error("not-offered", server=server.name(), what=what)

    def offered(use: Callable[[], T]) -> T:
        """What `use` returns. The dialect is not asked first (a request): a server without
        Langflow's paths answers its router's 404, and is asked then."""
        if server.knows_dialect() and not server.dialect().stores_conversations:
            raise not_offered()
        try:
            return use()
        except core.ClientError as error:
            if core.route_missing(error) and not server.dialect().stores_conversations:
                raise not_offered() from None
            raise

    return Stored(
        history=history,
        messages=lambda session_id: offered(lambda: core.session_messages(server, session_id)),
        flow_messages=lambda: offered(lambda: flow_messages(server)),
        rename=lambda old, new: offered(lambda: rename_session(server, old, new)),
        forget=lambda session_id: offered(lambda: delete_session(server, session_id)),
        recent=lambda count: offered(lambda: recent_sessions(server, count)),
    )


# === 5. The chat =================================================================================


class Command(NamedTuple):
    names: tuple[str, ...]
    arguments: str
    help: str
    run: Callable[[Chat, str], bool | None] | None  # False: leave. None: read as a message (see read_message)


def help_text(end_key: str) -> str:
    """The /help table, from COMMANDS."""
    rows = [(", ".join(c.names) + (f" {c.arguments}" if c.arguments else ""), c.help) for c in COMMANDS]
    rows = [(command, what.format(end_key=end_key)) for command, what in rows]
    return "\n".join(
        [
            "commands:",
            core.aligned(rows, indent="  "),
            "Ctrl-C stops a reply that is arriving; /retry sends that message again.",
        ]
    )


class Conversation:
    """The conversation the chat is in, and the flow's others on the server: which session the
    turns go to, switching, listing, resuming, renaming, forgetting and saving."""

    def __init__(
        self,
        session_id: str,
        stored: Stored,
        last: LastSessions,
        show: Show,
        note: Callable[[str], None],
        now: Callable[[], datetime] = lambda: datetime.now().astimezone(),
        aside: Callable[[str], None] | None = None,
        label: Callable[[str], None] | None = None,
        columns: Callable[[], int | None] = lambda: None,
    ) -> None:
        self.session_id = session_id
        self.stored, self.last = stored, last
        self.show, self.note, self.now = show, note, now
        self.aside = aside or note  # frames and hints: dimmed at a colour terminal
        self.label = label or (lambda name: show(f"{name}:"))  # writes `User:` or `AI:`
        self.columns = columns  # the terminal's width for tables (None: not a terminal)
        self.listed: list[str] = []  # the session ids of the last /sessions, for /resume N
        self.cut: set[tuple[str, str]] = set()  # (session id, message) of replies this chat interrupted

    def interrupted(self, message: str) -> None:
        """The reply to this message was cut short here: /history shows it as interrupted."""
        self.cut.add((self.session_id, message.strip()))

    def stored_turns(self, session_id: str) -> list[tuple[str, str]]:
        """The stored history, an empty reply this chat interrupted marked as such."""
        history = self.stored.history(session_id)
        turns = []
        for index, (sender, text) in enumerate(history):
            cut = text == EMPTY_REPLY and index > 0 and (session_id, history[index - 1][1]) in self.cut
            turns.append((sender, INTERRUPTED if cut else text))
        return turns

    def transcript(self, history: list[tuple[str, str]]) -> None:
        for sender, text in history:
            self.label("User" if sender == "User" else "AI")
            self.show(f" {text}\n")

    def new(self, _argument: str = "") -> None:
        self.session_id = core.new_session_id()
        self.note(f"new session: {self.session_id}")

    def switch(self, argument: str, confirm: Callable[[str], bool]) -> None:
        """/session shows the id; /session ID switches to it, after y if the server knows no such conversation."""
        if not argument:
            self.show(self.session_id + "\n")
            return
        question = f"No conversation {argument} is stored for this flow; start one under that id? [y/N] "
        if argument != self.session_id and not self.stored.history(argument) and not confirm(question):
            self.note(f"still in session: {self.session_id}")
            return
        self.session_id = argument
        self.last.remember(argument)
        self.note(f"switched to session: {argument}")

    def history(self, _argument: str = "") -> None:
        messages = self.stored_turns(self.session_id)
        if not messages:
            self.note("no messages stored for this session yet")
            return
        self.aside(f"── history of session {self.session_id}: {len(messages)} messages ──")
        self.transcript(messages)
        self.aside("── end of history ──")

    def sessions(self, every: bool = False) -> Listing:
        """The flow's RECENT latest conversations (or every one), most recent first, numbered
        for /resume N. Where the server cannot list the latest alone, every message is read."""
        listing = None if every else self.stored.recent(RECENT)
        if listing is None:
            summaries = session_summaries(self.stored.flow_messages())
            cut = len(summaries) if every else RECENT
            listing = Listing(summaries[:cut], more=len(summaries) > cut)
        self.listed = [summary["session_id"] for summary in listing.sessions]
        return listing

    def list_sessions(self, argument: str = "", numbered: bool = True, every: bool = False) -> None:
        """/sessions [all] (numbered, for /resume N) and --list-sessions [--all]."""
        if argument not in ("", "all"):
            self.note("usage: /sessions or /sessions all")
            return
        listing = self.sessions(every or argument == "all")
        if not listing.sessions:
            self.note("no conversations stored for this flow yet")
            return
        self.show(sessions_table(listing.sessions, numbered=numbered, width=self.columns()) + "\n")
        if listing.more:
            self.note(f"the {RECENT} latest; " + ("/sessions all" if numbered else "--all") + " lists every one")
        if numbered:
            self.note("/resume N switches to conversation N")

    def resume(self, argument: str) -> None:
        """/resume N (from the last /sessions) or /resume ID: switch, and show where it left off."""
        if not argument:
            self.note("usage: /resume N or /resume ID (/sessions lists the conversations)")
            return
        session_id = argument
        if argument.isdigit():
            if not self.listed:  # no /sessions yet: number them as /sessions would
                self.sessions()
            if not 1 <= int(argument) <= len(self.listed):
                self.note(f"no conversation number {argument} (/sessions lists {len(self.listed)})")
                return
            session_id = self.listed[int(argument) - 1]
        history = self.stored_turns(session_id)
        if not history:
            self.note(f"no conversation {session_id} stored for this flow (/session {session_id} starts one)")
            return
        self.session_id = session_id
        self.last.remember(session_id)
        self.note(f"resumed session: {session_id}")
        self.show_recap(history)

    def recap(self) -> None:
        """The last turns of the current conversation, as when it is resumed (at start: -c, --session-id)."""
        try:
            history = self.stored_turns(self.session_id)
        except core.ClientError as error:
            self.note(f"error: {error}")
            return
        if history:
            self.show_recap(history)
        else:
            self.note("nothing stored for this session yet")

    def show_recap(self, history: list[tuple[str, str]]) -> None:
        """The last turns, framed so they cannot be taken for new ones."""
        start = recap_start(history)
        earlier = f", {start} earlier messages (/history shows them all)" if start else ""
        self.aside(f"── recap of session {self.session_id}{earlier} ──")
        self.transcript(history[start:])
        self.aside("── end of recap ──")

    def rename(self, name: str) -> None:
        """Rename on the server, so the Playground and --session-id NAME find it; never onto another conversation."""
        old = self.session_id
        if not name:
            self.note("usage: /rename NAME")
            return
        if name == old:
            self.note(f"this conversation is already called {name}")
            return
        if self.stored.history(name):
            self.note(f"a conversation called {name} already exists for this flow (choose another name)")
            return
        if not self.stored.history(old):
            self.session_id = name
            self.note(f"nothing stored yet: this conversation will be stored as {name}")
            return
        self.stored.rename(old, name)
        self.session_id = name
        self.last.moved(old, name)
        self.last.remember(name)
        self.note(f"renamed {old} to {name}")

    def delete(self, session_id: str, confirm: Callable[[str], bool]) -> int | None:
        """Delete a conversation on the server once confirm() says yes; -c lets go of it. How many
        messages it had (0: nothing was stored), or None if it was kept."""
        stored = self.stored.messages(session_id)
        if stored and not confirm(f"Delete conversation {session_id} ({len(stored)} messages) on the server? [y/N] "):
            return None
        if stored:
            self.stored.forget(session_id)
        self.last.moved(session_id, None)
        return len(stored)

    def forget(self, confirm: Callable[[str], bool]) -> None:
        """/forget: delete this conversation (after y at the prompt), then start a fresh one."""
        old = self.session_id
        if self.delete(old, confirm) is None:
            self.note("kept")
            return
        self.session_id = core.new_session_id()
        self.note(f"forgot {old}; new session: {self.session_id}")

    def forget_other(self, session_id: str, flow: str) -> None:
        """--forget ID: delete a conversation of this flow without asking (for scripts)."""
        count = self.delete(session_id, confirm=lambda _question: True)
        if not count:
            raise core.failure_error("unknown-conversation", session_id=session_id, flow=flow)
        self.note(f"forgot conversation {session_id} ({count} messages)")

    def save(self, argument: str, confirm: Callable[[str], bool]) -> None:
        """Write the conversation as the server stored it; an existing file is replaced only after y."""
        if not argument:
            self.note("usage: /save PATH (Markdown; JSON if PATH ends in .json)")
            return
        path = Path(argument).expanduser()
        if path.is_dir():
            self.note(f"error: {path} is a folder: give a file name (/save {path / 'chat.md'})")
            return
        messages = self.stored.messages(self.session_id)
        if not messages:
            self.note("nothing stored for this conversation yet: nothing saved")
            return
        if path.exists() and not confirm(f"{path} exists; replace it? [y/N] "):
            self.note("not saved")
            return
        try:
            write_atomically(path, conversation_export(argument, self.session_id, messages, self.now()))
        except OSError as exc:
            self.note(f"error: cannot write {path}: {exc.strerror or exc}")
            return
        self.note(f"saved {len(messages)} messages to {path}")


class Chat:
    """The loop: prompts, commands (COMMANDS), turns and /retry. The network is injected: `ask`
    sends a message, the Conversation's Stored holds what the server keeps."""

    def __init__(
        self,
        ask: Ask,
        conversation: Conversation,
        out: TextIO,
        voice: core.Voice,
        end_key: str = core.end_of_input_key(),
        label: Callable[[str], str] = lambda name: f"{name}:",
        waiting_runs: Callable[[], list[dict]] = list,
        resume: Callable[[str, Show], None] | None = None,
    ) -> None:
        self.ask = ask
        self.conversation = conversation
        self.out = out
        self.voice = voice
        self.end_key = end_key  # named in hints: Ctrl-D, or Ctrl-Z then Enter on Windows
        self.label = label  # `User:` and `AI:` as the terminal shows them (coloured or not)
        self.show = core.make_show(out)
        self.pending: str | None = None  # the last message that failed or was interrupted
        self.failed_turns = 0
        self.read_line: ReadLine | None = None  # the terminal's, for y/N questions
        self.waiting_runs = waiting_runs  # the flow's runs waiting for a decision
        self.resume = resume  # (job id, show): answer one, show its reply

    @property
    def session_id(self) -> str:
        return self.conversation.session_id

    def note(self, text: str) -> None:
        self.voice.say(text)

    def turn(self, message: str) -> bool:
        """Send one message and show the reply; a failure is reported and kept for /retry."""
        shown = had_text = False

        def show(text: str) -> None:
            nonlocal shown, had_text
            if not shown:
                self.out.write(self.label("AI") + " ")
                self.out.flush()
                shown = True
            had_text = had_text or bool(text)
            self.show(text)

        try:
            self.ask(message, self.session_id, show)
            if shown and not had_text:
                self.empty_reply_note()
        except core.ClientError as error:
            self.end_reply(shown)
            self.note(f"error: {error}")
            return self.keep_for_retry(message)
        except KeyboardInterrupt:
            self.end_reply(shown)
            self.keep_for_retry(message)
            self.conversation.interrupted(message)
            raise
        self.end_reply(shown)
        self.pending = None
        self.conversation.last.remember(self.session_id)
        return True

    def empty_reply_note(self) -> None:
        if self.voice.err.isatty():
            self.voice.say("(empty reply)", end="" if self.out.isatty() else "\n")

    def end_reply(self, shown: bool) -> None:
        self.show("\n\n" if shown else "\n")

    def keep_for_retry(self, message: str) -> bool:
        self.pending = message
        self.failed_turns += 1
        return False

    def retry(self, _argument: str = "") -> None:
        if self.pending is None:
            self.note("nothing to retry: no message has failed")
        else:
            self.conversation.aside(f"sending again: {core.one_line(self.pending, RETRY_SHOWN)}")
            self.turn(self.pending)

    def pending_runs(self, argument: str) -> None:
        """/pending lists this flow's runs waiting for a decision (started here, in the Playground or
        by another client); /pending N answers run N and shows its reply."""
        runs = self.waiting_runs()
        if not argument:
            if not runs:
                self.note("no run of this flow is waiting for a decision")
                return
            rows = [
                (f"{number}.", str(run.get("session_id", "")), core.one_line(core.request_question(run), 80))
                for number, run in enumerate(runs, 1)
            ]
            self.show(core.aligned(rows, indent="  ") + "\n")
            self.note("/pending N answers run N")
            return
        if not argument.isdigit() or not 1 <= int(argument) <= len(runs) or self.resume is None:
            self.note(f"no waiting run {argument} (/pending lists them)")
            return
        shown = False

        def show(text: str) -> None:
            nonlocal shown
            if not shown:
                self.out.write(self.label("AI") + " ")
                self.out.flush()
                shown = True
            self.show(text)

        try:
            self.resume(str(runs[int(argument) - 1]["job_id"]), show)
        finally:
            self.end_reply(shown)

    def command(self, line: str) -> bool:
        """Run a /command from COMMANDS; False means leave. A failed request is one line."""
        name, _, argument = line.strip().partition(" ")
        command = next((c for c in COMMANDS if name in c.names and c.run is not None), None)
        if command is None:
            self.note(f"unknown command {name} (/help lists them; //text sends a message starting with /)")
            return True
        try:
            return command.run(self, argument.strip()) is not False
        except core.ClientError as error:
            self.note(f"error: {error}")
            return True

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
        line = read_line(self.label("User") + " ")
        stripped = line.strip()
        if "\n" in line:
            message = line.rstrip("\n")  # a pasted text's last line break is not part of it
            return message, message
        if stripped.startswith("//"):
            return line, stripped[1:]
        if stripped == "/multi":
            self.conversation.aside(f"(several lines: /multi on a line of its own sends them, {self.end_key} too)")
            message = "\n".join(read_until(lambda text: text.strip() == "/multi", read_line))
            return message, message
        if stripped.startswith('"""'):
            first = stripped[3:]
            if first.endswith('"""'):
                return line, first[:-3]
            self.conversation.aside(f'(several lines: """ at the end of a line sends them, {self.end_key} too)')
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


COMMANDS = (
    Command(("/help",), "", "this help", lambda chat, _: chat.note(help_text(chat.end_key))),
    Command(("/new",), "", "start a new conversation (a fresh session id)", lambda chat, a: chat.conversation.new(a)),
    Command(
        ("/session",),
        "[ID]",
        "show the session id, or switch to conversation ID",
        lambda chat, a: chat.conversation.switch(a, chat.confirm),
    ),
    Command(("/retry",), "", "send again the last message that failed or was interrupted", Chat.retry),
    Command(
        ("/history",), "", "this conversation as the server stored it", lambda chat, a: chat.conversation.history(a)
    ),
    Command(
        ("/sessions",),
        "[all]",
        f"this flow's {RECENT} latest conversations on the server (all: every one)",
        lambda chat, a: chat.conversation.list_sessions(a),
    ),
    Command(
        ("/resume",),
        "N|ID",
        "switch to conversation N of /sessions (or ID) and show its last turns",
        lambda chat, a: chat.conversation.resume(a),
    ),
    Command(
        ("/rename",),
        "NAME",
        "rename this conversation on the server (also in the Playground)",
        lambda chat, a: chat.conversation.rename(a),
    ),
    Command(
        ("/forget",),
        "",
        "delete this conversation on the server (asks first), start a new one",
        lambda chat, _: chat.conversation.forget(chat.confirm),
    ),
    Command(
        ("/save",),
        "PATH",
        "write this conversation to PATH: Markdown, or JSON if PATH ends in .json",
        lambda chat, a: chat.conversation.save(a, chat.confirm),
    ),
    Command(
        ("/pending",),
        "[N]",
        "list this flow's runs waiting for a human decision; /pending N answers run N",
        lambda chat, a: chat.pending_runs(a),
    ),
    Command(("/multi", '"""'), "", "type several lines as one message; end it the same way", None),
    Command(("/exit", "/quit"), "", "leave (so does {end_key})", lambda _chat, _a: False),
    Command(("//text",), "", 'send "/text" (a message that starts with a slash)', None),
)


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
        readline = load_readline()
        return ending_line_on_eof(lambda prompt: input(readline_prompt(prompt, readline)), out)

    def read_plain(prompt: str) -> str:
        err.write(prompt)
        err.flush()
        line = stdin.readline()
        if not line:
            raise EOFError
        return line.removesuffix("\n").removesuffix("\r")

    return ending_line_on_eof(read_plain, err)


ESCAPE_CODE = re.compile(r"\x1b\[[0-9;]*m")


def readline_prompt(prompt: str, readline: ModuleType | None) -> str:
    """A prompt's colour codes as the line editor must see them to count its width: GNU readline
    needs each wrapped in \\001 and \\002; libedit gets the prompt plain; no editor, as it is."""
    if readline is None:
        return prompt
    if "libedit" in (readline.__doc__ or "") or getattr(readline, "backend", "readline") != "readline":
        return ESCAPE_CODE.sub("", prompt)
    return ESCAPE_CODE.sub(lambda code: f"\001{code.group()}\002", prompt)


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


# === 6. main =====================================================================================


def label_writer(out: TextIO, label: Callable[[str], str]) -> Callable[[str], None]:
    """What writes `User:` or `AI:` as the terminal shows it (its escape codes are ours, so not escaped)."""

    def write(name: str) -> None:
        out.write(label(name))
        out.flush()

    return write


def ask_person(terminal: core.Terminal) -> core.Decide:
    """A pause in the chat is asked at the terminal; piped, it ends the turn with the resume command."""

    def decide(job_id: str, request: dict) -> dict:
        decision = terminal.choose(request) if terminal.can_ask() else None
        if decision is None:
            raise core.human_needed(job_id, request)
        return decision

    return decide


def make_resume(server: core.Server, terminal: core.Terminal, stream: bool) -> Callable[[str, Show], None]:
    """Answer a waiting background run (/pending N) and show its reply, as a turn does."""

    def resume(job_id: str, show: Show) -> None:
        with terminal.turn():
            handlers = {"on_text": show if stream else None, "on_step": terminal.on_step()}
            reply = core.follow_job(server, job_id, decide=ask_person(terminal), **handlers)
            show(core.unshown_text(reply))

    return resume


def make_ask(server: core.Server, terminal: core.Terminal, stream: bool) -> Ask:
    """A turn over HTTP: streamed as it comes (or whole, with --no-stream), steps on the terminal."""
    decide = ask_person(terminal)

    def ask(message: str, session_id: str, show: Show) -> None:
        with terminal.turn():
            reply = core.ask(
                server,
                message,
                session_id,
                on_text=show if stream else None,
                on_step=terminal.on_step(),
                decide=decide,
            )
            show(core.unshown_text(reply))

    return ask


def run(args: argparse.Namespace, config: core.Config, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    terminal = core.Terminal(stdin, out, err, config.secrets, args.steps)
    if args.list_flows:
        server = core.connect(config, terminal)
        try:
            return core.show_flows(server, args.json, terminal.out)
        finally:
            server.close()
    core.require_flow(config)
    folder = Path(state_dir())
    server = core.connect(config, terminal)
    voice = terminal.voice
    last = LastSessions(folder / "sessions.json", config, voice.say)
    try:
        session_id, how = ("", "") if args.list_sessions or args.forget else first_session_id(args, last)
        show = core.make_show(terminal.out)
        conversation = Conversation(
            session_id,
            stored_on(server),
            last,
            show,
            voice.say,
            aside=voice.aside,
            label=label_writer(terminal.out, terminal.label),
            columns=terminal.columns,
        )
        if args.list_sessions and args.json:
            core.print_json(conversation.sessions(args.all).sessions, out)
            return core.EXIT_OK
        if args.list_sessions:
            conversation.list_sessions(numbered=False, every=args.all)
            return core.EXIT_OK
        if args.forget:
            conversation.forget_other(args.forget, config.flow)
            return core.EXIT_OK
        core.variable_headers(server)  # --var on a server that would ignore them: exit 2 before any turn
        server.check()  # before anything is typed: the URL, the key and the flow
        core.check_component_names(server)
        chat = Chat(
            make_ask(server, terminal, not args.no_stream),
            conversation,
            terminal.out,
            voice,
            label=terminal.label,
            waiting_runs=lambda: core.pending_requests(server),
            resume=make_resume(server, terminal, not args.no_stream),
        )
        if not stdin.isatty():  # read as UTF-8, stray bytes replaced (core.utf8_stdio)
            return chat.piped(stdin)
        at_terminal = out.isatty()  # else input() has no line editing, and prompts go to stderr
        keep = enable_line_editing(folder / "history", voice.say) if at_terminal else lambda entry: None
        voice.say(banner(config, session_id, how, chat.end_key), end="")
        if how != "new":
            conversation.recap()
        return chat.interactive(line_reader(stdin, out, err), keep, echo=not at_terminal)
    finally:
        server.close()


def main(argv: list[str] | None = None) -> int:
    return core.guarded_main(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
