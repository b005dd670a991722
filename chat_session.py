#!/usr/bin/env python3
"""Hold a conversation with a Langflow flow in the terminal; also the core chat_example.py imports.

Every turn carries the same session_id, so a flow with memory remembers the conversation.
chat_example.py, the one-shot, imports this module (Python loads it from its cached bytecode).
It reads top-down:

   1. Errors          exit codes, ClientError, FAILURES: the one table of failures
   2. Langflow rules  pure functions: error bodies, where the reply text lives, stored messages
   3. Dialects        what differs between Langflow releases (index), as named capabilities
   4. The stream      the event stream's framing, a reply shown as it comes, agent steps
   5. Configuration   flags, the environment, ./.env, the user's settings file; the message
   6. HTTP            Client: one connection pool, retries, -v tracing
   7. Calls           Server, ask(): one run of the flow; files, flows, stored conversations
   8. Printing        stdout: reply text, JSON, tables
   9. The terminal    Terminal: the one writer on stderr, waiting line, steps; line editing, state
  10. The chat        COMMANDS, Chat: the loop, with the network injected
  11. main            guarded_main: the one try/except of both scripts
"""

from __future__ import annotations

import contextlib
import enum
import itertools
import json
import math
import os
import re
import stat
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn, TextIO, TypeVar

if TYPE_CHECKING:  # imported where first needed, so --help, --version and a one-shot start fast
    import argparse
    import queue
    from datetime import datetime, tzinfo
    from pathlib import Path

    import requests

__version__ = "1.0.0"
T = TypeVar("T")
Show = Callable[[str], None]

DEFAULT_URL = "http://localhost:7860"
DEFAULT_TIMEOUT = 300.0
DEFAULT_RETRIES = 2
CONNECT_TIMEOUT = 10.0
MAX_RETRY_WAIT = 60.0
USER_AGENT = f"langflow-chat/{__version__}"


# === 1. Errors ==================================================================================


class Exit(enum.IntEnum):
    """The exit codes, as --help and the README list them."""

    OK = 0
    FLOW = 1  # the server or the flow reported an error
    USAGE = 2  # what the user gave: flags, settings, input, output
    AUTH = 3
    NETWORK = 4  # only when the network failed after sending
    HUMAN = 5  # the flow waits for a human decision
    INTERRUPTED = 130


EXIT_CODES_HELP = """\
exit codes:
  0    success
  1    the server or the flow reported an error (or the run returned no message)
  2    usage or configuration error
  3    authentication refused (401/403): set LANGFLOW_API_KEY
  4    network: cannot connect, DNS, TLS, timeout, connection dropped mid-reply
  5    the flow waits for a human decision (answer with --resume JOB_ID --choice ACTION)
  130  interrupted (Ctrl-C); 129 and 143: ended by SIGHUP and SIGTERM

settings (flags win, then the profile NAME.env of --profile or LANGFLOW_PROFILE, then the
environment, then ./.env, then the user settings file $XDG_CONFIG_HOME/langflow-chat/.env,
default ~/.config/langflow-chat/.env; profiles are beside it):
  LANGFLOW_URL       server URL (default http://localhost:7860; alias LANGFLOW_SERVER_URL)
  LANGFLOW_FLOW_ID   flow UUID or endpoint name
  LANGFLOW_API_KEY   API key, sent only as the x-api-key header (never a flag)
  LANGFLOW_TIMEOUT   longest wait for the server, in seconds (default 300)
"""


class ClientError(Exception):
    """A failure the user can act on: one line of text and an exit code (made from FAILURES)."""

    def __init__(
        self, message: str, exit_code: int = Exit.FLOW, retry: bool = False, status: int | None = None, detail: str = ""
    ) -> None:
        super().__init__(message)
        self.exit_code, self.retry = exit_code, retry
        self.status = status  # the HTTP status, when the server answered with an error
        self.detail = detail  # the server's own words for it, when it gave any


class Failure(NamedTuple):
    what: str
    todo: str  # what to do about it, in parentheses after `what` ("": nothing to add)
    exit_code: int
    retry: bool = False  # the flow certainly did not run: sending again is safe


AUTH_TODO = "set LANGFLOW_API_KEY to a valid API key for this server"
KEY_TODO = "Langflow makes one in Settings > Langflow API Keys"
NOT_LANGFLOW = "is this a Langflow server?"
DEMO = ".venv/bin/python tests/demo_server.py"
FLOW, USAGE, NETWORK = Exit.FLOW, Exit.USAGE, Exit.NETWORK
# fmt: off
FAILURES: dict[int | str, Failure] = {
    # HTTP statuses: "HTTP <status>: <the server's message, else `what`> (<todo>)"
    400: Failure("the server rejected the request", "check --tweaks and the flow's inputs", FLOW),
    401: Failure("authentication refused", AUTH_TODO, Exit.AUTH),
    403: Failure("authentication refused", AUTH_TODO, Exit.AUTH),
    404: Failure("not found", "check --flow or LANGFLOW_FLOW_ID; --list-flows shows the flows", FLOW),
    422: Failure("the server rejected the request", "check --tweaks, --input-type and --output-type", FLOW),
    429: Failure("too many requests", "wait a moment and try again", FLOW, retry=True),
    500: Failure("the flow failed", "check the flow's components in Langflow", FLOW),
    502: Failure("bad gateway", "the proxy in front of Langflow cannot reach it", FLOW),
    503: Failure("the server is unavailable", "try again later", FLOW, retry=True),
    504: Failure("gateway timeout", "the proxy in front of Langflow gave up waiting", FLOW),
    "4xx": Failure("the server rejected the request", "check the flags and configuration", FLOW),
    "5xx": Failure("the server failed", "check the Langflow server's logs", FLOW),
    # a refused key, in the same words whichever endpoint refused it
    "no-key": Failure("HTTP {status}: this server needs an API key", f"set LANGFLOW_API_KEY; {KEY_TODO}", Exit.AUTH),
    "key-refused": Failure("HTTP {status}: the server refused the API key",
        "check LANGFLOW_API_KEY: a key of this server, from Settings > Langflow API Keys", Exit.AUTH),
    # the network, by the exception's type (network_failure); 4 only where the request may have been sent
    "refused": Failure("cannot connect to {url}", "is Langflow running? check LANGFLOW_URL or --url", NETWORK, True),
    "no-server": Failure("cannot connect to {url}, the default address: no server is set",
        f"set LANGFLOW_URL (see .env.example), or start the demo server: {DEMO}", NETWORK, True),
    "demo-down": Failure("cannot connect to {url}: the demo server that wrote {path} is not running",
        f"start it: {DEMO}; or delete {{path}}", NETWORK),
    "dns": Failure("cannot resolve the host of {url}", "check LANGFLOW_URL or --url", NETWORK),
    "tls": Failure("TLS failed with {url}",
        "check the URL's scheme and the server's certificate; REQUESTS_CA_BUNDLE=FILE trusts a private CA",
        NETWORK),
    "connect-timeout": Failure("no connection to {url} within {connect:g} s", "check LANGFLOW_URL and the network",
        NETWORK),
    "timeout": Failure("no answer from the server within {timeout:g} s", "raise --timeout or LANGFLOW_TIMEOUT",
        NETWORK),
    "dropped": Failure("the connection dropped before the reply was complete", "try again; the flow may have run",
        NETWORK),
    # what the server answered
    "redirect-elsewhere": Failure("the server redirected to {target}, another origin",
        "the API key goes only to LANGFLOW_URL: set it to that address if you trust it", FLOW),
    "redirect-loop": Failure("the server redirected more than 5 times, last to {url}", "check LANGFLOW_URL", FLOW),
    "no-result": Failure("the event stream ended without a result after {facts}, and {reason}",
        "check the Langflow server's log", FLOW),
    "not-json": Failure("the server did not return JSON (HTTP {status}, {content_type})",
        "check that LANGFLOW_URL is Langflow's address and the flow exists", FLOW),
    "malformed-event": Failure("the server sent a malformed event: {line}", "", FLOW),
    "too-long": Failure("the server sent more than {size} MB in one answer or event", NOT_LANGFLOW, FLOW),
    "not-a-list": Failure("the server's {what} was not a list", NOT_LANGFLOW, FLOW),
    "endless-list": Failure("the server's {path} did not end after {count} items", NOT_LANGFLOW, FLOW),
    "not-stored": Failure("the server did not say where it stored {path}", NOT_LANGFLOW, FLOW),
    "variables-ignored": Failure("{server} does not take per-request variables (--var)",
        "Langflow 1.7.1 and later do; or set the variable in Langflow's global variables", USAGE),
    "missing-endpoint": Failure("{server} does not offer {what} through its API", "Langflow 1.1.1 and later do", FLOW),
    "not-offered": Failure("{server} does not offer {what}", "a Langflow server does", FLOW),
    "answer-refused": Failure("the server refused the answer {action}: {detail}",
        "see what it allows: chat_example.py --resume {job_id}", FLOW),
    "human-needed": Failure("waiting for a human decision: {prompt} [{choices}]", "answer with: {command}", Exit.HUMAN),
    "job-dropped": Failure("the connection dropped; the run goes on at the server", "re-attach with: {command}",
        NETWORK),
    "job-stopped": Failure("the run was stopped at the server", "", FLOW),
    "no-background-runs": Failure("{server} has no background runs (the v2 workflows API)",
        "Langflow 1.10 and later have", FLOW),
    "variables-in-background": Failure(
        "this flow pauses for a human, so it runs in the background, where Langflow ignores --var",
        "set the variable in Langflow's global variables instead", USAGE),
    "flow-error": Failure("the flow failed: {detail}", "check the flow's components in Langflow", FLOW),
    "no-text": Failure("the flow returned no message",
        "check that the flow ends in a Chat Output; --json shows what it returned", FLOW),
    # what the user asked for, and what the client was given
    "usage": Failure("{problem}", "", USAGE),
    "choice-not-allowed": Failure("--choice {choice} is not one of this request's choices: {choices}", "", USAGE),
    "var-not-set": Failure("--var {name}: no environment variable {name} is set",
        "set it, or give --var {name}=VALUE", USAGE),
    "no-flows": Failure("{server} has no flow this key can run", "create one, or check LANGFLOW_API_KEY", USAGE),
    "no-flow": Failure("no flow given: no --flow, and no LANGFLOW_FLOW_ID in {places}",
        "pass --flow FLOW, or set LANGFLOW_FLOW_ID in one of those; --list-flows shows the flows", USAGE),
    "unknown-profile": Failure("no profile {name!r}: no file {path}", "the profiles there are: {profiles}", USAGE),
    "open-settings": Failure("the settings file {path} holds an API key and other users may read it (mode {mode:o})",
        "make it private: chmod 600 {path}", USAGE),
    "bad-key": Failure("the API key{source} holds a character an HTTP header cannot carry"
        " (a line break, another control character or a non-Latin-1 character)",
        "copy the key again from Langflow's settings", USAGE),
    "missing-module": Failure("this Python ({python}) lacks the module {module}",
        "install the client's requirements: {python} -m pip install -r {requirements}", USAGE),
    "unknown-flow-name": Failure("no flow named {flow!r} on {server}", "--list-flows shows the flows", FLOW),
    "unknown-component": Failure("{flag}: flow {flow} has no component {name!r}", "its components: {components}",
        USAGE),
    "unknown-conversation": Failure("no conversation {session_id!r} stored for flow {flow}",
        "--list-sessions lists them", FLOW),
}
# fmt: on


def failure_error(key: int | str, **facts: Any) -> ClientError:
    """The ClientError of a FAILURES row, its text filled in with the facts of this failure."""
    failure = FAILURES[key]
    what, todo = failure.what.format(**facts), failure.todo.format(**facts)
    return ClientError(f"{what} ({todo})" if todo else what, failure.exit_code, failure.retry)


def usage_error(problem: str) -> ClientError:
    return failure_error("usage", problem=problem)


def http_error(status: int, detail: str, key_sent: bool = True) -> ClientError:
    """An error answer: the status's row, worded with the server's own message when it gave one. A
    refused key reads the same whichever endpoint refused it (their words differ); the server's
    own words stay in .detail, which -v shows."""
    if status == 500 and COMPONENT_ERROR.search(detail):  # a component failed: worded as in a stream
        return flow_error(detail)
    if status in (401, 403):
        error = failure_error("key-refused" if key_sent else "no-key", status=status)
    else:
        failure = FAILURES.get(status) or FAILURES["4xx" if status < 500 else "5xx"]
        message = f"HTTP {status}: {detail or failure.what} ({failure.todo})"
        error = ClientError(message, failure.exit_code, failure.retry)
    error.status, error.detail = status, detail
    return error


def network_error(exc: BaseException, config: Config, timeout: float | None = None) -> ClientError:
    """The table's network row for a failure of requests, urllib3 or the socket below them."""
    row = network_failure(exc)
    if row == "refused" and config.demo_env:
        row = "demo-down"
    elif row == "refused" and not config.url_given:
        row = "no-server"
    timeout = timeout or config.timeout
    return failure_error(
        row, url=config.shown_url, timeout=timeout, connect=min(CONNECT_TIMEOUT, timeout), path=config.demo_env
    )


def network_failure(exc: BaseException) -> str:
    """Which network row, by the types of the exceptions the failure wraps: they hold for every
    urllib3 the requirements allow (1.26 wraps a stalled stream in requests' ConnectionError)."""
    import socket
    import ssl

    import requests.exceptions as http
    import urllib3.exceptions as pool

    errors = list(wrapped_errors(exc))

    def any_is(kinds: type | tuple[type, ...], unless: type | tuple[type, ...] = ()) -> bool:
        return any(isinstance(error, kinds) and not isinstance(error, unless) for error in errors)

    if any_is((ssl.SSLError, http.SSLError, pool.SSLError)):
        return "tls"
    if any_is((http.ConnectTimeout, pool.ConnectTimeoutError), unless=pool.NewConnectionError):
        return "connect-timeout"  # urllib3's NewConnectionError is a ConnectTimeoutError too
    if any_is((http.ReadTimeout, pool.ReadTimeoutError, TimeoutError)):
        return "timeout"
    if any_is(socket.gaierror):
        return "dns"
    if any_is((ConnectionRefusedError, pool.NewConnectionError)):
        return "refused"
    return "dropped"


def wrapped_errors(exc: BaseException) -> Iterator[BaseException]:
    """The exception and every one inside it: in args (requests), .reason (urllib3) or chained."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        error = pending.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        inside = (getattr(error, "reason", None), *error.args, error.__cause__, error.__context__)
        pending.extend(inner for inner in inside if isinstance(inner, BaseException))


# === 2. Langflow rules: error bodies, reply text, stored messages (pure) ========================


def one_line(text: str, limit: int = 500) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def detail_message(detail: Any, depth: int = 0) -> str:
    """The innermost human message of a Langflow error `detail`, however it is wrapped."""
    if depth > 20:
        return ""
    if isinstance(detail, str):
        stripped = detail.strip()
        status_prefix = re.match(r"^\d{3}:\s*(?=[\[{])", stripped)  # stream errors: '500: {...}'
        if status_prefix:
            stripped = stripped[status_prefix.end() :]
        if stripped[:1] in "[{":
            with contextlib.suppress(ValueError, RecursionError):
                return detail_message(json.loads(stripped), depth + 1)
        return one_line(provider_message(detail))
    if isinstance(detail, list):
        return "; ".join(filter(None, (detail_message(item, depth + 1) for item in detail)))
    if isinstance(detail, dict):
        if "msg" in detail:  # one item of a 422 list
            where = ".".join(str(part) for part in as_list(detail.get("loc")) if part != "body")
            return f"{where}: {detail['msg']}" if where else str(detail["msg"])
        for key in ("detail", "message", "error", "text", "exception", "result"):  # result: lfx serve
            value = detail.get(key)
            if value and isinstance(value, (str, list, dict)):
                return detail_message(value, depth + 1)
        return one_line(json.dumps(detail, ensure_ascii=False, default=str))
    return "" if detail is None else one_line(str(detail))


PROVIDER_ERROR = re.compile(r"Error code: \d{3} - (?P<body>\{.*\})", re.DOTALL)


def provider_message(text: str) -> str:
    """A model provider's error as the OpenAI SDK words it, "Error code: 400 - {'error': {...}}": its message."""
    match = PROVIDER_ERROR.fullmatch(text.strip())
    if match is None:
        return text
    import ast

    try:
        body = ast.literal_eval(match["body"])
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    return detail_message(body) or text


def error_body_message(body: bytes, content_type: str) -> str:
    """An error response body as one readable line; never echo HTML."""
    if "json" not in content_type:
        if b"<" in body[:200] and b">" in body[:2000]:
            return ""
        return one_line(body.decode("utf-8", "replace"))
    try:
        return detail_message(json.loads(body))
    except (ValueError, RecursionError):
        return one_line(body.decode("utf-8", "replace"))


COMPONENT_ERROR = re.compile(r"Error building Component (?P<component>.+?): (?P<message>.+)", re.DOTALL)


def flow_failure(error: Any) -> tuple[str, str]:
    """(component, innermost message) of a failed run, however Langflow reported it: a stream's
    `error` event, a stored error message, an old stream_url error, or a 500's detail."""
    component, text = "", ""
    if isinstance(error, dict) and error.get("category") == "error":  # an error message
        component = str(error.get("sender_name") or dig(error, "properties", "source", "display_name") or "")
        text = str(error.get("text") or "") or error_block_text(error)
    if not text:
        text = detail_message(error)
    match = COMPONENT_ERROR.search(text)
    if match:
        component, text = component or match["component"].strip(), provider_message(match["message"])
    return component, one_line(text)


def error_block_text(message: dict) -> str:
    """An error message whose `text` is empty (Langflow 1.13) holds its reason in content blocks."""
    for _key, content in nested_contents(message.get("content_blocks"), ()):
        if content.get("type") == "text" and content.get("text"):
            return str(content["text"])
    return ""


def flow_error(error: Any) -> ClientError:
    """One wording for a failed run in every mode: `the flow failed: <component>: <message>`."""
    component, message = flow_failure(error)
    detail = f"{component}: {message}" if component and message else component or message or "unknown error"
    return failure_error("flow-error", detail=detail)


def dig(data: Any, *path: str | int) -> Any:
    """data[path[0]][path[1]]..., or None where the shape differs."""
    for key in path:
        if isinstance(key, int):
            data = data[key] if isinstance(data, list) and len(data) > key else None
        elif isinstance(data, dict):
            data = data.get(key)
        else:
            return None
    return data


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def dicts(items: Any) -> list[dict]:
    return [item for item in as_list(items) if isinstance(item, dict)]


TEXT_PATHS = (
    ("results", "message", "text"),
    ("results", "message", "data", "text"),
    ("results", "text", "text"),
    ("messages", 0, "message"),
    ("outputs", "message", "message"),
)


def output_text(output: dict) -> str | None:
    """The reply text of one output component, from the most reliable place that has it:
    "" if it holds a message with no text (an empty reply), None if it holds no message at all."""
    found = None
    places = [dig(output, *path) for path in TEXT_PATHS]
    artifacts = output.get("artifacts")
    if isinstance(artifacts, dict):
        places += [artifacts.get("message"), artifacts.get("text")]
    for value in places:
        if isinstance(value, dict):
            value = value.get("text") or value.get("message")
        if isinstance(value, str):
            if value:
                return value
            found = ""
    return found


def run_outputs(response: Any) -> Iterator[dict]:
    """Each output component of a run response, in order: outputs[i].outputs[j]."""
    for run_output in dicts(dig(response, "outputs")):
        yield from dicts(run_output.get("outputs"))


def reply_texts(response: Any) -> list[str]:
    """Every output component's text, in order; "" for an empty message. `lfx serve` answers
    {"result": text}; a background run's answer (v2 "response") holds them in `outputs` by component."""
    if isinstance(response, dict) and isinstance(response.get("result"), str) and "outputs" not in response:
        return [response["result"]]
    if isinstance(response, dict) and response.get("object") == "response":
        outputs = response.get("outputs") if isinstance(response.get("outputs"), dict) else {}
        texts = [str(output["content"]) for output in outputs.values() if isinstance(dig(output, "content"), str)]
        text = dig(response, "output", "text")
        return texts or ([text] if isinstance(text, str) else [])
    return [text for output in run_outputs(response) if (text := output_text(output)) is not None]


def reply_text(response: Any) -> str:
    """The reply as the user reads it, a blank line between outputs. An empty message is a reply
    (""); a run whose outputs hold no message at all (no Chat Output) is the no-text error."""
    texts = reply_texts(response)
    if not texts:
        raise failure_error("no-text")
    return "\n\n".join(text for text in texts if text)


def streamed_outputs(response: Any) -> list[tuple[dict, str]]:
    """(output, its stream_url) of each streaming output: Langflow up to 1.1.1 answers stream=true so."""
    streams = []
    for output in run_outputs(response):
        for place in (output.get("artifacts"), dig(output, "outputs", "message", "message")):
            if isinstance(place, dict) and isinstance(place.get("stream_url"), str):
                streams.append((output, place["stream_url"]))
                break
    return streams


def with_streamed_text(output: dict, text: str) -> None:
    """Put an old stream's text where a finished response holds the reply (the first TEXT_PATHS)."""
    message = dig(output, "results", "message")
    if isinstance(message, dict):
        message["text"] = text
    else:
        output.setdefault("results", {})["message"] = {"text": text}


HUMAN_INPUT_REFUSAL = "Human-in-the-Loop"  # in /run's 400 (or stream error) for a flow that can pause (1.11+)


def needs_background_run(error: ClientError) -> bool:
    """/run refused the flow because it may pause for a human: only a v2 background run can run it."""
    return HUMAN_INPUT_REFUSAL in f"{error} {error.detail}"


def request_choices(request: dict) -> list[tuple[str, str]]:
    """(action id, label) of each choice a pause offers, in order."""
    options = [o for o in dicts(request.get("options")) if o.get("action_id")]
    choices = [(str(o["action_id"]), str(o.get("label") or o["action_id"])) for o in options]
    allowed = request.get("allowed_decisions")
    if isinstance(allowed, list):
        known = {action for action, _ in choices}
        choices = [c for c in choices if c[0] in allowed] + [(str(a), str(a)) for a in allowed if a not in known]
    return choices


def request_question(request: dict) -> str:
    """What a pause asks: the prompt, or for a tool approval the tool and its input."""
    if request.get("kind") == "tool_approval":
        asked = [a for a in dicts(request.get("action_requests")) if a.get("name")]
        if asked:
            return "; ".join(
                f"run the tool {a['name']} with {json.dumps(a.get('args', {}), ensure_ascii=False, default=str)}?"
                for a in asked
            )
    return str(request.get("prompt") or "the flow asks for a decision")


def pick_choice(answer: str, choices: list[tuple[str, str]]) -> str | None:
    """The action an answer names: its number in the list, its action id or its label (any case)."""
    answer = answer.strip()
    if answer.isdigit() and 1 <= int(answer) <= len(choices):
        return choices[int(answer) - 1][0]
    return next((action for action, label in choices if answer.lower() in (action.lower(), label.lower())), None)


def pick_flow(answer: str, flows: list[dict]) -> dict | None:
    """The flow an answer names: its number in the list, its endpoint name or id, or a unique start of one."""
    answer = answer.strip()
    if answer.isdigit() and 1 <= int(answer) <= len(flows):
        return flows[int(answer) - 1]
    named = [f for f in flows if answer in (f["endpoint_name"], f["id"])]
    starts = [f for f in flows if any(str(key or "").startswith(answer) for key in (f["endpoint_name"], f["id"]))]
    found = named or (starts if answer else [])
    return found[0] if len(found) == 1 else None


def flow_setting(listed: dict) -> str:
    """How the settings name a flow of the list (LANGFLOW_FLOW_ID, and -c's state): its endpoint name, else its id."""
    return str(listed["endpoint_name"] or listed["id"])


# --- Stored messages: history, recaps, listings, exports --------------------------------------


def turn_error(messages: list[dict], user_message_id: Any) -> dict | None:
    """The error stored for this turn: the first error after this turn's user message (oldest
    first), or after the last user message when its id is unknown."""
    ids = [message.get("id") for message in messages]
    if user_message_id is not None and user_message_id in ids:
        start = ids.index(user_message_id) + 1
    else:
        users = [index for index, message in enumerate(messages) if message.get("sender") == "User"]
        start = users[-1] + 1 if users else 0
    return next((message for message in messages[start:] if message.get("category") == "error"), None)


EMPTY_REPLY = "(empty reply)"


def stored_text(message: dict, empty_reply: Callable[[], str] = lambda: EMPTY_REPLY) -> str:
    """A stored message as /history shows it: errors marked, a pause as what was asked and
    answered, a reply stored empty said so."""
    text = str(message.get("text") or "").strip()
    if message.get("category") == "error":
        return error_mark(message) + text
    pause = pause_text(message)
    if not text and pause:
        return pause
    if not text and message.get("sender") != "User":
        return empty_reply()
    return text


def pause_text(message: dict) -> str:
    """A stored pause (an empty AI message holding the question): what it asked and what was answered."""
    for _key, content in nested_contents(message.get("content_blocks"), ()):
        if content.get("type") == "human_input":
            action = content.get("submitted_action")
            action = action if isinstance(action, str) else None
            answer = dict(request_choices(content)).get(action, action) if action else ""
            answer = answer or ("stopped" if content.get("superseded") else "(waiting for a decision)")
            return f"[asked] {one_line(request_question(content), 200)} [answered] {answer}"
    return ""


def error_mark(message: dict) -> str:
    """A stored error (a component that raised) shows as such, not as a reply."""
    return f"[error from {message.get('sender_name') or 'the flow'}] " if message.get("category") == "error" else ""


TIMESTAMP = re.compile(r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.(\d+))?\s*(Z|UTC|[+-]\d\d:?\d\d)?")


def parse_time(stamp: object) -> datetime | None:
    """A Langflow timestamp (1.13: "2026-11-21 10:00:00.123456 UTC"; or no zone, meaning UTC; or
    ISO with Z or an offset). Python 3.10's fromisoformat takes neither Z nor every fraction."""
    from datetime import datetime, timedelta, timezone

    match = TIMESTAMP.fullmatch(str(stamp or "").strip())
    if not match:
        return None
    day, clock, fraction, zone = match.groups()
    try:
        moment = datetime.fromisoformat(f"{day} {clock}").replace(microsecond=int((fraction or "0")[:6].ljust(6, "0")))
        offset = timedelta(0)
        if zone and zone not in ("Z", "UTC"):
            offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[-2:])) * (-1 if zone[0] == "-" else 1)
        return moment.replace(tzinfo=timezone(offset))
    except ValueError:  # month 13, an offset of a day or more
        return None


def time_in(stamp: object, zone: tzinfo | None) -> datetime | None:
    """A timestamp moved to `zone` (None: local time); None if it cannot be read or moved."""
    moment = parse_time(stamp)
    try:
        return moment.astimezone(zone) if moment else None
    except OverflowError:  # a time at the calendar's end (year 1 or 9999) moved past it
        return None


def iso_time(stamp: object) -> str:
    """A timestamp for scripts: ISO 8601 in UTC (the server's text if it cannot be read)."""
    from datetime import timezone

    moment = time_in(stamp, timezone.utc)
    return moment.isoformat() if moment else str(stamp or "")


def local_time(stamp: object, zone: tzinfo | None = None) -> str:
    """A timestamp for people: local time (or `zone`) to the minute."""
    moment = time_in(stamp, zone)
    return moment.strftime("%Y-%m-%d %H:%M") if moment else str(stamp or "-")


def session_summaries(messages: list[dict]) -> list[dict]:
    """The flow's conversations from its stored messages, most recent first: id, last active (ISO
    8601, UTC), message count, first user message. Langflow's own "agentic_" sessions are left out."""
    counts: dict[str, int] = {}
    last: dict[str, object] = {}
    first: dict[str, str] = {}
    seen: set[str] = set()
    for message in sorted(messages, key=lambda m: str(m.get("timestamp") or "")):
        session_id, message_id = str(message.get("session_id") or ""), str(message.get("id") or "")
        if not session_id or session_id.startswith("agentic_") or (message_id and message_id in seen):
            continue  # an id seen twice: a message that moved between two pages while they were read
        seen.add(message_id)
        counts[session_id] = counts.get(session_id, 0) + 1
        last[session_id] = message.get("timestamp")
        if session_id not in first and message.get("sender") == "User":
            first[session_id] = str(message.get("text") or "")
    summaries = [
        {"session_id": key, "last_active": iso_time(last[key]), "messages": count, "first_message": first.get(key, "")}
        for key, count in counts.items()
    ]
    return sorted(summaries, key=lambda s: (s["last_active"], s["session_id"]), reverse=True)


RECAP_TURNS = 3  # the last turns shown when a conversation is resumed


def recap_start(history: list[tuple[str, str]], turns: int = RECAP_TURNS) -> int:
    """Where the last `turns` turns begin: at the turns-th last user message."""
    users = [index for index, (sender, _text) in enumerate(history) if sender == "User"]
    return users[-turns] if len(users) >= turns else 0


def conversation_export(path: str, session_id: str, messages: list[dict], saved: datetime) -> str:
    """A conversation as JSON (the messages as stored) when the path ends in .json, else Markdown."""
    if path.lower().endswith(".json"):
        document = {"session_id": session_id, "saved_at": saved.isoformat(), "messages": messages}
        return json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n"
    first, last = (local_time(messages[i].get("timestamp")) for i in (0, -1)) if messages else ("-", "-")
    lines = [
        f"# Conversation {session_id}",
        "",
        f"- Session id: `{session_id}`",
        f"- Messages: {len(messages)}, from {first} to {last}",
        f"- Saved: {saved.strftime('%Y-%m-%d %H:%M %z')}",
    ]
    for message in messages:
        text = error_mark(message) + str(message.get("text") or "").strip()
        lines += ["", "## User" if message.get("sender") == "User" else "## AI", "", text]
    return "\n".join(lines) + "\n"


# === 3. Dialects: what differs between Langflow releases =======================================
#
# Every difference between releases that the client meets lives here, named; the rest of the code
# asks Dialect's names or reads what the server sent, never a version number.
#
#   begins   difference                                                    where it is met
#   -------  ------------------------------------------------------------  -------------------------
#   (1.0)    stream=true answers JSON whose outputs point at a stream_url   by its shape: ask(),
#            (real SSE, {"chunk": ...} lines)                               follow_stream_urls()
#   (1.0)    the flow list answers 500 to an API key when auto-login is     flows_by_folder, asked
#            off ('UserRead' object has no attribute 'flows'): flows are    after that 500:
#            listed folder by folder (fixed in 1.1)                         list_flows()
#   1.1.2    stream=true answers the event stream (a JSON object a line)    by its content type: ask()
#   1.1.0    a streamed reply is stored empty, so memory and /history      stores_streamed_replies
#            lose the AI's side (1.0.19 and 1.1.2+ store its text)
#   1.1.2    a failing component ends the stream with neither `error` nor   by its shape: turn_failure()
#            `end`; the error is stored as a message (through 1.7)
#   1.2      a Chat Input's `files` tweak is a list (before: one path)      files_as_string
#   1.2      a reply's first token comes in an add_message marked complete, by its shape:
#            then again as a token (through 1.6)                            replayed_token()
#   1.7.1    X-LANGFLOW-GLOBAL-VAR-<NAME> headers on /run set a global      takes_variable_headers
#            variable for that run (before: ignored)
#   1.8      every failure in a stream is an `error` event                  by its shape: show_stream()
#   1.9      an agent's tool results come as `log` events                   by its shape: event_steps()
#   1.10     the v2 workflows API: background runs (--background), their    a 404 under /api/v2 is
#            events SSE frames with ids (re-read with Last-Event-ID)        the no-v2 failure
#   1.11     message listings page (limit/offset; 200 at most from 1.12.2)  by its shape: monitor_list()
#   1.11     a flow that may pause for a human is refused by /run (400, or  needs_background_run():
#            one stream `error`) and runs only as a v2 background run,      ask(); a background run
#            which pauses (human_input_required) and is resumed             is only started after
#                                                                           that refusal
#   1.12.5   GET /monitor/messages/sessions lists session ids latest        lists_recent_sessions
#            first (limit); a session's messages are its newest window
#            (1.12.2+): the latest conversations are listed without
#            reading every message
#   1.13     a failed stream sends two `error` events, seconds apart        by its shape: ask() stops
#                                                                           at the first
#   1.13     a background run's event stream sends `: keepalive` after 15 s STALL_SECONDS: 45 s of
#            of silence                                                     silence is a stall
#   lfx      `lfx serve` (Langflow's runtime without UI or database):      LFX_SERVE:
#   serve    no /api/v1 paths (its router's 404); GET /health answers      Server.dialect(),
#            {"status": "healthy", "flow_count": N}                         speaks_langflow_api
#            runs at POST /flows/{id}/stream (the v1 event stream, but one  runs_at
#            `end`, no tokens), flows only by id                            routes_endpoint_names
#            the result is {"result": text, "success": ...}                 by its shape: reply_texts()
#            flows listed at GET /flows ({id, title, description})          flows_at
#            no stored messages (history, sessions, rename, forget)         stores_conversations
#            tweaks, input/output types and files are not used             takes_tweaks
#            401, not 403, for a missing or wrong key                       by its status: FAILURES
#
# A server that does not say its version (GET /api/v1/version) and is not `lfx serve` is taken as
# the newest Langflow.


class Dialect(NamedTuple):
    """What a server speaks, as named capabilities (Server.dialect asks once per server)."""

    version: str | None  # as the server says it, for messages; None if it did not say
    stores_streamed_replies: bool  # a streamed reply is stored with its text
    files_as_string: bool  # a Chat Input's `files` is one path string, not a list
    takes_variable_headers: bool  # /run honours X-LANGFLOW-GLOBAL-VAR-<NAME> headers (--var)
    flows_by_folder: bool = False  # the flow list may fail: list flows through GET /api/v1/folders/
    lists_recent_sessions: bool = False  # conversations listed latest first; messages: the newest window
    name: str = "this server"  # what messages call the server: "Langflow 1.13.0", "lfx serve"
    speaks_langflow_api: bool = True  # the server answers Langflow's /api/v1 paths
    runs_at: str = "/api/v1/run/{flow}?stream={stream}"  # where a run is sent
    routes_endpoint_names: bool = True  # runs take an endpoint name (else only the id: names are looked up)
    flows_at: str = "/api/v1/flows/"  # the flow listing
    stores_conversations: bool = True  # messages are stored: history, sessions, rename, forget
    takes_tweaks: bool = True  # a run takes tweaks (and so files), input and output types


LFX_SERVE = Dialect(
    version=None,
    stores_streamed_replies=True,
    files_as_string=False,
    takes_variable_headers=False,
    name="lfx serve",
    speaks_langflow_api=False,
    runs_at="/flows/{flow}/stream",
    routes_endpoint_names=False,
    flows_at="/flows",
    stores_conversations=False,
    takes_tweaks=False,
)


def release_number(version: str | None) -> tuple[int, ...]:
    """'1.4.3' -> (1, 4, 3); () for a version that is not one."""
    return tuple(int(part) for part in re.findall(r"\d+", version or "")[:3])


def dialect_for(version: str | None) -> Dialect:
    """The dialect of a server that reports this version."""
    number = release_number(version)

    def before(*release: int) -> bool:
        return bool(number) and number < release

    return Dialect(
        version=version,
        name=f"Langflow {version}" if version else "this server",
        stores_streamed_replies=before(1, 1) or not before(1, 1, 2),
        files_as_string=before(1, 2),
        takes_variable_headers=not before(1, 7, 1),
        flows_by_folder=before(1, 1),
        lists_recent_sessions=not before(1, 12, 5),
    )


NEWEST_LANGFLOW = dialect_for(None)


# === 4. The stream ===============================================================================

MAX_ANSWER = 256 * 2**20  # characters of one answer or one event line: a 5 MB reply's `end` is ~26 MB
END_EVENT_STARTS = ('{"event": "end"', '{"event":"end"')


def text_of(chunks: Iterable[bytes]) -> str:
    """A whole answer's bytes as text, decoded as they come (so the bytes are never held twice)."""
    return next(lines_of(chunks, split=False), None) or ""


def lines_of(
    chunks: Iterable[bytes], split: bool = True, drop: Callable[[str], bool] = lambda _start: False
) -> Iterator[str | None]:
    """The lines of a UTF-8 byte stream in any chunking (split=False: all of it as one line). A
    line for which drop(its first 16 characters) is true is not kept: None stands for it."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    pieces: list[str] = []
    size, checked, dropped = 0, False, False
    for chunk in itertools.chain(chunks, [None]):
        text = decoder.decode(chunk or b"", final=chunk is None)
        *ends, rest = text.split("\n") if split else [text]
        if chunk is None and not split:
            ends, rest = [rest], ""
        for end in ends:
            line = None if dropped else "".join([*pieces, end])
            pieces, size, checked, dropped = [], 0, False, False  # let go of the pieces before the line is parsed
            yield line
        if not dropped:
            pieces.append(rest)
            size += len(rest)
        if size >= 16 and not checked:
            checked = True
            dropped = drop("".join(pieces)[:16])
            pieces = [] if dropped else pieces
        if size > MAX_ANSWER:
            raise failure_error("too-long", size=MAX_ANSWER // 2**20)
    if size or dropped:
        line = None if dropped else "".join(pieces)
        pieces = []
        yield line


LONG_TEXT = 1024  # characters from which a string the answer repeats is kept once


def parse_json(text: str | bytes, keep_huge: bool = True) -> Any:
    """JSON from a server: NaN and Infinity are not JSON, and a number too large for a float is
    kept as its text (so --json never prints Infinity), or refused. Nesting too deep is a ValueError.
    Langflow repeats a reply's text up to five times in one answer: each long string is kept once."""
    kept: dict[str, str] = {}

    def once(pairs: list[tuple[str, Any]]) -> dict:
        return {key: kept.setdefault(value, value) if isinstance(value, str) and len(value) >= LONG_TEXT else value
                for key, value in pairs}

    def big(number: str) -> float | str:
        value = float(number)
        if not (math.isfinite(value) or keep_huge):
            raise ValueError(f"{number} is too large a number")
        return value if math.isfinite(value) else number

    def refuse(name: str) -> NoReturn:
        raise ValueError(f"{name} is not JSON")

    try:
        return json.loads(text, object_pairs_hook=once, parse_float=big, parse_constant=refuse)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def split_events(chunks: Iterable[bytes], skip_end: Callable[[], bool] = lambda: False) -> Iterator[dict]:
    """Frame Langflow's stream: one JSON object per line, blank lines between, any chunking. The
    `end` line repeats the whole response (~26 MB for a 5 MB reply): when skip_end() says its
    content is not needed, it is dropped as it arrives, and yielded as a bare `end`."""
    for line in lines_of(chunks, drop=lambda start: start.startswith(END_EVENT_STARTS) and skip_end()):
        event = {"event": "end", "data": {}} if line is None else parse_event_line(line)
        if event is not None:
            yield event


def parse_event_line(line: str | bytes) -> dict | None:
    """One line of the stream as an event; SSE framing (from proxies and old servers) is tolerated."""
    text = (line.decode("utf-8", "replace") if isinstance(line, bytes) else line).strip()
    if text.startswith("data:"):
        text = text[5:].strip()
    if not text or text.startswith(("event:", "id:", "retry:", ":")):
        return None
    try:
        return as_event(parse_json(text))
    except ValueError as exc:
        raise failure_error("malformed-event", line=one_line(text, 80)) from exc


def as_event(value: Any) -> dict:
    return value if isinstance(value, dict) else {"event": "unknown", "data": value}


class StreamEnded(Exception):
    """The stream closed cleanly without its `end` event: what it showed, to ask the server why."""

    def __init__(self, events: int, last: str, user_message_id: Any) -> None:
        super().__init__(f"{events} event{'s' if events != 1 else ''}" + (f", the last {last}" if last else ""))
        self.user_message_id = user_message_id


def is_whole_reply(message: dict) -> bool:
    """A finished reply message; a "partial" one already holds the first token, which comes again."""
    return (
        bool(message.get("text"))
        and message.get("sender") != "User"
        and message.get("category", "message") == "message"
        and dig(message, "properties", "state") != "partial"
    )


def replayed_token(expected: str, chunk: str) -> tuple[str, str]:
    """(what of `chunk` is new, what is still expected again) for a message already shown from its
    add_message: Langflow 1.2 to 1.6 send a streamed reply's first token there, then as a token."""
    if expected.startswith(chunk):
        return "", expected[len(chunk) :]
    if chunk.startswith(expected):
        return chunk[len(expected) :], ""
    return chunk, ""


def show_stream(events: Iterable[dict], show: Show, gaps: list | None = None) -> dict:
    """Show the reply as it streams, each message once; return the `end` event's result.

    Tokens are shown as they come; a message that arrived whole (a model that does not stream)
    from add_message, and if nothing was shown, from `end`. `gaps` grows at each re-attach of a
    background run: the tokens sent meanwhile are gone, so a message shown in part is held until
    its whole text comes, then shown from where it stopped.
    """
    shown: set[Any] = set()
    texts: dict[Any, str] = {}  # what was shown of each message
    held: set[Any] = set()  # messages cut by a gap: shown again only from their whole text
    expected: dict[Any, str] = {}  # text shown from an add_message, that its tokens may repeat
    current: Any = None
    count, kind, user_message_id, gaps_seen, session = 0, "", None, 0, ""

    def start(message_id: Any) -> None:
        nonlocal current
        if shown and message_id != current:
            show("\n\n")
        current = message_id
        shown.add(message_id)

    for event in events:
        if gaps is not None and len(gaps) > gaps_seen:
            gaps_seen, held = len(gaps), held | shown
        count, kind, data = count + 1, str(event.get("event")), event.get("data")
        if kind == "error":
            raise flow_error(data)
        data = data if isinstance(data, dict) else {}
        if kind == "add_message" and data.get("sender") == "User" and user_message_id is None:
            user_message_id = data.get("id")
        session = str(data.get("session_id") or session)  # add_message events say it
        message_id = data.get("id", "tokens") if kind == "token" else data.get("id") or data.get("text")
        if not isinstance(message_id, (str, int)):
            message_id = str(message_id)
        if kind == "token" and data.get("chunk") and message_id not in held:
            chunk, expected[message_id] = replayed_token(expected.get(message_id, ""), str(data["chunk"]))
            if chunk:
                start(message_id)
                show(chunk)
                texts[message_id] = texts.get(message_id, "") + chunk
        elif kind == "add_message" and is_whole_reply(data):
            whole = str(data["text"])
            if message_id not in shown:
                start(message_id)
                show(whole)
                expected[message_id] = texts[message_id] = whole
            elif message_id in held and whole.startswith(texts.get(message_id, whole)):
                show(whole[len(texts[message_id]) :])
                texts[message_id] = whole
                held.discard(message_id)
        elif kind == "end":
            result = data.get("result", {})
            if not shown:
                for text in filter(None, reply_texts(result)):
                    start(text)
                    show(text)
            result = result if isinstance(result, dict) else {}
            if session:  # the messages' session when `end` has none (or was dropped unread: its text was shown)
                result.setdefault("session_id", session)
            return result
    raise StreamEnded(count, kind, user_message_id)


def sse_chunks(events: Iterable[dict], message_id: Any) -> Iterator[dict]:
    """The old stream_url stream's {"chunk": ...} data lines as the event stream's `token` events."""
    for event in events:
        if event.get("error"):
            raise flow_error(event["error"])
        if isinstance(event.get("chunk"), str):
            yield {"event": "token", "data": {"chunk": event["chunk"], "id": message_id}}


def tee(events: Iterable[dict], on_event: Callable[[dict], None] | None) -> Iterator[dict]:
    for event in events:
        if on_event is not None:
            on_event(event)
        yield event


# --- A background run's events (v2): Server-Sent Events frames with ids -------------------------


class JobEvents:
    """The events of one attach to a background run, from SSE frames (`data: <json>`, `id: <n>`).

    last_id is the last frame's id, to re-attach from. The v2 `end` holds no result: the run's
    answer is put in it (asked of `answer`, or made of the run's `output` events), and `finished`
    is set. A pause counts only as the last event (a replay holds answered ones): it is kept in
    `pause`, not passed on. A stopped run's `{"type": "cancelled"}` is the job-stopped error.
    """

    def __init__(self, chunks: Iterable[bytes], answer: Callable[[], dict] | None, last_id: str = "") -> None:
        self.chunks, self.answer, self.last_id = chunks, answer, last_id
        self.pause: dict | None = None
        self.finished = False
        self.outputs: dict[str, dict] = {}  # the run's `output` events by component

    def __iter__(self) -> Iterator[dict]:
        data: list[str] = []
        for line in self._lines():
            line = line.rstrip("\r")
            if line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            elif line.startswith("id:"):
                self.last_id = line[3:].strip()
            elif not line and data:  # a blank line (or the end) ends a frame
                try:
                    event = as_event(parse_json("\n".join(data)))
                except ValueError as exc:
                    raise failure_error("malformed-event", line=one_line(data[0], 80)) from exc
                data = []
                if event.get("type") == "cancelled":
                    raise failure_error("job-stopped")
                pause = event.get("data") if event.get("event") == "human_input_required" else None
                self.pause = pause if isinstance(pause, dict) else None
                if event.get("event") == "output" and isinstance(event.get("data"), dict):
                    self.outputs[str(event["data"].get("component_id"))] = event["data"]
                if event.get("event") == "end":
                    self.finished = True
                    outputs = {"object": "response", "status": "completed", "outputs": self.outputs}
                    yield {"event": "end", "data": {"result": self.answer() if self.answer else outputs}}
                    return
                if self.pause is None:
                    yield event

    def _lines(self) -> Iterator[str]:
        try:
            yield from (line or "" for line in lines_of(self.chunks))
            yield ""  # the end of the stream ends a frame too
        finally:  # this attach is over: its reader thread ends now, not at the interpreter's exit
            getattr(self.chunks, "close", lambda: None)()


# --- Agent steps: what an agent reports while it works -----------------------------------------

STEP_LIMIT = 200  # characters of a step's input, result or error shown


def event_steps(event: dict) -> list[tuple[Any, str]]:
    """The agent steps an event reports, in order, each with a key that names it across re-sends.

    An Agent sends its message again and again while it works (add_message, state "partial"), its
    content_blocks growing: a `tool_use` content appears when a tool is called and gets its
    `output` or `error` when the tool returns (1.13 lists contents flat; up to 1.6 inside one
    "Agent Steps" block). A `log` event is a step too (log_steps).
    """
    kind, data = event.get("event"), event.get("data")
    if not isinstance(data, dict):
        return []
    if kind == "log":
        return log_steps(data)
    if kind != "add_message" or data.get("sender") == "User":
        return []
    steps: list[tuple[Any, str]] = []
    for key, content in nested_contents(data.get("content_blocks"), (str(data.get("id")),)):
        if content.get("type") == "tool_use":
            steps += tool_steps(key, content)
        elif content.get("type") == "error" and (content.get("reason") or content.get("component")):
            where = f"{content['component']}: " if content.get("component") else ""
            steps.append(((*key, "failed"), f"error: {where}{step_text(content.get('reason') or '')}"))
    return steps


def log_steps(data: dict) -> list[tuple[Any, str]]:
    """A `log` event's step: from 1.9 an Agent logs each tool's start (its input) and end (its
    output) as they happen; other framework logs ("Chain Start") are not steps."""
    message = data.get("message")
    if isinstance(message, str):
        return [(None, f"log: {one_line(message, STEP_LIMIT)}")] if message.strip() else []
    if not isinstance(message, dict) or message.get("type") not in ("tool_start", "tool_end"):
        return []
    name = dig(message, "serialized", "name") or message.get("name") or "a tool"
    key = ("log", str(message.get("run_id")))
    if message["type"] == "tool_start":
        tool_input = message.get("inputs") or message.get("input_str")
        return [((*key, "call"), f"calling {name}" + (f" {step_text(tool_input)}" if tool_input else ""))]
    return [((*key, "returned"), f"{name} returned: {tool_output(message.get('output'))}")]


def nested_contents(blocks: Any, key: tuple) -> Iterator[tuple[tuple, dict]]:
    """Every content of content_blocks, depth first, keyed by its position (the list only grows)."""
    for index, block in enumerate(dicts(blocks) if len(key) < 8 else []):
        yield (*key, index), block
        yield from nested_contents(block.get("contents"), (*key, index))


def tool_steps(key: tuple, content: dict) -> list[tuple[Any, str]]:
    """A tool call (once its input is known, or it has returned), then its result or error."""
    name = content.get("name") or "a tool"
    tool_input = content.get("tool_input") or content.get("input")
    error, output = content.get("error"), content.get("output")
    steps = []
    if tool_input or error is not None or output is not None:
        steps.append(((*key, "call"), f"calling {name}" + (f" {step_text(tool_input)}" if tool_input else "")))
    if error not in (None, ""):
        steps.append(((*key, "failed"), f"{name} failed: {step_text(error)}"))
    elif output is not None:
        steps.append(((*key, "returned"), f"{name} returned: {tool_output(output)}"))
    return steps


def tool_output(output: Any) -> str:
    """What a tool returned, on one line: the `content` of a LangChain ToolMessage, else the output."""
    if isinstance(output, dict) and "content" in output:
        output = output["content"]
    return step_text(output)


def step_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return one_line(text, STEP_LIMIT)


def tee_steps(events: Iterable[dict], on_step: Show | None) -> Iterator[dict]:
    """Pass the events on, telling on_step each agent step the first time it is reported. Once a
    tool's start was logged (1.9+), tool contents add only failures (no log reports one)."""
    seen: set[Any] = set()
    tools_logged = False
    for event in events:
        for key, line in event_steps(event) if on_step is not None else []:
            tools_logged = tools_logged or (key is not None and key[0] == "log")
            if tools_logged and key is not None and key[0] != "log" and key[-1] in ("call", "returned"):
                continue
            if key is None or key not in seen:
                seen.add(key)
                on_step(line)
        yield event


CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """Control characters escaped, so a reply cannot retitle, clear or recolour a terminal."""
    return CONTROL_CHARS.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


# === 5. Configuration ============================================================================


class SettingsFile(NamedTuple):
    """A settings file looked for: its path as messages show it, its values, whether it was read."""

    path: str
    values: dict[str, str]
    read: bool
    demo: bool = False  # written by tests/demo_server.py (its first line says so)


class Config(NamedTuple):
    """The settings of a run (a NamedTuple: importing dataclasses would cost every start ~7 ms)."""

    url: str
    flow: str
    api_key: str
    timeout: float
    retries: int
    tweaks: dict = {}  # noqa: RUF012 - never mutated
    input_type: str = "chat"
    output_type: str = "chat"
    output_component: str = ""
    verbose: bool = False
    url_given: bool = True  # False: the default URL, which no setting gave
    variables: dict = {}  # noqa: RUF012 - never mutated; --var NAME -> value, sent as headers
    settings_files: tuple[SettingsFile, ...] = ()  # where settings were looked for, in order
    demo_env: str = ""  # the settings file that gave the URL, when tests/demo_server.py wrote it
    background: bool = False  # run as a v2 background run: it survives a dropped connection
    profile: str = ""  # the profile read (--profile, LANGFLOW_PROFILE)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values never to be shown: the one writer redacts them from every line."""
        from urllib.parse import unquote, urlsplit

        password = urlsplit(self.url).password or ""
        return (self.api_key, *self.variables.values(), password, unquote(password))

    @property
    def shown_url(self) -> str:
        """The URL as messages, the banner and the state file show it: its password never."""
        return without_password(self.url)


URL_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/?#:]*):[^/?#]*@")  # as urlsplit reads user:password@


def without_password(url: str) -> str:
    """Any URL, even one urlsplit refuses, with its password [redacted]."""
    return URL_PASSWORD.sub(r"\1:[redacted]@", url, count=1)


DEMO_MARK = "# Written by tests/demo_server.py"
MAX_TIMEOUT = 7 * 24 * 3600.0  # seconds: a week is longer than any flow, and any wait a platform allows


def read_env_file(path: str | None) -> SettingsFile:
    """The env file (a named file must exist; ./.env is optional)."""
    if path is None:
        path = os.path.abspath(".env")
        if not os.path.isfile(path):
            return SettingsFile(path, {}, read=False)
    elif not os.path.isfile(path):
        raise usage_error(f"env file not found: {path} (check --env-file)")
    text = read_text_file(path, "env file")
    return SettingsFile(path, env_values(text), read=True, demo=text.lstrip("\ufeff").startswith(DEMO_MARK))


def env_values(text: str) -> dict[str, str]:
    import io

    from dotenv import dotenv_values

    # a stream, not the path: dotenv then never guesses the encoding (1.0.0 loses a variable after a BOM)
    return {key: value for key, value in dotenv_values(stream=io.StringIO(text)).items() if value is not None}


def user_path(kind: str, file: str, os_name: str = os.name, environ: Mapping[str, str] = os.environ) -> str:
    """This user's settings ("config") or state ("state") file: in %APPDATA% or %LOCALAPPDATA% on
    Windows, else in $XDG_CONFIG_HOME or $XDG_STATE_HOME (a relative one is ignored, as XDG says)."""
    if os_name == "nt":
        import ntpath

        home = environ.get("USERPROFILE") or os.path.expanduser("~")
        name, default = ("APPDATA", "Roaming") if kind == "config" else ("LOCALAPPDATA", "Local")
        return ntpath.join(environ.get(name) or ntpath.join(home, "AppData", default), "langflow-chat", file)
    import posixpath

    base = environ.get(f"XDG_{kind.upper()}_HOME")
    if not base or not base.startswith("/"):
        default = ".config" if kind == "config" else ".local/state"
        base = posixpath.join(environ.get("HOME") or os.path.expanduser("~"), default)
    return posixpath.join(base, "langflow-chat", file)


def read_user_settings(path: str) -> SettingsFile:
    """The user-level settings file, if there is one. Holding a key, it must be private to its
    owner (as ssh requires of key files): open to others, it is refused rather than used."""
    if not os.path.isfile(path):
        return SettingsFile(path, {}, read=False)
    values = env_values(read_text_file(path, "settings file"))
    mode = os.stat(path).st_mode
    if values.get("LANGFLOW_API_KEY", "").strip() and os.name != "nt" and mode & 0o077:
        raise failure_error("open-settings", path=path, mode=stat.S_IMODE(mode))
    return SettingsFile(path, values, read=True)


BYTE_ORDER_MARKS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
MAX_SETTINGS = 2**20  # bytes of a settings or tweaks file: more is not one


def read_text_file(path: str, what: str) -> str:
    """A settings file as Windows tools write it: UTF-8 with or without a BOM, or UTF-16 with a BOM
    (PowerShell 5.1's `>`). Anything else is a usage error naming the file, never its contents."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SETTINGS + 1)
    except OSError as exc:
        raise usage_error(f"cannot read {what} {path}: {exc.strerror or type(exc).__name__}") from None
    if len(data) > MAX_SETTINGS:
        raise usage_error(f"{what} {path} is larger than {MAX_SETTINGS // 2**20} MB: not a settings file")
    encoding = next((name for bom, name in BYTE_ORDER_MARKS if data.startswith(bom)), None)
    try:
        if encoding is None and b"\0" in data:  # UTF-16 without a BOM would pass for UTF-8
            raise UnicodeError
        return data.decode(encoding or "utf-8")
    except UnicodeError:
        raise usage_error(f"{what} {path} is neither UTF-8 nor UTF-16 with a BOM (save it as UTF-8)") from None


def parse_number(name: str, value: str, kind: type, minimum: float, maximum: float = math.inf) -> Any:
    try:
        number = kind(value)
    except ValueError:
        number = None
    if number is None or not math.isfinite(number) or number < minimum:
        raise usage_error(f"{name} must be a number of at least {minimum:g}, not {value!r}")
    if number > maximum:
        raise usage_error(f"{name} must be at most {maximum:.0f} s, not {value!r}")
    return number


def header_safe(value: str) -> bool:
    """Whether an HTTP header can carry the value: Latin-1, no control characters."""
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return not any(ord(char) < 32 or ord(char) == 127 for char in value)


API_PATH = re.compile(r"/api/v\d+(?:/|$)")
FLOW_IN_API_PATH = re.compile(r"/api/v\d+/(?:run|webhook)/(?:advanced/)?(?P<flow>[^/]+)")


def server_and_flow(url: str) -> tuple[str, str]:
    """(the server's address, the flow or ""): a URL copied from Langflow's API panel names both.
    Any other URL is the server's address as it is (a proxy's path prefix included)."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    api = API_PATH.search(parts.path)
    if api is None:
        return url.rstrip("/"), ""
    flow = FLOW_IN_API_PATH.match(parts.path, api.start())
    address = f"{parts.scheme}://{parts.netloc}{parts.path[: api.start()]}"
    return address.rstrip("/"), unquote(flow["flow"]) if flow else ""


def url_problem(url: str) -> str:
    """What makes the server's address one no request can go to ("": nothing)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "its [IPv6 address] is not closed, or not an IPv6 address"
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        return "its port must be a number from 1 to 65535"
    host = parts.hostname or ""
    if not host:
        return "it names no host"
    if ":" in host:  # an IPv6 address, checked by urlsplit
        return ""
    labels = host.removesuffix(".").split(".")
    if len(host) > 253 or any(len(label) > 63 for label in labels):
        return "its host name is longer than DNS allows (253 characters, 63 between dots)"
    if "" in labels:
        return "its host name has an empty part between dots"
    return ""


def parse_tweaks(value: str | None) -> dict:
    """--tweaks takes a JSON object, inline or @file.json."""
    if not value:
        return {}
    source = "--tweaks"
    if value.startswith("@"):
        source = value[1:]
        value = read_text_file(source, "tweaks file")
    try:
        tweaks = parse_json(value, keep_huge=False)  # sent as 1e999 it would be Infinity, which JSON lacks
    except ValueError as exc:
        raise usage_error(f"{source} is not valid JSON: {exc}") from exc
    if not isinstance(tweaks, dict):
        raise usage_error(f'{source} must be a JSON object, like {{"ComponentId": {{"field": "value"}}}}')
    return tweaks


VARIABLE_NAME = re.compile(r"[A-Za-z0-9_-]+")


def parse_variables(values: list[str], setting: Callable[..., str]) -> dict[str, str]:
    """--var NAME=VALUE, or --var NAME for the environment's (or a settings file's) NAME, so a
    secret stays out of argv. A bad argument is named by its name only: the rest may be secret."""
    variables: dict[str, str] = {}
    for value in values:
        name, given, text = value.partition("=")
        if not VARIABLE_NAME.fullmatch(name):
            shown = repr(name) if given else "this one"
            raise usage_error(f"--var takes NAME=VALUE or NAME (letters, digits, _ and -), not {shown}")
        if not given:
            text = setting(None, name)
            if not text:
                raise failure_error("var-not-set", name=name)
        if not header_safe(text):
            raise usage_error(f"--var {name}: the value holds a character an HTTP header cannot carry")
        variables[name] = text
    return variables


def read_profile(name: str, environ: Mapping[str, str]) -> tuple[SettingsFile, ...]:
    """The named profile's settings file, beside the user's settings file; an unknown name says which there are."""
    path = user_path("config", f"{name}.env", environ=environ)
    folder = os.path.dirname(path)
    files = os.listdir(folder) if os.path.isdir(folder) else []
    names = sorted(file[:-4] for file in files if file.endswith(".env") and file != ".env")
    if name not in names:
        raise failure_error("unknown-profile", name=name, path=path, profiles=", ".join(names) or "none")
    return (read_user_settings(path),)


def load_config(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> Config:
    """Flags win, then the profile (chosen for this run, as a flag is), the environment, the env file, the user file."""
    profile = args.profile or environ.get("LANGFLOW_PROFILE", "")
    profiles = read_profile(profile, environ) if profile else ()
    files = (read_env_file(args.env_file), read_user_settings(user_path("config", ".env", environ=environ)))
    sources = (*profiles, SettingsFile("the environment", dict(environ), read=True), *files)

    def origin(flag: Any, *names: str) -> tuple[str, SettingsFile | None]:
        """The value and the source that gives it (None: a flag, or nothing)."""
        if flag not in (None, ""):
            return str(flag), None
        found = ((source.values[name], source) for source in sources for name in names if source.values.get(name))
        return next(found, ("", None))

    def setting(flag: Any, *names: str, default: str = "") -> str:
        return origin(flag, *names)[0] or default

    given_url, url_source = origin(args.url, "LANGFLOW_URL", "LANGFLOW_SERVER_URL")
    if not re.match(r"^https?://[^/\s]+", given_url or DEFAULT_URL):
        raise usage_error(
            f"the server URL must start with http:// or https://, not {without_password(given_url)!r}"
            " (check LANGFLOW_URL or --url)"
        )
    problem = url_problem(given_url or DEFAULT_URL)
    if problem:
        raise usage_error(f"the server URL is not valid: {problem} (check LANGFLOW_URL or --url)")
    url, flow_in_url = server_and_flow(given_url or DEFAULT_URL)
    api_key, key_source = origin(None, "LANGFLOW_API_KEY")
    if not header_safe(api_key.strip()):
        raise failure_error("bad-key", source=f" in {key_source.path}" if key_source else "")
    timeout = setting(args.timeout, "LANGFLOW_TIMEOUT", default=str(DEFAULT_TIMEOUT))
    return Config(
        url=url,
        flow=setting(args.flow, "LANGFLOW_FLOW_ID").strip() or flow_in_url,
        api_key=api_key.strip(),
        timeout=parse_number("the timeout", timeout, float, 0.1, MAX_TIMEOUT),
        retries=parse_number("--retries", str(args.retries), int, 0),
        tweaks=parse_tweaks(args.tweaks),
        input_type=args.input_type,
        output_type=args.output_type,
        output_component=args.output_component or "",
        verbose=args.verbose,
        url_given=bool(given_url),
        variables=parse_variables(args.var, setting),
        settings_files=(*profiles, *files),
        demo_env=url_source.path if url_source is not None and url_source.demo else "",
        background=args.background,
        profile=profile,
    )


def require_flow(config: Config) -> None:
    """No flow: say every place that was looked in, and what to do."""
    if not config.flow:
        looked = [f"{file.path} ({'read' if file.read else 'no such file'})" for file in config.settings_files]
        places = ", ".join(["the environment", *looked[:-1]]) + (f" or {looked[-1]}" if looked else "")
        raise failure_error("no-flow", places=places)


def settings_read(config: Config) -> str:
    """Which settings files were read, for --version and -v."""
    read = [file.path for file in config.settings_files if file.read]
    looked = " or ".join(file.path for file in config.settings_files)
    said = f"settings read from {', '.join(read)}" if read else f"settings: no file read (looked for {looked})"
    return f"{said} (profile {config.profile})" if config.profile else said


def insecure_key_warning(config: Config) -> str | None:
    """A key over plain http to another machine can be read on the way."""
    from urllib.parse import urlsplit

    parts = urlsplit(config.url)
    host = parts.hostname or ""
    loopback = host == "localhost" or host.startswith("127.") or host == "::1"
    if config.api_key and parts.scheme == "http" and not loopback:
        return f"warning: sending the API key over plain http to {host}; use https:// for remote servers"
    return None


# --- The message ------------------------------------------------------------------------------


def stdin_is_piped(stdin: TextIO) -> bool:
    """Piped or redirected from a file; not a terminal, not /dev/null."""
    try:
        mode = os.fstat(stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode) or stat.S_ISSOCK(mode)


def read_stdin(stdin: TextIO) -> str:
    """All of stdin as UTF-8, without the final line end a pipe usually ends with (\\n or \\r\\n)."""
    data = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode()
    return data.decode("utf-8", "replace").rstrip("\r\n")


def read_message(positional: str | None, stdin: TextIO) -> str:
    """The message from argv, stdin, or both (stdin first, a blank line, then argv)."""
    if positional == "-":
        message = read_stdin(stdin)
    elif stdin_is_piped(stdin):
        piped = read_stdin(stdin)
        message = f"{piped}\n\n{positional}" if piped.strip() and positional else (positional or piped)
    elif positional is None:
        raise usage_error("no message: give it as an argument, or pipe it on standard input (see --help)")
    else:
        message = positional
    if not message.strip():
        raise usage_error("the message is empty")
    return message


MAX_FILE = 100 * 2**20  # bytes of one --file: requests builds the whole upload in memory


def readable_files(paths: list[str]) -> list[str]:
    """Check every --file before anything is sent, type and size first: a device or FIFO is never opened."""
    for path in paths:
        try:
            info = os.stat(path)
            if stat.S_ISDIR(info.st_mode):
                raise usage_error(f"--file {path} is a directory")
            if not stat.S_ISREG(info.st_mode):
                raise usage_error(f"--file {path} is not a regular file (a device, a FIFO or a socket)")
            if info.st_size > MAX_FILE:
                size = info.st_size / 2**20
                raise usage_error(f"--file {path} is {size:.0f} MB: the limit is {MAX_FILE // 2**20} MB")
            with open(path, "rb") as handle:
                handle.read(1)
        except OSError as exc:
            raise usage_error(f"cannot read --file {path}: {exc.strerror or exc}") from exc
    return paths


# --- Arguments ----------------------------------------------------------------------------------

SHARED_FLAGS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("--url",), {"help": "Langflow server URL (env LANGFLOW_URL)"}),
    (("--flow",), {"help": "flow UUID or endpoint name (env LANGFLOW_FLOW_ID)"}),
    (("--session-id",), {"help": "continue this conversation (default: a fresh one)"}),
    (("--tweaks",), {"metavar": "JSON|@FILE", "help": "per-component overrides: '{\"ChatInput-abc\": {...}}'"}),
    (("--input-type",), {"choices": ("chat", "text", "any"), "default": "chat", "help": "default chat"}),
    (("--output-type",), {"choices": ("chat", "text", "any", "debug"), "default": "chat", "help": "default chat"}),
    (("--output-component",), {"metavar": "ID", "help": "return only this output, e.g. ChatOutput-ylMzN"}),
    (
        ("--timeout",),
        {"metavar": "SECONDS", "help": "longest wait for the server, or between streamed events (default 300)"},
    ),
    (
        ("--retries",),
        {"metavar": "N", "default": DEFAULT_RETRIES, "help": "retries when the flow did not run (default 2)"},
    ),
    (
        ("--var",),
        {
            "action": "append",
            "default": [],
            "metavar": "NAME[=VALUE]",
            "help": "set global variable NAME for each run (repeatable; NAME alone: from the environment; 1.7.1+)",
        },
    ),
    (("--background",), {"action": "store_true", "help": "run in the background (1.10+): survives a dropped line"}),
    (("--env-file",), {"metavar": "PATH", "help": "read settings from this file instead of ./.env"}),
    (("--profile",), {"metavar": "NAME", "help": "read profile NAME.env beside the user settings (LANGFLOW_PROFILE)"}),
    (("--list-flows",), {"action": "store_true", "help": "list the flows this key can run, then exit"}),
    (("--steps",), {"action": "BooleanOptionalAction", "help": "show an agent's steps on stderr (default: at a tty)"}),
    (("-v", "--verbose"), {"action": "store_true", "help": "show requests, responses and tracebacks on stderr"}),
    (("-V", "--version"), {"action": "store_true", "help": "show this client's and the server's versions"}),
)


def argument_parser(
    prog: str, description: str, epilog: str, flags: Iterable[tuple[tuple[str, ...], dict[str, Any]]]
) -> argparse.ArgumentParser:
    """A parser with the flags both scripts share, then `flags`; a usage error is one line, exit 2."""
    import argparse

    class ArgumentParser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            raise usage_error(f"{message} (see {self.prog} --help)")

    parser = ArgumentParser(
        prog=prog, description=description, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for names, options in (*SHARED_FLAGS, *flags):
        if options.get("action") == "BooleanOptionalAction":
            options = {**options, "action": argparse.BooleanOptionalAction}
        parser.add_argument(*names, **options)
    parser.set_defaults(prog=prog)
    return parser


# === 6. HTTP =====================================================================================

WAIT_STEP = 0.1  # seconds the main thread waits at a time for the network, so Ctrl-C is noticed at once
HANDOVER = 4  # items (response chunks) that may wait between the worker and the main thread
REDIRECTS = 5  # same-origin redirects followed for one request


def in_worker(produce: Callable[[], Iterable[T]], stop: Callable[[], None], tick: Callable[[], None]) -> Iterator[T]:
    """The items of a blocking producer (a request, a response's chunks), run in a worker thread.

    The main thread waits in short steps, calling tick() after each empty one, so Ctrl-C ends the
    wait at once on every platform (Windows never interrupts a blocked socket read). When the
    consumer stops early, stop() shuts the connection and the worker is waited for, so no thread
    is left reading at exit. A few items at most wait in between: memory stays bounded.
    """
    import queue
    import threading

    handover: queue.Queue = queue.Queue(maxsize=HANDOVER)
    gone = threading.Event()

    def deliver(item: tuple[str, Any]) -> bool:
        while not gone.is_set():
            with contextlib.suppress(queue.Full):
                handover.put(item, timeout=WAIT_STEP)
                return True
        return False

    def work() -> None:
        try:
            for item in produce():
                if not deliver(("item", item)):
                    getattr(item, "close", lambda: None)()  # a response nobody will read
                    return
            deliver(("done", None))
        except BaseException as exc:  # noqa: BLE001 - raised again in the main thread
            deliver(("error", exc))

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    kind = ""
    try:
        while kind != "done":
            kind, value = waited(handover, tick)
            if kind == "error":
                raise value
            if kind == "item":
                yield value
    finally:
        gone.set()
        if kind not in ("done", "error"):
            stop()
        worker.join(timeout=2 * WAIT_STEP if kind in ("done", "error") else 5.0)


def waited(items: queue.Queue, tick: Callable[[], None]) -> Any:
    """The next item a worker thread hands over, waited for in short steps (see in_worker)."""
    import queue

    while True:
        try:
            return items.get(timeout=WAIT_STEP)
        except queue.Empty:
            tick()


def shut(connection: Any) -> None:
    """Wake a thread blocked reading this connection (shutdown does on every platform; close does
    not on Linux); the pool opens a new connection for the next request."""
    import socket

    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class Client:
    """The HTTP session of a run or a whole conversation: one connection pool, the key header,
    retries where the flow certainly did not run, redirects only within the origin, -v tracing."""

    def __init__(
        self,
        config: Config,
        terminal: Terminal | None = None,
        tick: Callable[[], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import requests

        self.config, self.sleep = config, sleep
        self.terminal = terminal or Terminal(None, None, sys.stderr, config.secrets)
        self.tick = tick or self.terminal.tick  # called at each short step of a wait with nothing new
        self.http = requests.Session()
        self.http.headers["User-Agent"] = USER_AGENT
        if config.api_key:
            self.http.headers["x-api-key"] = config.api_key
        self.base, self.http.auth = base_and_auth(config.url)  # every request goes to the origin of base
        self.in_use: Any = None  # the connection the current request took from the pool
        watch_connections(self.http, self.took)

    def close(self) -> None:
        self.http.close()

    def took(self, connection: Any) -> None:
        self.in_use = connection

    def request(
        self, method: str, path: str, stream: bool = False, timeout: float | None = None, **kwargs: Any
    ) -> requests.Response:
        """Send with retries where the flow certainly did not run; raise ClientError otherwise.
        `timeout` (default: the configured one) is the longest wait for an answer or a chunk."""
        attempt = 0
        while True:
            try:
                response = self.send(method, self.base + path, stream, timeout or self.config.timeout, **kwargs)
            except ClientError as failed:
                if not failed.retry or attempt == self.config.retries:
                    raise
                error, wait = failed, min(0.5 * 2**attempt, MAX_RETRY_WAIT)
            else:
                if response.status_code < 400:
                    return response
                error = response_error(response, bool(self.config.api_key))
                if self.config.verbose and error.detail:
                    self.terminal.say(f"< {error.detail}")
                if not error.retry or attempt == self.config.retries:
                    raise error
                wait = retry_after(response.headers.get("Retry-After"), min(0.5 * 2**attempt, MAX_RETRY_WAIT))
            note = f"retrying in {wait:g} s: {error}"
            if self.config.verbose:
                self.terminal.say(note)  # -v: every attempt, on a line of its own
            else:
                self.terminal.status(note)  # at a terminal one line, updated; elsewhere only the final error
            self.sleep(wait)
            attempt += 1

    def send(self, method: str, url: str, stream: bool, timeout: float, **kwargs: Any) -> requests.Response:
        """One request, and the redirects it gets within the same origin (each traced with -v)."""
        from urllib.parse import urljoin, urlsplit

        for _hop in range(REDIRECTS + 1):
            response = self.send_once(method, url, stream, timeout, **kwargs)
            if not response.is_redirect:
                return response
            response.close()
            target = urljoin(url, response.headers.get("Location", ""))
            if urlsplit(target)[:2] != urlsplit(self.base)[:2]:
                raise failure_error("redirect-elsewhere", target=one_line(target, 200))
            url = target
            if response.status_code == 303:  # 303: see the other page with GET (307, 308: send it again)
                method, kwargs = "GET", {key: value for key, value in kwargs.items() if key not in ("json", "files")}
        raise failure_error("redirect-loop", url=one_line(url, 200))

    def send_once(self, method: str, url: str, stream: bool, timeout: float, **kwargs: Any) -> requests.Response:
        import requests

        if self.config.verbose:
            self.terminal.say(f"> {method} {url}")
            for name, value in {**self.http.headers, **kwargs.get("headers", {})}.items():
                self.terminal.say(f"> {name}: {'[redacted]' if name.startswith(VARIABLE_HEADER) else value}")
        started = time.monotonic()
        limits = (min(CONNECT_TIMEOUT, timeout), timeout)
        try:
            (response,) = in_worker(
                lambda: [
                    self.http.request(method, url, stream=stream, timeout=limits, allow_redirects=False, **kwargs)
                ],
                lambda: shut(self.in_use),
                self.tick,
            )
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidJSONError) as exc:
            raise usage_error(
                f"cannot send the request: {type(exc).__name__} (check LANGFLOW_URL and --tweaks)"
            ) from exc
        except requests.RequestException as exc:
            raise network_error(exc, self.config, timeout) from exc
        if self.config.verbose:
            self.terminal.say(f"< HTTP {response.status_code} {response.reason} ({time.monotonic() - started:.3f} s)")
            for name, value in response.headers.items():
                self.terminal.say(f"< {name}: {value}")
        return response

    def json(self, response: requests.Response, streamed: bool = False) -> Any:
        """A whole response read as JSON; an HTML page or garbage is a clear error, not a dump. A
        `streamed` response (asked with stream=True: /run's) is decoded as it arrives."""
        content_type = response.headers.get("Content-Type", "")
        if "json" not in content_type:
            response.close()
            raise failure_error("not-json", status=response.status_code, content_type=content_type or "no content type")
        try:
            return parse_json(text_of(self.chunks(response)) if streamed else response.content)
        except ValueError as exc:
            raise failure_error("not-json", status=response.status_code, content_type="malformed JSON") from exc

    def json_list(self, response: requests.Response, what: str) -> list:
        """A JSON answer that must be a list (a listing); anything else is not Langflow's."""
        answer = self.json(response)
        if not isinstance(answer, list):
            raise failure_error("not-a-list", what=what)
        return answer

    def chunks(self, response: requests.Response) -> Iterator[bytes]:
        """Bytes as they arrive, decompressed: no fixed-size buffer, so each event is seen at once."""

        def read_all() -> Iterator[bytes]:
            read = getattr(response.raw, "read1", None)  # urllib3 2.2 and later
            try:
                if read is None:
                    yield from response.iter_content(chunk_size=None)
                    return
                while chunk := read(65536, decode_content=True):
                    yield chunk
            except Exception as exc:
                raise network_error(exc, self.config) from exc

        connection = getattr(response.raw, "connection", None)
        try:
            yield from in_worker(read_all, lambda: shut(connection), self.tick)
        finally:
            response.close()


def base_and_auth(url: str) -> tuple[str, tuple[str, str] | None]:
    """The URL without user and password, which go as Basic auth: never in a URL a -v line or error shows."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    bare = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    return bare, (unquote(parts.username), unquote(parts.password or ""))


def watch_connections(session: requests.Session, took: Callable[[Any], None]) -> None:
    """Tell took() which pooled connection each request uses, so an interrupted wait can shut it."""
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    def watched(pool_class: type) -> type:
        class WatchedPool(pool_class):
            def _get_conn(self, timeout: float | None = None) -> Any:
                connection = super()._get_conn(timeout)
                took(connection)
                return connection

        return WatchedPool

    for adapter in session.adapters.values():
        adapter.poolmanager.pool_classes_by_scheme = {
            "http": watched(HTTPConnectionPool),
            "https": watched(HTTPSConnectionPool),
        }


def response_error(response: requests.Response, key_sent: bool) -> ClientError:
    content_type = response.headers.get("Content-Type", "")
    try:
        detail = error_body_message(response.content, content_type)
    except Exception:  # noqa: BLE001 - the status alone still says what happened
        detail = ""
    if not detail and "json" not in content_type and response.content:
        detail = f"the server did not return JSON ({content_type or 'no content type'})"
    return http_error(response.status_code, detail, key_sent)


def retry_after(header: str | None, default: float) -> float:
    """Honour Retry-After in seconds (capped); an HTTP date or junk falls back to backoff."""
    try:
        seconds = float(header) if header else default
    except ValueError:
        return default
    return min(max(seconds, 0.0), MAX_RETRY_WAIT) if math.isfinite(seconds) else default


# === 7. Calls ====================================================================================


class Server:
    """The server a run or a conversation talks to: its Client, and what is asked of the server
    once and kept: its dialect and the flow's UUID (and components)."""

    def __init__(self, client: Client) -> None:
        self.client, self.config, self.terminal = client, client.config, client.terminal
        self._dialect: Dialect | None = None
        self._flow_uuid: str | None = None
        self._components: dict[str, str] | None = None
        self.pauses = False  # /run refused the flow as one that may pause: it runs in the background
        self.listed: dict | None = None  # the flow as the flow list shows it, once looked up there

    def close(self) -> None:
        self.client.close()

    def knows_dialect(self) -> bool:
        return self._dialect is not None

    def get(self, path: str) -> Any:
        """GET's JSON answer, None for an error answer (a network failure is raised: the request
        that wanted this would meet it next, and wait for it again)."""
        try:
            return self.client.json(self.client.request("GET", path))
        except ClientError as error:
            if error.exit_code == Exit.NETWORK:
                raise
            return None

    def dialect(self) -> Dialect:
        """Asked when first needed, once: Langflow says its version (no key needed); `lfx serve`
        has no such path (its router's 404) and tells itself by its /health answer."""
        if self._dialect is None:
            try:
                answer = self.client.json(self.client.request("GET", "/api/v1/version"))
            except ClientError as error:
                if error.exit_code == Exit.NETWORK:
                    raise
                answer = self.get("/health") if route_missing(error) else None
            if isinstance(answer, dict) and answer.get("status") == "healthy" and "flow_count" in answer:
                self._dialect = LFX_SERVE
            else:
                version = answer.get("version") if isinstance(answer, dict) else None
                self._dialect = dialect_for(str(version) if version else None)
        return self._dialect

    def not_langflow(self, error: ClientError) -> bool:
        """A request to one of Langflow's paths failed because the server is not Langflow."""
        return route_missing(error) and not self.dialect().speaks_langflow_api

    def run_path(self, stream: bool = True) -> str:
        """Where a run is sent. A dialect not asked yet is Langflow's, whose run path takes an
        endpoint name too: a new one-shot does not pay a request to ask it."""
        dialect = self._dialect or NEWEST_LANGFLOW
        flow = self.config.flow if dialect.routes_endpoint_names else self.flow_uuid()
        return dialect.runs_at.format(flow=quoted(flow), stream="true" if stream else "false")

    def flow_uuid(self) -> str:
        """Uploads and history take only the flow's UUID: an endpoint name is looked up in the flow list."""
        if self._flow_uuid is None:
            if is_uuid(self.config.flow):
                self._flow_uuid = self.config.flow
            else:
                self.check()
        return self._flow_uuid

    def check(self) -> None:
        """Before the first prompt: the URL, the key and the flow work (the flow list has it, and names it)."""
        flow, flows = self.config.flow, list_flows(self)
        listed = next((f for f in flows if flow == f["endpoint_name"] or same_uuid(flow, str(f["id"]))), None)
        if listed is None and not self.dialect().routes_endpoint_names:  # a flow file's title
            listed = next((f for f in flows if flow == f["name"]), None)
        if listed is None:
            raise self.unknown_flow()
        self._flow_uuid, self.listed = str(listed["id"]), listed

    def use_flow(self, flow: str, listed: dict) -> None:
        """Run this flow of the list from now on (`flow`: as settings name it); nothing kept of another is used."""
        self.config = self.client.config = self.config._replace(flow=flow)
        self._flow_uuid, self._components, self.pauses, self.listed = str(listed["id"]), None, False, listed

    def title(self) -> str:
        """The flow as a person knows it: its name in the flow list, then its id."""
        listed = self.listed or {}
        return f"{listed['name']} ({listed['id']})" if listed.get("name") else self.config.flow

    def unknown_flow(self) -> ClientError:
        return failure_error("unknown-flow-name", flow=self.config.flow, server=self.name())

    def components(self) -> dict[str, str]:
        """The flow's components, id -> display name, asked once; {} when the server does not show
        the flow (a check that needs them is then skipped, not failed)."""
        if self._components is None:
            nodes = dicts(dig(self.get(f"/api/v1/flows/{quoted(self.flow_uuid())}"), "data", "nodes"))
            self._components = {
                str(node["id"]): str(dig(node, "data", "node", "display_name") or "")
                for node in nodes
                if node.get("id")
            }
        return self._components

    def name(self) -> str:
        """The server as messages name it: its release when it says it."""
        return self.dialect().name


def connect(config: Config, terminal: Terminal) -> Server:
    """The Server of a run or a conversation, its waits and notes on this terminal."""
    warning = insecure_key_warning(config)
    if warning:
        terminal.say(warning)
    return Server(Client(config, terminal))


def check_component_names(server: Server) -> None:
    """--tweaks and --output-component must name components of the flow (by id or display name):
    Langflow ignores a tweak for no component, and answers an unknown output with no message."""
    config = server.config
    named = [("--tweaks", key) for key, value in config.tweaks.items() if isinstance(value, dict)]
    if config.output_component:
        named.append(("--output-component", config.output_component))
    components = server.components() if named else {}
    unknown = [(flag, name) for flag, name in named if components and name not in {*components, *components.values()}]
    if unknown:
        flag, name = unknown[0]
        listing = ", ".join(f"{node_id} ({display})" if display else node_id for node_id, display in components.items())
        raise failure_error("unknown-component", flag=flag, name=name, flow=config.flow, components=one_line(listing))


def new_session_id() -> str:
    import uuid

    return str(uuid.uuid4())


def same_uuid(one: str, other: str) -> bool:
    return one.replace("-", "").lower() == other.replace("-", "").lower()


def is_uuid(text: str) -> bool:
    return re.fullmatch(r"[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}", text) is not None


def quoted(segment: str) -> str:
    """One URL path segment: a flow's name or a session id may hold '/', '?', '#' or spaces."""
    from urllib.parse import quote

    return quote(segment, safe="")


ROUTER_MISSING = {404: "Not Found", 405: "Method Not Allowed"}  # what a server's router answers itself


def route_missing(error: ClientError) -> bool:
    """The server has no such path (a missing flow or conversation is a 404 with its own detail)."""
    return error.status in ROUTER_MISSING and error.detail == ROUTER_MISSING[error.status]


# --- A run ---------------------------------------------------------------------------------------

STREAM_HEADERS = {"Accept": "text/event-stream, application/json", "Accept-Encoding": "identity"}
VARIABLE_HEADER = "X-LANGFLOW-GLOBAL-VAR-"
Decide = Callable[[str, dict], dict]  # (job id, the pause's request) -> the decision to resume with


class Reply(NamedTuple):
    """A finished run: its result (what Langflow's non-streamed /run answers), and whether any
    reply text was shown as it came."""

    result: dict
    had_text: bool


class Shown:
    """`show` (None: only the whole result is wanted), noting whether any text was shown."""

    def __init__(self, show: Show | None) -> None:
        self.show, self.any = show, False

    def __call__(self, text: str) -> None:
        if self.show is not None:
            self.any = self.any or bool(text)
            self.show(text)


def send_run(server: Server, body: dict, stream: bool = True, headers: dict | None = None) -> requests.Response:
    """POST a run where the server takes it. A server without Langflow's run path (its router's
    404: `lfx serve`) is asked its dialect then, and the run sent again (the flow did not run)."""
    headers = {**(STREAM_HEADERS if stream else {}), **(headers or {})}
    for asked in (server.knows_dialect(), True):
        if asked and body.get("tweaks") and not server.dialect().takes_tweaks:
            raise failure_error("not-offered", server=server.name(), what="tweaks (--tweaks)")
        try:
            return server.client.request("POST", server.run_path(stream), stream=True, json=body, headers=headers)
        except ClientError as error:
            if asked or not server.not_langflow(error):
                raise server.unknown_flow() if error.status == 404 else error from None
    raise AssertionError("unreachable")


def run_body(config: Config, message: str, session_id: str, tweaks: dict | None = None) -> dict:
    body: dict[str, Any] = {
        "input_value": message,
        "input_type": config.input_type,
        "output_type": config.output_type,
        "session_id": session_id,
    }
    if config.output_component:
        body["output_component"] = config.output_component
    tweaks = config.tweaks if tweaks is None else tweaks
    if tweaks:
        body["tweaks"] = tweaks
    return body


def variable_headers(server: Server) -> dict[str, str]:
    """--var as /run takes them (1.7.1+). A server that would ignore them is an error rather than a
    run without them."""
    variables = server.config.variables
    if variables and not server.dialect().takes_variable_headers:
        raise failure_error("variables-ignored", server=server.name())
    return {VARIABLE_HEADER + name: value for name, value in variables.items()}


def ask(
    server: Server,
    message: str,
    session_id: str,
    *,
    tweaks: dict | None = None,
    continues: bool = True,
    show: Show | None = None,
    on_event: Callable[[dict], None] | None = None,
    on_step: Show | None = None,
    decide: Decide | None = None,
) -> Reply:
    """One run of the flow, the one place a run is sent and read.

    `show` gets the reply's text as it arrives (None: only the whole result is wanted), on_event
    every event, on_step each agent step, decide each pause of a flow that asks a human (None: no
    one can answer). A flow that /run refuses because it may pause runs in the background, and
    so does every later turn with it; --background runs every flow there.
    """
    if not server.pauses and not server.config.background:
        try:
            return ask_v1(server, message, session_id, tweaks, continues, show, on_event, on_step)
        except ClientError as error:
            if not needs_background_run(error):
                raise
            server.pauses = True
    job_id = start_background_run(server, message, session_id, tweaks)
    return follow_job(server, job_id, decide=decide, show=show, on_event=on_event, on_step=on_step)


def ask_v1(
    server: Server,
    message: str,
    session_id: str,
    tweaks: dict | None,
    continues: bool,
    show: Show | None,
    on_event: Callable[[dict], None] | None,
    on_step: Show | None,
) -> Reply:
    """A run on /api/v1/run, read as events where the server sends them, so a failing component is
    reported at its first `error` event. A server that does not store streamed replies is asked
    without streaming when the conversation `continues`, so memory keeps the turn."""
    client = server.client
    body = run_body(server.config, message, session_id, tweaks)
    variables = variable_headers(server)
    if continues and on_event is None and not server.dialect().stores_streamed_replies:
        return Reply(client.json(send_run(server, body, stream=False, headers=variables), streamed=True), False)
    shown = Shown(show)
    response = send_run(server, body, headers=variables)
    content_type = response.headers.get("Content-Type", "")
    if "json" in content_type:  # a server that streams through stream_urls (up to 1.1.1)
        result = client.json(response, streamed=True)
        return Reply(follow_stream_urls(server, result, session_id, shown, on_event), shown.any)
    if "event-stream" not in content_type:  # a web page: a proxy, or an old Langflow not finding the flow
        response.close()
        raise failure_error("not-json", status=response.status_code, content_type=content_type or "no content type")
    # once text was shown, the `end` event's copy of the reply is not needed (unless events are)
    events = split_events(client.chunks(response), skip_end=lambda: shown.any and on_event is None)
    events = tee(tee_steps(events, on_step), on_event)
    try:
        result = show_stream(events, shown)
        for _rest in events:  # read the stream to its end, so the connection can be reused
            pass
        return Reply(result, shown.any)
    except StreamEnded as ended:
        raise turn_failure(server, session_id, ended) from None
    except ClientError:  # an `error` event: do not wait for the rest (1.13 sends another seconds later)
        shut(getattr(response.raw, "connection", None))
        raise
    finally:
        events.close()
        response.close()


def turn_failure(server: Server, session_id: str, ended: StreamEnded) -> ClientError:
    """A stream that closed without `end`: the failing component's error is stored (1.1.2-1.7), so
    ask for it. If that fails too, say what the stream showed."""
    if not server.dialect().stores_conversations:
        return failure_error("no-result", facts=ended, reason=f"{server.name()} stores no messages to say why")
    try:
        stored = turn_error(session_messages(server, session_id), ended.user_message_id)
    except ClientError as error:
        return failure_error("no-result", facts=ended, reason=f"the stored messages could not be read: {error}")
    if stored is None:
        return failure_error("no-result", facts=ended, reason="no error is stored for this turn")
    return flow_error(stored)


def follow_stream_urls(
    server: Server, result: dict, session_id: str, show: Show, on_event: Callable[[dict], None] | None
) -> dict:
    """A run answered as JSON whose streaming outputs each point at a stream_url (real SSE):
    follow each, show its chunks, and put the text where a finished response holds it. Events
    are made as the event stream sends them: a `token` per chunk, then an `end`."""
    streams = streamed_outputs(result)
    if not streams:
        show("\n\n".join(filter(None, reply_texts(result))))
    for index, (output, url) in enumerate(streams):
        if index:
            show("\n\n")
        headers = {"Accept": "text/event-stream"}
        response = server.client.request("GET", url, stream=True, params={"session_id": session_id}, headers=headers)
        chunks = []
        for event in tee(
            sse_chunks(split_events(server.client.chunks(response)), output.get("component_id") or url), on_event
        ):
            chunks.append(event["data"]["chunk"])
            show(event["data"]["chunk"])
        with_streamed_text(output, "".join(chunks))
    if on_event is not None:
        on_event({"event": "end", "data": {"result": result}})
    return result


def unshown_text(reply: Reply) -> str:
    """The reply text still to show once a run is over: none if it came as it streamed."""
    return "" if reply.had_text else reply_text(reply.result)


# --- Background runs (v2 workflows): human input, re-attaching ---------------------------------

WORKFLOWS = "/api/v2/workflows"
REATTACHES = 3  # re-attaches to a background run after its stream dropped or stalled (backoff 0.5, 1, 2 s)
STALL_SECONDS = 45.0  # silence that counts as a stalled stream: Langflow 1.13 sends a keepalive every 15 s
ANSWER_WAITS = 50  # the status may say in_progress a moment after `end`: asked again 0.1 s apart


def start_background_run(server: Server, message: str, session_id: str, tweaks: dict | None) -> str:
    """Submit a v2 background run (the only kind that pauses for a human); its job id. Langflow
    ignores per-request variables there, so --var is refused rather than dropped."""
    if server.config.variables:
        raise failure_error("variables-in-background")
    body = {"flow_id": server.flow_uuid(), "input_value": message, "session_id": session_id, "mode": "background"}
    tweaks = server.config.tweaks if tweaks is None else tweaks
    if tweaks:
        body["tweaks"] = tweaks
    job_id = dig(server.client.json(workflows_request(server, "POST", "", json=body)), "job_id")
    if not job_id:
        raise failure_error("no-background-runs", server=server.name())
    return str(job_id)


def workflows_request(server: Server, method: str, path: str, **kwargs: Any) -> requests.Response:
    """A request to the v2 workflows API; a server whose router does not know it says so."""
    try:
        return server.client.request(method, WORKFLOWS + path, **kwargs)
    except ClientError as error:
        if route_missing(error):
            raise failure_error("no-background-runs", server=server.name()) from None
        raise


def resume_command(job_id: str, choose: bool) -> str:
    return f"chat_example.py --resume {job_id}" + (" --choice ACTION" if choose else "")


def human_needed(job_id: str, request: dict) -> ClientError:
    """A pause no one can answer here: the exit-5 line, with the command that answers it."""
    return failure_error(
        "human-needed",
        prompt=one_line(request_question(request), 300),
        choices=", ".join(action for action, _ in request_choices(request)),
        command=resume_command(job_id, choose=True),
    )


def no_one_to_ask(job_id: str, request: dict) -> dict:
    raise human_needed(job_id, request)


def follow_job(
    server: Server,
    job_id: str,
    *,
    decide: Decide | None = None,
    show: Show | None = None,
    on_event: Callable[[dict], None] | None = None,
    on_step: Show | None = None,
) -> Reply:
    """Read a background run to its end, from its first event (a re-attach replays what it
    missed), through its pauses and dropped connections. Ctrl-C stops the run at the server."""
    shown = Shown(show)
    gaps: list = []  # one item per re-attach
    answer_wanted = show is None or on_event is not None  # else the text was shown as it came
    events = job_events(server, job_id, decide or no_one_to_ask, gaps, answer_wanted)
    try:
        return Reply(show_stream(tee(tee_steps(events, on_step), on_event), shown, gaps), shown.any)
    except KeyboardInterrupt:
        server.terminal.say("stopping the run at the server (Ctrl-C again to leave now)")
        try:
            workflows_request(server, "POST", "/stop", json={"job_id": job_id})
        except ClientError as error:
            server.terminal.say(f"the run could not be stopped: {error}")
        raise
    finally:
        events.close()  # now, while its reader thread can still end: never at the interpreter's exit


def job_events(server: Server, job_id: str, decide: Decide, gaps: list, answer_wanted: bool) -> Iterator[dict]:
    """Every event of a background run up to its `end`: each pause is answered with decide and the
    run resumed; a stream that drops or stalls is re-attached from the last event received
    (REATTACHES times, with backoff), else the error says how to re-attach later."""
    last_id, failures = "", 0
    while True:
        headers = {"Accept": "text/event-stream", "Accept-Encoding": "identity"}
        if last_id:
            headers["Last-Event-ID"] = last_id
        job = JobEvents((), None, last_id)
        try:
            path, timeout = f"/{quoted(job_id)}/events", min(server.config.timeout, STALL_SECONDS)
            response = workflows_request(server, "GET", path, stream=True, headers=headers, timeout=timeout)
            answer = (lambda: job_answer(server, job_id)) if answer_wanted else None
            job = JobEvents(server.client.chunks(response), answer, last_id)
            for event in job:
                failures = 0
                yield event
        except ClientError as error:
            if error.exit_code != Exit.NETWORK:
                raise
        last_id = job.last_id
        if job.finished:
            return
        if job.pause is not None:
            body = {"request_id": job.pause.get("request_id"), "decision": decide(job_id, job.pause)}
            try:
                workflows_request(server, "POST", f"/{quoted(job_id)}/resume", json=body)
            except ClientError as error:
                if error.status == 422:  # the server allows other answers than its pause listed
                    action = body["decision"].get("action_id")
                    raise failure_error("answer-refused", action=action, detail=error.detail, job_id=job_id) from None
                raise
            continue
        failures += 1
        if failures > REATTACHES:
            raise failure_error("job-dropped", command=resume_command(job_id, choose=False))
        wait = 0.5 * 2 ** (failures - 1)
        server.terminal.say(f"the connection dropped; re-attaching in {wait:g} s ({failures} of {REATTACHES})")
        server.client.sleep(wait)
        gaps.append(last_id)


def job_answer(server: Server, job_id: str) -> dict:
    """A finished background run's answer (the v2 "response" object, with its outputs)."""
    answer = None
    for _ in range(ANSWER_WAITS):
        answer = server.client.json(workflows_request(server, "GET", "", params={"job_id": job_id}))
        if not isinstance(answer, dict) or answer.get("status") not in ("queued", "in_progress"):
            break
        server.client.sleep(0.1)
    return answer if isinstance(answer, dict) else {}


def pending_requests(server: Server) -> list[dict]:
    """This flow's background runs that wait for a human decision (from any client)."""
    response = workflows_request(server, "GET", "/pending", params={"flow_id": server.flow_uuid()})
    return dicts(server.client.json_list(response, "list of waiting runs"))


# --- Files and flows -----------------------------------------------------------------------------

FILE_TWEAK_KEY = "Chat Input"  # Langflow matches a tweak key against component ids and display names


def attach_files(server: Server, paths: list[str], tweaks: dict | None = None) -> dict:
    """The run's tweaks (or `tweaks`: with files attached already) with --file paths uploaded and attached to the
    Chat Input, as Langflow's own generated client does (up to 1.1.1: as the one path string `files` then takes)."""
    tweaks = server.config.tweaks if tweaks is None else tweaks
    if not paths:
        return tweaks
    dialect = server.dialect()
    if not dialect.takes_tweaks:
        raise failure_error("not-offered", server=dialect.name, what="files (--file)")
    chat_input = dict(tweaks.get(FILE_TWEAK_KEY) or {})
    if dialect.files_as_string and len(paths) + bool(chat_input.get("files")) > 1:
        raise usage_error(f"Langflow {dialect.version} takes one file per message")
    stored = []
    for path in paths:
        with open(path, "rb") as handle:
            upload = {"file": (os.path.basename(path), handle)}
            response = server.client.request("POST", f"/api/v1/files/upload/{server.flow_uuid()}", files=upload)
        result = server.client.json(response)
        file_path = result.get("file_path") or result.get("path") if isinstance(result, dict) else None
        if not file_path:
            raise failure_error("not-stored", path=path)
        stored.append(file_path)
    chat_input["files"] = stored[0] if dialect.files_as_string else [*as_list(chat_input.get("files")), *stored]
    return {**tweaks, FILE_TWEAK_KEY: chat_input}


def list_flows(server: Server) -> list[dict]:
    """The flows this key can run, {endpoint_name, id, name} each. Langflow up to 1.1 answers the
    short list with every endpoint_name null: then the full list is asked for. `lfx serve` lists
    its flow files; a server not asked what it is yet is asked at Langflow's path first."""
    if server.knows_dialect() and not server.dialect().speaks_langflow_api:
        answer = server.client.json_list(server.client.request("GET", server.dialect().flows_at), "flow list")
        flows = [{**f, "endpoint_name": None, "name": f.get("title")} for f in dicts(answer)]
    else:
        try:
            flows = dicts(flow_list(server, header_flows=True))
            if flows and not any(f.get("endpoint_name") for f in flows):
                flows = dicts(flow_list(server, header_flows=False))
        except ClientError as error:
            if error.status == 500 and server.dialect().flows_by_folder:
                flows = folder_flows(server)
            elif server.not_langflow(error):
                return list_flows(server)
            else:
                raise
    return [{"endpoint_name": f.get("endpoint_name"), "id": f.get("id"), "name": f.get("name")} for f in flows]


def flow_list(server: Server, header_flows: bool) -> list:
    params = {"get_all": "true", "header_flows": str(header_flows).lower(), "remove_example_flows": "true"}
    return server.client.json_list(server.client.request("GET", "/api/v1/flows/", params=params), "flow list")


def folder_flows(server: Server) -> list[dict]:
    """The flows of each of the user's folders, for a server whose flow list fails (flows_by_folder).
    Folders that are not the user's (the starter projects) answer "404: Folder not found", in a 500."""
    client, flows = server.client, []
    for folder in dicts(client.json_list(client.request("GET", "/api/v1/folders/"), "folder list")):
        try:
            answer = client.json(client.request("GET", f"/api/v1/folders/{quoted(str(folder.get('id')))}"))
        except ClientError as error:
            if error.status == 404 or error.detail.startswith("404:"):
                continue
            raise
        flows += dicts(dig(answer, "flows"))
    return flows


# --- Stored conversations ------------------------------------------------------------------------

MONITOR_PAGE = 200  # Langflow 1.13 answers at most 200 items at once (100 when not asked)
MAX_PAGES = 500  # pages one listing reads at most, all its conversations together: 100,000 messages
RECENT = 20  # conversations /sessions and --list-sessions show unless asked for all
MESSAGE_WINDOW = 200  # the most messages Langflow answers at once (1.12.2+: the newest ones)
SUMMARY_CONNECTIONS = 4  # conversations read at once: Langflow spends 16-23 ms on each answer (1.13)


def monitor_list(server: Server, path: str, params: dict[str, Any], pages: Iterator[int] | None = None) -> list:
    """Every item of a monitor listing, page by page (limit/offset), so nothing is silently cut.
    Older releases ignore limit/offset and answer everything: a page longer than asked, or the
    same page again, means the server does not page. `pages` is the listing's budget of requests,
    shared by the readers of its conversations."""
    items: list = []
    for _page in range(MAX_PAGES) if pages is None else pages:
        request = server.client.request("GET", path, params={**params, "limit": MONITOR_PAGE, "offset": len(items)})
        page = server.client.json_list(request, f"answer to {path}")
        if items and page == items[: len(page)]:
            return items
        items.extend(page)
        if len(page) != MONITOR_PAGE:
            return items
    raise failure_error("endless-list", path=path, count=len(items))


def session_messages(server: Server, session_id: str) -> list[dict]:
    """A conversation's stored messages, all of them, oldest first."""
    params = {"flow_id": server.flow_uuid(), "session_id": session_id, "order": "ASC"}
    return sorted(
        dicts(monitor_list(server, "/api/v1/monitor/messages", params)), key=lambda m: str(m.get("timestamp", ""))
    )


class Listing(NamedTuple):
    sessions: list[dict]  # summaries, most recently active first
    more: bool  # the flow has more conversations than these


def recent_sessions(server: Server, count: int) -> Listing | None:
    """The `count` most recently active conversations: their ids in one request, then each one's
    newest messages. None where the server cannot list them in that order (before 1.12.5)."""
    if not server.dialect().lists_recent_sessions:
        return None
    flow_id = server.flow_uuid()
    params = {"flow_id": flow_id, "limit": min(2 * count + 1, MESSAGE_WINDOW)}  # room for agentic_ ones
    answer = server.client.request("GET", "/api/v1/monitor/messages/sessions", params=params)
    ids = [str(i) for i in server.client.json_list(answer, "conversation list") if not str(i).startswith("agentic_")]
    return Listing(summaries_at_once(server, flow_id, ids[:count]), more=len(ids) > count)


class Abandoned(Exception):
    """A summary no one waits for any more: another one failed, or the user pressed Ctrl-C."""


def summaries_at_once(server: Server, flow_id: str, ids: list[str]) -> list[dict]:
    """Each conversation's summary, in the order of `ids`, read over SUMMARY_CONNECTIONS connections
    at once (one with -v, so the trace reads in order). The first failure is raised, and the other
    readers stop at their next step."""
    import queue
    import threading

    todo: queue.Queue = queue.Queue()
    for index, session_id in enumerate(ids):
        todo.put((index, session_id))
    done: queue.Queue = queue.Queue()
    over = threading.Event()
    pages = iter(range(MAX_PAGES))  # one budget for the whole listing: an endless server ends it

    def abandoned() -> None:
        if over.is_set():
            raise Abandoned

    def read() -> None:
        reader = Server(Client(server.config, server.terminal, tick=abandoned))
        try:
            while not over.is_set():
                try:
                    index, session_id = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    done.put((index, session_summary(reader, flow_id, session_id, pages), None))
                except BaseException as error:  # noqa: BLE001 - raised again in the main thread
                    done.put((index, {}, error))
        finally:
            reader.close()

    readers = [threading.Thread(target=read, daemon=True) for _ in range(min(len(ids), SUMMARY_CONNECTIONS))]
    for reader in readers[: 1 if server.config.verbose else len(readers)]:
        reader.start()
    summaries = [{} for _ in ids]
    try:
        for _ in ids:
            index, summary, error = waited(done, server.client.tick)
            if error is not None:
                raise error
            summaries[index] = summary
    finally:
        over.set()
    return summaries


def session_summary(server: Server, flow_id: str, session_id: str, pages: Iterator[int] | None = None) -> dict:
    """One conversation's summary from its newest messages. A conversation longer than the window
    is read further for its first user message, and its count left out (None): only exact counts."""
    params = {"flow_id": flow_id, "session_id": session_id, "limit": MESSAGE_WINDOW}
    window = sorted(session_window(server, params), key=lambda m: str(m.get("timestamp")))
    whole = len(window) < MESSAGE_WINDOW
    if whole:
        users = [m for m in window if m.get("sender") == "User"]
    else:
        users = dicts(monitor_list(server, "/api/v1/monitor/messages", {**params, "sender": "User"}, pages))
        users.sort(key=lambda m: str(m.get("timestamp")))
    return {
        "session_id": session_id,
        "last_active": iso_time(window[-1].get("timestamp")) if window else "",
        "messages": len(window) if whole else None,
        "first_message": str(users[0].get("text") or "") if users else "",
    }


def session_window(server: Server, params: dict) -> list[dict]:
    """A conversation's newest messages in the flow of params. Asked first without the flow, which
    spares Langflow its permission check (a quarter of its work here, 1.13); that answer serves
    when it is the whole conversation and holds messages of this flow, which are kept. Else (a
    longer conversation, or a flow shared with this user) the flow's messages are asked for."""
    flow_id = params["flow_id"]
    anywhere = message_list(server, {k: v for k, v in params.items() if k != "flow_id"})
    this_flow = [m for m in anywhere if same_uuid(str(m.get("flow_id")), flow_id)]
    if this_flow and len(anywhere) < MESSAGE_WINDOW:
        return this_flow
    return message_list(server, params)


def message_list(server: Server, params: dict) -> list[dict]:
    return dicts(
        server.client.json_list(server.client.request("GET", "/api/v1/monitor/messages", params=params), "message list")
    )


def change_session(server: Server, session_id: str, new: str | None) -> None:
    """Rename a conversation (new id) or delete it (None). Langflow's route takes one path segment
    and decodes %2F first: an id with "/" is changed message by message instead."""
    what = "renaming conversations" if new else "deleting conversations"
    try:
        if "/" in session_id:
            ids = [str(m["id"]) for m in session_messages(server, session_id) if m.get("id")]
            if new is None:
                server.client.request("DELETE", "/api/v1/monitor/messages", json=ids).close()
            for message_id in ids if new else []:
                server.client.request("PUT", f"/api/v1/monitor/messages/{message_id}", json={"session_id": new}).close()
            return
        path, params = f"/api/v1/monitor/messages/session/{quoted(session_id)}", {"new_session_id": new} if new else {}
        server.client.request("PATCH" if new else "DELETE", path, params=params).close()
    except ClientError as error:
        if route_missing(error) and server.dialect().stores_conversations:
            raise failure_error("missing-endpoint", server=server.name(), what=what) from error
        raise


class RemoteFlow:
    """The flow on the server as the chat uses it: turns, waiting runs and stored conversations.
    The chat is tested with a fake of this one object (tests' FakeFlow)."""

    def __init__(self, server: Server, terminal: Terminal, stream: bool) -> None:
        self.server, self.terminal, self.stream = server, terminal, stream

    def decide(self, job_id: str, request: dict) -> dict:
        """A pause is asked at the terminal; piped, it ends the turn with the resume command."""
        decision = self.terminal.choose(request) if self.terminal.can_ask() else None
        if decision is None:
            raise human_needed(job_id, request)
        return decision

    def handlers(self, show: Show) -> dict[str, Any]:
        """How a turn and a resumed run show their reply, steps and questions at this terminal."""
        return {"show": show if self.stream else None, "on_step": self.terminal.step_shower(), "decide": self.decide}

    def ask(self, message: str, session_id: str, show: Show, tweaks: dict | None = None) -> str:
        """One turn; the session the server answered in (which wins over the one sent)."""
        with self.terminal.turn():
            reply = ask(self.server, message, session_id, tweaks=tweaks, **self.handlers(show))
            show(unshown_text(reply))
        return str(dig(reply.result, "session_id") or session_id)

    def resume(self, job_id: str, show: Show) -> None:
        """Answer a waiting background run (/pending N) and show its reply, as a turn does."""
        with self.terminal.turn():
            show(unshown_text(follow_job(self.server, job_id, **self.handlers(show))))

    def pending(self) -> list[dict]:
        return pending_requests(self.server)

    def attach(self, paths: list[str], tweaks: dict | None) -> dict:
        """Upload files for the next turn: its tweaks (`tweaks`: with the files attached before)."""
        return attach_files(self.server, readable_files(paths), tweaks)

    def flows(self) -> list[dict]:
        return list_flows(self.server)

    def use(self, listed: dict) -> str:
        """Run this flow of the list from now on; how the banner names it."""
        self.server.use_flow(flow_setting(listed), listed)
        return self.server.title()

    def offered(self, use: Callable[[], T]) -> T:
        """What `use` returns; a server that stores no messages (`lfx serve`) says so in one line."""
        server = self.server
        if not server.knows_dialect() or server.dialect().stores_conversations:
            try:
                return use()
            except ClientError as error:
                if not route_missing(error) or server.dialect().stores_conversations:
                    raise
        what = "stored conversations (history, sessions, rename, forget, save)"
        raise failure_error("not-offered", server=server.name(), what=what)

    def messages(self, session_id: str) -> list[dict]:
        return self.offered(lambda: session_messages(self.server, session_id))

    def history(self, session_id: str) -> list[tuple[str, str]]:
        """(sender, text) of each stored message, as /history shows it."""

        def empty_reply() -> str:  # the dialect is asked only when a reply was stored empty
            stored = self.server.dialect().stores_streamed_replies
            return EMPTY_REPLY if stored else "(not stored by this server)"

        return [(str(m.get("sender", "")), stored_text(m, empty_reply)) for m in self.messages(session_id)]

    def flow_messages(self) -> list[dict]:
        """Every message of the flow, in all its conversations: one paged listing."""
        return self.offered(
            lambda: dicts(monitor_list(self.server, "/api/v1/monitor/messages", {"flow_id": self.server.flow_uuid()}))
        )

    def recent(self, count: int) -> list[dict] | None:
        return self.offered(lambda: recent_sessions(self.server, count))

    def rename(self, old: str, new: str) -> None:
        self.offered(lambda: change_session(self.server, old, new))

    def forget(self, session_id: str) -> None:
        self.offered(lambda: change_session(self.server, session_id, None))


# === 8. Printing =================================================================================


def make_show(out: TextIO, flush: bool = True) -> Show:
    """Write (and flush) each piece at once. Piped output is exact; at a terminal control characters
    are escaped, but "\\r\\n" is a line break (its "\\r" is held back if it ends a piece)."""
    at_terminal = isatty(out)
    held_cr = False

    def show(text: str) -> None:
        nonlocal held_cr
        if at_terminal:
            text = "\r" + text if held_cr else text
            held_cr = text.endswith("\r")
            text = terminal_safe((text[:-1] if held_cr else text).replace("\r\n", "\n"))
        out.write(text)
        if flush:
            out.flush()

    return show


def isatty(stream: Any) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # not a real stream, or a closed one
        return False


def utf8_stdio(*streams: TextIO | None) -> None:
    """UTF-8 on pipes and files whatever the locale, as jq, gh and git do; a terminal keeps its own
    encoding, and what it cannot show is replaced. Invalid bytes read are replaced, never fatal."""
    for stream in streams:
        with contextlib.suppress(AttributeError, ValueError, OSError):  # not a real stream: leave it
            stream.reconfigure(
                **({"errors": "replace"} if stream.isatty() else {"encoding": "utf-8", "errors": "replace"})
            )


def aligned(rows: list[tuple[str, ...]], indent: str = "") -> str:
    """Rows as columns, two spaces apart, each as wide as its widest cell (the last one is not padded)."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    lines = (indent + "".join(c.ljust(w + 2) for c, w in zip(row[:-1], widths, strict=True)) + row[-1] for row in rows)
    return "\n".join(line.rstrip() for line in lines)


def flows_table(flows: list[dict], numbered: bool = False, width: int | None = None) -> str:
    """--list-flows' table; numbered, to pick one (/flows, at the start): number, endpoint, name, fitting `width`."""
    rows = [("ENDPOINT", "ID", "NAME")]
    rows += [(str(f["endpoint_name"] or "-"), str(f["id"] or "-"), str(f["name"] or "")) for f in flows]
    numbered_rows = [(str(n or "#"), end, name) for n, (end, _id, name) in enumerate(rows)]
    return fitted_table(numbered_rows, width) if numbered else aligned(rows)


def print_json(data: Any, out: TextIO, compact: bool = False) -> None:
    """Written piece by piece: a long reply's JSON is never built as one more whole copy."""
    layout: dict[str, Any] = {"separators": (",", ":")} if compact else {"indent": 2}
    write = make_show(out, flush=False)
    for piece in json.JSONEncoder(ensure_ascii=False, **layout).iterencode(data):
        write(piece)
    make_show(out)("\n")


def sessions_table(sessions: list[dict], numbered: bool, zone: tzinfo | None = None, width: int | None = None) -> str:
    """The listing for people: numbered in the chat (for /resume N), last active in local time. At
    a terminal `width` columns wide no line wraps: the first message is shortened to fit."""
    rows = [("#", "LAST ACTIVE", "MESSAGES", "SESSION", "FIRST MESSAGE")]
    for number, summary in enumerate(sessions, 1):
        count = "-" if summary["messages"] is None else str(summary["messages"])
        row = (str(number), local_time(summary["last_active"], zone), count)
        rows.append((*row, summary["session_id"], one_line(summary["first_message"], FIRST_MESSAGE_WIDTH)))
    return fitted_table(rows if numbered else [row[1:] for row in rows], width)


def fitted_table(rows: list[tuple[str, ...]], width: int | None) -> str:
    """Aligned rows; at a terminal `width` columns wide no line wraps: the last column is shortened to fit."""
    if width is None:
        return aligned(rows)
    room = width - 1 - sum(max(len(row[column]) for row in rows) + 2 for column in range(len(rows[0]) - 1))
    rows = [(*row[:-1], fitted(row[-1], room)) for row in rows]
    return "\n".join(fitted(line, width - 1) for line in aligned(rows).split("\n"))


FIRST_MESSAGE_WIDTH = 60


def columns_of(text: str) -> int:
    """How many terminal columns a text takes: wide (East Asian) characters take two."""
    import unicodedata

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


# === 9. The terminal =============================================================================
# The one layer that knows whether stdin, stdout and stderr are terminals; the rules above never do.

SPINNER = ("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏", "waiting for the flow…")
ASCII_SPINNER = ("|/-\\", "waiting for the flow...")
ERASE_LINE = "\r\x1b[K"
DIM = ("\x1b[2m", "\x1b[22m")
COLORS = {"User": "\x1b[1;36m", "AI": "\x1b[1;32m", "error": "\x1b[1;31m", "warning": "\x1b[1;33m"}
RESET = "\x1b[0m"
QUESTION_LINES = 12  # lines of a paused run's question shown at the terminal


def colors_allowed(stream: TextIO | None, environ: Mapping[str, str] = os.environ) -> bool:
    """Colour only on a terminal that is not TERM=dumb, and never with NO_COLOR set (no-color.org)."""
    return isatty(stream) and environ.get("TERM") != "dumb" and not environ.get("NO_COLOR")


def end_of_input_key(os_name: str = os.name) -> str:
    """The key that ends input at this platform's terminal, as hints name it."""
    return "Ctrl-Z then Enter" if os_name == "nt" else "Ctrl-D"


def can_show(stream: TextIO, text: str) -> bool:
    try:
        text.encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def redacted(text: str, secrets: Iterable[str]) -> str:
    """Each secret replaced by [redacted]: one of 8 characters or more wherever it appears, a
    shorter one only where it stands alone (not inside a word, a number or an address such as
    127.0.0.1), so it never changes other text."""
    for secret in secrets:
        if secret and secret in text:
            pattern = re.escape(secret)
            if len(secret) < 8:
                pattern = rf"(?<![^\W_])(?<![^\W_][.:/]){pattern}(?![^\W_])(?![.:/][^\W_])"
            text = re.sub(pattern, "[redacted]", text)
    return text


class Terminal:
    """What a person sees: the product on stdout, everything else on stderr through the one writer
    (`say`: every line redacted of the secrets and made safe for a terminal), the waiting line, an
    agent's steps, colour and questions, each only where its stream is a terminal that shows it."""

    def __init__(
        self,
        stdin: TextIO | None,
        out: TextIO | None,
        err: TextIO,
        secrets: Iterable[str] = (),
        steps: bool | None = None,
        environ: Mapping[str, str] = os.environ,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stdin, self.out, self.err, self.clock = stdin, out, err, clock
        self.secrets = tuple(secret for secret in secrets if secret)
        self.animated = isatty(err) and environ.get("TERM") != "dumb"  # the waiting line and status notes
        self.colors, self.colored_out = colors_allowed(err, environ), colors_allowed(out, environ)
        self.steps = isatty(err) if steps is None else steps
        self.frames, self.waiting_text = SPINNER if can_show(err, "".join(SPINNER)) else ASCII_SPINNER
        self.since: float | None = None  # when the message was sent, while no reply text has come
        self.drawn = False  # the waiting line (or a status note) is on the screen
        self.mid_reply = False  # the cursor is inside a reply line: steps wait for its end
        self.held: list[str] = []
        self.write_reply = make_show(out) if out is not None else None

    # --- stderr: the one writer -----------------------------------------------------------------

    def redact(self, text: str) -> str:
        return redacted(text, self.secrets)

    def say(self, text: str, end: str = "\n", style: tuple[str, str] | None = None) -> None:
        """Write a line (`end` "" leaves the cursor on it); `style` wraps it in escape codes of ours."""
        safe = terminal_safe(self.redact(text))
        if style is not None:
            safe = f"{style[0]}{safe}{style[1]}"
        elif self.colors:
            label = next((label for label in ("error:", "warning:") if safe.startswith(label)), "")
            safe = f"{COLORS[label[:-1]]}{label}{RESET}{safe[len(label) :]}" if label else safe
        self.erase()
        self.err.write(safe + end)
        self.err.flush()
        if end:
            self.tick()

    def aside(self, text: str) -> None:
        """A line about the transcript, not of it (a frame, a hint): dimmed where colour is on."""
        self.say(text if can_show(self.err, text) else text.replace("─", "-"), style=DIM if self.colors else None)

    def status(self, text: str) -> None:
        """A passing note (a retry) in the waiting line's place at a terminal; elsewhere not shown."""
        if self.animated:
            import shutil

            self.err.write(f"\r{terminal_safe(self.redact(text))[: shutil.get_terminal_size().columns - 1]}\x1b[K")
            self.err.flush()
            self.drawn = True

    def report(self, error: BaseException, verbose: bool) -> None:
        """A failure as one line; its traceback first when asked for (-v). Another exception's text
        may hold user data (a file's bytes, a reply), so only its type is named."""
        if verbose:
            import traceback

            self.say("".join(traceback.format_exception(type(error), error, error.__traceback__)), end="")
        message = str(error) if isinstance(error, ClientError) else f"internal error: {type(error).__name__}"
        self.say(
            f"error: {message}"
            + ("" if isinstance(error, ClientError) else " (run with -v for the traceback, and report it)")
        )

    # --- the waiting line: `⠋ waiting for the flow… 3 s`, until the first reply text -------------

    def start_waiting(self) -> None:
        self.since = self.clock()
        self.tick()

    def stop_waiting(self) -> None:
        self.since = None
        self.erase()

    def tick(self) -> None:
        """Redraw the waiting line (the Client calls this at each short step of a wait)."""
        if self.since is None or not self.animated:
            return
        elapsed = self.clock() - self.since
        frame = self.frames[int(elapsed * 10) % len(self.frames)]
        self.err.write(f"\r{frame} {self.waiting_text} {int(elapsed)} s\x1b[K")
        self.err.flush()
        self.drawn = True

    def erase(self) -> None:
        if self.drawn:
            self.err.write(ERASE_LINE)
            self.err.flush()
            self.drawn = False

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Wait visibly, keys typed meanwhile not echoed; the line is erased at the end, also on Ctrl-C."""
        self.start_waiting()
        try:
            with keys_echoed(self.stdin, echoed=False):
                yield
        finally:
            self.stop_waiting()

    # --- agent steps: indented, dimmed, one screen line each; never inside a reply line ---------

    def step_shower(self) -> Show | None:
        return self.step if self.steps else None

    def step(self, line: str) -> None:
        text = f"  {line}"
        if isatty(self.err):
            import shutil

            text = terminal_safe(text)[: shutil.get_terminal_size().columns - 1]
        if self.mid_reply:
            self.held.append(text)
        else:
            self.say(text, style=DIM if self.colors else None)

    # --- stdout: the product ----------------------------------------------------------------------

    def show(self, text: str) -> None:
        """Reply text on stdout: the waiting ends at the first text; steps wait for the line's end."""
        self.stop_waiting()
        self.write_reply(text)
        self.mid_reply = isatty(self.out) and not text.endswith("\n")
        if not self.mid_reply:
            for held in self.held:
                self.say(held, style=DIM if self.colors else None)
            self.held.clear()

    def label(self, name: str) -> str:
        """`User:` or `AI:`, coloured when stdout is a colour terminal."""
        return f"{COLORS[name]}{name}:{RESET}" if self.colored_out else f"{name}:"

    def write_label(self, name: str) -> None:
        """`User:` or `AI:` on stdout (escape codes of ours, not escaped), flushed with the text after it."""
        self.stop_waiting()
        self.out.write(self.label(name) + " ")

    def columns(self) -> int | None:
        """The width of the terminal stdout is (None: not a terminal, so lines are not cut)."""
        import shutil

        return shutil.get_terminal_size().columns if isatty(self.out) else None

    def empty_reply_note(self) -> None:
        """At a terminal a note says a reply was empty (on the reply's own line when stdout is there too)."""
        if isatty(self.err):
            self.say(EMPTY_REPLY, end="" if isatty(self.out) else "\n")

    # --- questions --------------------------------------------------------------------------------

    def typing_hint(self) -> None:
        """A message read from stdin that is this terminal: say how to end it, or it seems to hang."""
        if isatty(self.stdin):
            self.aside(f"type the message; {end_of_input_key()} at the start of a line ends it")

    def can_ask(self) -> bool:
        return isatty(self.stdin) and isatty(self.err)

    def choose(self, request: dict) -> dict | None:
        """Ask what a paused run asks, with its numbered choices; the answer is a number or a label.
        None: the input ended without an answer."""
        choices = request_choices(request)
        self.stop_waiting()
        lines = request_question(request).splitlines() or [""]
        shown = [*lines[:QUESTION_LINES], "…"] if len(lines) > QUESTION_LINES else lines
        self.say(f"the flow asks: {shown[0]}")
        for line in shown[1:]:
            self.say(f"  {line}")
        for number, (_action, label) in enumerate(choices, 1):
            self.say(f"  {number}. {label}")
        with keys_echoed(self.stdin):
            action = None
            while action is None:
                answer = self.read_answer(f"choice (1-{len(choices)}): ")
                if answer is None:
                    return None
                action = pick_choice(answer, choices)
            decision: dict[str, Any] = {"action_id": action}
            if action in ("respond", "reject") and request.get("kind") == "tool_approval":
                text = self.read_answer("message for the agent (Enter: none): ")
                if text:
                    decision["values"] = {"message": text}
            elif action == "edit":
                tool_input = self.read_tool_input()
                if tool_input is None:
                    return None
                decision["values"] = {"args": tool_input}
        self.start_waiting()
        return decision

    def read_answer(self, prompt: str) -> str | None:
        self.say(prompt, end="")
        line = self.stdin.readline()
        if not line:
            self.say("")
            return None
        return line.strip()

    def read_tool_input(self) -> dict | None:
        """A JSON object typed for the tool, asked again until it is one; None at the end of input."""
        while (answer := self.read_answer("the tool's input as a JSON object: ")) is not None:
            with contextlib.suppress(ValueError):
                if isinstance(value := json.loads(answer), dict):
                    return value
        return None


@contextlib.contextmanager
def keys_echoed(stdin: TextIO | None, echoed: bool = True) -> Iterator[None]:
    """Typed keys echoed (a question being answered) or not (a reply arriving: keys typed meanwhile
    stay for the next prompt). Windows has no termios: its console echoes only while a read waits."""
    saved = None
    if isatty(stdin):
        try:
            import termios

            saved = termios.tcgetattr(stdin.fileno())
        except ImportError:
            pass
        except termios.error:
            pass
    if saved is None:
        yield
        return
    fd = stdin.fileno()
    flags = saved[3] | termios.ECHO if echoed else saved[3] & ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSANOW, [*saved[:3], flags, *saved[4:]])
    try:
        yield
    finally:
        with contextlib.suppress(termios.error):  # a terminal hung up (SIGHUP) has nothing to restore
            termios.tcsetattr(fd, termios.TCSANOW, saved)


# --- Line editing and input history ----------------------------------------------------------

HISTORY_ENTRIES = 1000  # kept in the history file; older entries are dropped when a chat starts
LIBEDIT_HEADER = "_HiStOrY_V2_"  # the first line of a history file written by libedit
ReadLine = Callable[[str], str]  # (prompt) -> the typed line; raises EOFError at the end of input


def history_line(entry: str) -> str:
    """One history entry as one line of the history file: backslashes and line breaks escaped."""
    return entry.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def history_entry(line: str) -> str:
    """The entry a history file line holds (the inverse of history_line)."""
    return re.sub(r"\\(.)", lambda match: {"n": "\n", "r": "\r"}.get(match[1], match[1]), line)


def read_history(path: Path) -> list[str]:
    """The history file's entries, oldest first (a libedit header line, from elsewhere, is skipped)."""
    lines = [line.removesuffix("\r") for line in path.read_text(encoding="utf-8", errors="replace").split("\n")]
    return [history_entry(line) for line in lines[lines[:1] == [LIBEDIT_HEADER] :] if line.strip()]


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
        write_atomically(path, "".join(history_line(entry) + "\n" for entry in entries))
    return entries


def load_readline() -> Any:
    """This Python's readline module, or None (Windows' CPython has none)."""
    try:
        import readline
    except ImportError:
        return None
    return readline


def is_gnu_readline(readline: Any) -> bool:
    """GNU readline, not libedit (macOS, uv's Pythons) nor pyreadline3 (Windows)."""
    libedit = "libedit" in (readline.__doc__ or "")  # how to tell before Python 3.13's readline.backend
    return getattr(readline, "backend", "editline" if libedit else "readline") == "readline"


def enable_line_editing(
    history_file: Path, warn: Show, readline: Any = None, environ: Mapping[str, str] = os.environ
) -> Show:
    """Line editing, several pasted lines as one message, and an input history kept across runs,
    with whatever readline this Python has, or none. The file is the client's own, one entry a
    line: GNU readline's splits a multi-line entry, libedit's needs its header, pyreadline3 cannot
    append. Returns what keeps one entry. Any problem with the file is one warning, once."""
    readline = readline or load_readline()
    if readline is None:
        return lambda entry: None
    manual = hasattr(readline, "set_auto_history")  # pyreadline3 always adds each line itself
    if manual:
        readline.set_auto_history(False)  # so a multi-line message is one entry, not one per line
    if (
        is_gnu_readline(readline)
        and getattr(readline, "_READLINE_VERSION", 0) >= 0x0700
        and environ.get("TERM") != "dumb"
    ):
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


def line_reader(stdin: TextIO, out: TextIO, err: TextIO) -> ReadLine:
    """What reads one typed line after a prompt; at the end of input it ends the prompt's line.
    With stdout at the terminal this is input(), with line editing; with stdout redirected
    (chat_session.py > log.txt) the prompt goes to stderr, so the file gets only the transcript."""
    readline = load_readline() if out.isatty() else None
    prompts = out if out.isatty() else err

    def read_line(prompt: str) -> str:
        try:
            if out.isatty():
                return input(readline_prompt(prompt, readline))
            err.write(prompt)
            err.flush()
            line = stdin.readline()
            if not line:
                raise EOFError
            return line.removesuffix("\n").removesuffix("\r")
        except EOFError:  # the end-of-input key leaves the cursor after the prompt: end that line
            prompts.write("\n")
            prompts.flush()
            raise

    return read_line


ESCAPE_CODE = re.compile(r"\x1b\[[0-9;]*m")


def readline_prompt(prompt: str, readline: Any) -> str:
    """A prompt's colour codes as the line editor must see them to count its width: GNU readline
    needs each wrapped in \\001 and \\002; libedit gets the prompt plain; no editor, as it is."""
    if readline is None:
        return prompt
    if not is_gnu_readline(readline):
        return ESCAPE_CODE.sub("", prompt)
    return ESCAPE_CODE.sub(lambda code: f"\001{code.group()}\002", prompt)


def edited_text(environ: Mapping[str, str] = os.environ) -> str:
    """A message written in the user's editor, as git asks for one: the editor has the terminal, Ctrl-C included."""
    import signal
    import subprocess
    import tempfile

    editor = environ.get("VISUAL") or environ.get("EDITOR") or ("notepad" if os.name == "nt" else "vi")
    handle, path = tempfile.mkstemp(prefix="langflow-chat-", suffix=".md")  # mode 0600
    os.close(handle)
    command = f'{editor} "{path}"' if os.name == "nt" else [f'exec {editor} "$@"', editor, path]
    ignored = signal.signal(signal.SIGINT, lambda *_: None)  # here only: the editor starts with the default
    try:  # on POSIX the shell runs it, as git does: it may have arguments (`code --wait`)
        code = subprocess.Popen(command, shell=os.name != "nt").wait()
        text = read_text_file(path, "edited message").rstrip()
    finally:
        signal.signal(signal.SIGINT, ignored)
        os.unlink(path)
    if code:
        raise usage_error(f"the editor {editor} failed (exit status {code}): nothing sent")
    return text


# --- Local state: the last conversation per server and flow (for -c) ---------------------------


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def write_atomically(path: Path, text: str) -> None:
    """A temp file next to it (readable only by the user) renamed over it: a crash never leaves
    half a file. Characters a file cannot hold (a stray surrogate) are replaced."""
    import tempfile

    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", errors="replace", newline="\n") as out:
            out.write(text)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def moved_session(sessions: dict[str, str], url: str, old: str, new: str | None) -> dict[str, str]:
    """The state after a conversation on this server was renamed to `new`, or forgotten (None).
    Langflow renames and deletes a session id in all of a user's flows: every entry of this
    server follows (a flow may be remembered under its uuid and its endpoint name)."""
    result = {}
    for key, session_id in sessions.items():
        if key.startswith(f"{url} ") and session_id == old:
            if new is None:
                continue
            session_id = new
        result[key] = session_id
    return result


class LastSessions:
    """The last conversation per server and flow, for -c: a JSON file in the user's state folder.
    A folder that cannot be written is one warning, once, not a failure."""

    def __init__(self, path: Path, config: Config, warn: Show) -> None:
        self.path, self.url, self.warn = path, config.shown_url, warn
        self.flow = config.flow  # /flow changes it
        self.warned = False

    @property
    def key(self) -> str:
        return f"{self.url} {self.flow}"

    def all(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(key): str(value) for key, value in data.items()} if isinstance(data, dict) else {}

    def last(self) -> str | None:
        return self.all().get(self.key)

    def write(self, sessions: dict[str, str], what: str) -> None:
        try:
            write_atomically(private_dir(self.path.parent) / self.path.name, json.dumps(sessions, indent=2))
        except OSError as exc:
            if not self.warned:
                self.warn(f"warning: cannot {what}: {exc.strerror or exc}")
            self.warned = True

    def remember(self, session_id: str) -> None:
        self.write({**self.all(), self.key: session_id}, "remember this session for -c")

    def moved(self, old: str, new: str | None) -> None:
        """-c follows a renamed conversation (new id) or lets go of a forgotten one (None)."""
        sessions = self.all()
        moved = moved_session(sessions, self.url, old, new)
        if moved != sessions:
            self.write(moved, "update the state for -c")


# === 10. The chat ================================================================================

INTERRUPTED = "(interrupted)"  # an empty reply this chat cut short with Ctrl-C
RETRY_SHOWN = 200  # characters of the message /retry sends again, shown on one line


class Command(NamedTuple):
    names: tuple[str, ...]
    arguments: str
    help: str
    run: Callable[[Chat, str], bool | None] | None  # False: leave. None: read as a message (read_message)


class ReplyLine:
    """Reply text after `AI:`, which is written with the first piece; end() ends the turn's lines."""

    def __init__(self, terminal: Terminal) -> None:
        self.terminal, self.shown, self.had_text = terminal, False, False

    def __call__(self, text: str) -> None:
        if not self.shown:
            self.terminal.write_label("AI")
            self.shown = True
        self.had_text = self.had_text or bool(text)
        self.terminal.show(text)

    def end(self) -> None:
        self.terminal.show("\n\n" if self.shown else "\n")


class Chat:
    """The conversation at the terminal (or piped): prompts, commands (COMMANDS), turns, /retry,
    and the session the turns go to. The network is injected: `flow` is RemoteFlow over HTTP,
    a fake in the tests."""

    def __init__(
        self,
        flow: RemoteFlow,
        terminal: Terminal,
        last: LastSessions,
        session_id: str,
        end_key: str = end_of_input_key(),
        now: Callable[[], datetime] | None = None,
        verbose: bool = False,
    ) -> None:
        self.flow, self.terminal, self.last, self.session_id = flow, terminal, last, session_id
        self.verbose = verbose  # -v: say when the server answers in another session
        self.end_key = end_key  # named in hints: Ctrl-D, or Ctrl-Z then Enter on Windows
        self.now = now
        self.note, self.aside = terminal.say, terminal.aside
        self.pending: str | None = None  # the last message that failed or was interrupted
        self.failed_turns = 0
        self.read_line: ReadLine | None = None  # the terminal's, for y/N questions
        self.listed: list[str] = []  # the session ids of the last /sessions, for /resume N
        self.cut: set[tuple[str, str]] = set()  # (session id, message) of replies this chat interrupted
        self.files: list[str] = []  # attached to the next message (/file), uploaded into self.tweaks
        self.tweaks: dict | None = None

    # --- turns ------------------------------------------------------------------------------------

    def turn(self, message: str) -> bool:
        """Send one message and show the reply; a failure is reported and kept for /retry."""
        line = ReplyLine(self.terminal)
        try:
            answered = self.flow.ask(message, self.session_id, line, self.tweaks) or self.session_id
            if line.shown and not line.had_text:
                self.terminal.empty_reply_note()
        except ClientError as error:
            line.end()
            self.note(f"error: {error}")
            self.pending, self.failed_turns = message, self.failed_turns + 1
            return False
        except KeyboardInterrupt:
            line.end()
            self.pending, self.failed_turns = message, self.failed_turns + 1
            self.cut.add((self.session_id, message.strip()))
            raise
        line.end()
        self.pending, self.files, self.tweaks = None, [], None
        if answered != self.session_id and self.verbose:
            self.note(f"the server answered in session {answered}: the conversation goes on there")
        self.session_id = answered
        self.last.remember(self.session_id)
        return True

    def retry(self, _argument: str = "") -> None:
        if self.pending is None:
            self.note("nothing to retry: no message has failed")
        else:
            self.aside(f"sending again: {one_line(self.pending, RETRY_SHOWN)}")
            self.turn(self.pending)

    def pending_runs(self, argument: str) -> None:
        """/pending lists this flow's runs waiting for a decision (from any client); /pending N
        answers run N and shows its reply."""
        runs = self.flow.pending()
        if not argument:
            if not runs:
                self.note("no run of this flow is waiting for a decision")
                return
            rows = [
                (f"{number}.", str(run.get("session_id", "")), one_line(request_question(run), 80))
                for number, run in enumerate(runs, 1)
            ]
            self.terminal.show(aligned(rows, indent="  ") + "\n")
            self.note("/pending N answers run N")
        elif not argument.isdigit() or not 1 <= int(argument) <= len(runs):
            self.note(f"no waiting run {argument} (/pending lists them)")
        else:
            line = ReplyLine(self.terminal)
            try:
                self.flow.resume(str(runs[int(argument) - 1].get("job_id")), line)
            finally:
                line.end()

    def attach(self, argument: str) -> None:
        """/file PATH...: upload files for the next message only (kept until one gets through); /file shows them."""
        import shlex

        try:
            paths = [path.strip('"') for path in shlex.split(argument, posix=os.name != "nt")]
        except ValueError as exc:
            raise usage_error(f"/file {argument}: {exc}") from None
        if paths:
            self.tweaks, self.files = self.flow.attach(paths, self.tweaks), self.files + paths
        self.note(f"attached to your next message: {', '.join(self.files)}" if self.files else "no file attached")

    def flows(self, _argument: str = "") -> None:
        """/flows: the flows this key can run, numbered for /flow N."""
        flows = self.flow.flows()
        self.terminal.show(flows_table(flows, numbered=True, width=self.terminal.columns()) + "\n")
        self.note("/flow N (or its endpoint name) continues with that flow")

    def use_flow(self, argument: str) -> None:
        """/flow NAME: continue with that flow in a new conversation (the old one stays on the server)."""
        listed = pick_flow(argument, self.flow.flows()) if argument else None
        if listed is None:
            self.note(f"no flow {argument!r} (/flows lists them; /flow N or an endpoint name picks one)")
            return
        self.last.flow, self.listed, self.session_id = flow_setting(listed), [], new_session_id()
        self.files, self.tweaks = [], None  # uploaded for the other flow
        self.note(f"flow {self.flow.use(listed)}; new session: {self.session_id}")

    # --- the conversation and the flow's others on the server ---------------------------------

    def stored_turns(self, session_id: str) -> list[tuple[str, str]]:
        """The stored history (redacted like stderr: a stored error may echo the key), an empty
        reply this chat interrupted marked as such."""
        history = self.flow.history(session_id)
        turns = []
        for index, (sender, text) in enumerate(history):
            cut = text == EMPTY_REPLY and index > 0 and (session_id, history[index - 1][1]) in self.cut
            turns.append((sender, INTERRUPTED if cut else self.terminal.redact(text)))
        return turns

    def transcript(self, history: list[tuple[str, str]]) -> None:
        for sender, text in history:
            self.terminal.write_label("User" if sender == "User" else "AI")
            self.terminal.show(f"{text}\n")

    def new(self, _argument: str = "") -> None:
        self.session_id = new_session_id()
        self.note(f"new session: {self.session_id}")

    def switch(self, argument: str) -> None:
        """/session shows the id; /session ID switches to it (after y if nothing is stored there)."""
        if not argument:
            self.terminal.show(self.session_id + "\n")
            return
        question = f"No conversation {argument} is stored for this flow; start one under that id? [y/N] "
        if argument != self.session_id and not self.flow.history(argument) and not self.confirm(question):
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
        """The flow's RECENT latest conversations (or every one), most recent first, numbered for
        /resume N. Where the server cannot list the latest alone, every message is read."""
        listing = None if every else self.flow.recent(RECENT)
        if listing is None:
            summaries = session_summaries(self.flow.flow_messages())
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
        self.terminal.show(sessions_table(listing.sessions, numbered=numbered, width=self.terminal.columns()) + "\n")
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
        except ClientError as error:
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
        """Rename on the server, so the Playground and --session-id NAME find it; never onto another."""
        old = self.session_id
        if not name:
            self.note("usage: /rename NAME")
        elif name == old:
            self.note(f"this conversation is already called {name}")
        elif self.flow.history(name):
            self.note(f"a conversation called {name} already exists for this flow (choose another name)")
        elif not self.flow.history(old):
            self.session_id = name
            self.note(f"nothing stored yet: this conversation will be stored as {name}")
        else:
            self.flow.rename(old, name)
            self.session_id = name
            self.last.moved(old, name)
            self.last.remember(name)
            self.note(f"renamed {old} to {name}")

    def delete(self, session_id: str, ask_first: bool = True) -> int | None:
        """Delete a conversation on the server (after y); -c lets go of it. How many messages it
        had (0: nothing was stored), or None if it was kept."""
        stored = self.flow.messages(session_id)
        question = f"Delete conversation {session_id} ({len(stored)} messages) on the server? [y/N] "
        if stored and ask_first and not self.confirm(question):
            return None
        if stored:
            self.flow.forget(session_id)
        self.last.moved(session_id, None)
        return len(stored)

    def forget(self, _argument: str = "") -> None:
        """/forget: delete this conversation (after y at the prompt), then start a fresh one."""
        old = self.session_id
        if self.delete(old) is None:
            self.note("kept")
            return
        self.session_id = new_session_id()
        self.note(f"forgot {old}; new session: {self.session_id}")

    def save(self, argument: str) -> None:
        """Write the conversation as the server stored it; an existing file is replaced only after y."""
        from datetime import datetime
        from pathlib import Path

        if not argument:
            self.note("usage: /save PATH (Markdown; JSON if PATH ends in .json)")
            return
        if "\0" in argument:
            self.note("error: a file name cannot hold a NUL character: nothing saved")
            return
        path = Path(argument).expanduser()
        if path.is_dir():
            self.note(f"error: {path} is a folder: give a file name (/save {path / 'chat.md'})")
            return
        messages = self.flow.messages(self.session_id)
        if not messages:
            self.note("nothing stored for this conversation yet: nothing saved")
            return
        if path.exists() and not self.confirm(f"{path} exists; replace it? [y/N] "):
            self.note("not saved")
            return
        now = self.now() if self.now else datetime.now().astimezone()
        target = Path(os.path.realpath(path))  # a symlink's target is replaced, so the link stays
        try:
            write_atomically(target, conversation_export(argument, self.session_id, messages, now))
        except OSError as exc:
            self.note(f"error: cannot write {path}: {exc.strerror or exc}")
            return
        self.note(f"saved {len(messages)} messages to {path}")

    # --- the loops --------------------------------------------------------------------------------

    def command(self, line: str) -> bool:
        """Run a /command from COMMANDS; False means leave. A failed request is one line."""
        name, _, argument = line.strip().partition(" ")
        command = next((c for c in COMMANDS if name in c.names and c.run is not None), None)
        if command is None:
            self.note(f"unknown command {name} (/help lists them; //text sends a message starting with /)")
            return True
        try:
            return command.run(self, argument.strip()) is not False
        except ClientError as error:
            self.note(f"error: {error}")
            return True

    def confirm(self, question: str) -> bool:
        """y/N at the terminal; anything else, Ctrl-C or Ctrl-D is no."""
        if self.read_line is None:
            return False
        try:
            return self.read_line(question).strip().lower() in ("y", "yes")
        except (EOFError, KeyboardInterrupt):
            self.terminal.show("\n")
            return False

    def interactive(self, read_line: ReadLine, keep: Show = lambda entry: None, echo: bool = False) -> int:
        """The terminal loop: Ctrl-C at the prompt hints, during a reply stops it; end of input
        leaves. keep gets each entry for the input history; echo writes each message to stdout as
        in a piped transcript (stdout redirected to a file while the user types)."""
        self.read_line = read_line
        while True:
            try:
                entry, message = self.read_message(read_line)
            except KeyboardInterrupt:
                self.note(f"\n({self.end_key} or /exit to quit)")
                continue
            except EOFError:
                return Exit.OK
            keep(entry)
            try:
                if message is None:
                    if entry.strip() and not self.command(entry):
                        return Exit.OK
                elif message.strip():
                    if echo:
                        self.terminal.show(f"User: {message}\n")
                    self.turn(message)
            except KeyboardInterrupt:
                self.note("[interrupted]" + (" (/retry sends it again)" if self.pending else ""))

    def edited(self) -> str:
        """/edit: the message written in the user's editor, shown as it is sent ("": nothing to send)."""
        try:
            message = edited_text()
        except (ClientError, OSError) as error:  # OSError: no such editor (Windows)
            self.note(f"error: {error}")
            return ""
        self.aside(message if message.strip() else "nothing written: nothing sent")
        return message

    def read_message(self, read_line: ReadLine) -> tuple[str, str | None]:
        """(the history entry, the message) a prompt reads; the message is None for a command.
        /multi and \"\"\" collect several lines; a line holding line breaks (a paste, or a recalled
        multi-line message) is a message as it is."""
        line = read_line(self.terminal.label("User") + " ")
        stripped = line.strip()
        if "\n" in line:
            message = line.rstrip("\n")  # a pasted text's last line break is not part of it
            return message, message
        if stripped.startswith("//"):
            return line, stripped[1:]
        if stripped == "/edit":
            message = self.edited()
            return message, message
        if stripped == "/multi":
            self.aside(f"(several lines: /multi on a line of its own sends them, {self.end_key} too)")
            message = "\n".join(read_until(lambda text: text.strip() == "/multi", read_line))
            return message, message
        if stripped.startswith('"""'):
            first = stripped[3:]
            if first.endswith('"""'):
                return line, first[:-3]
            self.aside(f'(several lines: """ at the end of a line sends them, {self.end_key} too)')
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
                self.terminal.show(f"User: {message}\n")
                self.turn(message)
        return Exit.FLOW if self.failed_turns else Exit.OK


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


def help_text(end_key: str) -> str:
    """The /help table, from COMMANDS."""
    rows = [(", ".join(c.names) + (f" {c.arguments}" if c.arguments else ""), c.help) for c in COMMANDS]
    table = aligned([(command, what.format(end_key=end_key)) for command, what in rows], indent="  ")
    return f"commands:\n{table}\nCtrl-C stops a reply that is arriving; /retry sends that message again."


COMMANDS = (
    Command(("/help",), "", "this help", lambda chat, _: chat.note(help_text(chat.end_key))),
    Command(("/new",), "", "start a new conversation (a fresh session id)", Chat.new),
    Command(("/session",), "[ID]", "show the session id, or switch to conversation ID", Chat.switch),
    Command(("/retry",), "", "send again the last message that failed or was interrupted", Chat.retry),
    Command(("/history",), "", "this conversation as the server stored it", Chat.history),
    Command(
        ("/sessions",),
        "[all]",
        f"this flow's {RECENT} latest conversations on the server (all: every one)",
        Chat.list_sessions,
    ),
    Command(("/flows",), "", "the flows this key can run, numbered", Chat.flows),
    Command(("/flow",), "N|NAME", "continue with flow N of /flows (or NAME) in a new conversation", Chat.use_flow),
    Command(("/resume",), "N|ID", "switch to conversation N of /sessions (or ID) and show its last turns", Chat.resume),
    Command(("/rename",), "NAME", "rename this conversation on the server (also in the Playground)", Chat.rename),
    Command(("/forget",), "", "delete this conversation on the server (asks first), start a new one", Chat.forget),
    Command(("/save",), "PATH", "write this conversation to PATH: Markdown, or JSON if PATH ends in .json", Chat.save),
    Command(
        ("/pending",),
        "[N]",
        "list this flow's runs waiting for a human decision; /pending N answers run N",
        Chat.pending_runs,
    ),
    Command(("/file",), "[PATH...]", "upload files for the next message; /file alone shows them", Chat.attach),
    Command(("/edit",), "", "write a message in $VISUAL or $EDITOR; what is saved is sent", None),
    Command(("/multi", '"""'), "", "type several lines as one message; end it the same way", None),
    Command(("/exit", "/quit"), "", "leave (so does {end_key})", lambda _chat, _a: False),
    Command(("//text",), "", 'send "/text" (a message that starts with a slash)', None),
)


def banner(url: str, flow: str, session_id: str, how: str, end_key: str) -> str:
    """What a chat at the terminal starts with, on stderr: where it talks, the session, how to leave."""
    return (
        f"Langflow chat: {url}, flow {flow}\n"
        f"session {session_id} ({how}); /help for commands, {end_key} to quit\n"
    )


# === 11. main ====================================================================================

VERSION_TIMEOUT = 3.0  # seconds --version waits for the server's answer: it must never hang
CHAT_FLAGS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (
        ("-c", "--continue"),
        {"dest": "continue_last", "action": "store_true", "help": "continue the last conversation with this flow"},
    ),
    (("--no-stream",), {"action": "store_true", "help": "wait for whole replies instead of streaming them"}),
    (("--list-sessions",), {"action": "store_true", "help": "list this flow's conversations on the server, then exit"}),
    (("--json",), {"action": "store_true", "help": "with --list-sessions or --list-flows: print JSON, for scripts"}),
    (
        ("--all",),
        {"action": "store_true", "help": f"with --list-sessions: every conversation (default: the {RECENT} latest)"},
    ),
    (("--forget",), {"metavar": "ID", "help": "delete conversation ID on the server (no prompt), then exit"}),
)
CHAT_EPILOG = (
    "At a terminal: a conversation with line editing and history (/help lists its commands: /flow,\n"
    "/file, /edit...); with no flow set, it lists the flows and asks which. Piped: each non-empty line\n"
    "of standard input is one message, and standard output is a plain User:/AI: transcript.\n\n" + EXIT_CODES_HELP
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argument_parser(
        "chat_session.py", "Chat with a Langflow flow; every turn continues the same session.", CHAT_EPILOG, CHAT_FLAGS
    )
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


def show_flows(server: Server, as_json: bool, out: TextIO) -> int:
    """--list-flows (both scripts): the flows this key can run, as a table or as JSON."""
    flows = list_flows(server)
    if as_json:
        print_json(flows, out)
    else:
        make_show(out)(flows_table(flows) + "\n")
    return Exit.OK


def run(args: argparse.Namespace, config: Config, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    """The chat (or --list-flows, --list-sessions, --forget)."""
    from pathlib import Path

    terminal = Terminal(stdin, out, err, config.secrets, args.steps)
    server = connect(config, terminal)
    try:
        if args.list_flows:
            return show_flows(server, args.json, out)
        if not config.flow and terminal.can_ask() and not args.json:
            if not pick_first_flow(server, terminal):
                return Exit.OK
            config = server.config
        require_flow(config)
        last = LastSessions(Path(user_path("state", "sessions.json")), config, terminal.say)
        session_id, how = first_session_id(args, last)
        flow = RemoteFlow(server, terminal, stream=not args.no_stream)
        chat = Chat(flow, terminal, last, session_id, verbose=config.verbose)
        if args.list_sessions and args.json:
            print_json(chat.sessions(args.all).sessions, out)
        elif args.list_sessions:
            chat.list_sessions(numbered=False, every=args.all)
        elif args.forget:
            count = chat.delete(args.forget, ask_first=False)
            if not count:
                raise failure_error("unknown-conversation", session_id=args.forget, flow=config.flow)
            terminal.say(f"forgot conversation {args.forget} ({count} messages)")
        else:
            return converse(chat, server, how)
        return Exit.OK
    finally:
        server.close()


def converse(chat: Chat, server: Server, how: str) -> int:
    """Check the server, the key and the flow before anything is typed; then the loop."""
    from pathlib import Path

    terminal = chat.terminal
    variable_headers(server)  # --var on a server that would ignore them: exit 2 before any turn
    if server.listed is None:  # else it was picked from the flow list just now
        server.check()
    check_component_names(server)
    if not isatty(terminal.stdin):  # read as UTF-8, stray bytes replaced (utf8_stdio)
        return chat.piped(terminal.stdin)
    at_terminal = isatty(terminal.out)  # else input() has no line editing, and prompts go to stderr
    history = Path(user_path("state", "history"))
    keep = enable_line_editing(history, terminal.say) if at_terminal else lambda entry: None
    terminal.say(banner(server.config.shown_url, server.title(), chat.session_id, how, chat.end_key), end="")
    if how != "new":
        chat.recap()
    return chat.interactive(line_reader(terminal.stdin, terminal.out, terminal.err), keep, echo=not at_terminal)


def pick_first_flow(server: Server, terminal: Terminal) -> bool:
    """No flow given, at a terminal: list the flows this key can run and ask which; False if the input ended."""
    import shutil

    flows = list_flows(server)
    if not flows:
        raise failure_error("no-flows", server=server.name())
    terminal.say(f"No flow given; the flows this key can run on {server.config.shown_url}:")
    terminal.say(flows_table(flows, numbered=True, width=shutil.get_terminal_size().columns))
    while (answer := terminal.read_answer("flow (a number, an endpoint name or its start): ")) is not None:
        listed = pick_flow(answer, flows)
        if listed is not None:
            server.use_flow(flow_setting(listed), listed)
            return True
        if answer:
            terminal.say(f"{answer!r} names no one flow of the list")
    return False


def first_session_id(args: argparse.Namespace, last: LastSessions) -> tuple[str, str]:
    """The session to start in, and how it was chosen (for the banner)."""
    if args.session_id:
        return args.session_id, "given"
    if args.continue_last and not (args.list_sessions or args.forget):
        session_id = last.last()
        if not session_id:
            raise usage_error("no earlier conversation with this flow to continue (start one without -c)")
        return session_id, "continued"
    return new_session_id(), "new"


def print_versions(args: argparse.Namespace, out: TextIO) -> int:
    """--version: this client's version and the server's, for bug reports. A server that is not set,
    not reachable or not Langflow is said so; it never fails --version."""
    out.write(f"{args.prog} {__version__}\n")
    try:
        config = load_config(args)
    except ClientError as error:
        out.write(f"server: not configured ({error})\n")
        return Exit.OK
    if not config.url_given:  # no request, no `requests` import: --version stays fast
        out.write("server: not configured (set LANGFLOW_URL or --url)\n")
    else:
        quiet = config._replace(api_key="", timeout=VERSION_TIMEOUT, retries=0)
        import io

        server = Server(Client(quiet, Terminal(None, None, io.StringIO())))
        try:
            dialect = server.dialect()
            what = dialect.name if dialect.version or dialect == LFX_SERVE else None
        except ClientError:
            what = None
        finally:
            server.close()
        out.write(
            terminal_safe(f"server: {config.shown_url}: {what or 'not reachable, or not a Langflow server'}") + "\n"
        )
    out.write(terminal_safe(settings_read(config)) + "\n")
    return Exit.OK


RunFunction = Callable[["argparse.Namespace", Config, TextIO, TextIO, TextIO], int]
REQUIRED_MODULES = ("requests", "dotenv", "urllib3", "idna", "certifi", "charset_normalizer", "chardet")
ENDING_SIGNALS = ("SIGTERM", "SIGHUP")  # raised as Ended, so the terminal is restored before the exit


class Ended(BaseException):
    """A signal that ends the run (not an Exception: nothing on the way catches it)."""

    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.number = number


def end_on_signals() -> dict[int, Any]:
    """SIGTERM and SIGHUP raise Ended, so every `finally` restores the terminal first; their old handlers."""
    import signal

    previous = {}
    for number in filter(None, (getattr(signal, name, None) for name in ENDING_SIGNALS)):
        if signal.getsignal(number) is not signal.SIG_IGN:  # one ignored (nohup) stays ignored
            with contextlib.suppress(ValueError):  # not the main thread: a test calling main()
                previous[number] = signal.signal(number, raise_ended)
    return previous


def raise_ended(number: int, _frame: Any) -> NoReturn:
    raise Ended(number)


def guarded_main(
    parse: Callable[[list[str] | None], argparse.Namespace], run: RunFunction, argv: list[str] | None
) -> int:
    """The one place where failures become an error line and an exit code (both scripts use it)."""
    import signal

    verbose, terminal = False, Terminal(None, None, sys.stderr)
    utf8_stdio(sys.stdin, sys.stdout, sys.stderr)
    handlers = end_on_signals()
    try:
        args = parse(argv)
        verbose = args.verbose
        if sys.stdout is None:
            raise usage_error("standard output is closed (give the reply somewhere to go, e.g. > reply.txt)")
        if args.version:
            exit_code = print_versions(args, sys.stdout)
        else:
            config = load_config(args)
            terminal = Terminal(None, None, sys.stderr, config.secrets)
            if verbose:
                terminal.say(settings_read(config))
            exit_code = run(args, config, sys.stdin, sys.stdout, sys.stderr)
        sys.stdout.flush()  # a pipe closed by its reader shows here, not as an error at exit
        return exit_code
    except ClientError as error:
        terminal.report(error, verbose)
        return error.exit_code
    except KeyboardInterrupt:
        terminal.say("\ninterrupted")
        return Exit.INTERRUPTED
    except Ended as ended:
        return 128 + ended.number
    except OSError as error:
        if stdout_closed(error):  # the reader (head, less) closed the pipe: stop quietly
            silence_stdout()
            return Exit.OK
        terminal.report(usage_error(f"cannot write the output: {error.strerror or type(error).__name__}"), verbose)
        silence_stdout()
        return Exit.USAGE
    except Exception as error:  # noqa: BLE001 - a bug still gets one line, not a traceback
        missing = missing_requirement(error)
        terminal.report(missing or error, verbose)
        return missing.exit_code if missing else Exit.FLOW
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
        try:
            sys.stdout.flush()
        except (OSError, AttributeError):  # what is left cannot be written (reported already, or hung up)
            silence_stdout()


def missing_requirement(error: BaseException) -> ClientError | None:
    """A runtime dependency not installed in the Python running the script: the module, and the
    command that installs the requirements into this very Python."""
    if not isinstance(error, ModuleNotFoundError) or (error.name or "").split(".")[0] not in REQUIRED_MODULES:
        return None
    requirements = os.path.join(os.path.dirname(os.path.abspath(__file__)), "requirements.txt")
    python, requirements = (f'"{path}"' if " " in path else path for path in (sys.executable, requirements))
    return failure_error("missing-module", python=python, module=error.name, requirements=requirements)


def stdout_closed(error: BaseException) -> bool:
    """The reader of stdout went away: BrokenPipeError, or OSError(EINVAL) as Windows reports it."""
    import errno

    if isinstance(error, BrokenPipeError):
        return True
    if error.errno != errno.EINVAL:
        return False
    try:
        return stat.S_ISFIFO(os.fstat(sys.stdout.fileno()).st_mode)
    except (OSError, ValueError):
        return False


def silence_stdout() -> None:
    """Point stdout at the null device, so what is still buffered is dropped quietly at exit."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def main(argv: list[str] | None = None) -> int:
    return guarded_main(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
