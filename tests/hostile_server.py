"""The fake Langflow server (tests/fake_langflow.py) misbehaving in one way, its `mode`, for
tests/test_hostile_server.py. Every path the mode does not touch still answers as the echo flow,
and every request is recorded (fake.requests), so a test can also see what a server was sent.

Modes (each the method mode_<name>, which answers None for what it leaves alone):
    echo            no misbehaviour (as FakeLangflow)
    redirect        every request: 307 to `location` (its path appended, unless it is a file: URL)
    redirect-loop   every run: 307 to itself
    moved           every request outside /moved: 307 to /moved + the same path; /moved/... answers normally
    deep-json       the run's answer (or one stream event) is JSON nested 100,000 deep
    huge-number     the run's answer (and its stream's `end` event) holds 1e999, too large for a float
    endless-line    the run's answer is 'x' forever, with no line end
    endless-pages   every page of /api/v1/monitor/messages (and its /sessions) is full, with new items
    busy            every request: 503 without Retry-After
    slow            the run streams a token every 0.2 s for a minute
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import sys
import uuid
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

from fake_langflow import FakeLangflow, Reply, Seen, event_stream, json_reply, run_response, stream_events, tokens_apart

RUN = "/api/v1/run/"
MONITOR = "/api/v1/monitor/messages"
DEEP = 100_000


class HostileServer(FakeLangflow):
    def __init__(self, mode: str = "echo", api_key: str = "", location: str = "") -> None:
        super().__init__(api_key=api_key)
        self.mode = mode
        self.location = location
        self.items = itertools.count()  # endless-pages: every item listed is a new one
        self.server.handle_error = self.unless_hung_up

    def unless_hung_up(self, request: Any, address: Any) -> None:
        """A client that hangs up mid-answer (an endless one) is no error of the server's."""
        if not isinstance(sys.exc_info()[1], OSError):
            ThreadingHTTPServer.handle_error(self.server, request, address)

    def default_reply(self, seen: Seen) -> Reply:
        misbehave = getattr(self, "mode_" + self.mode.replace("-", "_"), None)
        return (misbehave and misbehave(seen)) or super().default_reply(seen)

    def streaming(self, seen: Seen) -> bool:
        return seen.query.get("stream") == ["true"]

    def mode_redirect(self, seen: Seen) -> Reply:
        target = self.location if self.location.startswith("file:") else self.location + seen.path
        return Reply(status=307, body=b"", headers={"Location": target})

    def mode_redirect_loop(self, seen: Seen) -> Reply | None:
        if not seen.path.startswith(RUN):
            return None
        query = "&".join(f"{name}={value}" for name, values in seen.query.items() for value in values)
        return Reply(status=307, body=b"", headers={"Location": f"{self.url}{seen.path}?{query}"})

    def mode_moved(self, seen: Seen) -> Reply:
        if seen.path.startswith("/moved/"):
            return super().default_reply(dataclasses.replace(seen, path=seen.path[len("/moved") :]))
        query = "&".join(f"{name}={value}" for name, values in seen.query.items() for value in values)
        return Reply(status=307, body=b"", headers={"Location": f"/moved{seen.path}?{query}"})

    def mode_deep_json(self, seen: Seen) -> Reply | None:
        if not seen.path.startswith(RUN):
            return None
        nested = b"[" * DEEP + b"]" * DEEP
        if self.streaming(seen):
            return event_stream([b'{"event": "token", "data": {"chunk": ' + nested + b"}}\n\n"])
        return Reply(body=b'{"session_id": "s", "outputs": ' + nested + b"}")

    def mode_huge_number(self, seen: Seen) -> Reply | None:
        if not seen.path.startswith(RUN):
            return None
        result = {**run_response("s", ["hi"], "hi"), "took": "HUGE"}
        if self.streaming(seen):
            events = [*stream_events("s", "hi", "hi")[:-1], {"event": "end", "data": {"result": result}}]
            return event_stream([json.dumps(event).replace('"HUGE"', "1e999").encode() + b"\n\n" for event in events])
        return Reply(body=json.dumps(result).replace('"HUGE"', "1e999").encode())  # valid JSON; a float it is not

    def mode_endless_line(self, seen: Seen) -> Reply | None:
        if not seen.path.startswith(RUN):
            return None
        content_type = "text/event-stream" if self.streaming(seen) else "application/json"
        return Reply(content_type=content_type, chunks=self.forever(b"x" * 65536))

    def forever(self, chunk: bytes) -> Iterator[tuple[float, bytes]]:
        while not self.closing.is_set():
            yield 0.0, chunk

    def mode_endless_pages(self, seen: Seen) -> Reply | None:
        if not seen.path.startswith(MONITOR) or seen.method != "GET":
            return None
        count = min(int(seen.query.get("limit", ["100"])[0]), 200)
        if seen.path == f"{MONITOR}/sessions":
            return json_reply([f"session-{next(self.items)}" for _ in range(count)])
        session = seen.query.get("session_id", [None])[0]
        return json_reply([self.listed_message(session) for _ in range(count)])

    def listed_message(self, session: str | None) -> dict[str, Any]:
        number = next(self.items)
        return {
            "id": str(uuid.uuid4()),
            "flow_id": self.flows[0]["id"],
            "session_id": session or f"session-{number}",
            "sender": "User",
            "sender_name": "User",
            "text": f"message {number}",
            "timestamp": f"2026-11-21 10:00:00.{number % 1_000_000:06d}",
            "category": "message",
        }

    def mode_busy(self, _seen: Seen) -> Reply:
        return json_reply({"detail": "Service Unavailable"}, status=503)

    def mode_slow(self, seen: Seen) -> Reply | None:
        if not (seen.path.startswith(RUN) and self.streaming(seen)):
            return None
        self.store(seen.json().get("session_id") or "s", "User", seen.json().get("input_value") or "")
        return tokens_apart(["tick "] * 300, 0.2)
