"""A small local HTTP server that speaks Langflow's run API wire format, scripted by tests.

It is a real server on 127.0.0.1 (real sockets, HTTP/1.1 keep-alive, chunked streams),
so the client's buffering, framing and headers are exercised as with Langflow itself.
By default it behaves like an echo flow; a test queues other replies per path prefix.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


def run_response(session_id: str, texts: list[str], message: str = "") -> dict:
    """The shape of a non-streaming /run response with one output per text."""
    outputs = []
    for index, text in enumerate(texts):
        outputs.append(
            {
                "results": {
                    "message": {"text": text, "data": {"text": text}, "sender": "Machine", "session_id": session_id}
                },
                "artifacts": {"message": text, "sender": "Machine", "type": "text"},
                "outputs": {"message": {"message": text, "type": "text"}},
                "messages": [{"message": text, "sender": "Machine", "sender_name": "AI", "session_id": session_id}],
                "component_id": f"ChatOutput-{index:05d}",
                "component_display_name": "Chat Output",
            }
        )
    return {"session_id": session_id, "outputs": [{"inputs": {"input_value": message}, "outputs": outputs}]}


def timestamp(number: int) -> str:
    """The number-th message's stored time: later messages sort later."""
    return f"2026-11-21 10:{number // 60 % 60:02d}:{number % 60:02d}.{number:06d}"


def message_event(text: str, sender: str, session_id: str, message_id: str, state: str = "complete") -> dict:
    return {
        "event": "add_message",
        "data": {
            "id": message_id,
            "text": text,
            "data": {"text": text},  # Langflow 1.13 repeats the text here
            "sender": sender,
            "sender_name": "User" if sender == "User" else "AI",
            "session_id": session_id,
            "properties": {"state": state},
        },
    }


def stream_events(session_id: str, message: str, reply: str, tokens: list[str] | None = None) -> list[dict]:
    """The events of a successful streamed run: user echo, AI message, tokens, end."""
    ai_id = str(uuid.uuid4())
    events = [message_event(message, "User", session_id, str(uuid.uuid4()))]
    if tokens is None:
        events.append(message_event(reply, "Machine", session_id, ai_id))
    else:  # as Langflow 1.13: the partial message already holds the first token; the whole one comes twice
        events.append(message_event(tokens[0] if tokens else "", "Machine", session_id, ai_id, state="partial"))
        events += [{"event": "token", "data": {"chunk": token, "id": ai_id}} for token in tokens]
        events += [message_event(reply, "Machine", session_id, ai_id)] * 2
    events.append({"event": "end", "data": {"result": run_response(session_id, [reply], message)}})
    return events


def error_envelope(message: str) -> str:
    """A failed run's `detail` as Langflow 1.13 sends it: JSON of the error in a string."""
    return json.dumps({"message": message, "traceback": None, "description": None, "code": None, "suggestion": None})


def error_event(component: str, message: str, shape: str) -> dict:
    """Langflow 1.13's stream `error` events for a failing component: first an error "message" (the
    component's ErrorMessage: sender_name, text, content blocks), seconds later {"error": "500: <envelope>"}."""
    if shape == "message":
        data = message_event(message + "\n", component, "", str(uuid.uuid4()))["data"]
        blocks = [
            {"type": "text", "text": message + "\n"},
            {"title": "Error", "contents": [{"type": "error", "component": component, "reason": f"**{message}**"}]},
        ]
        return {
            "event": "error",
            "data": {**data, "sender_name": component, "category": "error", "error": True, "content_blocks": blocks},
        }
    envelope = error_envelope(f"Error running graph: Error building Component {component}: {message}")
    return {"event": "error", "data": {"error": f"500: {envelope}"}}


def words(text: str) -> list[str]:
    """Split into tokens that keep their leading spaces, as an LLM streams them."""
    parts = text.split(" ")
    return [parts[0]] + [" " + part for part in parts[1:]]


SESSION_PATH = "/api/v1/monitor/messages/session/"


@dataclass
class Reply:
    """One scripted answer. `chunks` stream with chunked encoding: (delay before, bytes)."""

    status: int = 200
    body: Any = None
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)
    chunks: list[tuple[float, bytes]] | None = None
    delay: float = 0.0
    drop: bool = False  # close the connection without answering
    cut: bool = False  # stop a chunked stream mid-way without its final chunk


def json_reply(body: Any, status: int = 200, **kwargs: Any) -> Reply:
    return Reply(status=status, body=json.dumps(body).encode(), **kwargs)


def event_line(event: dict) -> bytes:
    """One event as Langflow frames it: a JSON object on its own line, then a blank line."""
    return (json.dumps(event) + "\n\n").encode()


def event_stream(events: list[dict | bytes], gap: float = 0.0, **kwargs: Any) -> Reply:
    """Each event as one JSON line and a blank line, in its own chunk, `gap` seconds apart."""
    chunks = [(gap, e if isinstance(e, bytes) else event_line(e)) for e in events]
    return Reply(content_type="text/event-stream; charset=utf-8", chunks=chunks, **kwargs)


def tokens_apart(tokens: list[str], gap: float) -> Reply:
    """A streamed reply whose tokens arrive `gap` seconds apart (the first at once), then the run's end."""
    events = [{"event": "token", "data": {"chunk": token, "id": "reply-1"}} for token in tokens]
    events.append({"event": "end", "data": {"result": run_response("session", ["".join(tokens)])}})
    reply = event_stream(events)  # framed as Langflow frames them, one chunk per event
    delays = [0.0] + [gap] * (len(tokens) - 1) + [0.0]
    reply.chunks = [(delay, chunk) for delay, (_, chunk) in zip(delays, reply.chunks, strict=True)]
    return reply


@dataclass
class Seen:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    at: float = 0.0  # time.monotonic() when the request had arrived

    def json(self) -> Any:
        return json.loads(self.body)


class FakeLangflow:
    def __init__(self, api_key: str = "", port: int = 0) -> None:
        self.api_key = api_key
        self.requests: list[Seen] = []
        self.connections = 0
        self.sent: list[tuple[float, bytes]] = []  # (time.monotonic(), chunk) for every streamed chunk
        self.closing = threading.Event()  # cuts scripted delays short when the test is over
        self.scripts: dict[str, deque] = defaultdict(deque)
        self.history: dict[str, list[dict]] = defaultdict(list)
        self.pages = True  # page monitor listings like Langflow 1.13 (False: like releases that do not)
        self.sessions_endpoint = True  # GET /api/v1/monitor/messages/sessions, as 1.6+ (False: like 1.1-1.4)
        self.version: str | None = "1.13.0"  # what GET /api/v1/version says, with no key (None: 404)
        self.header_endpoint_names = True  # False: like 1.1, whose short flow listing has no endpoint names
        self.stored = 0  # messages stored so far, for their timestamps: later messages sort later
        self.old_streams: dict[str, list[str]] = {}  # stream_url -> its chunks, as Langflow up to 1.1.1 serves them
        self.failing: tuple[str, str] | None = None  # (component, message): the next run fails as in 1.1.2-1.6
        self.flows = [
            {"id": "0b6a3b0e-1111-4c3a-9d55-000000000001", "name": "Echo", "endpoint_name": "echo", "description": ""},
            {
                "id": "0b6a3b0e-2222-4c3a-9d55-000000000002",
                "name": "Basic Prompting",
                "endpoint_name": None,
                "description": "",
            },
        ]
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)  # quick shutdown
        self.thread.start()

    def script(self, path_prefix: str, *replies: Reply) -> None:
        """Answer the next requests under this path with these replies, in order."""
        self.scripts[path_prefix].extend(replies)

    def runs(self) -> list[Seen]:
        return [seen for seen in self.requests if seen.path.startswith("/api/v1/run/")]

    def close(self) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()

    def next_scripted(self, path: str) -> Reply | None:
        for prefix, replies in self.scripts.items():
            if path.startswith(prefix) and replies:
                return replies.popleft()
        return None

    def default_reply(self, seen: Seen) -> Reply:
        if seen.path == "/api/v1/version" and self.version:  # no key needed
            return json_reply({"version": self.version, "main_version": self.version, "package": "Langflow"})
        if self.api_key and seen.headers.get("x-api-key") != self.api_key:
            return json_reply({"detail": "Invalid or missing API key"}, status=403)
        if seen.path.startswith("/api/v1/run/"):
            return self.echo(seen)
        if seen.path in self.old_streams:
            return self.old_stream(seen.path)
        if seen.path == "/api/v1/flows/":
            if seen.query.get("header_flows") == ["true"] and (
                not self.header_endpoint_names or self.version == "1.1.1"
            ):
                return json_reply([{**flow, "endpoint_name": None} for flow in self.flows])
            return json_reply(self.flows)
        if seen.path.startswith("/api/v1/files/upload/"):
            flow = seen.path.rsplit("/", 1)[1]
            name = seen.body.split(b'filename="', 1)[1].split(b'"', 1)[0].decode()
            return json_reply({"flowId": flow, "file_path": f"{flow}/2026-11-21_{name}"})
        if seen.path == "/api/v1/monitor/messages" and seen.method == "GET":
            if "session_id" in seen.query:
                return json_reply(self.page(self.history.get(seen.query["session_id"][0], []), seen.query))
            return json_reply(self.page(self.all_messages(), seen.query))
        if seen.path == "/api/v1/monitor/messages/sessions" and self.sessions_endpoint:
            newest_first = sorted(self.history, key=lambda s: self.history[s][-1]["timestamp"], reverse=True)
            return json_reply([session for session in newest_first if self.history[session]])
        if seen.path.startswith(SESSION_PATH) and seen.method in ("PATCH", "DELETE"):
            return self.change_session(seen, unquote(seen.path[len(SESSION_PATH) :]))
        if seen.path == "/api/v1/monitor/messages" and seen.method == "DELETE":  # by message ids
            for session_id, messages in self.history.items():
                self.history[session_id] = [m for m in messages if m.get("id") not in seen.json()]
            return Reply(status=204, body=b"")
        if seen.path.startswith("/api/v1/monitor/messages/") and seen.method == "PUT":  # one message
            return self.update_message(seen.path.rsplit("/", 1)[1], seen.json())
        return json_reply({"detail": "Not Found"}, status=404)

    def all_messages(self) -> list[dict]:
        """Every stored message of every session, oldest first (the fake serves one flow)."""
        return sorted((m for messages in self.history.values() for m in messages), key=lambda m: m["timestamp"])

    def update_message(self, message_id: str, changes: dict) -> Reply:
        for messages in list(self.history.values()):
            for message in messages:
                if message.get("id") == message_id:
                    messages.remove(message)
                    updated = {**message, **changes}
                    self.history[updated["session_id"]].append(updated)
                    self.history[updated["session_id"]].sort(key=lambda m: m["timestamp"])
                    return json_reply(updated)
        return json_reply({"detail": "Message not found"}, status=404)

    def change_session(self, seen: Seen, session_id: str) -> Reply:
        """Rename (PATCH ?new_session_id=) or delete (DELETE) a conversation, as Langflow does."""
        if "/" in session_id:  # Langflow's route takes one path segment: an encoded / does not match
            return json_reply({"detail": "Not Found"}, status=404)
        if seen.method == "DELETE":
            self.history.pop(session_id, None)
            return Reply(status=204, body=b"")
        messages = self.history.pop(session_id, [])
        if not messages:
            return json_reply({"detail": "No messages found with the given session ID"}, status=404)
        new = seen.query["new_session_id"][0]
        self.history[new] += [{**message, "session_id": new} for message in messages]
        return json_reply(self.history[new])

    def page(self, messages: list[dict], query: dict) -> list[dict]:
        """Like Langflow 1.13: a window of the newest messages (100 unless asked, 200 at most) shown
        oldest first; with `pages` off, like older releases: everything, limit and offset ignored."""
        if not self.pages:
            return messages
        limit = min(int(query.get("limit", ["0"])[0]) or 100, 200)
        offset = int(query.get("offset", ["0"])[0])
        newest_first = messages[::-1]
        return newest_first[offset : offset + limit][::-1]

    def store(self, session_id: str, sender: str, text: str, **extra: Any) -> dict:
        """Store a message of the session as Langflow does (the monitor endpoint lists them)."""
        message = {
            "id": str(uuid.uuid4()),
            "sender": sender,
            "sender_name": "User" if sender == "User" else "AI",
            "text": text,
            "session_id": session_id,
            "timestamp": timestamp(self.stored),
            "category": "message",
            **extra,
        }
        self.history[session_id].append(message)
        self.stored += 1
        return message

    def echo(self, seen: Seen) -> Reply:
        """Like an echo flow: the reply is the message; the session's turns are remembered."""
        body = seen.json()
        message, session_id = body.get("input_value") or "", body.get("session_id") or seen.path.rsplit("/", 1)[1]
        files = (body.get("tweaks") or {}).get("Chat Input", {}).get("files")
        if self.version == "1.1.1" and isinstance(files, list):  # what Langflow 1.1.1 answers
            detail = error_envelope("expected str, bytes or os.PathLike object, not list")
            return json_reply({"detail": detail}, status=500)
        user = self.store(session_id, "User", message)
        streaming = seen.query.get("stream") == ["true"]
        if self.failing:
            return self.fail_like_1_6(session_id, user, streaming)
        if streaming and self.version == "1.1.1":
            return self.answer_like_1_1_1(seen.path.rsplit("/", 1)[1], session_id, message)
        self.store(session_id, "Machine", message)
        if streaming:
            return event_stream(stream_events(session_id, message, message, words(message)))
        return json_reply(run_response(session_id, [message], message))

    def answer_like_1_1_1(self, flow: str, session_id: str, message: str) -> Reply:
        """Langflow 1.1.1 answers stream=true with the run's JSON: the streaming output's text is
        empty and its artifacts point at a stream_url; the reply is stored empty, never filled in."""
        self.store(session_id, "Machine", "")
        url = f"/api/v1/build/{flow}/ChatOutput-00000/stream"
        self.old_streams[url] = words(message)
        response = run_response(session_id, [""], message)
        output = response["outputs"][0]["outputs"][0]
        output["artifacts"].update(stream_url=url, type="stream")
        return json_reply(response)

    def old_stream(self, url: str) -> Reply:
        """The stream_url's Server-Sent Events, as Langflow 1.1.1 sends them."""
        lines = [f"event: message\ndata: {json.dumps({'message': 'Streaming vertex ChatOutput-00000'})}\n\n"]
        lines += [f"event: message\ndata: {json.dumps({'chunk': chunk})}\n\n" for chunk in self.old_streams.pop(url)]
        lines.append(f"event: close\ndata: {json.dumps({'message': 'Stream closed'})}\n\n")
        return Reply(content_type="text/event-stream", chunks=[(0.0, line.encode()) for line in lines])

    def fail_like_1_6(self, session_id: str, user: dict, streaming: bool) -> Reply:
        """A component fails as in Langflow 1.1.2-1.6: the error is stored; the stream carries the
        user's message and closes cleanly with no `error` and no `end` event; /run answers 500."""
        (component, text), self.failing = self.failing, None
        self.store(session_id, component, text, sender_name=component, category="error", error=True)
        if streaming:
            event = message_event(user["text"], "User", session_id, user["id"])
            return event_stream([event])
        detail = error_envelope(f"Error running graph: Error building Component {component}: {text}")
        return json_reply({"detail": detail}, status=500)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # as uvicorn does: each event leaves at once

            def setup(self) -> None:
                super().setup()
                fake.connections += 1

            def log_message(self, *args: Any) -> None:
                pass

            def handle_any(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                    time.monotonic(),
                )
                fake.requests.append(seen)
                reply = fake.next_scripted(parts.path) or fake.default_reply(seen)
                if fake.closing.wait(reply.delay):
                    self.close_connection = True
                    return
                if reply.drop:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.chunks is None:
                    self.send_header("Content-Length", str(len(reply.body or b"")))
                    self.end_headers()
                    self.wfile.write(reply.body or b"")
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.wfile.flush()
                for delay, chunk in reply.chunks:
                    if fake.closing.wait(delay):
                        self.close_connection = True
                        return
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                    fake.sent.append((time.monotonic(), chunk))
                if reply.cut:
                    self.close_connection = True
                    return
                self.wfile.write(b"0\r\n\r\n")

            do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = handle_any

        return Handler


def tool_content(name: str, tool_input: dict, output: Any = None, error: Any = None) -> dict:
    """A `tool_use` content as Langflow's ToolContent.model_dump() sends it (lfx/schema/content_types.py)."""
    title = "Error using" if error is not None else "Executed" if output is not None else "Accessing"
    return {
        "type": "tool_use",
        "id": None,
        "duration": 12,
        "header": {"title": f"{title} **{name}**", "icon": "Hammer"},
        "contents": [],
        "name": name,
        "tool_input": tool_input,
        "output": output,
        "error": error,
    }


def agent_message(session_id: str, message_id: str, blocks: list[dict], text: str = "", state: str = "partial") -> dict:
    event = message_event(text, "Machine", session_id, message_id, state=state)
    event["data"]["content_blocks"] = blocks
    return event


def agent_events(
    session_id: str, message: str, answer: str, tool: str, tool_input: dict, output: Any, error: Any = None
) -> list[dict]:
    """An Agent's stream as Langflow 1.13 sends it with an OpenAI model (lfx/base/agents/events.py): the
    partial message again and again, its flat content_blocks growing: the tool call with its input (twice:
    at the tool's start and end), the answer's tokens, and only then the tool's output (published with
    the answer's text), then the complete message and `end`."""
    ai_id = str(uuid.uuid4())
    called = tool_content(tool, tool_input)
    returned = tool_content(tool, tool_input, output=output, error=error)
    text = {"type": "text", "id": None, "duration": 3, "header": {}, "contents": [], "text": answer}
    events = [
        message_event(message, "User", session_id, str(uuid.uuid4())),
        agent_message(session_id, ai_id, []),
        agent_message(session_id, ai_id, [called]),
        agent_message(session_id, ai_id, [called]),
    ]
    events += [{"event": "token", "data": {"chunk": token, "id": ai_id}} for token in words(answer)]
    events.append(agent_message(session_id, ai_id, [returned, text], text=answer))
    events.append(agent_message(session_id, ai_id, [returned, text], text=answer, state="complete"))
    events.append({"event": "end", "data": {"result": run_response(session_id, [answer], message)}})
    return events


def old_agent_steps(message: str, contents: list[dict]) -> list[dict]:
    """content_blocks as Langflow 1.1 to 1.6 send them: one "Agent Steps" group, the input first."""
    user_input = {"type": "text", "text": message, "header": {"title": "Input", "icon": "MessageSquare"}}
    return [{"title": "Agent Steps", "contents": [user_input, *contents], "allow_markdown": True, "media_url": None}]


# --- the flow without HTTP, for the conversation loop in memory -------------------------------


@dataclass
class FakeFlow:
    """Langflow for the loop: echoes each message unless replies are scripted; records what was asked."""

    replies: deque = field(default_factory=deque)
    asked: list[tuple[str, str]] = field(default_factory=list)
    stored: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    history_failure: BaseException | None = None

    def will_reply(self, *pieces: str | BaseException) -> None:
        """The next reply: text pieces shown in order; an exception is raised where it stands."""
        self.replies.append(pieces)

    def ask(self, message: str, session_id: str, show: Callable[[str], None]) -> None:
        self.asked.append((message, session_id))
        for piece in self.replies.popleft() if self.replies else (message,):
            if isinstance(piece, BaseException):
                raise piece
            show(piece)

    def history(self, session_id: str) -> list[tuple[str, str]]:
        if self.history_failure is not None:
            raise self.history_failure
        return self.stored.get(session_id, [])
