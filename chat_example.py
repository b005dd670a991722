#!/usr/bin/env python3
"""Ask a Langflow flow one question from the shell and print the answer.

This file is also the core that chat_session.py imports. It reads top-down:

   1. Errors          exit codes, ClientError, FAILURES: the one table of failures
   2. Langflow rules  pure functions: error bodies, where the reply text lives
   3. Dialects        what differs between Langflow releases (index), as named capabilities
   4. The stream      the event stream's framing, JSON read as it arrives, a reply shown as it comes,
                      agent steps
   5. Configuration   flags, the environment, ./.env, the user's settings file; the message; the arguments
   6. HTTP            Client: one connection pool, retries, -v tracing, decoding
   7. Calls           Server (what is asked of a server once), ask(): one run of the flow
   8. Printing        stdout: reply text, JSON, tables
   9. The terminal    Voice (the one writer on stderr), the waiting line, agent steps, replies
  10. main            the one-shot's modes, and guarded_main: the one try/except of both scripts
"""

from __future__ import annotations

import contextlib
import errno
import functools
import io
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

    import requests

__version__ = "1.0.0"
T = TypeVar("T")

EXIT_OK = 0
EXIT_FLOW = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_NETWORK = 4
EXIT_HUMAN = 5
EXIT_INTERRUPTED = 130

DEFAULT_URL = "http://localhost:7860"
DEFAULT_TIMEOUT = 300.0
DEFAULT_RETRIES = 2
CONNECT_TIMEOUT = 10.0
MAX_RETRY_WAIT = 60.0
USER_AGENT = f"langflow-chat/{__version__}"
FILE_TWEAK_KEY = "Chat Input"  # Langflow matches a tweak key against component ids and display names

EXIT_CODES_HELP = """\
exit codes:
  0    success
  1    the server or the flow reported an error (or the run returned no message)
  2    usage or configuration error
  3    authentication refused (401/403): set LANGFLOW_API_KEY
  4    network: cannot connect, DNS, TLS, timeout, connection dropped mid-reply
  5    the flow waits for a human decision (answer with --resume JOB_ID --choice ACTION)
  130  interrupted (Ctrl-C)

settings (flags win, then the environment, then ./.env, then the user settings file
$XDG_CONFIG_HOME/langflow-chat/.env, default ~/.config/langflow-chat/.env):
  LANGFLOW_URL       server URL (default http://localhost:7860; alias LANGFLOW_SERVER_URL)
  LANGFLOW_FLOW_ID   flow UUID or endpoint name
  LANGFLOW_API_KEY   API key, sent only as the x-api-key header (never a flag)
  LANGFLOW_TIMEOUT   longest wait for the server, in seconds (default 300)
"""


# === 1. Errors ==================================================================================


class ClientError(Exception):
    """A failure the user can act on: one line of text and an exit code (made from FAILURES)."""

    def __init__(
        self,
        message: str,
        exit_code: int = EXIT_FLOW,
        retry: bool = False,
        status: int | None = None,
        detail: str = "",
    ) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.retry = retry
        self.status = status  # the HTTP status, when the server answered with an error
        self.detail = detail  # the server's own words for it, when it gave any


class Failure(NamedTuple):
    what: str
    todo: str  # what to do about it, in parentheses after `what` ("": nothing to add)
    exit_code: int
    retry: bool = False  # the flow certainly did not run: sending again is safe


AUTH_TODO = "set LANGFLOW_API_KEY to a valid API key for this server"
NOT_LANGFLOW = "is this a Langflow server?"
FAILURES: dict[int | str, Failure] = {
    # HTTP statuses: "HTTP <status>: <the server's message, else `what`> (<todo>)"
    400: Failure("the server rejected the request", "check --tweaks and the flow's inputs", EXIT_FLOW),
    401: Failure("authentication refused", AUTH_TODO, EXIT_AUTH),
    403: Failure("authentication refused", AUTH_TODO, EXIT_AUTH),
    404: Failure("not found", "check --flow or LANGFLOW_FLOW_ID; --list-flows shows the flows", EXIT_FLOW),
    422: Failure("the server rejected the request", "check --tweaks, --input-type and --output-type", EXIT_FLOW),
    429: Failure("too many requests", "wait a moment and try again", EXIT_FLOW, retry=True),
    500: Failure("the flow failed", "check the flow's components in Langflow", EXIT_FLOW),
    502: Failure("bad gateway", "the proxy in front of Langflow cannot reach it", EXIT_FLOW),
    503: Failure("the server is unavailable", "try again later", EXIT_FLOW, retry=True),
    504: Failure("gateway timeout", "the proxy in front of Langflow gave up waiting", EXIT_FLOW),
    "4xx": Failure("the server rejected the request", "check the flags and configuration", EXIT_FLOW),
    # a refused key, in the same words whichever endpoint refused it (auth_error)
    "no-key": Failure(
        "HTTP {status}: this server needs an API key",
        "set LANGFLOW_API_KEY; Langflow makes one in Settings > Langflow API Keys",
        EXIT_AUTH,
    ),
    "key-refused": Failure(
        "HTTP {status}: the server refused the API key",
        "check LANGFLOW_API_KEY: a key of this server, from Settings > Langflow API Keys",
        EXIT_AUTH,
    ),
    "5xx": Failure("the server failed", "check the Langflow server's logs", EXIT_FLOW),
    # the network (network_failure picks the row by the exception's type)
    "refused": Failure(
        "cannot connect to {url}", "is Langflow running? check LANGFLOW_URL or --url", EXIT_NETWORK, retry=True
    ),
    "no-server": Failure(
        "cannot connect to {url}, the default address: no server is set",
        "set LANGFLOW_URL (see .env.example), or start the demo server: .venv/bin/python tests/demo_server.py",
        EXIT_NETWORK,
        retry=True,
    ),
    "demo-down": Failure(
        "cannot connect to {url}: the demo server that wrote {path} is not running",
        "start it: .venv/bin/python tests/demo_server.py; or delete {path}",
        EXIT_NETWORK,
    ),
    "dns": Failure("cannot resolve the host of {url}", "check LANGFLOW_URL or --url", EXIT_NETWORK),
    "tls": Failure("TLS failed with {url}", "check the URL's scheme and the server's certificate", EXIT_NETWORK),
    "connect-timeout": Failure(
        "no connection to {url} within {connect:g} s", "check LANGFLOW_URL and the network", EXIT_NETWORK
    ),
    "timeout": Failure(
        "no answer from the server within {timeout:g} s", "raise --timeout or LANGFLOW_TIMEOUT", EXIT_NETWORK
    ),
    "dropped": Failure(
        "the connection dropped before the reply was complete", "try again; the flow may have run", EXIT_NETWORK
    ),
    # what the server answered
    "no-result": Failure(
        "the event stream ended without a result after {facts}, and {reason}",
        "check the Langflow server's log",
        EXIT_FLOW,
    ),
    "not-json": Failure(
        "the server did not return JSON (HTTP {status}, {content_type})",
        "check that LANGFLOW_URL is Langflow's address and the flow exists",
        EXIT_FLOW,
    ),
    "malformed-event": Failure("the server sent a malformed event: {line}", "", EXIT_FLOW),
    "not-a-list": Failure("the server's {what} was not a list", NOT_LANGFLOW, EXIT_FLOW),
    "not-stored": Failure("the server did not say where it stored {path}", NOT_LANGFLOW, EXIT_FLOW),
    "variables-ignored": Failure(
        "{server} does not take per-request variables (--var)",
        "Langflow 1.7.1 and later do; or set the variable in Langflow's global variables",
        EXIT_USAGE,
    ),
    "missing-endpoint": Failure(
        "{server} does not offer {what} through its API", "Langflow 1.1.1 and later do", EXIT_FLOW
    ),
    "not-offered": Failure("{server} does not offer {what}", "a Langflow server does", EXIT_FLOW),
    "answer-refused": Failure(
        "the server refused the answer {action}: {detail}",
        "see what it allows: chat_example.py --resume {job_id}",
        EXIT_FLOW,
    ),
    "human-needed": Failure("waiting for a human decision: {prompt} [{choices}]", "answer with: {command}", EXIT_HUMAN),
    "job-dropped": Failure(
        "the connection dropped; the run goes on at the server", "re-attach with: {command}", EXIT_NETWORK
    ),
    "job-stopped": Failure("the run was stopped at the server", "", EXIT_FLOW),
    "no-background-runs": Failure(
        "{server} has no background runs (the v2 workflows API)", "Langflow 1.10 and later have", EXIT_FLOW
    ),
    "variables-in-background": Failure(
        "this flow pauses for a human, so it runs in the background, where Langflow ignores --var",
        "set the variable in Langflow's global variables instead",
        EXIT_USAGE,
    ),
    "flow-error": Failure("the flow failed: {detail}", "check the flow's components in Langflow", EXIT_FLOW),
    "no-text": Failure(
        "the flow returned no message",
        "check that the flow ends in a Chat Output; --json shows what it returned",
        EXIT_FLOW,
    ),
    # what the user asked for, and what the client was given
    "usage": Failure("{problem}", "", EXIT_USAGE),
    "choice-not-allowed": Failure("--choice {choice} is not one of this request's choices: {choices}", "", EXIT_USAGE),
    "var-not-set": Failure(
        "--var {name}: no environment variable {name} is set", "set it, or give --var {name}=VALUE", EXIT_USAGE
    ),
    "no-flow": Failure(
        "no flow given: no --flow, and no LANGFLOW_FLOW_ID in {places}",
        "pass --flow FLOW, or set LANGFLOW_FLOW_ID in one of those; --list-flows shows the flows",
        EXIT_USAGE,
    ),
    "open-settings": Failure(
        "the settings file {path} holds an API key and other users may read it (mode {mode:o})",
        "make it private: chmod 600 {path}",
        EXIT_USAGE,
    ),
    "bad-key": Failure(
        "the API key{source} holds a character an HTTP header cannot carry"
        " (a line break, another control character or a non-Latin-1 character)",
        "copy the key again from Langflow's settings",
        EXIT_USAGE,
    ),
    "missing-module": Failure(
        "this Python ({python}) lacks the module {module}",
        "install the client's requirements: {python} -m pip install -r {requirements}",
        EXIT_USAGE,
    ),
    "unknown-flow-name": Failure("no flow named {flow!r} on {server}", "--list-flows shows the flows", EXIT_FLOW),
    "unknown-component": Failure(
        "{flag}: flow {flow} has no component {name!r}", "its components: {components}", EXIT_USAGE
    ),
    "unknown-conversation": Failure(
        "no conversation {session_id!r} stored for flow {flow}", "--list-sessions lists them", EXIT_FLOW
    ),
}


def failure_error(key: int | str, **facts: Any) -> ClientError:
    """The ClientError of a FAILURES row, its text filled in with the facts of this failure."""
    failure = FAILURES[key]
    what, todo = failure.what.format(**facts), failure.todo.format(**facts)
    return ClientError(f"{what} ({todo})" if todo else what, failure.exit_code, failure.retry)


def usage_error(problem: str) -> ClientError:
    return failure_error("usage", problem=problem)


def failure_for_status(status: int) -> Failure:
    return FAILURES.get(status) or FAILURES["4xx" if status < 500 else "5xx"]


def http_error(status: int, detail: str) -> ClientError:
    """An error answer: the status's row, worded with the server's own message when it gave one."""
    if status == 500 and COMPONENT_ERROR.search(detail):  # a component failed: worded as in a stream
        return flow_error(detail)
    failure = failure_for_status(status)
    message = f"HTTP {status}: {detail or failure.what} ({failure.todo})"
    return ClientError(message, failure.exit_code, failure.retry, status, detail)


def auth_error(status: int, detail: str, key_sent: bool) -> ClientError:
    """A 401 or 403 in the client's words: Langflow words a refusal differently per endpoint (/run:
    "Invalid or missing API key", the flow list: "Invalid API key"), and the chat's start check
    must read as the run would. The server's words stay in .detail (-v shows them)."""
    error = failure_error("key-refused" if key_sent else "no-key", status=status)
    error.status, error.detail = status, detail
    return error


def connect_timeout(timeout: float) -> float:
    """Seconds to wait for a connection: CONNECT_TIMEOUT, or less when the whole timeout is less
    (--version's 3 s must hold against a host that drops packets, too)."""
    return min(CONNECT_TIMEOUT, timeout)


def network_error(
    exc: BaseException, url: str, timeout: float, demo_env: str = "", url_given: bool = True
) -> ClientError:
    """The table's network row for a failure of requests, urllib3 or the socket below them
    (`demo_env`: the settings file the demo server wrote gave the URL; `url_given`: a setting gave
    it, rather than the default)."""
    row = network_failure(exc)
    if row == "refused" and demo_env:
        row = "demo-down"
    elif row == "refused" and not url_given:
        row = "no-server"
    return failure_error(row, url=url, timeout=timeout, connect=connect_timeout(timeout), path=demo_env)


def network_failure(exc: BaseException) -> str:
    """Which network row: by the types of the exceptions the failure wraps, which hold for every
    urllib3 the requirements allow (1.26 wraps a stalled stream in requests' ConnectionError, 2.2+
    raises its own ReadTimeoutError, and only 2.x has a NameResolutionError)."""
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
    """The exception and every one inside it: requests wraps urllib3's in its args, urllib3's
    MaxRetryError keeps the cause in .reason, and the rest is chained (__cause__, __context__)."""
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


# === 2. Langflow rules: error bodies, reply text (pure) ========================================


def one_line(text: str, limit: int = 500) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def detail_message(detail: Any) -> str:
    """The innermost human message of a Langflow error `detail`, however it is wrapped."""
    if isinstance(detail, str):
        stripped = detail.strip()
        status_prefix = re.match(r"^\d{3}:\s*(?=[\[{])", stripped)  # stream errors: '500: {...}'
        if status_prefix:
            stripped = stripped[status_prefix.end() :]
        if stripped[:1] in "[{":
            try:
                return detail_message(json.loads(stripped))
            except ValueError:
                pass
        return one_line(provider_message(detail))
    if isinstance(detail, list):
        return "; ".join(filter(None, (detail_message(item) for item in detail)))
    if isinstance(detail, dict):
        if "msg" in detail:  # one item of a 422 list
            where = ".".join(str(part) for part in detail.get("loc", []) if part != "body")
            return f"{where}: {detail['msg']}" if where else str(detail["msg"])
        for key in ("detail", "message", "error", "text", "exception", "result"):  # result: lfx serve
            value = detail.get(key)
            if value and isinstance(value, (str, list, dict)):
                return detail_message(value)
        return one_line(json.dumps(detail, ensure_ascii=False))
    return "" if detail is None else one_line(str(detail))


PROVIDER_ERROR = re.compile(r"Error code: \d{3} - (?P<body>\{.*\})", re.DOTALL)


def provider_message(text: str) -> str:
    """A model provider's error as the OpenAI SDK words it (most providers' clients, in Langflow's
    model components): "Error code: 400 - {'error': {'message': ...}}" says only its message."""
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
    """Turn an error response body into one readable line; never echo HTML."""
    if "json" not in content_type:
        if b"<" in body[:200] and b">" in body[:2000]:
            return ""
        return one_line(body.decode("utf-8", "replace"))
    try:
        return detail_message(json.loads(body))
    except ValueError:
        return one_line(body.decode("utf-8", "replace"))


COMPONENT_ERROR = re.compile(r"Error building Component (?P<component>.+?): (?P<message>.+)", re.DOTALL)


def flow_failure(error: Any) -> tuple[str, str]:
    """(component, innermost message) of a failed run, however Langflow reported it.

    The same pair from a stream's `error` event (1.13: an error message naming its component, or
    {"error": "500: {...}"}), a stored error message (1.1.2-1.6), an old stream_url error, and a
    500's detail ("Error running graph: Error building Component X: ..."). No component: "".
    """
    component, text = "", ""
    if isinstance(error, dict) and error.get("category") == "error":  # an error message
        component = str(error.get("sender_name") or _dig(error, "properties", "source", "display_name") or "")
        text = str(error.get("text") or "") or error_block_text(error)
    if not text:
        text = detail_message(error)
    match = COMPONENT_ERROR.search(text)
    if match:
        component, text = component or match["component"].strip(), provider_message(match["message"])
    return component, one_line(text)


def error_block_text(message: dict) -> str:
    """An error message whose `text` is empty (Langflow 1.13) holds its reason in content blocks."""
    for block in message.get("content_blocks") or []:
        contents = [block] if "type" in block else block.get("contents") or []
        for content in contents:
            if isinstance(content, dict) and content.get("type") == "text" and content.get("text"):
                return str(content["text"])
    return ""


def failure_detail(component: str, message: str) -> str:
    return f"{component}: {message}" if component and message else component or message or "unknown error"


def flow_error(error: Any) -> ClientError:
    """One wording for a failed run in every mode: `the flow failed: <component>: <message>`."""
    return failure_error("flow-error", detail=failure_detail(*flow_failure(error)))


def _dig(data: Any, *path: str | int) -> Any:
    for key in path:
        if isinstance(key, int):
            data = data[key] if isinstance(data, list) and len(data) > key else None
        elif isinstance(data, dict):
            data = data.get(key)
        else:
            return None
    return data


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
    places = [_dig(output, *path) for path in TEXT_PATHS]
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
    for run_output in _dig(response, "outputs") or []:
        for output in _dig(run_output, "outputs") or []:
            if isinstance(output, dict):
                yield output


def reply_texts(response: Any) -> list[str]:
    """Every output component's text, in order; "" for an empty message; none if no output holds one.
    `lfx serve` answers {"result": text, "success": ...} instead: its one text. A background run's
    answer (v2, `"object": "response"`) holds them in `outputs` by component."""
    if isinstance(response, dict) and isinstance(response.get("result"), str) and "outputs" not in response:
        return [response["result"]]
    if isinstance(response, dict) and response.get("object") == "response":
        outputs = response.get("outputs") if isinstance(response.get("outputs"), dict) else {}
        texts = [str(output["content"]) for output in outputs.values() if isinstance(output.get("content"), str)]
        text = _dig(response, "output", "text")
        return texts or ([text] if isinstance(text, str) else [])
    return [text for output in run_outputs(response) if (text := output_text(output)) is not None]


def reply_text(response: Any) -> str:
    """The reply as the user reads it: every output's text, a blank line between.

    One rule in every mode: a flow that returned an empty message has replied (""); a run whose
    outputs hold no message at all (no Chat Output) is the "no text" error.
    """
    texts = reply_texts(response)
    if not texts:
        raise failure_error("no-text")
    return "\n\n".join(text for text in texts if text)


HUMAN_INPUT_REFUSAL = "Human-in-the-Loop"  # in /run's 400 (or stream error) for a flow that can pause (1.11+)


def needs_background_run(error: ClientError) -> bool:
    """/run refused the flow because it may pause for a human: only a v2 background run can run it."""
    return HUMAN_INPUT_REFUSAL in f"{error} {error.detail}"


def request_choices(request: dict) -> list[tuple[str, str]]:
    """(action id, label) of each choice a pause offers, in order."""
    options = [o for o in request.get("options") or [] if isinstance(o, dict) and o.get("action_id")]
    choices = [(str(o["action_id"]), str(o.get("label") or o["action_id"])) for o in options]
    allowed = request.get("allowed_decisions")
    if isinstance(allowed, list):
        known = {action for action, _ in choices}
        choices = [c for c in choices if c[0] in allowed] + [(str(a), str(a)) for a in allowed if a not in known]
    return choices


def request_question(request: dict) -> str:
    """What a pause asks, in a few lines: the prompt, or for a tool approval the tool and its input."""
    if request.get("kind") == "tool_approval":
        asked = [a for a in request.get("action_requests") or [] if isinstance(a, dict) and a.get("name")]
        if asked:
            return "; ".join(
                f"run the tool {a['name']} with {json.dumps(a.get('args', {}), ensure_ascii=False)}?" for a in asked
            )
    return str(request.get("prompt") or "the flow asks for a decision")


def pick_choice(answer: str, choices: list[tuple[str, str]]) -> str | None:
    """The action an answer names: its number in the list, its action id or its label (any case)."""
    answer = answer.strip()
    if answer.isdigit() and 1 <= int(answer) <= len(choices):
        return choices[int(answer) - 1][0]
    return next((action for action, label in choices if answer.lower() in (action.lower(), label.lower())), None)


def streamed_outputs(response: Any) -> list[tuple[dict, str]]:
    """Old Langflow (up to 1.1.1) answers stream=true with JSON whose streaming outputs each point
    at a stream_url: (output, url) for each."""
    streams = []
    for output in run_outputs(response):
        for place in (_dig(output, "artifacts"), _dig(output, "outputs", "message", "message")):
            if isinstance(place, dict) and isinstance(place.get("stream_url"), str):
                streams.append((output, place["stream_url"]))
                break
    return streams


def with_streamed_text(output: dict, text: str) -> None:
    """Put an old stream's text where a finished response holds the reply (the first TEXT_PATHS)."""
    message = _dig(output, "results", "message")
    if isinstance(message, dict):
        message["text"] = text
    else:
        output.setdefault("results", {})["message"] = {"text": text}


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
#   1.1.2    a streamed reply is stored with its text (before: empty, so    stores_streamed_replies
#            memory and /history lose the AI's side)
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
        stores_streamed_replies=not before(1, 1, 2),
        files_as_string=before(1, 2),
        takes_variable_headers=not before(1, 7, 1),
        flows_by_folder=before(1, 1),
        lists_recent_sessions=not before(1, 12, 5),
    )


NEWEST_LANGFLOW = dialect_for(None)


# === 4. The stream ===============================================================================

# --- JSON read as it arrives: Langflow repeats a reply's text up to five times in one body -----

JSON_SPACE = re.compile(rb"[ \t\r\n]*")
JSON_SCALAR = re.compile(rb"[-+.0-9A-Za-z]+")  # a number, true, false or null: json.loads checks which
LONG_STRING = 1024  # strings this long are kept once however often they come
Token = tuple[str, Any]  # ("{", None) ... (",", None), ("string", text), ("value", number or literal)
NO_MORE: Token = ("end of input", None)


def parse_json_chunks(chunks: Iterable[bytes]) -> Any:
    """What json.loads would return, but holding only the token being read and one copy of each long
    string. For a 5 MB reply json.loads needs the ~26 MB body, its decoded text and five copies at once.
    A body that comes in one chunk (the usual small one) goes to json.loads, which is faster."""
    source = iter(chunks)
    first = next(source, b"")
    second = next(source, None)
    if second is None:
        return json.loads(first)
    tokens = json_tokens(itertools.chain([first, second], source))
    value = json_value(tokens, next(tokens, NO_MORE))
    extra = next(tokens, None)
    if extra is not None:
        raise ValueError(f"unexpected {extra[0]} after the JSON value")
    return value


def json_value(tokens: Iterator[Token], token: Token) -> Any:
    kind, value = token
    if kind in ("string", "value"):
        return value
    if kind == "[":
        items: list = []
        while (token := next(tokens, NO_MORE))[0] != "]":
            if items:
                expect_token(token, ",")
                token = next(tokens, NO_MORE)
            items.append(json_value(tokens, token))
        return items
    if kind == "{":
        members: dict = {}
        while (token := next(tokens, NO_MORE))[0] != "}":
            if members:
                expect_token(token, ",")
                token = next(tokens, NO_MORE)
            expect_token(token, "string")
            expect_token(next(tokens, NO_MORE), ":")
            members[token[1]] = json_value(tokens, next(tokens, NO_MORE))
        return members
    raise ValueError(f"unexpected {kind} in JSON")


def expect_token(token: Token, kind: str) -> None:
    if token[0] != kind:
        raise ValueError(f"expected {kind} in JSON, found {token[0]}")


def json_tokens(chunks: Iterable[bytes]) -> Iterator[Token]:
    """Tokens from bytes in any chunking; a string split across chunks is searched only once."""
    source = iter(chunks)
    buffer = bytearray()
    start = searched = 0  # where the next token starts; how far an unfinished string was searched
    seen: dict[str, str] = {}
    at_end = False
    while True:
        start = JSON_SPACE.match(buffer, start).end()
        token, end = next_token(buffer, start, searched, at_end)
        if token is None:
            if at_end:
                if start < len(buffer):
                    raise ValueError("the JSON ends inside a string")
                return
            del buffer[:start]
            searched, start = end - start, 0
            chunk = next(source, None)
            at_end = chunk is None
            buffer += chunk or b""
            continue
        if token[0] == "string" and len(token[1]) >= LONG_STRING:
            token = ("string", seen.setdefault(token[1], token[1]))
        yield token
        start = searched = end


def next_token(buffer: bytearray, start: int, searched: int, at_end: bool) -> tuple[Token | None, int]:
    """The token at `start` and the offset after it; None if it needs more bytes (then: searched up to)."""
    if start == len(buffer):
        return None, start
    first = buffer[start]
    if first in b"{}[]:,":
        return (chr(first), None), start + 1
    if first == ord('"'):
        return string_token(buffer, start, max(searched, start + 1))
    match = JSON_SCALAR.match(buffer, start)
    if match is None:
        raise ValueError(f"unexpected byte {bytes([first])!r} in JSON")
    if match.end() == len(buffer) and not at_end:  # the number may go on in the next chunk
        return None, start
    return ("value", json.loads(match.group())), match.end()


def string_token(buffer: bytearray, start: int, searched: int) -> tuple[Token | None, int]:
    """The string opened at `start`, decoded straight from the buffer (no copy of its bytes)."""
    while (quote := buffer.find(b'"', searched)) != -1:
        before = quote
        while buffer[before - 1] == ord("\\"):
            before -= 1
        if (quote - before) % 2 == 0:  # not escaped: the string ends here
            with memoryview(buffer) as view:
                if buffer.find(b"\\", start, quote) == -1:
                    return ("string", str(view[start + 1 : quote], "utf-8")), quote + 1
                quoted = str(view[start : quote + 1], "utf-8")
            return ("string", json.decoder.scanstring(quoted, 1)[0]), quote + 1
        searched = quote + 1
    return None, len(buffer)


# --- The event stream's framing ------------------------------------------------------------------

END_EVENT_STARTS = (b'{"event": "end"', b'{"event":"end"')


def split_events(chunks: Iterable[bytes], skip_end: Callable[[], bool] = lambda: False) -> Iterator[dict]:
    """Frame Langflow's stream: one JSON object per line, blank lines between, any chunking.

    A line that arrives whole is parsed at once. A longer one is parsed as its pieces arrive,
    never joined: Langflow 1.13 sends a finished reply twice in add_message, its text twice in
    each. The `end` line repeats the whole response (a 5 MB reply makes it ~26 MB): when
    skip_end() says its content is not needed, it is dropped as it arrives, yielded as a bare `end`.
    """
    lines = LineReader(chunks)
    while (first := lines.piece()) is not None:
        if first.startswith(END_EVENT_STARTS) and skip_end():
            for _dropped in lines.rest():
                pass
            yield {"event": "end", "data": {}}
            continue
        if lines.line_done:
            event = parse_event_line(first)
        elif first.startswith(b"{"):
            event = parse_long_event(first, lines.rest())
        else:  # a long line in another framing (SSE from a proxy or an old server)
            event = parse_event_line(b"".join([first, *lines.rest()]))
        if event is not None:
            yield event


class LineReader:
    """Lines of a byte stream, handed out piece by piece: each piece is read only when asked for."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.source = iter(chunks)
        self.chunk, self.at = b"", 0
        self.line_done = True  # the last piece ended its line

    def piece(self) -> bytes | None:
        """The next piece of the current line (up to its newline, or to the chunk's end); None at the end."""
        while self.at >= len(self.chunk):
            chunk = next(self.source, None)
            if chunk is None:
                return None
            self.chunk, self.at = chunk, 0
        newline = self.chunk.find(b"\n", self.at)
        end = len(self.chunk) if newline == -1 else newline
        piece, self.at, self.line_done = self.chunk[self.at : end], end + 1, newline != -1
        return piece

    def rest(self) -> Iterator[bytes]:
        """The current line's remaining pieces."""
        while not self.line_done and (piece := self.piece()) is not None:
            yield piece


def parse_long_event(first: bytes, rest: Iterable[bytes]) -> dict:
    try:
        return as_event(parse_json_chunks(itertools.chain([first], rest)))
    except ValueError as exc:
        raise malformed_event(first) from exc


def parse_event_line(line: bytes) -> dict | None:
    text = line.strip()
    if text.startswith(b"data:"):  # tolerate SSE framing from proxies or old servers
        text = text[5:].strip()
    if not text or text.startswith((b"event:", b"id:", b"retry:", b":")):
        return None
    try:
        return as_event(json.loads(text))
    except ValueError as exc:
        raise malformed_event(text) from exc


def as_event(value: Any) -> dict:
    return value if isinstance(value, dict) else {"event": "unknown", "data": value}


def malformed_event(line: bytes) -> ClientError:
    return failure_error("malformed-event", line=one_line(line.decode("utf-8", "replace"), 80))


class StreamEnded(Exception):
    """The stream closed cleanly without its `end` event: what it showed, to ask the server why."""

    def __init__(self, events: int, last: str, user_message_id: Any) -> None:
        super().__init__(f"{events} event{'s' if events != 1 else ''}" + (f", the last {last}" if last else ""))
        self.user_message_id = user_message_id


def turn_error(messages: list[dict], user_message_id: Any) -> dict | None:
    """The error stored for this turn: the first error after this turn's user message (stored
    messages, oldest first). If its id is unknown, after the last user message."""
    ids = [message.get("id") for message in messages]
    if user_message_id is not None and user_message_id in ids:
        start = ids.index(user_message_id) + 1
    else:
        users = [index for index, message in enumerate(messages) if message.get("sender") == "User"]
        start = users[-1] + 1 if users else 0
    return next((message for message in messages[start:] if message.get("category") == "error"), None)


def is_whole_reply(message: dict) -> bool:
    """A finished reply message; a "partial" one already holds the first token, which comes again."""
    return (
        bool(message.get("text"))
        and message.get("sender") != "User"
        and message.get("category", "message") == "message"
        and _dig(message, "properties", "state") != "partial"
    )


def replayed_token(expected: str, chunk: str) -> tuple[str, str]:
    """(what of `chunk` is new, what is still expected again) for a message already shown from
    its add_message: Langflow 1.2 to 1.6 put a streamed reply's first token in an add_message
    marked complete, then send that token again as the first token event."""
    if expected.startswith(chunk):
        return "", expected[len(chunk) :]
    if chunk.startswith(expected):
        return chunk[len(expected) :], ""
    return chunk, ""


def show_stream(events: Iterable[dict], show: Callable[[str], None], gaps: list | None = None) -> dict:
    """Show the reply as it streams, each message once; return the `end` event's result.

    Token events are shown as they come; a message that arrived whole (a model that
    does not stream) is shown from add_message, and if nothing was shown, from `end`.
    `gaps` grows at each re-attach of a background run: the tokens sent while no one listened
    are gone, so a message shown in part is held (its later tokens skipped) until its whole text
    comes, then shown from where it stopped.
    """
    shown: set[Any] = set()
    texts: dict[Any, str] = {}  # what was shown of each message
    held: set[Any] = set()  # messages cut by a gap: shown again only from their whole text
    gaps_seen = 0
    expected: dict[Any, str] = {}  # text shown from an add_message, that its tokens may repeat
    current: Any = None
    count, kind, user_message_id = 0, "", None

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
        if kind == "token" and data.get("chunk") and data.get("id", "tokens") not in held:
            message_id = data.get("id", "tokens")
            chunk, expected[message_id] = replayed_token(expected.get(message_id, ""), str(data["chunk"]))
            if chunk:
                start(message_id)
                show(chunk)
                texts[message_id] = texts.get(message_id, "") + chunk
        elif kind == "add_message" and is_whole_reply(data):
            message_id, whole = data.get("id") or data.get("text"), str(data["text"])
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
            return result if isinstance(result, dict) else {}
    raise StreamEnded(count, kind, user_message_id)


def show_sse_chunks(
    events: Iterable[dict], show: Callable[[str], None], emit: Callable[[dict], None], message_id: Any
) -> str:
    """The old stream_url stream: data lines of {"chunk": ...} until the server closes it; its text."""
    chunks = []
    for event in events:
        if event.get("error"):
            raise flow_error(event["error"])
        if isinstance(event.get("chunk"), str):
            chunks.append(event["chunk"])
            emit({"event": "token", "data": {"chunk": event["chunk"], "id": message_id}})
            show(event["chunk"])
    return "".join(chunks)


def tee_events(events: Iterable[dict], on_event: Callable[[dict], None]) -> Iterator[dict]:
    for event in events:
        on_event(event)
        yield event


# --- A background run's events (v2): Server-Sent Events frames with ids -------------------------


class JobEvents:
    """The events of one attach to a background run, from SSE frames (`data: <json>`, `id: <n>`).

    last_id is the id of the last frame read, to re-attach from. The v2 `end` holds no result, so
    the run's answer is put in it, and `finished` is set: asked of `answer`, or when no one needs
    the server's own (the text streamed), made of the run's `output` events. A pause counts only
    when it is the last event (a replay holds earlier, answered ones): it is kept in `pause`, not
    passed on. A stopped run's `{"type": "cancelled"}` frame is the job-stopped error. A stream
    that closes with neither `end` nor a pause has dropped.
    """

    def __init__(self, chunks: Iterable[bytes], answer: Callable[[], dict] | None, last_id: str = "") -> None:
        self.chunks, self.answer, self.last_id = chunks, answer, last_id
        self.pause: dict | None = None
        self.finished = False
        self.outputs: dict[str, dict] = {}  # the run's `output` events by component

    def __iter__(self) -> Iterator[dict]:
        data: list[bytes] = []
        reader = LineReader(self.chunks)
        while True:
            piece = reader.piece()
            line = None if piece is None else b"".join([piece, *reader.rest()]).rstrip(b"\r")
            if line and line.startswith(b"data:"):
                data.append(line[5:].removeprefix(b" "))
            elif line and line.startswith(b"id:"):
                self.last_id = line[3:].strip().decode("ascii", "replace")
            elif not line and data:  # a blank line (or the end) ends a frame
                try:
                    event = as_event(json.loads(b"\n".join(data)))
                except ValueError as exc:
                    raise malformed_event(data[0]) from exc
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
            if line is None:
                return


# --- Agent steps: what an agent reports while it works -----------------------------------------

STEP_LIMIT = 200  # characters of a step's input, result or error shown


def event_steps(event: dict) -> list[tuple[Any, str]]:
    """The agent steps an event reports, in order, each with a key that names it across re-sends.

    An Agent sends its message again and again while it works (add_message, state "partial"), its
    content_blocks growing: a `tool_use` content appears when a tool is called (name, tool_input)
    and gets its `output` or `error` when the tool returns. Langflow 1.13 lists the contents flat;
    up to 1.6 they sit in one "Agent Steps" block's `contents`. Text contents are the answer
    itself, so they are not steps. A `log` event is a step too: a component's text (key None: never
    sent twice), or an agent's tool starting or ending (log_steps).
    """
    kind, data = event.get("event"), event.get("data")
    if not isinstance(data, dict):
        return []
    if kind == "log":
        return log_steps(data)
    if kind != "add_message" or data.get("sender") == "User":
        return []
    steps: list[tuple[Any, str]] = []
    for key, content in nested_contents(data.get("content_blocks"), (data.get("id"),)):
        if content.get("type") == "tool_use":
            steps += tool_steps(key, content)
        elif content.get("type") == "error" and (content.get("reason") or content.get("component")):
            where = f"{content['component']}: " if content.get("component") else ""
            steps.append(((*key, "failed"), f"error: {where}{step_text(content.get('reason') or '')}"))
    return steps


def log_steps(data: dict) -> list[tuple[Any, str]]:
    """A `log` event's step. From 1.9 an Agent logs each tool's start (its input) and end (its
    output) as they happen, before the answer's tokens (lfx/base/agents/callback.py); the message
    of other framework logs ("Chain Start") is not a step. Keys name the tool run: ("log", run_id, ...)."""
    message = data.get("message")
    if isinstance(message, str):
        return [(None, f"log: {one_line(message, STEP_LIMIT)}")] if message.strip() else []
    if not isinstance(message, dict) or message.get("type") not in ("tool_start", "tool_end"):
        return []
    serialized = message.get("serialized")
    name = (serialized.get("name") if isinstance(serialized, dict) else None) or message.get("name") or "a tool"
    key = ("log", message.get("run_id"))
    if message["type"] == "tool_start":
        tool_input = message.get("inputs") or message.get("input_str")
        return [((*key, "call"), f"calling {name}" + (f" {step_text(tool_input)}" if tool_input else ""))]
    return [((*key, "returned"), f"{name} returned: {tool_output(message.get('output'))}")]


def nested_contents(blocks: Any, key: tuple) -> Iterator[tuple[tuple, dict]]:
    """Every content of content_blocks, depth first, each keyed by its position (the list only grows)."""
    for index, block in enumerate(blocks if isinstance(blocks, list) else []):
        if isinstance(block, dict):
            yield (*key, index), block
            yield from nested_contents(block.get("contents"), (*key, index))


def tool_steps(key: tuple, content: dict) -> list[tuple[Any, str]]:
    """A tool call (once its input is known, or it has returned), then its result or error."""
    name = content.get("name") or "a tool"
    tool_input = content.get("tool_input") or content.get("input")
    error, output = content.get("error"), content.get("output")
    steps = []
    if tool_input or error is not None or output is not None:
        shown_input = f" {step_text(tool_input)}" if tool_input else ""
        steps.append(((*key, "call"), f"calling {name}{shown_input}"))
    if error not in (None, ""):
        steps.append(((*key, "failed"), f"{name} failed: {step_text(error)}"))
    elif output is not None:
        steps.append(((*key, "returned"), f"{name} returned: {tool_output(output)}"))
    return steps


def tool_output(output: Any) -> str:
    """What a tool returned, on one line: the `content` of the framework's envelope (a LangChain
    ToolMessage, as 1.13 sends it), else the output as it is."""
    if isinstance(output, dict) and "content" in output:
        output = output["content"]
    return step_text(output)


def step_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return one_line(text, STEP_LIMIT)


def tee_steps(events: Iterable[dict], on_step: Callable[[str], None]) -> Iterator[dict]:
    """Pass the events on, telling on_step each agent step the first time it is reported.

    Once the server has logged a tool's start (1.9+), tools are followed by their logs, which come
    as the tool runs; a `tool_use` content then adds only a tool's failure (no log reports one), so
    a result is never shown again after the answer it came before."""
    seen: set[Any] = set()
    tools_logged = False
    for event in events:
        for key, line in event_steps(event):
            tools_logged = tools_logged or (key is not None and key[0] == "log")
            from_content = key is not None and key[0] != "log" and key[-1] in ("call", "returned")
            if tools_logged and from_content:
                continue
            if key is None or key not in seen:
                seen.add(key)
                on_step(line)
        yield event


# --- Terminal safety ----------------------------------------------------------------------------

CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """Show control characters escaped, so a reply cannot retitle, clear or recolour a terminal."""
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
    tweaks: dict = {}  # noqa: RUF012 - never mutated; tweaks_with_files makes a new dict
    input_type: str = "chat"
    output_type: str = "chat"
    output_component: str = ""
    verbose: bool = False
    url_given: bool = True  # False: no flag, environment or settings file gave it (the default URL)
    variables: dict = {}  # noqa: RUF012 - never mutated; --var NAME -> value, sent as headers
    settings_files: tuple[SettingsFile, ...] = ()  # where settings were looked for, in order
    demo_env: str = ""  # the settings file that gave the URL, when tests/demo_server.py wrote it
    background: bool = False  # run as a v2 background run (--background): it survives a dropped connection

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values never to be shown: the Voice redacts them from every line it writes."""
        return (self.api_key, *self.variables.values())


DEMO_MARK = "# Written by tests/demo_server.py"


def read_env_file(path: str | None) -> SettingsFile:
    """The env file (a named file must exist; ./.env is optional). dotenv loads only if needed."""
    if path is None:
        path = os.path.abspath(".env")
        if not os.path.isfile(path):
            return SettingsFile(path, {}, read=False)
    elif not os.path.isfile(path):
        raise usage_error(f"env file not found: {path} (check --env-file)")
    text = read_text_file(path, "env file")
    return SettingsFile(path, env_values(text), read=True, demo=text.lstrip("\ufeff").startswith(DEMO_MARK))


def env_values(text: str) -> dict[str, str]:
    from dotenv import dotenv_values

    # a stream, not the path: dotenv then never guesses the encoding (1.0.0 loses a variable after a BOM)
    return {key: value for key, value in dotenv_values(stream=io.StringIO(text)).items() if value is not None}


def user_settings_path(os_name: str = os.name, environ: Mapping[str, str] = os.environ) -> str:
    """This user's settings file, read after ./.env: %APPDATA% on Windows, XDG_CONFIG_HOME elsewhere."""
    if os_name == "nt":
        import ntpath

        home = environ.get("USERPROFILE") or os.path.expanduser("~")
        return ntpath.join(environ.get("APPDATA") or ntpath.join(home, "AppData", "Roaming"), "langflow-chat", ".env")
    import posixpath

    base = environ.get("XDG_CONFIG_HOME")
    if not base or not base.startswith("/"):  # the XDG spec: a relative path is to be ignored
        base = posixpath.join(environ.get("HOME") or os.path.expanduser("~"), ".config")
    return posixpath.join(base, "langflow-chat", ".env")


def read_user_settings(path: str) -> SettingsFile:
    """The user-level settings file, if there is one. Holding a key, it must be private to its owner
    (as ssh requires of key files): open to others, it is refused rather than used."""
    if not os.path.isfile(path):
        return SettingsFile(path, {}, read=False)
    values = env_values(read_text_file(path, "settings file"))
    mode = os.stat(path).st_mode
    if values.get("LANGFLOW_API_KEY", "").strip() and os.name != "nt" and mode & 0o077:
        raise failure_error("open-settings", path=path, mode=stat.S_IMODE(mode))
    return SettingsFile(path, values, read=True)


BYTE_ORDER_MARKS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def read_text_file(path: str, what: str) -> str:
    """A settings file as Windows tools write it: UTF-8 with or without a BOM, or UTF-16 with a BOM
    (PowerShell 5.1's `>`). Anything else is a usage error that names the file, never its contents."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise usage_error(f"cannot read {what} {path}: {exc.strerror or type(exc).__name__}") from None
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
        raise usage_error(f"{name} must be at most {maximum:.0f} s (what this platform can wait), not {value!r}")
    return number


def longest_wait() -> float:
    """The longest timeout this platform's sockets and locks can wait, in seconds."""
    import threading

    return threading.TIMEOUT_MAX


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
    """A URL copied from Langflow's API panel (http://host:7860/api/v1/run/<flow>?stream=false)
    names the server and the flow: (the server's address, the flow or ""). Any other URL is the
    server's address as it is (a proxy's path prefix included)."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    api = API_PATH.search(parts.path)
    if api is None:
        return url.rstrip("/"), ""
    flow = FLOW_IN_API_PATH.match(parts.path, api.start())
    address = f"{parts.scheme}://{parts.netloc}{parts.path[: api.start()]}"
    return address.rstrip("/"), unquote(flow["flow"]) if flow else ""


def parse_tweaks(value: str | None) -> dict:
    """--tweaks takes JSON or @file.json, and must be a JSON object."""
    if not value:
        return {}
    source = "--tweaks"
    if value.startswith("@"):
        source = value[1:]
        value = read_text_file(source, "tweaks file")
    try:
        tweaks = json.loads(value)
    except ValueError as exc:
        raise usage_error(f"{source} is not valid JSON: {exc}") from exc
    if not isinstance(tweaks, dict):
        raise usage_error(f'{source} must be a JSON object, like {{"ComponentId": {{"field": "value"}}}}')
    return tweaks


VARIABLE_NAME = re.compile(r"[A-Za-z0-9_-]+")


def parse_variables(values: list[str], setting: Callable[..., str]) -> dict[str, str]:
    """--var NAME=VALUE, or --var NAME for the value of the variable NAME in the environment (or a
    settings file), so a secret stays out of argv. A bad argument is named by its name only: the
    rest may be the secret."""
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


def load_config(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> Config:
    """Flags win, then the process environment, then the env file (each source whole, aliases included)."""
    files = (read_env_file(args.env_file), read_user_settings(user_settings_path(environ=environ)))
    sources = (SettingsFile("the environment", dict(environ), read=True), *files)

    def origin(flag: Any, *names: str) -> tuple[str, SettingsFile | None]:
        """The value and the source that gives it (None: a flag, or nothing)."""
        if flag not in (None, ""):
            return str(flag), None
        found = ((source.values[name], source) for source in sources for name in names if source.values.get(name))
        return next(found, ("", None))

    def setting(flag: Any, *names: str, default: str = "") -> str:
        return origin(flag, *names)[0] or default

    given_url, url_source = origin(args.url, "LANGFLOW_URL", "LANGFLOW_SERVER_URL")
    url_given, given_url = bool(given_url), given_url or DEFAULT_URL
    if not re.match(r"^https?://[^/\s]+", given_url):
        raise usage_error(
            f"the server URL must start with http:// or https://, not {given_url!r} (check LANGFLOW_URL or --url)"
        )
    url, flow_in_url = server_and_flow(given_url)
    api_key, key_source = origin(None, "LANGFLOW_API_KEY")
    api_key = api_key.strip()
    if not header_safe(api_key):
        raise failure_error("bad-key", source=f" in {key_source.path}" if key_source else "")
    timeout = setting(args.timeout, "LANGFLOW_TIMEOUT", default=str(DEFAULT_TIMEOUT))
    return Config(
        url=url,
        flow=setting(args.flow, "LANGFLOW_FLOW_ID").strip() or flow_in_url,
        api_key=api_key,
        timeout=parse_number("the timeout", timeout, float, 0.1, longest_wait()),
        retries=parse_number("--retries", str(args.retries), int, 0),
        tweaks=parse_tweaks(args.tweaks),
        input_type=args.input_type,
        output_type=args.output_type,
        output_component=args.output_component or "",
        verbose=args.verbose,
        url_given=url_given,
        variables=parse_variables(args.var, setting),
        settings_files=files,
        demo_env=url_source.path if url_source is not None and url_source.demo else "",
        background=args.background,
    )


def require_flow(config: Config) -> None:
    """No flow: say every place that was looked in, and what to do (both scripts take these flags)."""
    if not config.flow:
        looked = [f"{file.path} ({'read' if file.read else 'no such file'})" for file in config.settings_files]
        places = ", ".join(["the environment", *looked[:-1]]) + (f" or {looked[-1]}" if looked else "")
        raise failure_error("no-flow", places=places)


def settings_read(config: Config) -> str:
    """Which settings files were read, for --version and -v."""
    read = [file.path for file in config.settings_files if file.read]
    looked = " or ".join(file.path for file in config.settings_files)
    return f"settings read from {', '.join(read)}" if read else f"settings: no file read (looked for {looked})"


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
    """All of stdin as UTF-8, without the final line end (\n, or \r\n from Windows) a pipe usually ends with."""
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


def readable_files(paths: list[str]) -> list[str]:
    """Check every --file before anything is sent."""
    for path in paths:
        try:
            with open(path, "rb") as handle:
                handle.read(1)
        except OSError as exc:
            raise usage_error(f"cannot read --file {path}: {exc.strerror or exc}") from exc
        if os.path.isdir(path):
            raise usage_error(f"--file {path} is a directory")
    return paths


# --- Arguments ----------------------------------------------------------------------------------


def argument_parser(prog: str, description: str, epilog: str) -> argparse.ArgumentParser:
    """A parser with the flags both scripts share; usage errors are one line and exit code 2."""
    import argparse

    class ArgumentParser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            raise usage_error(f"{message} (see {self.prog} --help)")

    parser = ArgumentParser(
        prog=prog, description=description, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="Langflow server URL (env LANGFLOW_URL)")
    parser.add_argument("--flow", help="flow UUID or endpoint name (env LANGFLOW_FLOW_ID)")
    parser.add_argument("--session-id", help="continue this conversation (default: a fresh one)")
    parser.add_argument(
        "--tweaks",
        metavar="JSON|@FILE",
        help='per-component overrides, e.g. \'{"ChatInput-abc": {"sender_name": "me"}}\'',
    )
    parser.add_argument(
        "--input-type",
        choices=("chat", "text", "any"),
        default="chat",
        help="which inputs get the message (default chat)",
    )
    parser.add_argument(
        "--output-type",
        choices=("chat", "text", "any", "debug"),
        default="chat",
        help="which outputs are returned (default chat)",
    )
    parser.add_argument(
        "--output-component", metavar="ID", help="return only this output component, e.g. ChatOutput-ylMzN"
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        help="longest wait for the server, or between streamed events (env LANGFLOW_TIMEOUT, default 300)",
    )
    parser.add_argument(
        "--retries",
        metavar="N",
        default=DEFAULT_RETRIES,
        help="retries when the flow certainly did not run: connection refused, 429, 503 (default 2)",
    )
    parser.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="set the flow's global variable NAME for each run (repeatable); NAME alone takes the value "
        "of the environment variable NAME; Langflow upper-cases NAME (Langflow 1.7.1+)",
    )
    parser.add_argument(
        "--background",
        action="store_true",
        help="run the flow as a background run (Langflow 1.10+): a dropped connection re-attaches "
        "and the reply goes on (costs one more request, about 0.1-0.2 s)",
    )
    parser.add_argument("--env-file", metavar="PATH", help="read settings from this file instead of ./.env")
    parser.add_argument("--list-flows", action="store_true", help="list the flows this key can run, then exit")
    parser.add_argument(
        "--steps",
        action=argparse.BooleanOptionalAction,
        help="show an agent's steps (tool calls, their results) on stderr (default: when stderr is a terminal)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show requests, responses and tracebacks on stderr (the key is redacted)",
    )
    parser.add_argument(
        "-V", "--version", action="store_true", help="show this client's version and the server's Langflow version"
    )
    parser.set_defaults(prog=prog)
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argument_parser(
        "chat_example.py", "Send one message to a Langflow flow and print the reply.", EXIT_CODES_HELP
    )
    parser.add_argument("message", nargs="?", help="the message; '-' reads standard input (also read when piped)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--text", action="store_true", help="print only the reply text")
    output.add_argument(
        "--json", action="store_true", help="print JSON (the default; with --stream, one event per line)"
    )
    parser.add_argument("--stream", action="store_true", help="print the reply token by token as it arrives")
    parser.add_argument(
        "--choice",
        metavar="ACTION",
        help="answer the flow's questions (a pause for a human) with ACTION, e.g. approve, without asking",
    )
    parser.add_argument(
        "--resume", metavar="JOB_ID", help="re-attach to a background run of this flow: answer it, or print its reply"
    )
    parser.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="PATH",
        help="attach a file to the flow's Chat Input (repeatable)",
    )
    return parser.parse_args(argv)


# === 6. HTTP =====================================================================================

WAIT_STEP = 0.1  # seconds the main thread waits at a time for the network, so Ctrl-C is noticed at once
HANDOVER = 4  # items (response chunks) that may wait between the worker and the main thread


def in_worker(produce: Callable[[], Iterable[T]], stop: Callable[[], None], tick: Callable[[], None]) -> Iterator[T]:
    """The items of a blocking producer (a request, a response's chunks), run in a worker thread.

    The main thread waits for each item in short steps, calling tick() after each empty one, so
    Ctrl-C ends the wait within a step on every platform: Windows never interrupts a blocked socket
    read. When the consumer is interrupted or stops early, stop() shuts the connection, so the
    worker ends too. A few items at most wait in between: memory stays bounded for any reply.
    """
    import queue
    import threading

    handover: queue.Queue = queue.Queue(maxsize=HANDOVER)
    gone = threading.Event()

    def deliver(item: tuple[str, Any]) -> bool:
        while not gone.is_set():
            try:
                handover.put(item, timeout=WAIT_STEP)
                return True
            except queue.Full:
                continue
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

    threading.Thread(target=work, daemon=True).start()
    kind = ""
    try:
        while True:
            kind, value = waited(handover, tick)
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        if kind not in ("done", "error"):
            gone.set()
            stop()


def waited(items: queue.Queue, tick: Callable[[], None]) -> Any:
    """The next item a worker thread hands over, waited for in short steps (see in_worker)."""
    import queue

    while True:
        try:
            return items.get(timeout=WAIT_STEP)
        except queue.Empty:
            tick()


class Client:
    """The HTTP session of a run or a whole conversation: one connection pool, the key header,
    retries where the flow certainly did not run, -v tracing on the Voice, and decoding.

    tick is called at each short step of a wait with nothing new (the waiting line redraws).
    """

    def __init__(
        self,
        config: Config,
        voice: Voice | None = None,
        tick: Callable[[], None] = lambda: None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import requests

        self.config = config
        self.voice = voice or Voice(sys.stderr, config.secrets)
        self.tick = tick
        self.sleep = sleep
        self.http = requests.Session()
        self.http.headers["User-Agent"] = USER_AGENT
        if config.api_key:
            self.http.headers["x-api-key"] = config.api_key
        self.in_use: Any = None  # the connection the current request took from the pool
        watch_connections(self.http, self.took)

    def close(self) -> None:
        self.http.close()

    def took(self, connection: Any) -> None:
        self.in_use = connection

    def shut_connection(self) -> None:
        """Wake a worker blocked reading the current connection (shutdown does on every platform; close
        does not on Linux); the pool opens a new connection for the next request."""
        import socket

        sock = getattr(self.in_use, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def waiting(self, produce: Callable[[], Iterable[T]]) -> Iterator[T]:
        """Every blocking network call goes through here: see in_worker."""
        return in_worker(produce, self.shut_connection, self.tick)

    def request(
        self, method: str, path: str, stream: bool = False, timeout: float | None = None, **kwargs: Any
    ) -> requests.Response:
        """Send with retries where the flow certainly did not run; raise ClientError otherwise.
        `timeout` (default: the configured one) is the longest wait for an answer or a chunk."""
        url = self.config.url + path
        attempt = 0
        while True:
            try:
                response = self.send_once(method, url, stream, timeout or self.config.timeout, **kwargs)
            except ClientError as network_failure:
                error = network_failure
                if not error.retry or attempt == self.config.retries:
                    raise
                wait = 0.5 * 2**attempt
            else:
                if response.status_code < 400:
                    return response
                error = response_error(response)
                if self.config.verbose and error.detail:
                    self.voice.say(f"< {error.detail}")
                if error.status in (401, 403):
                    error = auth_error(error.status, error.detail, bool(self.config.api_key))
                if not error.retry or attempt == self.config.retries:
                    raise error
                wait = retry_after(response.headers.get("Retry-After"), 0.5 * 2**attempt)
            note = f"retrying in {wait:g} s: {error}"
            if self.config.verbose:
                self.voice.say(note)  # -v: every attempt, on a line of its own
            else:
                self.voice.status(note)  # at a terminal one line, updated; elsewhere only the final error
            self.sleep(wait)
            attempt += 1

    def send_once(self, method: str, url: str, stream: bool, timeout: float, **kwargs: Any) -> requests.Response:
        import requests

        if self.config.verbose:
            self.voice.say(f"> {method} {url}")
            for name, value in {**self.http.headers, **kwargs.get("headers", {})}.items():
                self.voice.say(f"> {name}: {value}")
        started = time.monotonic()
        try:
            (response,) = self.waiting(
                lambda: [
                    self.http.request(
                        method,
                        url,
                        stream=stream,
                        timeout=(connect_timeout(timeout), timeout),
                        **kwargs,
                    )
                ]
            )
        except requests.RequestException as exc:
            raise network_error(exc, self.config.url, timeout, self.config.demo_env, self.config.url_given) from exc
        if self.config.verbose:
            self.voice.say(f"< HTTP {response.status_code} {response.reason} ({time.monotonic() - started:.3f} s)")
            for name, value in response.headers.items():
                self.voice.say(f"< {name}: {value}")
        return response

    def json(self, response: requests.Response, streamed: bool = False) -> Any:
        """Read a whole response as JSON; an HTML page or garbage is a clear error, not a dump.

        A `streamed` response (requested with stream=True: /run's) is parsed as it arrives.
        """
        content_type = response.headers.get("Content-Type", "")
        if "json" not in content_type:
            response.close()
            raise failure_error("not-json", status=response.status_code, content_type=content_type or "no content type")
        try:
            if streamed:
                return parse_json_chunks(self.chunks(response))
            return json.loads(response.content)  # already read: requests reads unstreamed bodies at once
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
                config = self.config
                raise network_error(exc, config.url, config.timeout, config.demo_env, config.url_given) from exc

        try:
            yield from self.waiting(read_all)
        finally:
            response.close()


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


def response_error(response: requests.Response) -> ClientError:
    content_type = response.headers.get("Content-Type", "")
    try:
        detail = error_body_message(response.content, content_type)
    except Exception:  # noqa: BLE001 - the status alone still says what happened
        detail = ""
    if not detail and "json" not in content_type and response.content:
        detail = f"the server did not return JSON ({content_type or 'no content type'})"
    return http_error(response.status_code, detail)


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
    once and kept: its dialect (GET /api/v1/version; GET /health when that is missing) and the
    flow's UUID."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.config = client.config
        self.voice = client.voice
        self._dialect: Dialect | None = None
        self._flow_uuid: str | None = None
        self._components: dict[str, str] | None = None
        self.pauses = False  # /run refused the flow as one that may pause: it runs in the background

    def close(self) -> None:
        self.client.close()

    def knows_dialect(self) -> bool:
        return self._dialect is not None

    def dialect(self) -> Dialect:
        """Asked when first needed, once (no key needed). Langflow says its version; `lfx serve`
        has no such path (its router's 404) and tells itself by its /health answer, a second
        request only there. A network failure is raised, not hidden: the request that wanted the
        dialect would meet it next, and wait for it again."""
        if self._dialect is None:
            try:
                answer = self.client.json(self.client.request("GET", "/api/v1/version"))
            except ClientError as error:
                if error.exit_code == EXIT_NETWORK:
                    raise
                answer = self.health() if route_missing(error) else None
            if isinstance(answer, dict) and answer.get("status") == "healthy" and "flow_count" in answer:
                self._dialect = LFX_SERVE
            else:
                version = answer.get("version") if isinstance(answer, dict) else None
                self._dialect = dialect_for(str(version) if version else None)
        return self._dialect

    def health(self) -> Any:
        """GET /health's answer (no key needed), or None if it has none in JSON."""
        try:
            return self.client.json(self.client.request("GET", "/health"))
        except ClientError as error:
            if error.exit_code == EXIT_NETWORK:
                raise
            return None

    def not_langflow(self, error: ClientError) -> bool:
        """Whether a request to one of Langflow's paths failed because the server is not Langflow:
        its router has no such path, and its dialect (asked now if it was not) says so."""
        return route_missing(error) and not self.dialect().speaks_langflow_api

    def run_path(self, stream: bool = True) -> str:
        """Where a run of the flow is sent. A dialect not asked yet is taken as Langflow's, whose
        run path takes an endpoint name too: a new one-shot does not pay a request to ask it."""
        dialect = self._dialect or NEWEST_LANGFLOW
        flow = self.config.flow if dialect.routes_endpoint_names else self.flow_uuid()
        return dialect.runs_at.format(flow=quoted(flow), stream="true" if stream else "false")

    def flow_uuid(self) -> str:
        """Uploads and history take only the flow's UUID: an endpoint name is looked up in the flow list."""
        if self._flow_uuid is None:
            flow = self.config.flow
            if is_uuid(flow):
                self._flow_uuid = flow
            else:
                flows = list_flows(self)
                listed = next((f for f in flows if flow in (f["id"], f["endpoint_name"])), None)
                if listed is None and not self.dialect().routes_endpoint_names:  # a flow file's title
                    listed = next((f for f in flows if flow == f["name"]), None)
                if listed is None:
                    raise failure_error("unknown-flow-name", flow=flow, server=self.name())
                self._flow_uuid = str(listed["id"])
        return self._flow_uuid

    def check(self) -> None:
        """Before a conversation's first prompt, one request shows that the URL answers, the key is
        accepted and the flow exists: the flow is looked up in the flow list, by UUID or endpoint
        name. A failure is the line a run would give (the same FAILURES rows)."""
        flow = self.config.flow
        if not is_uuid(flow):
            self.flow_uuid()
        elif not any(same_uuid(flow, str(listed["id"])) for listed in list_flows(self)):
            raise failure_error("unknown-flow-name", flow=flow, server=self.name())

    def components(self) -> dict[str, str]:
        """The flow's components, id -> display name (GET /api/v1/flows/{uuid}), asked once. {} when
        the server does not show the flow: a check that needs them is then skipped, not failed."""
        if self._components is None:
            try:
                answer = self.client.json(self.client.request("GET", f"/api/v1/flows/{quoted(self.flow_uuid())}"))
            except ClientError as error:
                if error.exit_code == EXIT_NETWORK:
                    raise
                answer = None
            nodes = _dig(answer, "data", "nodes") or []
            self._components = {
                str(node["id"]): str(_dig(node, "data", "node", "display_name") or "")
                for node in nodes
                if isinstance(node, dict) and node.get("id")
            }
        return self._components

    def name(self) -> str:
        """The server as messages name it: its release when it says it."""
        return self.dialect().name


def connect(config: Config, terminal: Terminal) -> Server:
    """The Server of a run or a conversation, its waits and notes on this terminal."""
    warning = insecure_key_warning(config)
    if warning:
        terminal.voice.say(warning)
    return Server(Client(config, terminal.voice, tick=terminal.waiting.tick))


def flow_not_found(error: ClientError, server: Server) -> ClientError:
    """A 404 for the flow (from /run, or from the start check) in one wording: the flow is unknown."""
    if error.status != 404:
        return error
    return failure_error("unknown-flow-name", flow=server.config.flow, server=server.name())


def check_component_names(server: Server) -> None:
    """--tweaks and --output-component must name components of the flow (by id or display name, as
    Langflow matches them): Langflow ignores a tweak for no component, and answers an unknown output
    with no message. Asked before the run, once, and only when those flags are given."""
    config = server.config
    named = [("--tweaks", key) for key, value in config.tweaks.items() if isinstance(value, dict)]
    if config.output_component:
        named.append(("--output-component", config.output_component))
    components = server.components() if named else {}
    known = set(components) | set(components.values())
    unknown = [(flag, name) for flag, name in named if components and name not in known]
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
    """The server has no such path (its router's own answer; a missing flow or conversation is a
    404 with the endpoint's own detail)."""
    return error.status in ROUTER_MISSING and error.detail == ROUTER_MISSING[error.status]


def send_run(server: Server, body: dict, stream: bool = True, headers: dict | None = None) -> requests.Response:
    """POST a run where the server takes it, and return the answer as it arrives.

    A dialect not asked yet is Langflow's; a server without Langflow's run path (its router's
    404: `lfx serve`) is asked its dialect then, and the run sent again where that says (the flow
    did not run). A run with tweaks or files to a server that ignores them is refused: the reply
    would not be the one asked for.
    """
    headers = {**(STREAM_HEADERS if stream else {}), **(headers or {})}
    known = server.knows_dialect()
    try:
        if known:
            refuse_unused_options(server, body)
        return server.client.request("POST", server.run_path(stream), stream=True, json=body, headers=headers)
    except ClientError as error:
        if known or not server.not_langflow(error):
            raise flow_not_found(error, server) from None
    refuse_unused_options(server, body)
    try:
        return server.client.request("POST", server.run_path(stream), stream=True, json=body, headers=headers)
    except ClientError as error:
        raise flow_not_found(error, server) from None


def refuse_unused_options(server: Server, body: dict) -> None:
    if body.get("tweaks") and not server.dialect().takes_tweaks:
        raise failure_error("not-offered", server=server.name(), what="tweaks (--tweaks)")


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


class Reply(NamedTuple):
    """A finished run: its result (the object Langflow's non-streamed /run answers), and whether
    any reply text was handed to on_text as it came."""

    result: dict
    had_text: bool


class PassedOn:
    """on_text (or nothing, when only the whole result is wanted), noting whether any reply text
    was handed on: Reply.had_text."""

    def __init__(self, on_text: Callable[[str], None] | None) -> None:
        self.on_text, self.had_text = on_text, False

    def __call__(self, text: str) -> None:
        if self.on_text is not None:
            self.had_text = self.had_text or bool(text)
            self.on_text(text)


def watched(
    events: Iterable[dict], on_step: Callable[[str], None] | None, on_event: Callable[[dict], None] | None
) -> Iterable[dict]:
    """The events, each agent step told to on_step and each event to on_event as it passes."""
    if on_step is not None:
        events = tee_steps(events, on_step)
    if on_event is not None:
        events = tee_events(events, on_event)
    return events


STREAM_HEADERS = {"Accept": "text/event-stream, application/json", "Accept-Encoding": "identity"}
VARIABLE_HEADER = "X-LANGFLOW-GLOBAL-VAR-"


def variable_headers(server: Server) -> dict[str, str]:
    """--var as /run takes them (1.7.1+). A server that would ignore them is an error rather than a
    run without them: the flow would use its saved values, or fail further on."""
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
    on_text: Callable[[str], None] | None = None,
    on_event: Callable[[dict], None] | None = None,
    on_step: Callable[[str], None] | None = None,
    decide: Decide | None = None,
) -> Reply:
    """One run of the flow, the one place a run is sent and read.

    on_text gets the reply's text as it arrives (None: only the whole result is wanted), on_event
    every event, on_step each agent step, decide each pause of a flow that asks a human (None:
    no one can answer). A flow that /run refuses because it may pause runs in the background
    (follow_job), and so does every later turn with it; --background runs every flow there.
    """
    handlers = {"on_text": on_text, "on_event": on_event, "on_step": on_step}
    if not server.pauses and not server.config.background:
        try:
            return ask_v1(server, message, session_id, tweaks=tweaks, continues=continues, **handlers)
        except ClientError as error:
            if not needs_background_run(error):
                raise
            server.pauses = True
    job_id = start_background_run(server, message, session_id, tweaks)
    return follow_job(server, job_id, decide=decide, **handlers)


def ask_v1(
    server: Server,
    message: str,
    session_id: str,
    *,
    tweaks: dict | None,
    continues: bool,
    on_text: Callable[[str], None] | None,
    on_event: Callable[[dict], None] | None,
    on_step: Callable[[str], None] | None,
) -> Reply:
    """A run on /api/v1/run. It is read as events where the server sends them, so a failing
    component is reported at its first `error` event (Langflow 1.13's non-streamed 500 comes
    12-59 s later). A server that does not store streamed replies is asked without streaming when
    the conversation `continues` (the chat, --session-id), so memory keeps the turn; asking its
    dialect costs a request, which a new one-shot conversation does not make."""
    client = server.client
    body = run_body(server.config, message, session_id, tweaks)
    variables = variable_headers(server)
    if continues and on_event is None and not server.dialect().stores_streamed_replies:
        response = send_run(server, body, stream=False, headers=variables)
        return Reply(client.json(response, streamed=True), had_text=False)
    text_came = PassedOn(on_text)
    response = send_run(server, body, headers=variables)
    content_type = response.headers.get("Content-Type", "")
    if "json" in content_type:  # a server that streams through stream_urls (up to 1.1.1)
        result = client.json(response, streamed=True)
        return Reply(follow_stream_urls(server, result, session_id, text_came, on_event), text_came.had_text)
    if "event-stream" not in content_type:  # a web page: a proxy, or an old Langflow not finding the flow
        response.close()
        raise failure_error("not-json", status=response.status_code, content_type=content_type or "no content type")
    # once text has been handed on, the `end` event's copy of the reply is not needed (unless events are)
    events: Iterator[dict] = split_events(
        client.chunks(response), skip_end=lambda: text_came.had_text and on_event is None
    )
    events = watched(events, on_step, on_event)
    try:
        result = show_stream(events, text_came)
        for _rest in events:  # read the stream to its end, so the connection can be reused
            pass
        return Reply(result, text_came.had_text)
    except StreamEnded as ended:
        raise turn_failure(server, session_id, ended) from None
    except ClientError:  # an `error` event: do not wait for the rest (1.13 sends another seconds later)
        client.shut_connection()
        raise
    finally:
        response.close()


Decide = Callable[[str, dict], dict]  # (job id, the pause's request) -> the decision to resume with


WORKFLOWS = "/api/v2/workflows"


def start_background_run(server: Server, message: str, session_id: str, tweaks: dict | None) -> str:
    """Submit a v2 background run (the only kind that pauses for a human); its job id. Langflow
    ignores per-request variables there, so --var is refused rather than dropped."""
    if server.config.variables:
        raise failure_error("variables-in-background")
    body: dict[str, Any] = {
        "flow_id": server.flow_uuid(),  # v2 takes only the UUID
        "input_value": message,
        "session_id": session_id,
        "mode": "background",
    }
    tweaks = server.config.tweaks if tweaks is None else tweaks
    if tweaks:
        body["tweaks"] = tweaks
    answer = server.client.json(workflows_request(server, "POST", "", json=body))
    job_id = answer.get("job_id") if isinstance(answer, dict) else None
    if not job_id:
        raise failure_error("no-background-runs", server=server.name())
    return str(job_id)


def workflows_request(server: Server, method: str, path: str, **kwargs: Any) -> requests.Response:
    """A request to the v2 workflows API; a server whose router does not know it says so."""
    try:
        return server.client.request(method, WORKFLOWS + path, **kwargs)
    except ClientError as error:
        if error.status in (404, 405) and error.detail in ("Not Found", "Method Not Allowed"):
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


REATTACHES = 3  # re-attaches to a background run after its stream dropped or stalled (backoff 0.5, 1, 2 s)
STALL_SECONDS = 45.0  # silence that counts as a stalled stream: Langflow 1.13 sends a keepalive every 15 s


def follow_job(
    server: Server,
    job_id: str,
    *,
    decide: Decide | None = None,
    on_text: Callable[[str], None] | None = None,
    on_event: Callable[[dict], None] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> Reply:
    """Read a background run to its end, from its first event (a re-attach replays what it
    missed), through its pauses and dropped connections. Ctrl-C stops the run at the server."""
    text_came = PassedOn(on_text)
    gaps: list = []  # one item per re-attach
    answer_wanted = on_text is None or on_event is not None  # else the text has been shown as it came
    events = job_events(server, job_id, decide or no_one_to_ask, gaps, answer_wanted)
    events = watched(events, on_step, on_event)
    try:
        return Reply(show_stream(events, text_came, gaps), text_came.had_text)
    except KeyboardInterrupt:
        stop_job(server, job_id)
        raise


def job_events(server: Server, job_id: str, decide: Decide, gaps: list, answer_wanted: bool) -> Iterator[dict]:
    """Every event of a background run up to its `end`: each pause is answered with decide and
    the run resumed; a stream that drops or stalls is re-attached from the last event received
    (REATTACHES times, with backoff), else the run goes on at the server and the error says how
    to re-attach later. Each re-attach is added to gaps. The server's answer is asked for at the
    end when answer_wanted (JSON, or text not streamed)."""
    last_id, failures = "", 0
    while True:
        headers = {"Accept": "text/event-stream", "Accept-Encoding": "identity"}
        if last_id:
            headers["Last-Event-ID"] = last_id
        job = JobEvents((), None, last_id)
        try:
            path = f"/{quoted(job_id)}/events"
            timeout = min(server.config.timeout, STALL_SECONDS)
            response = workflows_request(server, "GET", path, stream=True, headers=headers, timeout=timeout)
            answer = functools.partial(job_answer, server, job_id) if answer_wanted else None
            job = JobEvents(server.client.chunks(response), answer, last_id)
            for event in job:
                failures = 0
                yield event
        except ClientError as error:
            if error.exit_code != EXIT_NETWORK:
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
        server.voice.say(f"the connection dropped; re-attaching in {wait:g} s ({failures} of {REATTACHES})")
        server.client.sleep(wait)
        gaps.append(last_id)


ANSWER_WAITS = 50  # the status may say in_progress a moment after `end`: asked again 0.1 s apart


def job_answer(server: Server, job_id: str) -> dict:
    """A finished background run's answer (the v2 "response" object, with its outputs)."""
    for _ in range(ANSWER_WAITS):
        answer = server.client.json(workflows_request(server, "GET", "", params={"job_id": job_id}))
        if not isinstance(answer, dict) or answer.get("status") not in ("queued", "in_progress"):
            break
        server.client.sleep(0.1)
    return answer if isinstance(answer, dict) else {}


def stop_job(server: Server, job_id: str) -> None:
    """Ctrl-C stops the run at the server, not only the wait (a second Ctrl-C leaves at once)."""
    server.voice.say("stopping the run at the server (Ctrl-C again to leave now)")
    try:
        workflows_request(server, "POST", "/stop", json={"job_id": job_id})
    except ClientError as error:
        server.voice.say(f"the run could not be stopped: {error}")


def pending_requests(server: Server) -> list[dict]:
    """This flow's background runs that wait for a human decision (from any client)."""
    response = workflows_request(server, "GET", "/pending", params={"flow_id": server.flow_uuid()})
    return [item for item in server.client.json_list(response, "list of waiting runs") if isinstance(item, dict)]


def unshown_text(reply: Reply) -> str:
    """The reply text still to show once a run is over: none if its text came as it streamed, else
    the result's. The one empty-reply rule: an empty message is an empty reply (""), a run that
    returned no message at all is the no-text error."""
    return "" if reply.had_text else reply_text(reply.result)


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
    server: Server,
    result: dict,
    session_id: str,
    show: Callable[[str], None],
    on_event: Callable[[dict], None] | None = None,
) -> dict:
    """A run answered as JSON whose streaming outputs each point at a stream_url (real SSE): follow
    each, show its chunks, and put the streamed text where a finished response holds it, so every
    mode reads the same result. Events are made as the event stream sends them: a `token` per
    chunk, then an `end` carrying the result."""
    emit = on_event or (lambda _event: None)
    streams = streamed_outputs(result)
    if not streams:
        show("\n\n".join(filter(None, reply_texts(result))))
    for index, (output, url) in enumerate(streams):
        if index:
            show("\n\n")
        response = server.client.request(
            "GET", url, stream=True, params={"session_id": session_id}, headers={"Accept": "text/event-stream"}
        )
        message_id = output.get("component_id") or url
        text = show_sse_chunks(split_events(server.client.chunks(response)), show, emit, message_id)
        with_streamed_text(output, text)
    emit({"event": "end", "data": {"result": result}})
    return result


MONITOR_PAGE = 200  # Langflow 1.13 answers at most 200 items at once (100 when not asked)


def monitor_list(server: Server, path: str, params: dict[str, str]) -> list:
    """Every item of a monitor listing, page by page (limit/offset), so nothing is silently cut.

    Langflow 1.11+ pages (1.12.2+: newest items first, at most 200 at once); older releases
    ignore limit/offset and answer everything: a page longer than asked, or the same page again,
    means the server does not page.
    """
    items: list = []
    while True:
        request = server.client.request("GET", path, params={**params, "limit": MONITOR_PAGE, "offset": len(items)})
        page = server.client.json_list(request, f"answer to {path}")
        if items and page == items[: len(page)]:
            return items
        items.extend(page)
        if len(page) != MONITOR_PAGE:
            return items


def session_messages(server: Server, session_id: str) -> list[dict]:
    """A conversation's stored messages, all of them, oldest first."""
    params = {"flow_id": server.flow_uuid(), "session_id": session_id, "order": "ASC"}
    messages = [m for m in monitor_list(server, "/api/v1/monitor/messages", params) if isinstance(m, dict)]
    return sorted(messages, key=lambda m: str(m.get("timestamp", "")))


def upload_files(server: Server, paths: list[str]) -> list[str]:
    """Upload each file to the flow; Langflow returns the path to pass to Chat Input."""
    if not paths:
        return []
    upload_path = f"/api/v1/files/upload/{server.flow_uuid()}"
    stored = []
    for path in paths:
        with open(path, "rb") as handle:
            response = server.client.request("POST", upload_path, files={"file": (os.path.basename(path), handle)})
        result = server.client.json(response)
        file_path = result.get("file_path") or result.get("path") if isinstance(result, dict) else None
        if not file_path:
            raise failure_error("not-stored", path=path)
        stored.append(file_path)
    return stored


def tweaks_with_files(tweaks: dict, file_paths: list[str], one_path: bool = False) -> dict:
    """Attach uploaded files to the Chat Input, as Langflow's own generated client does
    (`one_path`: as the one path string a files_as_string dialect takes)."""
    if not file_paths:
        return tweaks
    chat_input = dict(tweaks.get(FILE_TWEAK_KEY) or {})
    if one_path:
        chat_input["files"] = file_paths[0]
    else:
        chat_input["files"] = list(chat_input.get("files") or []) + file_paths
    return {**tweaks, FILE_TWEAK_KEY: chat_input}


def attach_files(server: Server, paths: list[str]) -> dict:
    """The run's tweaks with --file paths uploaded and attached to the Chat Input."""
    if not paths:
        return server.config.tweaks
    dialect = server.dialect()
    if not dialect.takes_tweaks:
        raise failure_error("not-offered", server=dialect.name, what="files (--file)")
    if dialect.files_as_string and len(paths) > 1:
        raise usage_error(f"Langflow {dialect.version} takes one file per message (give --file once)")
    return tweaks_with_files(server.config.tweaks, upload_files(server, paths), dialect.files_as_string)


def list_flows(server: Server) -> list[dict]:
    """The flows this key can run. Langflow up to 1.1 answers the short list (header_flows) with
    every endpoint_name null: when no flow has one, the full list, which has them, is asked for.
    `lfx serve` lists its flow files' ids and titles (no endpoint names); a server not asked
    what it is yet is asked at Langflow's path first, and then only if that path is missing."""
    if server.knows_dialect() and not server.dialect().speaks_langflow_api:
        return other_flows(server)
    try:
        flows = fetch_flows(server, header_flows=True)
    except ClientError as error:
        if error.status == 500 and server.dialect().flows_by_folder:
            return folder_flows(server)
        if not server.not_langflow(error):
            raise
        return other_flows(server)
    if flows and not any(isinstance(f, dict) and f.get("endpoint_name") for f in flows):
        flows = fetch_flows(server, header_flows=False)
    return [{"endpoint_name": f.get("endpoint_name"), "id": f.get("id"), "name": f.get("name")} for f in dicts(flows)]


def folder_flows(server: Server) -> list[dict]:
    """The flows of each of the user's folders (GET /api/v1/folders/, then each folder), for a
    server whose flow list fails (flows_by_folder). The listing also names folders that are not
    the user's (the starter projects): those answer "404: Folder not found", in a 500."""
    client, flows = server.client, []
    for folder in dicts(client.json_list(client.request("GET", "/api/v1/folders/"), "folder list")):
        try:
            answer = client.json(client.request("GET", f"/api/v1/folders/{quoted(str(folder.get('id')))}"))
        except ClientError as error:
            if error.status == 404 or error.detail.startswith("404:"):
                continue
            raise
        flows += dicts(answer.get("flows") or []) if isinstance(answer, dict) else []
    return [{"endpoint_name": f.get("endpoint_name"), "id": f.get("id"), "name": f.get("name")} for f in flows]


def other_flows(server: Server) -> list[dict]:
    """The flows of a server that is not Langflow (`lfx serve`), named by their titles."""
    flows = server.client.json_list(server.client.request("GET", server.dialect().flows_at), "flow list")
    return [{"endpoint_name": None, "id": f.get("id"), "name": f.get("title")} for f in dicts(flows)]


def dicts(items: list) -> list[dict]:
    return [item for item in items if isinstance(item, dict)]


def fetch_flows(server: Server, header_flows: bool) -> list:
    params = {"get_all": "true", "header_flows": str(header_flows).lower(), "remove_example_flows": "true"}
    return server.client.json_list(server.client.request("GET", "/api/v1/flows/", params=params), "flow list")


VERSION_TIMEOUT = 3.0  # seconds --version waits for the server's answer: it must never hang


# === 8. Printing =================================================================================


def make_show(out: TextIO, flush: bool = True) -> Callable[[str], None]:
    """Write (and flush) each piece at once. Piped output is exact; at a terminal control characters
    are escaped, but "\r\n" is a line break (its "\r" is held back if it ends a piece)."""
    at_terminal = out.isatty()
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


def utf8_stdio(*streams: TextIO | None) -> None:
    """UTF-8 on pipes and files whatever the locale, as jq, gh and git do; a terminal keeps its own
    encoding, and what it cannot show is replaced. Invalid bytes read are replaced, never fatal."""
    for stream in streams:
        try:
            if stream.isatty():
                stream.reconfigure(errors="replace")
            else:
                stream.reconfigure(encoding="utf-8", errors="replace")
        except (AttributeError, ValueError, OSError):  # not a real stream (embedded, closed): leave it
            pass


def aligned(rows: list[tuple[str, ...]], indent: str = "") -> str:
    """Rows as columns, two spaces apart, each as wide as its widest cell (the last one is not padded)."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    lines = (indent + "".join(c.ljust(w + 2) for c, w in zip(row[:-1], widths, strict=True)) + row[-1] for row in rows)
    return "\n".join(line.rstrip() for line in lines)


def flows_table(flows: list[dict]) -> str:
    rows = [("ENDPOINT", "ID", "NAME")]
    rows += [(f["endpoint_name"] or "-", f["id"] or "-", f["name"] or "") for f in flows]
    return aligned(rows)


def print_json(data: Any, out: TextIO, compact: bool = False) -> None:
    """Written piece by piece: a long reply's JSON is never built as one more whole copy."""
    layout: dict[str, Any] = {"separators": (",", ":")} if compact else {"indent": 2}
    write = make_show(out, flush=False)
    for piece in json.JSONEncoder(ensure_ascii=False, **layout).iterencode(data):
        write(piece)
    make_show(out)("\n")


# === 9. The terminal =============================================================================
# The one layer that knows whether stdin, stdout and stderr are terminals; the rules above never do.

SPINNER = ("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏", "waiting for the flow…")
ASCII_SPINNER = ("|/-\\", "waiting for the flow...")
ERASE_LINE = "\r\x1b[K"
DIM = ("\x1b[2m", "\x1b[22m")
COLORS = {"User": "\x1b[1;36m", "AI": "\x1b[1;32m", "error": "\x1b[1;31m", "warning": "\x1b[1;33m"}
RESET = "\x1b[0m"


def colors_allowed(stream: TextIO, environ: Mapping[str, str] = os.environ) -> bool:
    """Colour only on a terminal that is not TERM=dumb, and never with NO_COLOR set (no-color.org)."""
    try:
        return stream.isatty() and environ.get("TERM") != "dumb" and not environ.get("NO_COLOR")
    except (AttributeError, ValueError):  # not a real stream, or a closed one
        return False


def end_of_input_key(os_name: str = os.name) -> str:
    """The key that ends input at this platform's terminal, as hints name it."""
    return "Ctrl-Z then Enter" if os_name == "nt" else "Ctrl-D"


class Voice:
    """The one writer of diagnostic lines on stderr: errors, warnings, notes, retries, steps and -v.

    Every line is redacted of the secrets the Voice was given (the API key) and made safe for a
    terminal here, so no caller can forget either. A waiting line is erased before a line is
    written, and comes back after it.
    """

    def __init__(
        self, err: TextIO, secrets: Iterable[str] = (), waiting: WaitingLine | None = None, colors: bool = False
    ) -> None:
        self.err = err
        self.secrets = tuple(secret for secret in secrets if secret)
        self.waiting = waiting
        self.colors = colors  # `error:` and `warning:` coloured, asides dimmed

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def say(self, text: str, end: str = "\n", style: tuple[str, str] | None = None) -> None:
        """Write a line (`end` "" leaves the cursor on it); `style` wraps it in escape codes of ours."""
        safe = terminal_safe(self.redact(text))
        if style is not None:
            safe = f"{style[0]}{safe}{style[1]}"
        elif self.colors:
            label = next((label for label in ("error:", "warning:") if safe.startswith(label)), "")
            safe = f"{COLORS[label[:-1]]}{label}{RESET}{safe[len(label) :]}" if label else safe
        if self.waiting is not None:
            self.waiting.erase()
        self.err.write(safe + end)
        self.err.flush()
        if self.waiting is not None and end:
            self.waiting.tick()

    def status(self, text: str) -> None:
        """A passing note (a retry) in the waiting line's place at a terminal, replaced by the next
        one or erased before the next line; not shown when stderr is not a terminal."""
        if self.waiting is not None:
            self.waiting.show(terminal_safe(self.redact(text)))

    def aside(self, text: str) -> None:
        """A line about the transcript, not of it (a frame, a hint): dimmed where colour is on."""
        if not can_show(self.err, text):
            text = text.replace("─", "-")
        self.say(text, style=DIM if self.colors else None)

    def report(self, error: BaseException, verbose: bool) -> None:
        """A failure as one line; its traceback first when asked for (-v)."""
        if verbose:
            import traceback

            self.say("".join(traceback.format_exception(type(error), error, error.__traceback__)), end="")
        self.say(f"error: {error_message(error)}")


def error_message(error: BaseException) -> str:
    """What the error line says. A ClientError's text is the client's own; any other exception's
    text or repr may hold user data (a file's bytes, a reply, the key), so only its type is named."""
    if isinstance(error, ClientError):
        return str(error)
    return f"internal error: {type(error).__name__} (run with -v for the traceback, and report it)"


class WaitingLine:
    """`⠋ waiting for the flow… 3 s` on stderr, from the moment a message is sent until the first
    reply text or the turn's end; erased before anything else is written, so the screen keeps
    exactly the transcript."""

    def __init__(self, err: TextIO, enabled: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self.err, self.enabled, self.clock = err, enabled, clock
        self.frames, self.label = SPINNER if can_show(err, "".join(SPINNER)) else ASCII_SPINNER
        self.since: float | None = None  # when the message was sent, while no reply text has come
        self.drawn = False

    def start(self) -> None:
        self.since = self.clock()
        self.tick()

    def stop(self) -> None:
        self.since = None
        self.erase()

    def tick(self) -> None:
        """Redraw (the Client calls this at each short step of a wait)."""
        if self.since is None or not self.enabled:
            return
        elapsed = self.clock() - self.since
        frame = self.frames[int(elapsed * 10) % len(self.frames)]
        self.err.write(f"\r{frame} {self.label} {int(elapsed)} s\x1b[K")
        self.err.flush()
        self.drawn = True

    def show(self, text: str) -> None:
        """Text in the waiting line's place, cut to one screen line, until the next redraw or erase."""
        if not self.enabled:
            return
        import shutil

        self.err.write(f"\r{text[: shutil.get_terminal_size().columns - 1]}\x1b[K")
        self.err.flush()
        self.drawn = True

    def erase(self) -> None:
        if self.drawn:
            self.err.write(ERASE_LINE)
            self.err.flush()
            self.drawn = False


class StepPrinter:
    """An agent's steps, indented (and dimmed), each on a line of its own on stderr; at a terminal
    one screen line each, and held while a reply line is being written, so they never split it."""

    def __init__(self, voice: Voice, dim: bool, fit: bool) -> None:
        self.voice, self.dim, self.fit = voice, dim, fit
        self.mid_reply = False  # the cursor is inside a reply line
        self.held: list[str] = []

    def step(self, line: str) -> None:
        text = f"  {line}"
        if self.fit:
            import shutil

            text = terminal_safe(text)[: shutil.get_terminal_size().columns - 1]
        if self.mid_reply:
            self.held.append(text)
        else:
            self.voice.say(text, style=DIM if self.dim else None)

    def reply_line(self, mid_reply: bool) -> None:
        """Told after each piece of reply text: whether the cursor is now inside a reply line."""
        self.mid_reply = mid_reply
        if not mid_reply:
            for text in self.held:
                self.voice.say(text, style=DIM if self.dim else None)
            self.held.clear()


class ReplyWriter:
    """stdout for reply text: the waiting ends at its first text, steps wait for the end of a line."""

    def __init__(self, out: TextIO, waiting: WaitingLine, steps: StepPrinter | None) -> None:
        self.out, self.waiting, self.steps, self.at_terminal = out, waiting, steps, out.isatty()

    def write(self, text: str) -> int:
        self.waiting.stop()
        written = self.out.write(text)
        if self.steps is not None:
            if text and self.at_terminal:
                self.out.flush()
            self.steps.reply_line(self.at_terminal and not text.endswith("\n"))
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self.out, name)


class Terminal:
    """What a person sees besides the reply, made from what stdin, stdout and stderr are: the
    Voice, the waiting line (a terminal that is not TERM=dumb), the agent's steps (at a terminal,
    unless --steps/--no-steps say otherwise), colour where colors_allowed, and stdout for replies."""

    def __init__(
        self,
        stdin: TextIO,
        out: TextIO,
        err: TextIO,
        secrets: Iterable[str],
        steps: bool | None,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        at_terminal = err.isatty()
        capable = at_terminal and environ.get("TERM") != "dumb"
        self.stdin = stdin
        self.waiting = WaitingLine(err, enabled=capable)
        self.voice = Voice(err, secrets, self.waiting, colors=colors_allowed(err, environ))
        self.colored_out = colors_allowed(out, environ)
        self.out_columns = out.isatty()
        show_steps = at_terminal if steps is None else steps
        self.steps = StepPrinter(self.voice, dim=self.voice.colors, fit=at_terminal) if show_steps else None
        self.out: TextIO = ReplyWriter(out, self.waiting, self.steps) if capable or show_steps else out  # type: ignore[assignment]

    def on_step(self) -> Callable[[str], None] | None:
        return self.steps.step if self.steps is not None else None

    def label(self, name: str) -> str:
        """`User:` or `AI:`, coloured when stdout is a colour terminal."""
        return f"{COLORS[name]}{name}:{RESET}" if self.colored_out else f"{name}:"

    def typing_hint(self) -> None:
        """A message read from stdin that is this terminal: say how to end it, or it seems to hang."""
        if self.stdin.isatty():
            self.voice.aside(f"type the message; {end_of_input_key()} at the start of a line ends it")

    def columns(self) -> int | None:
        """The width of the terminal stdout is (None: not a terminal, so lines are not cut)."""
        if not self.out_columns:
            return None
        import shutil

        return shutil.get_terminal_size().columns

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Wait visibly; erase the waiting line at the end, also on an error and on Ctrl-C."""
        self.waiting.start()
        try:
            with keys_echoed(self.stdin, echoed=False):
                yield
        finally:
            self.waiting.stop()

    def can_ask(self) -> bool:
        """Someone can be asked a question: stdin and stderr are a terminal."""
        return self.stdin.isatty() and self.voice.err.isatty()

    def choose(self, request: dict) -> dict | None:
        """Ask what a paused run asks, with its numbered choices, on stderr; read the answer (a
        number or a label) from the terminal. None: the input ended without an answer."""
        choices = request_choices(request)
        self.waiting.stop()
        lines = request_question(request).splitlines() or [""]
        shown = [*lines[:QUESTION_LINES], "…"] if len(lines) > QUESTION_LINES else lines
        self.voice.say(f"the flow asks: {shown[0]}")
        for line in shown[1:]:
            self.voice.say(f"  {line}")
        for number, (_action, label) in enumerate(choices, 1):
            self.voice.say(f"  {number}. {label}")
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
                decision["values"] = {"args": self.read_tool_input()}
        self.waiting.start()
        return decision

    def read_answer(self, prompt: str) -> str | None:
        self.voice.say(prompt, end="")
        line = self.stdin.readline()
        if not line:
            self.voice.say("")
            return None
        return line.strip()

    def read_tool_input(self) -> dict:
        while True:
            text = self.read_answer("the tool's input as a JSON object: ") or ""
            try:
                value = json.loads(text)
            except ValueError:
                value = None
            if isinstance(value, dict):
                return value

    def empty_reply_note(self, out: TextIO) -> None:
        """An empty reply shows as an empty line: at a terminal, a note on stderr says so (on the
        reply's own line when stdout is that terminal too, so nothing else moves)."""
        if self.voice.err.isatty():
            self.voice.say("(empty reply)", end="" if out.isatty() else "\n")


QUESTION_LINES = 12  # lines of a paused run's question shown at the terminal


def can_show(stream: TextIO, text: str) -> bool:
    try:
        text.encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def terminal_mode(stdin: TextIO) -> tuple[Any, int, list] | None:
    """termios and the terminal's settings, or None: no terminal, or no termios (Windows, where the
    console echoes typed keys only while a read waits for them)."""
    try:
        if not stdin.isatty():
            return None
        import termios
    except (ImportError, AttributeError, ValueError):
        return None
    try:
        return termios, stdin.fileno(), termios.tcgetattr(stdin.fileno())
    except (termios.error, OSError, ValueError):
        return None


@contextlib.contextmanager
def keys_echoed(stdin: TextIO, echoed: bool = True) -> Iterator[None]:
    """Typed keys echoed (a question being answered) or not (a reply arriving: keys typed meanwhile
    stay for the next prompt instead of landing in the reply)."""
    mode = terminal_mode(stdin)
    if mode is None:
        yield
        return
    termios, fd, saved = mode
    flags = saved[3] | termios.ECHO if echoed else saved[3] & ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSANOW, [*saved[:3], flags, *saved[4:]])
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)


# === 10. main ====================================================================================


def run(args: argparse.Namespace, config: Config, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    terminal = Terminal(stdin, out, err, config.secrets, args.steps)
    server = connect(config, terminal)
    out = terminal.out
    try:
        if args.list_flows:
            return show_flows(server, args.json, out)
        if args.resume:
            if args.message is not None:
                raise usage_error("--resume takes no message")
            with terminal.turn():
                return one_shot(args, terminal, functools.partial(follow_job, server, args.resume))
        require_flow(config)
        if args.message == "-":
            terminal.typing_hint()
        message = read_message(args.message, stdin)
        files = readable_files(args.file)
        session_id = args.session_id or new_session_id()
        if config.verbose:
            terminal.voice.say(f"session id: {session_id}")
        check_component_names(server)
        tweaks = attach_files(server, files)
        run_once = functools.partial(ask, server, message, session_id, tweaks=tweaks, continues=bool(args.session_id))
        with terminal.turn():
            return one_shot(args, terminal, run_once)
    finally:
        server.close()


def show_flows(server: Server, as_json: bool, out: TextIO) -> int:
    """--list-flows (both scripts): the flows this key can run, as a table or as JSON."""
    flows = list_flows(server)
    if as_json:
        print_json(flows, out)
    else:
        make_show(out)(flows_table(flows) + "\n")
    return EXIT_OK


def one_shot(args: argparse.Namespace, terminal: Terminal, ask: Callable[..., Reply]) -> int:
    """The reply of `ask` (a run, or a re-attached background run) in the mode asked for: JSON (the
    default), --text, --stream, or --stream --json (the events as JSON lines). An empty reply is a
    reply (exit 0); a run with no message at all is the no-text error (exit 1, after the JSON when
    JSON is printed)."""
    out = terminal.out
    run = {"on_step": terminal.on_step(), "decide": one_shot_decide(args, terminal, out)}
    if args.stream and args.json:

        def print_event(event: dict) -> None:
            if event.get("event") == "error":  # the server's own words, which may echo the key
                event = json.loads(terminal.voice.redact(json.dumps(event)))
            print_json(event, out, compact=True)

        reply = ask(on_event=print_event, **run)
        reply_text(reply.result)
        return EXIT_OK
    show = make_show(out)
    if args.stream:
        written = False

        def show_text(text: str) -> None:
            nonlocal written
            written = written or bool(text)
            show(text)

        try:
            reply = ask(on_text=show_text, **run)
            text = unshown_text(reply)
        except BaseException:
            if written:  # end the line a failure cut short; a failure before any text leaves stdout empty
                out.write("\n")
            raise
    else:
        reply = ask(**run)
        if not args.text:
            print_json(reply.result, out)
            reply_text(reply.result)
            return EXIT_OK
        text = unshown_text(reply)
    if not reply.had_text and not text:
        terminal.empty_reply_note(out)
    show(text + "\n")
    return EXIT_OK


def one_shot_decide(args: argparse.Namespace, terminal: Terminal, out: TextIO) -> Decide:
    """How a one-shot answers a pause: --choice; else the person at the terminal; else exit 5 with
    the command that answers it (and, with --json, the waiting request on stdout)."""

    def decide(job_id: str, request: dict) -> dict:
        if args.choice:
            choices = request_choices(request)
            action = pick_choice(args.choice, choices)
            if action is None:
                allowed = ", ".join(action for action, _ in choices)
                raise failure_error("choice-not-allowed", choice=args.choice, choices=allowed)
            return {"action_id": action}
        decision = terminal.choose(request) if terminal.can_ask() else None
        if decision is not None:
            return decision
        if args.json:
            print_json({"job_id": job_id, **request}, out)
        raise human_needed(job_id, request)

    return decide


def print_versions(args: argparse.Namespace, out: TextIO) -> int:
    """--version: this client's version and the server's, so a bug report carries both. A server
    that is not set, not reachable or not Langflow is said so; it never fails --version."""
    out.write(f"{args.prog} {__version__}\n")
    try:
        config = load_config(args)
    except ClientError as error:
        out.write(f"server: not configured ({error})\n")
        return EXIT_OK
    out.write(server_line(config) + "\n")
    out.write(terminal_safe(settings_read(config)) + "\n")
    return EXIT_OK


def server_line(config: Config) -> str:
    if not config.url_given:  # no request, no `requests` import: --version stays fast
        return "server: not configured (set LANGFLOW_URL or --url)"
    quiet = config._replace(api_key="", timeout=VERSION_TIMEOUT, retries=0)
    server = Server(Client(quiet, Voice(io.StringIO())))
    try:
        dialect = server.dialect()
        what = dialect.name if dialect.version or dialect == LFX_SERVE else None
    except ClientError:
        what = None
    finally:
        server.close()
    what = what or "not reachable, or not a Langflow server"
    return terminal_safe(f"server: {config.url}: {what}")


RunFunction = Callable[["argparse.Namespace", Config, TextIO, TextIO, TextIO], int]


def guarded_main(
    parse: Callable[[list[str] | None], argparse.Namespace], run: RunFunction, argv: list[str] | None
) -> int:
    """The one place where failures become an error line and an exit code (both scripts use it)."""
    verbose, voice = False, Voice(sys.stderr, colors=colors_allowed(sys.stderr))
    utf8_stdio(sys.stdin, sys.stdout, sys.stderr)
    try:
        args = parse(argv)
        verbose = args.verbose
        if args.version:
            return print_versions(args, sys.stdout)
        config = load_config(args)
        voice = Voice(sys.stderr, config.secrets, colors=colors_allowed(sys.stderr))
        if verbose:
            voice.say(settings_read(config))
        exit_code = run(args, config, sys.stdin, sys.stdout, sys.stderr)
        sys.stdout.flush()  # a pipe closed by its reader shows here, not as an error at exit
        return exit_code
    except ClientError as error:
        voice.report(error, verbose)
        return error.exit_code
    except KeyboardInterrupt:
        voice.say("\ninterrupted")
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 - a bug still gets one line, not a traceback
        if stdout_closed(error):  # the reader (head, less) closed the pipe: stop quietly
            silence_stdout()
            return EXIT_OK
        missing = missing_requirement(error)
        voice.report(missing or error, verbose)
        return missing.exit_code if missing else EXIT_FLOW
    finally:
        try:
            sys.stdout.flush()
        except OSError:  # after a failure, already reported: what is left cannot be written
            silence_stdout()


REQUIRED_MODULES = ("requests", "dotenv", "urllib3", "idna", "certifi", "charset_normalizer", "chardet")


def missing_requirement(error: BaseException) -> ClientError | None:
    """A runtime dependency (or one of its own) not installed in the Python running the script:
    the module, and the command that installs the requirements into this very Python."""
    if not isinstance(error, ModuleNotFoundError) or (error.name or "").split(".")[0] not in REQUIRED_MODULES:
        return None
    requirements = os.path.join(os.path.dirname(os.path.abspath(__file__)), "requirements.txt")
    python, requirements = (f'"{path}"' if " " in path else path for path in (sys.executable, requirements))
    return failure_error("missing-module", python=python, module=error.name, requirements=requirements)


def stdout_closed(error: BaseException) -> bool:
    """The reader of stdout went away: BrokenPipeError, or OSError(EINVAL) as Windows reports it."""
    if isinstance(error, BrokenPipeError):
        return True
    if not isinstance(error, OSError) or error.errno != errno.EINVAL:
        return False
    try:
        return stat.S_ISFIFO(os.fstat(sys.stdout.fileno()).st_mode)
    except (OSError, ValueError):
        return False


def silence_stdout() -> None:
    """Point stdout at the null device, so what is still buffered is dropped quietly at exit."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def main(argv: list[str] | None = None) -> int:
    return guarded_main(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
