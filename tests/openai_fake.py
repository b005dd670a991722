"""A small OpenAI-compatible chat model for end-to-end tests of Langflow's starter projects.

A real HTTP server on the IPv6 loopback (`http://[::1]:PORT/v1`: inside a container Langflow
rewrites `127.0.0.1` and `localhost` to the host's gateway, never `::1`). It speaks the part
of the OpenAI API that langchain-openai uses: `POST /v1/chat/completions`, streamed (Server-Sent
Events, one word per chunk) or whole, and `GET /v1/models`. Standard library only.

Its answers are derived from what it received, so a test can tell what the flow sent:

- a request offering the `evaluate_expression` tool whose last message is the user's and holds
  an arithmetic expression (`2 + 3`): a call of that tool with that expression;
- the tool's result coming back: `The tool said: <the result as received>`;
- otherwise: `You said: <last user message> (earlier user messages: N)`, N counting the user
  messages before it (a conversation's memory);
- a last user message containing `FAIL_WORD`: HTTP 400 with `FAIL_MESSAGE`, which the client
  library does not retry.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "gpt-4o-mini"
TOOL = "evaluate_expression"
FAIL_WORD = "fail-the-model"
FAIL_MESSAGE = "fake model error requested"
EXPRESSION = re.compile(r"\d+(?:\s*[-+*/]\s*\d+)+")


# --- what to answer (pure) ----------------------------------------------------------------------


def message_text(message: dict) -> str:
    """A message's text: `content` is a string, or a list of parts of which some are text."""
    content = message.get("content") or ""
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def offered_tools(body: dict) -> list[str]:
    return [tool.get("function", {}).get("name", "") for tool in body.get("tools") or []]


def answer(body: dict) -> dict:
    """What the model answers a chat request: `{"content": str}` or `{"tool_call": {...}}`.

    Raises ModelError when the last user message asks for a failure.
    """
    messages = body.get("messages") or []
    users = [message_text(message) for message in messages if message.get("role") == "user"]
    last = messages[-1] if messages else {}
    if users and FAIL_WORD in users[-1]:
        raise ModelError(FAIL_MESSAGE)
    if last.get("role") == "tool":
        return {"content": f"The tool said: {message_text(last)}"}
    expression = EXPRESSION.search(users[-1]) if users and last.get("role") == "user" else None
    if expression and TOOL in offered_tools(body):
        return {"tool_call": {"name": TOOL, "arguments": json.dumps({"expression": expression.group()})}}
    said = users[-1] if users else ""
    return {"content": f"You said: {said} (earlier user messages: {max(len(users) - 1, 0)})"}


class ModelError(Exception):
    """The fake was asked to fail."""


def words(text: str) -> list[str]:
    """The text in streamed pieces: each word with the space before it."""
    return re.findall(r"\s*\S+", text) or [text]


def tool_call_json(call: dict, call_id: str) -> dict:
    return {"id": call_id, "type": "function", "function": call}


def completion(reply: dict, request_id: str) -> dict:
    """A whole (non-streamed) chat completion."""
    message = {"role": "assistant", "content": reply.get("content")}
    finish = "stop"
    if "tool_call" in reply:
        message["tool_calls"] = [tool_call_json(reply["tool_call"], f"call_{request_id}")]
        finish = "tool_calls"
    return {
        "id": f"chatcmpl-{request_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def chunks(reply: dict, request_id: str) -> list[dict]:
    """The streamed chunks of a completion: role, then one word (or the tool call) each, then the end."""

    def chunk(delta: dict, finish: str | None = None) -> dict:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {
            "id": f"chatcmpl-{request_id}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": MODEL,
            "choices": [choice],
        }

    pieces = [chunk({"role": "assistant", "content": ""})]
    if "tool_call" in reply:
        call = {"index": 0, **tool_call_json(reply["tool_call"], f"call_{request_id}")}
        pieces += [chunk({"tool_calls": [call]}), chunk({}, "tool_calls")]
    else:
        pieces += [chunk({"content": piece}) for piece in words(reply["content"])]
        pieces.append(chunk({}, "stop"))
    return pieces


# --- the server ---------------------------------------------------------------------------------


class OpenAIFake:
    """The fake model on `::1`; `requests` holds every chat request's JSON body, in order."""

    def __init__(self, word_delay: float = 0.02) -> None:
        self.word_delay = word_delay
        self.requests: list[dict] = []
        self.model_list_asked = 0
        self._count = 0
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _IPv6Server(("::1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The base URL for OPENAI_BASE_URL."""
        return f"http://[::1]:{self._server.server_address[1]}/v1"

    def record(self, body: dict) -> str:
        with self._lock:
            self.requests.append(body)
            self._count += 1
            return str(self._count)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True


class _Handler(BaseHTTPRequestHandler):
    fake: OpenAIFake

    def log_message(self, *args: object) -> None:
        """Quiet: the tests read `fake.requests`, not a log."""

    def do_GET(self) -> None:
        if self.path.rstrip("/") != "/v1/models":
            self._send_json(404, {"error": {"message": f"no such path {self.path}", "type": "not_found"}})
            return
        self.fake.model_list_asked += 1
        self._send_json(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "fake"}]})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_json(404, {"error": {"message": f"no such path {self.path}", "type": "not_found"}})
            return
        request_id = self.fake.record(body)
        try:
            reply = answer(body)
        except ModelError as error:
            self._send_json(400, {"error": {"message": str(error), "type": "invalid_request_error", "code": None}})
            return
        if body.get("stream"):
            self._stream(chunks(reply, request_id))
        else:
            self._send_json(200, completion(reply, request_id))

    def _send_json(self, status: int, data: dict) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, pieces: list[dict]) -> None:
        """Server-Sent Events, one chunk at a time, the connection closing at the end."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for index, piece in enumerate(pieces):
            if index > 1:
                time.sleep(self.fake.word_delay)
            self.wfile.write(f"data: {json.dumps(piece)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
