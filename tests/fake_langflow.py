"""A small local HTTP server that speaks Langflow's run API wire format, scripted by tests.

It is a real server on 127.0.0.1 (real sockets, HTTP/1.1 keep-alive, chunked streams),
so the client's buffering, framing and headers are exercised as with Langflow itself.
By default it behaves like an echo flow; a test queues other replies per path prefix.
It also speaks Langflow 1.10+'s v2 workflows API for background runs (see "v2 workflows" below):
durable events with ids, re-attach with Last-Event-ID, pauses for a human and their resume,
stop, status and the pending list; `v2 = False` makes it a server without that API.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
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
    """One scripted answer. `chunks` stream with chunked encoding: (delay before, bytes); any
    iterable, so a generator can keep a stream open for as long as it yields."""

    status: int = 200
    body: Any = None
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)
    chunks: Iterable[tuple[float, bytes]] | None = None
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


# --- v2 workflows (Langflow 1.10+): background runs, their events, pauses for a human (1.11+) ------

WORKFLOWS = "/api/v2/workflows"
HITL_REFUSAL = (
    "This flow uses Human-in-the-Loop (a Human Input node or a tool that requires approval), which the "
    "v1 run API cannot execute because it cannot pause and resume. Run it with the v2 workflows API instead: "
    "POST /api/v2/workflows with mode='background', then resume via POST /api/v2/workflows/{job_id}/resume."
)
NOT_RESUMABLE = {
    "error": "Job is not resumable",
    "code": "NOT_RESUMABLE",
    "message": "Job is not suspended, already resumed, or the request_id is stale.",
}
INVALID_DECISION = {
    "error": "Invalid decision",
    "code": "INVALID_DECISION",
    "message": "decision.action_id is not one of the pending request's allowed_decisions.",
}


def refuse_human_input(streaming: bool) -> Reply:
    """What /api/v1/run answers for a flow that can pause for a human (1.11+): 400, or one error event."""
    if streaming:
        return event_stream([{"event": "error", "data": {"error": f"400: {HITL_REFUSAL}"}}])
    return json_reply({"detail": HITL_REFUSAL}, status=400)


def sse_frame(event: dict, event_id: int | None) -> bytes:
    """One Server-Sent Events frame as Langflow's v2 event stream sends it: the JSON on a `data:` line,
    then its `id:` line (token events carry the id of the last durable frame), then a blank line."""
    frame = f"data: {json.dumps(event)}\n"
    if event_id is not None:
        frame += f"id: {event_id}\n"
    return (frame + "\n").encode()


def vertex_event(component_id: str) -> dict:
    """An end_vertex event, trimmed to what a client may look at."""
    return {"event": "end_vertex", "data": {"build_data": {"id": component_id, "valid": True}}}


def v2_reply_events(session_id: str, reply: str, tokens: list[str] | None = None) -> list[dict]:
    """The events of a background run from its model to its end, as Langflow 1.13 sends them: the AI
    message (partial, empty) and its tokens when the model streams, the complete message twice (the
    model's, then the Chat Output's), the `output` with the whole reply, and `end` (no result in it)."""
    ai_id = str(uuid.uuid4())
    events = []
    if tokens is not None:
        events.append(message_event("", "Machine", session_id, ai_id, state="partial"))
        events += [{"event": "token", "data": {"chunk": token, "id": ai_id}} for token in tokens]
    events += [message_event(reply, "Machine", session_id, ai_id), vertex_event("CounterModel-00000")]
    events += [message_event(reply, "Machine", session_id, ai_id), vertex_event("ChatOutput-00000")]
    output = {"type": "message", "status": "completed", "display_name": "Chat Output", "content": reply}
    events.append({"event": "output", "data": {**output, "metadata": {}, "component_id": "ChatOutput-00000"}})
    events.append({"event": "end", "data": {"build_duration": 0.05}})
    return events


def human_input_event(
    prompt: str, labels: Iterable[str] = ("Approve", "Reject"), kind: str = "node_input", **extra: Any
) -> dict:
    """A pause (`human_input_required`) as a Human Input node asks it; the fake fills in its request_id
    (`<node>:<job>`, or `<agent>:<job>:<nonce>` for a tool approval) when the run reaches it.
    For a tool approval pass kind="tool_approval" and action_requests=[{"name", "args", "description"}]."""
    options = [{"action_id": label.strip().lower().replace(" ", "_"), "label": label} for label in labels]
    data = {"kind": kind, "prompt": prompt, "options": options, "allowed_decisions": [o["action_id"] for o in options]}
    if kind == "node_input":
        data.update(timeout_seconds=259200, fallback_action=None, paused_at="2026-11-21T10:00:00+00:00")
    return {"event": "human_input_required", "data": {**data, **extra}}


def tool_approval_event(tool: str, args: dict, actions: Iterable[str] = ("approve", "reject")) -> dict:
    """An Agent's pause before calling a tool whose approval_actions are `actions`."""
    description = f"Tool execution requires approval\n\nTool: {tool}\nArgs: {args!r}"
    labels = [action.title() for action in actions]
    request = [{"name": tool, "args": args, "description": description}]
    return human_input_event(description, labels, kind="tool_approval", action_requests=request)


@dataclass
class Job:
    """One background run. `events` are its durable events so far (a frame's id is its index + 1);
    `stages` what it does next: each a list of events, or {action_id: events} chosen by the decision."""

    job_id: str
    flow_id: str
    session_id: str
    stages: deque
    events: list[dict] = field(default_factory=list)
    tokens: dict[int, list[dict]] = field(default_factory=dict)  # durable id -> live tokens sent after it
    status: str = "in_progress"
    request: dict | None = None  # the pause waiting for an answer
    decisions: list[dict] = field(default_factory=list)  # every resume body accepted, in order
    reply: str | None = None  # the text of its last `output` event
    error: dict | None = None  # its `error` event's data: the run failed
    hang: bool = False  # its event stream never ends (and the status stays in_progress) until stopped
    gap: float = 0.0  # seconds between live frames
    cut_after: int | None = None  # the next event stream is cut after this many frames (a dropped connection)
    live_from: int = 0  # events from this index on have not been streamed yet: they come live, with tokens


class V2Workflows:
    """The v2 workflows endpoints of FakeLangflow (mixed in below)."""

    def v2_script(self, *stages: Any, hang: bool = False, gap: float = 0.0, cut_after: int | None = None) -> None:
        """What the next background run does, stage by stage. A stage is a list of events after the
        user's message (v2_reply_events, human_input_event, ...), or {action_id: events} to follow the
        decision of the pause before it; a stage that ends with human_input_required suspends the run.
        Without a script a run echoes its message, streamed word by word."""
        self.v2_scripts.append([list(stages), hang, gap, cut_after])

    def workflows(self, seen: Seen) -> Reply:
        path = seen.path[len(WORKFLOWS) :]
        if path == "" and seen.method == "POST":
            return self.submit(seen)
        if path == "" and seen.method == "GET":
            return self.job_status(seen.query.get("job_id", [""])[0])
        if path == "/stop" and seen.method == "POST":
            return self.stop_job(seen)
        if path == "/pending" and seen.method == "GET":
            return self.pending(seen.query.get("flow_id", [""])[0])
        job_id, _, action = path.strip("/").partition("/")
        if action == "resume" and seen.method == "POST":
            return self.resume(job_id, seen)
        if action == "events" and seen.method == "GET":
            return self.job_events(job_id, seen.headers.get("last-event-id"))
        return json_reply({"detail": "Not Found"}, status=404)

    def submit(self, seen: Seen) -> Reply:
        body = seen.json()
        known = {"flow_id", "input_value", "session_id", "tweaks", "mode", "stream_protocol", "globals"}
        extra = sorted(set(body) - known - {"expose_graph_state", "output_ids", "idempotency_key"})
        if extra:
            detail = [
                {"type": "extra_forbidden", "loc": ["body", key], "msg": "Extra inputs are not permitted"}
                for key in extra
            ]
            return json_reply({"detail": detail}, status=422)
        if not is_uuid(body.get("flow_id")):
            detail = [{"type": "value_error", "loc": ["body"], "msg": "Value error, Invalid flow_id, must be a UUID"}]
            return json_reply({"detail": detail}, status=422)
        if body.get("mode") != "background":  # sync and stream runs are not modelled: only background ones pause
            return json_reply({"detail": "the fake only runs mode='background'"}, status=501)
        message, session_id = body.get("input_value") or "", body.get("session_id") or body["flow_id"]
        self.store(session_id, "User", message)
        stages, hang, gap, cut_after = self.v2_scripts.popleft() if self.v2_scripts else [None, False, 0.0, None]
        if stages is None:
            stages = [v2_reply_events(session_id, message, words(message))]
        job = Job(str(uuid.uuid4()), body["flow_id"], session_id, deque(stages), hang=hang, gap=gap)
        job.cut_after = cut_after
        user = message_event(message, "User", session_id, str(uuid.uuid4()))
        job.events += [{"event": "vertices_sorted", "data": {"ids": ["ChatInput-00000"]}}, {"event": "build_start"}]
        job.events += [user, vertex_event("ChatInput-00000")]
        self.jobs[job.job_id] = job
        self.advance(job, None)
        return json_reply({**job_links(job), "object": "job", "status": "queued", "errors": [], "globals": {}})

    def advance(self, job: Job, decision: dict | None) -> None:
        """Run the job's next stage: append its events; fail it at an `error` event (error_event(...,
        "message") makes one), suspend it at a pause, else complete it."""
        stage = job.stages.popleft() if job.stages else []
        if isinstance(stage, dict):
            stage = stage.get((decision or {}).get("action_id"), [])
        for event in stage:
            event = json.loads(json.dumps(event))  # a copy: scripts may reuse their events
            if event.get("event") == "token":
                job.tokens.setdefault(len(job.events), []).append(event)
                continue
            if event.get("event") == "human_input_required":
                request = event["data"]
                nonce = ":" + uuid.uuid4().hex if request["kind"] == "tool_approval" else ""
                component = "AgentComponent-00000" if nonce else "HumanInput-00000"
                request.setdefault("request_id", f"{component}:{job.job_id}{nonce}")
                job.request = request
            if event.get("event") == "output":
                job.reply = event["data"].get("content")
            if event.get("event") == "error":
                job.error = event["data"]
            job.events.append(event)
        if job.error is not None:  # as 1.13: the stream still ends with `end`; the status is a 500
            job.status = "failed"
            text, component = job.error.get("text", ""), job.error.get("sender_name", "")
            self.store(job.session_id, component, text, sender_name=component, category="error", error=True)
        elif job.request is not None:
            job.status = "suspended"
            self.store(job.session_id, "Machine", "", content_blocks=[pause_block(job)])
        elif not job.hang:
            job.status = "completed"
            if job.reply is not None:
                self.store(job.session_id, "Machine", job.reply)

    def job_events(self, job_id: str, last_event_id: str | None) -> Reply:
        job = self.jobs.get(job_id)
        if job is None:
            detail = {"error": "Background run not found", "code": "JOB_NOT_FOUND", "job_id": job_id}
            return json_reply({"detail": {**detail, "message": f"No background run for job {job_id}."}}, status=404)
        after = int(last_event_id) if (last_event_id or "").isdigit() else 0
        reply = Reply(content_type="text/event-stream; charset=utf-8", headers={"Cache-Control": "no-cache"})
        reply.chunks = self.frames(job, after)
        reply.cut = job.cut_after is not None
        return reply

    def frames(self, job: Job, after: int) -> Iterator[tuple[float, bytes]]:
        """The durable events after `after`; the ones not streamed before come live (`gap` apart, with
        their tokens); then, while the job runs on (hang), keepalive comments until it is stopped."""
        cut, job.cut_after, sent = job.cut_after, None, 0
        index = after
        while not self.closing.is_set():
            if index < len(job.events):
                live = index >= job.live_from
                batch = [(job.gap if live else 0.0, sse_frame(job.events[index], index + 1))]
                if live:
                    batch += [(job.gap, sse_frame(token, index + 1)) for token in job.tokens.get(index + 1, [])]
                    job.live_from = index + 1
                for frame in batch:
                    if cut is not None and sent >= cut:
                        return
                    sent += 1
                    yield frame
                index += 1
            elif job.status == "in_progress" and job.hang:
                yield self.keepalive_every, b": keepalive\n\n"
            else:
                return

    def job_status(self, job_id: str) -> Reply:
        if not job_id:
            detail = {"error": "Missing required parameter", "code": "MISSING_PARAMETER"}
            return json_reply({"detail": {**detail, "message": "Job ID must be provided"}}, status=400)
        if not is_uuid(job_id):
            detail = [
                {
                    "type": "value_error",
                    "loc": ["query", "job_id"],
                    "msg": "Value error, Invalid job_id, must be a UUID",
                }
            ]
            return json_reply({"detail": detail}, status=422)
        job = self.jobs.get(job_id)
        if job is None:
            detail = {"error": "Workflow job not found", "code": "JOB_NOT_FOUND", "job_id": job_id}
            return json_reply({"detail": {**detail, "message": f"Workflow job {job_id} not found"}}, status=404)
        if job.status == "failed":
            detail = {"error": "Job failed", "code": "JOB_FAILED", "job_id": job_id, "error_detail": job.error}
            return json_reply({"detail": {**detail, "message": f"Job {job_id} has failed execution."}}, status=500)
        if job.status != "completed":
            return json_reply({**job_links(job), "object": "job", "status": job.status, "errors": [], "globals": {}})
        output = {"reason": "single", "text": job.reply, "source": "ChatOutput-00000"}
        if job.reply is None:
            output = {"reason": "none", "text": None, "source": None}
        body = {"flow_id": job.flow_id, "session_id": job.session_id, "job_id": job_id, "object": "response"}
        return json_reply({**body, "status": "completed", "output": output, "errors": [], "human_request": None})

    def stop_job(self, seen: Seen) -> Reply:
        job_id = seen.json().get("job_id", "")
        if not is_uuid(job_id):
            detail = [
                {"type": "value_error", "loc": ["body", "job_id"], "msg": "Value error, Invalid job_id, must be a UUID"}
            ]
            return json_reply({"detail": detail}, status=422)
        job = self.jobs.get(job_id)
        if job is None:
            detail = {"error": "Job not found", "code": "JOB_NOT_FOUND", "job_id": job_id}
            return json_reply({"detail": {**detail, "message": f"Job {job_id} not found"}}, status=404)
        if job.status == "cancelled":
            return json_reply({"job_id": job_id, "message": f"Job {job_id} is already cancelled."})
        if job.status in ("completed", "failed"):
            return json_reply({"job_id": job_id, "message": f"Job {job_id} already finished ({job.status})."})
        job.status, job.request, job.hang = "cancelled", None, False
        job.events.append({"type": "cancelled"})
        for message in self.history.get(job.session_id, []):  # the pause in history: superseded
            for block in message.get("content_blocks") or []:
                for content in block.get("contents", []):
                    if content.get("job_id") == job_id and content.get("submitted_action") is None:
                        content["superseded"] = True
        return json_reply({"job_id": job_id, "message": f"Job {job_id} cancelled successfully."})

    def pending(self, flow_id: str) -> Reply:
        if not is_uuid(flow_id):
            detail = [{"type": "uuid_parsing", "loc": ["query", "flow_id"], "msg": "Input should be a valid UUID"}]
            return json_reply({"detail": detail}, status=422)
        listed = []
        for job in self.jobs.values():
            if job.flow_id == flow_id and job.status == "suspended" and job.request is not None:
                fields = ("request_id", "kind", "prompt", "options", "allowed_decisions")
                listed.append(
                    {
                        "job_id": job.job_id,
                        "flow_id": flow_id,
                        "session_id": job.session_id,
                        "created_at": "2026-11-21T10:00:00.000000",
                        **{key: job.request[key] for key in fields},
                    }
                )
        return json_reply(listed)

    def resume(self, job_id: str, seen: Seen) -> Reply:
        job = self.jobs.get(job_id)
        if job is None:
            detail = {"error": "Workflow job not found", "code": "JOB_NOT_FOUND", "job_id": job_id}
            return json_reply({"detail": detail}, status=404)
        body = seen.json()
        if not isinstance(body.get("request_id"), str) or not isinstance(body.get("decision"), dict):
            detail = [{"type": "missing", "loc": ["body", "request_id"], "msg": "Field required"}]
            return json_reply({"detail": detail}, status=422)
        if job.status != "suspended" or job.request is None or body["request_id"] != job.request["request_id"]:
            return json_reply({"detail": {**NOT_RESUMABLE, "job_id": job_id}}, status=409)
        decision = body["decision"]
        if decision.get("action_id") not in job.request["allowed_decisions"]:
            return json_reply({"detail": {**INVALID_DECISION, "job_id": job_id}}, status=422)
        for message in self.history.get(job.session_id, []):
            for block in message.get("content_blocks") or []:
                for content in block.get("contents", []):
                    if content.get("request_id") == job.request["request_id"]:
                        content["submitted_action"] = decision["action_id"]
        job.decisions.append(body)
        job.request, job.status = None, "in_progress"
        job.events += [{"event": "vertices_sorted", "data": {"ids": []}}, {"event": "build_start", "data": {}}]
        self.advance(job, decision)
        return json_reply({"job_id": job_id, "status": "resuming", "message": "Resume accepted"})


def is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def job_links(job: Job) -> dict:
    links = {
        "status": f"{WORKFLOWS}?job_id={job.job_id}",
        "events": f"{WORKFLOWS}/{job.job_id}/events",
        "stop": f"{WORKFLOWS}/stop",
    }
    return {
        "job_id": job.job_id,
        "flow_id": job.flow_id,
        "created_timestamp": "2026-11-21T10:00:00+00:00",
        "links": links,
    }


def pause_block(job: Job) -> dict:
    """The content block Langflow stores for a pause: an empty AI message that holds the question."""
    request = job.request or {}
    content = {
        "type": "human_input",
        "duration": None,
        "header": {},
        "job_id": job.job_id,
        "fields": [],
        "submitted_action": None,
        "superseded": False,
        **{key: request.get(key) for key in ("request_id", "kind", "prompt", "options", "allowed_decisions")},
    }
    return {"title": "Human input required", "contents": [content], "allow_markdown": True, "media_url": None}


class FakeLangflow(V2Workflows):
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
        self.v2 = True  # the v2 workflows API, as 1.10+ (False: like 1.9 and older, 404 under /api/v2/workflows)
        self.jobs: dict[str, Job] = {}  # v2 background runs by job id
        self.v2_scripts: deque[list] = deque()  # the stages of the next background runs (see v2_script)
        self.hitl_flows: set[str] = set()  # flow ids or endpoint names /api/v1/run refuses, as human-input flows
        self.keepalive_every = 15.0  # seconds of silence before a ": keepalive" comment on an open event stream
        self.slow: dict[str, float] = {}  # path -> seconds every answer to it waits (a busy server)
        self.answer_session: str | None = None  # the session id runs answer in, whatever was sent (a gateway's)
        self.flows = [
            {"id": "0b6a3b0e-1111-4c3a-9d55-000000000001", "name": "Echo", "endpoint_name": "echo", "description": ""},
            {
                "id": "0b6a3b0e-2222-4c3a-9d55-000000000002",
                "name": "Basic Prompting",
                "endpoint_name": None,
                "description": "",
            },
        ]
        self.components = {"ChatInput-abc": "Chat Input", "ChatOutput-00000": "Chat Output"}  # id: display name
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
            if seen.path.rsplit("/", 1)[1] in self.hitl_flows:
                return refuse_human_input(seen.query.get("stream") == ["true"])
            return self.echo(seen)
        if seen.path.startswith(WORKFLOWS):
            return self.workflows(seen) if self.v2 else json_reply({"detail": "Not Found"}, status=404)
        if seen.path in self.old_streams:
            return self.old_stream(seen.path)
        if seen.path == "/api/v1/flows/":
            if seen.query.get("header_flows") == ["true"] and (
                not self.header_endpoint_names or self.version == "1.1.1"
            ):
                return json_reply([{**flow, "endpoint_name": None} for flow in self.flows])
            return json_reply(self.flows)
        if seen.path.startswith("/api/v1/flows/") and seen.method == "GET":
            return self.flow(seen.path.rsplit("/", 1)[1])
        if seen.path.startswith("/api/v1/files/upload/"):
            flow = seen.path.rsplit("/", 1)[1]
            name = seen.body.split(b'filename="', 1)[1].split(b'"', 1)[0].decode()
            return json_reply({"flowId": flow, "file_path": f"{flow}/2026-11-21_{name}"})
        if seen.path == "/api/v1/monitor/messages" and seen.method == "GET":
            if "session_id" in seen.query:
                messages = self.history.get(seen.query["session_id"][0], [])
            else:
                messages = self.all_messages()
            if "sender" in seen.query:
                messages = [m for m in messages if m["sender"] == seen.query["sender"][0]]
            return json_reply(self.page(messages, seen.query))
        if seen.path == "/api/v1/monitor/messages/sessions" and self.sessions_endpoint:
            newest_first = sorted(self.history, key=lambda s: self.history[s][-1]["timestamp"], reverse=True)
            sessions = [session for session in newest_first if self.history[session]]
            return json_reply(sessions[: int(seen.query.get("limit", ["100"])[0])] if self.pages else sessions)
        if seen.path.startswith(SESSION_PATH) and seen.method in ("PATCH", "DELETE"):
            return self.change_session(seen, unquote(seen.path[len(SESSION_PATH) :]))
        if seen.path == "/api/v1/monitor/messages" and seen.method == "DELETE":  # by message ids
            for session_id, messages in self.history.items():
                self.history[session_id] = [m for m in messages if m.get("id") not in seen.json()]
            return Reply(status=204, body=b"")
        if seen.path.startswith("/api/v1/monitor/messages/") and seen.method == "PUT":  # one message
            return self.update_message(seen.path.rsplit("/", 1)[1], seen.json())
        return json_reply({"detail": "Not Found"}, status=404)

    def flow(self, flow_id: str) -> Reply:
        """GET /api/v1/flows/{uuid}: the flow, its components in data.nodes (Langflow takes only a UUID)."""
        flow = next((flow for flow in self.flows if flow["id"] == flow_id), None)
        if flow is None:
            return json_reply({"detail": "Flow not found"}, status=404)
        nodes = [
            {"id": node_id, "data": {"id": node_id, "type": node_id.split("-")[0], "node": {"display_name": name}}}
            for node_id, name in self.components.items()
        ]
        return json_reply({**flow, "data": {"nodes": nodes, "edges": []}})

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
            "flow_id": self.flows[0]["id"],  # the echo flow's: the fake serves one flow
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
        session_id = self.answer_session or session_id
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
                if fake.closing.wait(reply.delay or fake.slow.get(parts.path, 0.0)):
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
    session_id: str,
    message: str,
    answer: str,
    tool: str,
    tool_input: dict,
    output: Any,
    error: Any = None,
    logs: bool = True,
) -> list[dict]:
    """An Agent's stream as Langflow 1.13 sends it with an OpenAI model (lfx/base/agents/events.py and
    callback.py): the tool's start and end as `log` events (with `logs`, as 1.9+ send them; a failed
    tool logs no end), then the partial message again and again, its flat content_blocks growing: the
    tool call with its input (twice), the answer's tokens, and only then the tool's output (published
    with the answer's text), then the complete message and `end`."""
    ai_id = str(uuid.uuid4())
    called = tool_content(tool, tool_input)
    returned = tool_content(tool, tool_input, output=output, error=error)
    text = {"type": "text", "id": None, "duration": 3, "header": {}, "contents": [], "text": answer}
    events = [message_event(message, "User", session_id, str(uuid.uuid4())), agent_message(session_id, ai_id, [])]
    if logs:
        events += [chain_start_log(message), tool_start_log(tool, tool_input)]
        events += [tool_end_log(tool, output)] if error is None else []
    events += [agent_message(session_id, ai_id, [called]), agent_message(session_id, ai_id, [called])]
    events += [{"event": "token", "data": {"chunk": token, "id": ai_id}} for token in words(answer)]
    events.append(agent_message(session_id, ai_id, [returned, text], text=answer))
    events.append(agent_message(session_id, ai_id, [returned, text], text=answer, state="complete"))
    events.append({"event": "end", "data": {"result": run_response(session_id, [answer], message)}})
    return events


TOOL_RUN = "01a24386-1b95-75d6-b643-c12a5d9a5858"  # a LangChain run id, as 1.13 logs it


def agent_log(name: str, message: dict) -> dict:
    """A `log` event of an Agent's callback (lfx/base/agents/callback.py), as Langflow 1.13 streams it."""
    data = {"name": name, "message": message, "type": "object", "output": "response", "component_id": "Agent-EXpSZ"}
    return {"event": "log", "data": data}


def chain_start_log(message: str) -> dict:
    inputs = {"messages": [{"content": message, "type": "human"}]}
    return agent_log("Chain Start", {"type": "chain_start", "serialized": None, "inputs": inputs, "name": "LangGraph"})


def tool_start_log(tool: str, tool_input: dict) -> dict:
    serialized = {"name": tool, "description": "Perform basic arithmetic operations on a given expression."}
    start = {"type": "tool_start", "serialized": serialized, "input_str": str(tool_input), "run_id": TOOL_RUN}
    return agent_log("Tool Start", {**start, "inputs": tool_input, "name": None, "tool_call_id": "call_1"})


def tool_end_log(tool: str, output: Any) -> dict:
    """The tool's output in LangChain's ToolMessage envelope, its `content` the tool's own text."""
    content = output if isinstance(output, str) else json.dumps(output)
    envelope = {"content": content, "additional_kwargs": {}, "response_metadata": {}, "type": "tool", "name": tool}
    envelope |= {"id": None, "tool_call_id": "call_1", "artifact": output, "status": "success"}
    return agent_log("Tool End", {"type": "tool_end", "output": envelope, "run_id": TOOL_RUN, "name": tool})


def old_agent_steps(message: str, contents: list[dict]) -> list[dict]:
    """content_blocks as Langflow 1.1 to 1.6 send them: one "Agent Steps" group, the input first."""
    user_input = {"type": "text", "text": message, "header": {"title": "Input", "icon": "MessageSquare"}}
    return [{"title": "Agent Steps", "contents": [user_input, *contents], "allow_markdown": True, "media_url": None}]


# --- the flow without HTTP, for the conversation loop in memory -------------------------------


LISTED_FLOWS = (  # the flow list as list_flows gives it
    {"endpoint_name": "echo", "id": "0b6a3b0e-1111-4c3a-9d55-000000000001", "name": "Echo"},
    {"endpoint_name": "echo-twice", "id": "0b6a3b0e-2222-4c3a-9d55-000000000002", "name": "Echo twice"},
    {"endpoint_name": None, "id": "7c9e2f10-3333-4c3a-9d55-000000000003", "name": "Basic Prompting"},
)


@dataclass
class FakeFlow:
    """Langflow for the loop: echoes each message unless replies are scripted; records what was asked."""

    replies: deque = field(default_factory=deque)
    asked: list[tuple[str, str]] = field(default_factory=list)
    stored: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    history_failure: BaseException | None = None
    flow_list: list[dict] = field(default_factory=lambda: [dict(flow) for flow in LISTED_FLOWS])
    used: list[dict] = field(default_factory=list)  # the flows /flow switched to, in order
    tweaks: list[dict | None] = field(default_factory=list)  # each turn's tweaks (None: --tweaks as given)
    attached: list[list[str]] = field(default_factory=list)  # the paths of each /file

    def attach(self, paths: list[str], tweaks: dict | None) -> dict:
        """As RemoteFlow.attach, with each path "uploaded" as uploaded/<its name>."""
        self.attached.append(paths)
        files = [*(tweaks or {}).get("Chat Input", {}).get("files", []), *(f"uploaded/{Path(p).name}" for p in paths)]
        return {"Chat Input": {"files": files}}

    def will_reply(self, *pieces: str | BaseException) -> None:
        """The next reply: text pieces shown in order; an exception is raised where it stands."""
        self.replies.append(pieces)

    def ask(self, message: str, session_id: str, show: Callable[[str], None], tweaks: dict | None = None) -> None:
        self.asked.append((message, session_id))
        self.tweaks.append(tweaks)
        for piece in self.replies.popleft() if self.replies else (message,):
            if isinstance(piece, BaseException):
                raise piece
            show(piece)

    def history(self, session_id: str) -> list[tuple[str, str]]:
        if self.history_failure is not None:
            raise self.history_failure
        return self.stored.get(session_id, [])

    def messages(self, session_id: str) -> list[dict]:
        return []

    def flow_messages(self) -> list[dict]:
        return []

    def recent(self, count: int) -> None:
        return None  # as a server that cannot list the latest alone: the chat reads flow_messages

    def pending(self) -> list[dict]:
        return []

    def resume(self, job_id: str, show: Callable[[str], None]) -> None:
        raise AssertionError("the chat loop's tests have no waiting runs")

    def flows(self) -> list[dict]:
        return self.flow_list

    def use(self, listed: dict) -> str:
        self.used.append(listed)
        return f"{listed['name']} ({listed['id']})"

    def rename(self, old: str, new: str) -> None:
        raise AssertionError("the chat loop's tests store no conversations")

    def forget(self, session_id: str) -> None:
        raise AssertionError("the chat loop's tests store no conversations")


# --- `lfx serve`: Langflow's runtime without UI or database ------------------------------------


class FakeLfxServe(FakeLangflow):
    """`lfx serve` of one echo flow file, as lfx 1.13.0 answers (captured from a real one):
    /health, GET /flows, POST /flows/{id}/stream (one `end` event, or one `error`); 401 without
    the key; its router's 404 {"detail": "Not Found"} for Langflow's paths. Nothing is stored."""

    FLOW_ID = "00000000-0000-4000-8000-0000000ec401"

    def __init__(self, api_key: str) -> None:
        super().__init__(api_key=api_key)
        self.failing_message: str | None = None  # the next run fails with this message

    def runs(self) -> list[Seen]:
        return [seen for seen in self.requests if seen.path.startswith("/flows/") and seen.method == "POST"]

    def default_reply(self, seen: Seen) -> Reply:
        if seen.path == "/health":
            return json_reply({"status": "healthy", "flow_count": 1})
        if seen.path != "/flows" and not seen.path.startswith("/flows/"):
            return json_reply({"detail": "Not Found"}, status=404)
        if not seen.headers.get("x-api-key"):
            return json_reply({"detail": "API key required"}, status=401)
        if seen.headers["x-api-key"] != self.api_key:
            return json_reply({"detail": "Invalid API key"}, status=401)
        if seen.path == "/flows":
            flow = {"id": self.FLOW_ID, "relative_path": "echo.json", "title": "echo", "description": "test flow echo"}
            return json_reply([flow])
        flow_id = seen.path.split("/")[2]
        if flow_id != self.FLOW_ID:
            return json_reply({"detail": {"error": "flow not found", "flow_id": flow_id}}, status=404)
        message = seen.json()["input_value"]
        if self.failing_message is not None:
            error, self.failing_message = self.failing_message, None
            return event_stream([{"event": "error", "data": {"error": error}}])
        result = {"result": message, "type": "message", "component": "Chat Output", "component_id": "ChatOutput-x"}
        return event_stream([{"event": "end", "data": {"result": {**result, "success": True, "logs": ""}}}])
