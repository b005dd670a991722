"""chat_example.py as a user runs it: a real process, real argv, stdin, stdout, stderr and exit code,
against the fake Langflow server on 127.0.0.1 (tests/fake_langflow.py).

Exit codes: 0 ok, 1 server or flow error, 2 usage or configuration, 3 authentication, 4 network, 130 Ctrl-C.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable

import pytest
from conftest import API_KEY, ROOT, one_shot_at_terminal, run_in_terminal, screen_lines
from fake_langflow import (
    FakeLangflow,
    Reply,
    error_envelope,
    error_event,
    event_line,
    event_stream,
    json_reply,
    message_event,
    run_response,
    stream_events,
)

RUN = "/api/v1/run/"
COMPONENT_ERROR = "Error running graph: Error building Component Chat Output: boom"
FLOW_TODO = " (check the flow's components in Langflow)"
ANSI_REPLY = "\x1b]0;pwned\x07\x1b[31mred"
PROXY_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body><center>nginx/1.25.3</center></body></html>"
UI_PAGE = b"<!DOCTYPE html>\n<html><head><title>Langflow</title></head><body><div id='root'></div></body></html>"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR fake image bytes"


# --- Helpers -----------------------------------------------------------------------------------


def error_line(result: subprocess.CompletedProcess, exit_code: int) -> str:
    """The error line of a failed run, after checking what every error promises."""
    assert result.returncode == exit_code, result.stderr
    assert "Traceback" not in result.stderr
    assert "<html" not in result.stderr.lower()
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def sent_body(fake: FakeLangflow) -> dict:
    """The JSON body of the one run request the server got."""
    (run,) = fake.runs()
    return run.json()


def without(env: dict[str, str], *names: str) -> dict[str, str]:
    return {name: value for name, value in env.items() if name not in names}


def texts_reply(*texts: str) -> Reply:
    return json_reply(run_response("s", list(texts), "hi"))


def free_port() -> int:
    """A loopback port with nothing listening on it (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition: Callable[[], object], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def arrivals(fd: int, seconds: float = 30) -> list[tuple[float, bytes]]:
    """Every piece read from a pipe or terminal until the writer closes it, with when it arrived."""
    pieces = []
    deadline = time.monotonic() + seconds
    while True:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, "the client neither wrote nor exited"
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the terminal's other side is closed
            return pieces
        if not data:
            return pieces
        pieces.append((time.monotonic(), data))


def stderr_line_starting(process: subprocess.Popen, prefix: bytes, seconds: float = 30) -> bytes:
    """The first whole line the process writes to stderr that starts with `prefix` (the lines before
    it are consumed); fails if stderr ends first, or after `seconds`."""
    fd, seen = process.stderr.fileno(), b""
    deadline = time.monotonic() + seconds
    while True:
        for line in seen.split(b"\n")[:-1]:
            if line.startswith(prefix):
                return line
        left = deadline - time.monotonic()
        assert left > 0, f"no stderr line starting {prefix!r} within {seconds:g} s; stderr so far: {seen!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            data = os.read(fd, 65536)
            assert data, f"stderr ended (exit {process.wait(5)}) with no line starting {prefix!r}: {seen!r}"
            seen += data


def finished(process: subprocess.Popen, seconds: float = 30) -> subprocess.CompletedProcess:
    out, err = process.communicate(timeout=seconds)
    return subprocess.CompletedProcess(process.args, process.returncode, (out or b"").decode(), (err or b"").decode())


@pytest.fixture
def spawn(fake_env, cli):
    """Start chat_example.py like `cli`, without waiting: for timing, terminals, signals. stdin is /dev/null."""
    processes = []

    def start(*args, env=None, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE):
        command = [sys.executable, str(ROOT / "chat_example.py"), *args]
        env = fake_env if env is None else env
        process = subprocess.Popen(command, stdin=stdin, stdout=stdout, stderr=stderr, env=env, cwd=cli.workdir)
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate()


# --- Success and the output modes --------------------------------------------------------------


@pytest.mark.parametrize("mode", [[], ["--json"]], ids=["default", "--json"])
def test_prints_the_servers_json_indented_with_readable_unicode(cli, fake, mode):
    reply = run_response("s", ["héllo wörld 👋 世界"], "hi")
    fake.script(RUN, json_reply(reply))
    result = cli("hi", *mode)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == json.dumps(reply, indent=2, ensure_ascii=False) + "\n"


def test_prints_the_json_of_a_run_with_several_outputs(cli, fake):
    fake.script(RUN, texts_reply("first", "second"))
    assert json.loads(cli("hi").stdout) == run_response("s", ["first", "second"], "hi")


def test_prints_the_json_of_a_run_without_outputs_then_the_no_text_error(cli, fake):
    fake.script(RUN, json_reply({"session_id": "s", "outputs": []}))
    result = cli("hi")
    assert "the flow returned no message" in error_line(result, 1)
    assert json.loads(result.stdout) == {"session_id": "s", "outputs": []}


def test_text_prints_the_reply_and_a_newline(cli):
    assert cli("hello there", "--text").stdout == "hello there\n"


def test_text_separates_several_outputs_by_a_blank_line(cli, fake):
    fake.script(RUN, texts_reply("first", "second"))
    assert cli("hi", "--text").stdout == "first\n\nsecond\n"


def test_unicode_and_emoji_go_and_come_back_exactly(cli, fake):
    message = "héllo wörld 👋 世界 ∑"
    assert cli(message, "--text").stdout == message + "\n"
    assert sent_body(fake)["input_value"] == message


def test_a_5_mb_reply_arrives_whole(cli, fake):
    text = ("Langflow résumé 👋 " * 300_000)[:5_000_000]
    fake.script(RUN, json_reply({"outputs": [{"outputs": [{"results": {"message": {"text": text}}}]}]}))
    assert cli("hi", "--text").stdout == text + "\n"


def test_the_run_is_a_json_post_of_the_message_with_langflows_field_types_read_as_events(cli, fake):
    cli("hi")
    (run,) = fake.runs()
    assert (run.method, run.path, run.query) == ("POST", "/api/v1/run/echo", {"stream": ["true"]})
    assert run.headers["content-type"] == "application/json"
    body = run.json()
    assert body == {"input_value": "hi", "input_type": "chat", "output_type": "chat", "session_id": body["session_id"]}


@pytest.mark.parametrize("input_type", ["chat", "text", "any"])
@pytest.mark.parametrize("mode", [["--text"], ["--stream"]], ids=["--text", "--stream"])
def test_input_type_is_sent_as_given(cli, fake, mode, input_type):
    assert cli(*mode, "--input-type", input_type, "hi").returncode == 0
    assert sent_body(fake)["input_type"] == input_type


@pytest.mark.parametrize("output_type", ["chat", "text", "any", "debug"])
@pytest.mark.parametrize("mode", [["--text"], ["--stream"]], ids=["--text", "--stream"])
def test_output_type_is_sent_as_given(cli, fake, mode, output_type):
    assert cli(*mode, "--output-type", output_type, "hi").returncode == 0
    assert sent_body(fake)["output_type"] == output_type


def test_json_is_the_end_events_result_the_same_object_as_the_non_streamed_response(cli, fake):
    result = cli("héllo 👋")
    session_id = sent_body(fake)["session_id"]
    assert (
        result.stdout
        == json.dumps(run_response(session_id, ["héllo 👋"], "héllo 👋"), indent=2, ensure_ascii=False) + "\n"
    )


# --- One rule for an empty reply, in every mode ------------------------------------------------

MODES = {"--text": ["--text"], "JSON": [], "--stream": ["--stream"], "--stream --json": ["--stream", "--json"]}
NO_MESSAGE = {"session_id": "s", "outputs": []}
EMPTY_REPLIES = {  # a flow that ran and returned an empty message, as each kind of server answers
    "events": lambda: event_stream(stream_events("s", "hi", "", tokens=None)),
    "JSON (up to 1.1.1)": lambda: json_reply(run_response("s", [""], "hi")),
}
NO_MESSAGES = {  # a run whose outputs hold no message at all (no Chat Output)
    "events": lambda: event_stream(
        [message_event("hi", "User", "s", "u1"), {"event": "end", "data": {"result": NO_MESSAGE}}]
    ),
    "JSON (up to 1.1.1)": lambda: json_reply(NO_MESSAGE),
}


@pytest.mark.parametrize("server", EMPTY_REPLIES)
@pytest.mark.parametrize("mode", MODES)
def test_an_empty_reply_is_a_reply_in_every_mode(cli, fake, mode, server):
    fake.script(RUN, EMPTY_REPLIES[server]())
    result = cli("hi", *MODES[mode])
    assert (result.returncode, result.stderr) == (0, "")
    if mode in ("--text", "--stream"):
        assert result.stdout == "\n"


@pytest.mark.parametrize("server", NO_MESSAGES)
@pytest.mark.parametrize("mode", MODES)
def test_a_run_without_a_message_is_the_no_text_error_in_every_mode(cli, fake, mode, server):
    fake.script(RUN, NO_MESSAGES[server]())
    line = error_line(cli("hi", *MODES[mode]), 1)
    assert "the flow returned no message" in line and "Chat Output" in line


@pytest.mark.parametrize("mode", ["--text", "--stream"])
def test_an_empty_reply_at_a_terminal_gets_a_note_on_its_line(cli, fake_env, fake, mode):
    fake.script(RUN, EMPTY_REPLIES["events"]())
    shown = one_shot_at_terminal(fake_env, cli.workdir, "hi", mode, stderr_too=True)
    assert shown.returncode == 0 and shown.stdout.endswith(b"(empty reply)\r\n")


# --- One wording per failure, in every mode ----------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_component_failing_as_in_langflow_1_6_reads_the_same_in_every_mode(cli, fake, mode):
    fake.failing = ("OldModel", "old model exploded on request")
    line = error_line(cli("hi", *MODES[mode]), 1)
    assert line == "error: the flow failed: OldModel: old model exploded on request" + FLOW_TODO


@pytest.mark.parametrize("mode", MODES)
def test_no_mode_waits_for_the_slower_second_error_event(cli, fake, mode):
    first, second = error_event("Agent", "model said no", "message"), error_event("Agent", "model said no", "error")
    user = message_event("hi", "User", "s", "u1")
    fake.script(
        RUN,
        Reply(
            content_type="text/event-stream",
            chunks=[(0, event_line(user)), (0, event_line(first)), (30, event_line(second))],
        ),
    )
    result = cli("hi", *MODES[mode], timeout=20)  # Langflow 1.13 sends the second one 12-59 s later
    assert error_line(result, 1) == "error: the flow failed: Agent: model said no" + FLOW_TODO


# --- Streaming ---------------------------------------------------------------------------------


def test_stream_asks_the_server_to_stream(cli, fake):
    cli("hi", "--stream")
    assert fake.runs()[0].query == {"stream": ["true"]}


def test_stream_prints_the_tokens_and_a_newline(cli):
    assert cli("hello streaming world", "--stream").stdout == "hello streaming world\n"


def test_stream_without_tokens_prints_the_reply_once(cli, fake):
    fake.script(RUN, event_stream(stream_events("s", "hi", "whole reply", tokens=None)))
    assert cli("hi", "--stream").stdout == "whole reply\n"


def test_stream_json_prints_each_event_as_one_compact_json_line(cli, fake):
    events = stream_events("s", "hi", "héllo 👋", ["héllo", " 👋"])
    fake.script(RUN, event_stream(events))
    lines = cli("hi", "--stream", "--json").stdout.splitlines()
    assert lines == [json.dumps(event, ensure_ascii=False, separators=(",", ":")) for event in events]


def test_tokens_sent_300_ms_apart_reach_stdout_300_ms_apart(fake, spawn):
    tokens = ["one", " two", " three", " four", " five"]
    events = stream_events("s", "hi", "".join(tokens), tokens)
    chunks = [(0.3 if event["event"] == "token" else 0.0, event_line(event)) for event in events]
    fake.script(RUN, Reply(content_type="text/event-stream; charset=utf-8", chunks=chunks))
    pieces = arrivals(spawn("hi", "--stream").stdout.fileno())
    token_pieces = [(at, data.rstrip(b"\n")) for at, data in pieces if data.strip(b"\n")]
    assert [data.decode() for _, data in token_pieces] == tokens  # each token came in a write of its own
    arrived = [at for at, _ in token_pieces]
    last_token_sent = [at for (at, _), event in zip(fake.sent, events, strict=True) if event["event"] == "token"][-1]
    assert arrived[0] < last_token_sent - 0.6  # 1.2 s expected: the client did not wait for the rest
    assert all(later - earlier > 0.1 for earlier, later in itertools.pairwise(arrived))  # 0.3 s expected


@pytest.mark.parametrize("shape", ["message", "error"])
def test_an_error_event_of_either_shape_is_a_flow_error_with_its_message(cli, fake, shape):
    fake.script(
        RUN, event_stream([message_event("hi", "User", "s", "u1"), error_event("Agent", "model said no", shape)])
    )
    assert error_line(cli("hi", "--stream"), 1) == "error: the flow failed: Agent: model said no" + FLOW_TODO


def test_a_stream_failing_before_any_text_leaves_stdout_empty(cli, fake):
    fake.script(RUN, event_stream([message_event("hi", "User", "s", "u1"), error_event("Agent", "no", "message")]))
    result = cli("hi", "--stream")
    assert (result.returncode, result.stdout) == (1, "")


def test_a_stream_failing_after_some_text_ends_that_line_on_stdout(cli, fake):
    events = [
        message_event("hi", "User", "s", "u1"),
        {"event": "token", "data": {"chunk": "partial", "id": "m1"}},
        error_event("Agent", "no", "message"),
    ]
    fake.script(RUN, event_stream(events))
    result = cli("hi", "--stream")
    assert (result.returncode, result.stdout) == (1, "partial\n")


def test_a_component_failing_mid_stream_as_in_langflow_1_6_is_the_flow_error_the_server_stored(cli, fake):
    fake.failing = ("OldModel", "old model exploded on request")
    line = error_line(cli("hi", "--stream"), 1)
    assert line == "error: the flow failed: OldModel: old model exploded on request" + FLOW_TODO


def test_an_error_stored_for_an_earlier_turn_is_not_this_turns_error(cli, fake):
    session = "s-earlier-error"
    fake.store(session, "User", "before")
    fake.store(session, "OldModel", "an earlier failure", sender_name="OldModel", category="error")
    this_turn = fake.store(session, "User", "hi")
    fake.script(RUN, event_stream([message_event("hi", "User", session, this_turn["id"])]))
    line = error_line(cli("hi", "--stream", "--session-id", session), 1)
    assert "ended without a result" in line and "no error is stored for this turn" in line
    assert "earlier failure" not in line


def test_a_stream_that_ends_without_end_and_without_a_readable_error_says_what_the_stream_showed(cli, fake):
    fake.script(RUN, event_stream([message_event("hi", "User", "s", "u1")]))
    fake.script("/api/v1/monitor/messages", json_reply({"detail": "Internal Server Error"}, status=500))
    line = error_line(cli("hi", "--stream"), 1)
    assert "the event stream ended without a result after 1 event, the last add_message" in line
    assert "the stored messages could not be read" in line and "Internal Server Error" in line


def test_a_stream_whose_connection_drops_is_a_network_error(cli, fake):
    fake.script(RUN, event_stream(stream_events("s", "hi", "cut", ["cut"])[:3], cut=True))
    assert "dropped" in error_line(cli("hi", "--stream"), 4)


def test_a_stream_that_stalls_longer_than_the_timeout_is_a_network_error(cli, fake):
    events = stream_events("s", "hi", "slow", ["slow"])
    fake.script(
        RUN, Reply(content_type="text/event-stream", chunks=[(0, event_line(events[0])), (3, event_line(events[1]))])
    )
    assert "0.5 s" in error_line(cli("hi", "--stream", "--timeout", "0.5"), 4)


def test_a_malformed_event_is_a_flow_error(cli, fake):
    fake.script(RUN, event_stream([b'{"event": "token", "data": {"chu\n\n']))
    assert "malformed event" in error_line(cli("hi", "--stream"), 1)


def test_stream_follows_the_stream_url_of_langflow_up_to_1_1_1(cli, fake):
    stream_url = "/api/v1/build/f/ChatOutput-1/stream"
    fake.script(RUN, json_reply({"outputs": [{"outputs": [{"artifacts": {"stream_url": stream_url}}]}]}))
    sse = [(0.0, b'data: {"chunk": "Hel"}\n\n'), (0.0, b'data: {"chunk": "lo"}\n\n')]
    fake.script("/api/v1/build/", Reply(content_type="text/event-stream", chunks=sse))
    assert cli("hi", "--stream").stdout == "Hello\n"
    (follow,) = [seen for seen in fake.requests if seen.method == "GET"]
    assert (follow.path, follow.query["session_id"]) == (stream_url, [sent_body(fake)["session_id"]])


@pytest.mark.parametrize("mode", ["--text", "--stream"])
def test_text_and_stream_read_the_reply_from_langflow_1_1_1s_stream_url(cli, fake, mode):
    fake.version = "1.1.1"
    result = cli("hello old world", mode)
    assert (result.returncode, result.stdout, result.stderr) == (0, "hello old world\n", "")


def test_json_from_langflow_1_1_1_holds_the_streamed_text_where_a_finished_response_does(cli, fake):
    fake.version = "1.1.1"
    result = json.loads(cli("hello old world").stdout)
    assert result["outputs"][0]["outputs"][0]["results"]["message"]["text"] == "hello old world"


@pytest.mark.parametrize("mode", [["--text"], ["--json"]])
def test_a_continued_whole_reply_is_asked_of_langflow_1_1_1_without_streaming_so_it_stores_it(cli, fake, mode):
    fake.version = "1.1.1"
    assert cli("hello old world", "--session-id", "notes", *mode).returncode == 0
    assert [run.query["stream"] for run in fake.runs()] == [["false"]]
    assert [m["text"] for m in fake.history["notes"]] == ["hello old world", "hello old world"]


def test_a_new_one_shot_conversation_does_not_ask_the_servers_version(cli, fake):
    assert cli("hello", "--text").returncode == 0
    assert [seen.path for seen in fake.requests] == ["/api/v1/run/echo"]


def test_stream_json_from_langflow_1_1_1_prints_token_events_then_the_end_with_the_result(cli, fake):
    fake.version = "1.1.1"
    result = cli("hello old world", "--stream", "--json")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [event["event"] for event in events] == ["token"] * 3 + ["end"]
    assert "".join(event["data"]["chunk"] for event in events[:-1]) == "hello old world"
    end_result = events[-1]["data"]["result"]
    assert end_result["outputs"][0]["outputs"][0]["results"]["message"]["text"] == "hello old world"


def test_an_error_in_an_old_stream_url_stream_is_a_flow_error(cli, fake):
    stream_url = "/api/v1/build/f/ChatOutput-1/stream"
    sse = [
        (0.0, b'event: message\ndata: {"chunk": "Hel"}\n\n'),
        (0.0, b'event: error\ndata: {"error": "model said no"}\n\n'),
    ]
    for mode in (["--stream"], ["--text"], ["--stream", "--json"]):
        fake.script(RUN, json_reply({"outputs": [{"outputs": [{"artifacts": {"stream_url": stream_url}}]}]}))
        fake.script("/api/v1/build/", Reply(content_type="text/event-stream", chunks=sse))
        assert error_line(cli("hi", *mode), 1) == "error: the flow failed: model said no" + FLOW_TODO


# --- Server errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, reason", [(403, "Invalid or missing API key"), (403, "Invalid API key"), (401, "Unauthorized")]
)
def test_a_refused_key_is_an_auth_error_in_the_clients_words_and_the_fix(cli, fake, status, reason):
    fake.script(RUN, json_reply({"detail": reason}, status=status))
    line = error_line(cli("hi"), 3)
    assert line.startswith(f"error: HTTP {status}: the server refused the API key (check LANGFLOW_API_KEY")


def test_without_a_key_no_key_is_sent_and_the_refusal_says_one_is_needed(cli, fake, fake_env):
    line = error_line(cli("hi", env=without(fake_env, "LANGFLOW_API_KEY")), 3)
    assert line.startswith("error: HTTP 403: this server needs an API key (set LANGFLOW_API_KEY")
    assert "x-api-key" not in fake.runs()[0].headers


def test_verbose_shows_the_servers_own_words_for_a_refused_key(cli, fake):
    fake.script(RUN, json_reply({"detail": "Invalid or missing API key"}, status=403))
    assert "< Invalid or missing API key" in cli("hi", "-v").stderr


def test_a_404_from_the_run_says_the_flow_is_unknown(cli, fake):
    fake.script(RUN, json_reply({"detail": "Flow identifier nope not found"}, status=404))
    line = error_line(cli("hi", "--flow", "nope"), 1)
    assert line.startswith("error: no flow named 'nope' on Langflow 1.13.0") and "--list-flows" in line


def test_a_422_shows_the_msg_of_each_item(cli, fake):
    item = {"type": "string_type", "loc": ["body", "input_value"], "msg": "Input should be a valid string", "input": 1}
    fake.script(RUN, json_reply({"detail": [item]}, status=422))
    assert "input_value: Input should be a valid string" in error_line(cli("hi"), 1)


def test_a_500_of_a_failing_component_names_the_component_and_its_message(cli, fake):
    fake.script(RUN, json_reply({"detail": error_envelope(COMPONENT_ERROR)}, status=500))
    assert error_line(cli("hi"), 1) == "error: the flow failed: Chat Output: boom" + FLOW_TODO


def test_a_502_html_page_is_not_dumped(cli, fake):
    fake.script(RUN, Reply(status=502, body=PROXY_PAGE, content_type="text/html"))
    line = error_line(cli("hi"), 1)
    assert "HTTP 502" in line and "nginx" not in line


@pytest.mark.parametrize("mode", MODES)
def test_a_200_html_page_is_a_flow_error_not_a_reply(cli, fake, mode):
    fake.script(RUN, Reply(status=200, body=UI_PAGE, content_type="text/html; charset=utf-8"))
    result = cli("hi", *MODES[mode])
    assert "did not return JSON" in error_line(result, 1) and result.stdout.strip() == ""


def test_malformed_json_is_a_flow_error(cli, fake):
    fake.script(RUN, Reply(body=b'{"outputs": [{"outputs": [', content_type="application/json"))
    assert "malformed JSON" in error_line(cli("hi"), 1)


def test_a_json_reply_arriving_in_small_pieces_is_read_whole(cli, fake):
    text = 'a "quote", a \\ backslash, a tab\t and an emoji 👋 cut between pieces'
    body = json.dumps(run_response("s", [text], "hi"), ensure_ascii=False).encode()
    fake.script(RUN, Reply(chunks=[(0, body[start : start + 5]) for start in range(0, len(body), 5)]))
    result = cli("hi", "--text")
    assert result.returncode == 0, result.stderr
    assert result.stdout == text + "\n"


def test_a_gzip_compressed_json_reply_is_read(cli, fake):
    # Langflow compresses /run's JSON when the client accepts gzip, as requests does
    body = gzip.compress(json.dumps(run_response("s", ["squeezed " * 100], "hi")).encode())
    fake.script(RUN, Reply(body=body, headers={"Content-Encoding": "gzip"}))
    result = cli("hi", "--text")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "squeezed " * 100 + "\n"


def test_a_json_reply_whose_connection_drops_is_a_network_error(cli, fake):
    body = json.dumps(run_response("s", ["never finished"], "hi")).encode()
    fake.script(RUN, Reply(chunks=[(0, body[:60])], cut=True))
    result = cli("hi", "--text")
    assert "dropped" in error_line(result, 4) and result.stdout == ""


# --- Network errors and retries ----------------------------------------------------------------


def test_a_server_slower_than_the_timeout_is_a_network_error(cli, fake):
    fake.script(RUN, Reply(delay=3))
    assert "no answer from the server within 0.5 s" in error_line(cli("hi", "--timeout", "0.5"), 4)


def test_a_refused_connection_is_a_network_error(cli, fake_env):
    url = f"http://127.0.0.1:{free_port()}"
    line = error_line(cli("hi", "--retries", "0", env={**fake_env, "LANGFLOW_URL": url}), 4)
    assert f"cannot connect to {url}" in line


def test_a_dropped_connection_is_a_network_error(cli, fake):
    fake.script(RUN, Reply(drop=True))
    assert "dropped" in error_line(cli("hi"), 4)


def test_a_refused_connection_is_retried_until_the_server_is_up(spawn, fake_env):
    port = free_port()
    process = spawn("hi", "--text", "-v", env={**fake_env, "LANGFLOW_URL": f"http://127.0.0.1:{port}"})
    stderr_line_starting(process, b"retrying in ")
    server = FakeLangflow(api_key=API_KEY, port=port)
    try:
        result = finished(process)
    finally:
        server.close()
    assert (result.returncode, len(server.runs())) == (0, 1) and result.stdout.endswith("hi\n")


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(cli, fake, status):
    fake.script(RUN, json_reply({"detail": "busy"}, status=status, headers={"Retry-After": "1"}))
    result = cli("hi", "--text")
    assert (result.returncode, result.stdout) == (0, "hi\n")
    first, second = fake.runs()
    assert second.at - first.at > 0.9  # without Retry-After, the first backoff is 0.5 s


def test_retries_with_stderr_not_a_terminal_print_only_the_final_error(cli, fake_env):
    line = error_line(cli("hi", env={**fake_env, "LANGFLOW_URL": f"http://127.0.0.1:{free_port()}"}), 4)
    assert line.startswith("error: cannot connect to")


def test_verbose_shows_every_retry(cli, fake_env):
    result = cli("hi", "-v", env={**fake_env, "LANGFLOW_URL": f"http://127.0.0.1:{free_port()}"})
    retries = [line for line in result.stderr.splitlines() if line.startswith("retrying in ")]
    assert [line.split(":")[0] for line in retries] == ["retrying in 0.5 s", "retrying in 1 s"]


def test_retries_at_a_terminal_update_one_status_line(fake_env, tmp_path):
    env = {**fake_env, "LANGFLOW_URL": f"http://127.0.0.1:{free_port()}"}
    result = one_shot_at_terminal(env, tmp_path, "hi", stderr_too=True)
    shown = result.stdout.decode()
    assert result.returncode == 4 and "retrying in 1 s" in shown
    assert screen_lines(shown, (24, 200)) == [
        f"error: cannot connect to {env['LANGFLOW_URL']} (is Langflow running? check LANGFLOW_URL or --url)"
    ]


def test_no_server_set_and_none_at_the_default_address_points_at_the_demo_server(cli, fake_env):
    default = "localhost:7860"
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 7860)) == 0:
            pytest.fail(f"something listens on {default}: this test needs it free")
    result = cli("hi", "--retries", "0", env=without(fake_env, "LANGFLOW_URL"))
    assert result.returncode == 4
    assert result.stderr == (
        f"error: cannot connect to http://{default}, the default address: no server is set (set LANGFLOW_URL"
        " (see .env.example), or start the demo server: .venv/bin/python tests/demo_server.py)\n"
    )


def test_retries_stop_after_the_number_asked_for(cli, fake):
    fake.script(RUN, *[json_reply({"detail": "busy"}, status=503, headers={"Retry-After": "0"})] * 3)
    result = cli("hi", "--retries", "2")
    assert (result.returncode, len(fake.runs())) == (1, 3)
    assert result.stderr.splitlines()[-1].startswith("error: HTTP 503: busy")


@pytest.mark.parametrize(
    "reply, args",
    [(json_reply({"detail": "boom"}, status=500), []), (Reply(delay=3), ["--timeout", "0.5"]), (Reply(drop=True), [])],
    ids=["500", "read-timeout", "dropped"],
)
def test_a_failure_after_which_the_flow_may_have_run_is_not_retried(cli, fake, reply, args):
    fake.script(RUN, reply)
    assert cli("hi", *args).returncode != 0
    assert len(fake.runs()) == 1


def test_ctrl_c_exits_130_without_a_traceback(spawn, fake):
    fake.script(RUN, Reply(delay=30))
    process = spawn("hi")
    wait_until(fake.runs)
    process.send_signal(signal.SIGINT)
    result = finished(process)
    assert result.returncode == 130 and "Traceback" not in result.stderr


# --- Sessions ----------------------------------------------------------------------------------


def test_each_run_sends_a_fresh_uuid4_session_id(cli, fake):
    cli("one")
    cli("two")
    first, second = (uuid.UUID(run.json()["session_id"]) for run in fake.runs())
    assert first != second and first.version == second.version == 4


def test_a_given_session_id_is_sent_as_is(cli, fake):
    cli("hi", "--session-id", "my-conversation 1")
    assert sent_body(fake)["session_id"] == "my-conversation 1"


# --- The API key -------------------------------------------------------------------------------


def test_every_request_carries_the_key_only_in_the_x_api_key_header(cli, fake):
    (cli.workdir / "photo.png").write_bytes(PNG)
    cli("hi", "--stream", "--file", "photo.png")  # asks the version, looks the flow up, uploads, runs
    assert [seen.headers["x-api-key"] for seen in fake.requests] == [API_KEY] * 4
    for seen in fake.requests:
        assert API_KEY not in seen.path + json.dumps(seen.query) + seen.body.decode("latin-1")


def test_verbose_shows_the_requests_headers_with_the_key_redacted(cli, fake):
    result = cli("hi", "-v")
    assert "> x-api-key: [redacted]" in result.stderr and f"> POST {fake.url}/api/v1/run/echo" in result.stderr
    assert API_KEY not in result.stdout + result.stderr


@pytest.mark.parametrize("verbose", [[], ["-v"]], ids=["quiet", "verbose"])
def test_a_server_message_quoting_the_key_is_shown_redacted(cli, fake, verbose):
    fake.script(RUN, json_reply({"detail": f"Invalid API key {API_KEY}"}, status=400))
    result = cli("hi", *verbose)
    assert result.returncode == 1 and "Invalid API key [redacted]" in result.stderr
    assert API_KEY not in result.stdout + result.stderr


def test_a_key_from_a_dotenv_is_sent_but_never_shown(cli, fake, fake_env):
    (cli.workdir / ".env").write_text(f"LANGFLOW_API_KEY={API_KEY}\n")
    result = cli("hi", "-v", env=without(fake_env, "LANGFLOW_API_KEY"))
    assert (result.returncode, fake.runs()[0].headers["x-api-key"]) == (0, API_KEY)
    assert API_KEY not in result.stdout + result.stderr


def test_verbose_shows_the_traceback_of_an_error(cli, fake):
    fake.script(RUN, json_reply({"detail": "boom"}, status=500))
    result = cli("hi", "-v")
    assert result.returncode == 1 and "Traceback" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: HTTP 500: boom")


# --- Configuration -----------------------------------------------------------------------------

SETTINGS = ("LANGFLOW_URL", "LANGFLOW_FLOW_ID", "LANGFLOW_API_KEY")


def test_settings_come_from_a_dotenv_in_the_working_folder(cli, fake, fake_env):
    (cli.workdir / ".env").write_text(
        f"LANGFLOW_URL={fake.url}\nLANGFLOW_FLOW_ID=from-dotenv\nLANGFLOW_API_KEY={API_KEY}\n"
    )
    assert cli("hi", env=without(fake_env, *SETTINGS)).returncode == 0
    assert fake.runs()[0].path == "/api/v1/run/from-dotenv"


def test_the_environment_beats_the_dotenv(cli, fake):
    (cli.workdir / ".env").write_text("LANGFLOW_FLOW_ID=from-dotenv\n")
    cli("hi")
    assert fake.runs()[0].path == "/api/v1/run/echo"


def test_a_flag_beats_the_environment(cli, fake):
    cli("hi", "--flow", "from-flag")
    assert fake.runs()[0].path == "/api/v1/run/from-flag"


def test_langflow_server_url_is_an_alias_of_langflow_url(cli, fake, fake_env):
    env = {**without(fake_env, "LANGFLOW_URL"), "LANGFLOW_SERVER_URL": fake.url}
    assert cli("hi", "--text", env=env).stdout == "hi\n"


def test_a_trailing_slash_on_the_url_is_tolerated(cli, fake, fake_env):
    cli("hi", env={**fake_env, "LANGFLOW_URL": fake.url + "/"})
    assert fake.runs()[0].path == "/api/v1/run/echo"


def test_env_file_names_the_settings_file(cli, fake, fake_env, tmp_path):
    (tmp_path / "langflow.env").write_text(
        f"LANGFLOW_URL={fake.url}\nLANGFLOW_FLOW_ID=echo\nLANGFLOW_API_KEY={API_KEY}\n"
    )
    result = cli("hi", "--text", "--env-file", str(tmp_path / "langflow.env"), env=without(fake_env, *SETTINGS))
    assert result.stdout == "hi\n"


def test_a_missing_env_file_is_a_usage_error(cli, fake):
    assert "missing.env" in error_line(cli("hi", "--env-file", "missing.env"), 2)
    assert fake.requests == []


def test_no_flow_is_a_usage_error_with_a_hint(cli, fake, fake_env):
    line = error_line(cli("hi", env=without(fake_env, "LANGFLOW_FLOW_ID")), 2)
    assert "LANGFLOW_FLOW_ID" in line and "--list-flows" in line and str(cli.workdir / ".env") in line
    assert fake.requests == []


def test_no_flow_in_the_chat_suggests_what_the_chat_accepts(cli, fake, fake_env):
    line = error_line(cli(env=without(fake_env, "LANGFLOW_FLOW_ID"), script="chat_session.py"), 2)
    assert "--flow" in line and "LANGFLOW_FLOW_ID" in line and "--list-flows" in line
    assert "--list-flows" in cli("--help", script="chat_session.py").stdout


@pytest.mark.parametrize("script", ["chat_example.py", "chat_session.py"])
def test_list_flows_in_either_script_prints_the_same_table(cli, fake, fake_env, script):
    result = cli("--list-flows", env=without(fake_env, "LANGFLOW_FLOW_ID"), script=script)
    assert result.returncode == 0 and result.stdout.splitlines()[0].split() == ["ENDPOINT", "ID", "NAME"]
    assert "echo" in result.stdout


def test_list_flows_json_in_the_chat_script(cli, fake):
    result = cli("--list-flows", "--json", script="chat_session.py")
    assert [flow["endpoint_name"] for flow in json.loads(result.stdout)] == ["echo", None]


def test_a_url_copied_from_the_api_panel_runs_the_flow_it_names(cli, fake, fake_env):
    url = f"{fake.url}/api/v1/run/echo?stream=false"
    result = cli("--text", "hi", env={**without(fake_env, "LANGFLOW_FLOW_ID"), "LANGFLOW_URL": url})
    assert (result.returncode, result.stdout) == (0, "hi\n")
    assert [seen.path for seen in fake.runs()] == ["/api/v1/run/echo"]


def test_a_url_ending_in_the_api_path_reaches_the_server(cli, fake, fake_env):
    result = cli("--text", "hi", env={**fake_env, "LANGFLOW_URL": f"{fake.url}/api/v1"})
    assert (result.returncode, result.stdout) == (0, "hi\n")


SCRIPTS_AND_MESSAGES = [("chat_example.py", ["hi"]), ("chat_session.py", [])]


@pytest.mark.parametrize("script, message", SCRIPTS_AND_MESSAGES)
def test_a_timeout_beyond_a_week_is_a_usage_error(cli, fake, script, message):
    line = error_line(cli(*message, "--timeout", "99999999999", script=script), 2)
    assert "the timeout must be at most" in line and fake.requests == []


@pytest.mark.parametrize("key", ["sk-SECRET\nX", "sk-SECRET-é€"], ids=["newline", "not-latin-1"])
def test_a_key_a_header_cannot_carry_is_a_configuration_error(cli, fake, fake_env, key):
    (cli.workdir / ".env").write_text(f'LANGFLOW_API_KEY="{key}"\n', encoding="utf-8")
    line = error_line(cli("hi", env=without(fake_env, "LANGFLOW_API_KEY")), 2)
    assert "HTTP header" in line and str(cli.workdir / ".env") in line and "SECRET" not in line
    assert fake.requests == []


@pytest.mark.parametrize("script, message", SCRIPTS_AND_MESSAGES)
@pytest.mark.parametrize("module, dotenv", [("dotenv", True), ("requests", False)])
def test_a_python_without_the_dependencies_names_the_module_and_the_install_command(
    fake_env, tmp_path, script, message, module, dotenv
):
    """-S: the Python without its site-packages, as a system Python without the requirements."""
    if dotenv:
        (tmp_path / ".env").write_text("LANGFLOW_TIMEOUT=30\n")
    command = [sys.executable, "-S", str(ROOT / script), *message]
    result = subprocess.run(command, capture_output=True, text=True, env=fake_env, cwd=tmp_path, timeout=60)
    line = error_line(result, 2)
    assert f"lacks the module {module} " in line
    assert f"{sys.executable} -m pip install -r {ROOT / 'requirements.txt'}" in line


def test_a_settings_file_from_a_demo_server_that_is_gone_says_so(cli, fake_env):
    demo_env = (
        f"# Written by tests/demo_server.py: a throwaway local Langflow.\nLANGFLOW_URL=http://127.0.0.1:{free_port()}\n"
    )
    (cli.workdir / ".env").write_text(demo_env + "LANGFLOW_FLOW_ID=counter\n")
    result = cli("hi", env=without(fake_env, *SETTINGS))
    line = error_line(result, 4)
    assert "the demo server that wrote" in line and "tests/demo_server.py" in line


@pytest.mark.parametrize(
    "args", [["hi", "--nope"], ["hi", "--text", "--json"], ["hi", "--input-type", "bogus"], ["hi", "--timeout", "x"]]
)
def test_a_usage_error_is_one_line_and_exit_2(cli, fake, args):
    error_line(cli(*args), 2)
    assert fake.requests == []


# --- The message: argv and stdin ---------------------------------------------------------------


def test_the_positional_argument_is_the_message(cli, fake):
    cli("what is Langflow?")
    assert sent_body(fake)["input_value"] == "what is Langflow?"


def test_piped_stdin_is_the_message(cli, fake):
    cli(stdin="from a pipe\n")
    assert sent_body(fake)["input_value"] == "from a pipe"


def test_a_dash_and_a_plain_pipe_send_the_same_message(cli, fake):
    cli("-", stdin="from a pipe\n")
    cli(stdin="from a pipe\n")
    assert [run.json()["input_value"] for run in fake.runs()] == ["from a pipe", "from a pipe"]


def test_piped_stdin_then_a_blank_line_then_the_positional(cli, fake):
    cli("summarise this", stdin="a long text\n")
    assert sent_body(fake)["input_value"] == "a long text\n\nsummarise this"


@pytest.mark.parametrize(
    "args, stdin", [(["   "], ""), ([], " \n\n"), (["-"], "")], ids=["blank-arg", "blank-pipe", "dash"]
)
def test_an_empty_message_is_a_usage_error(cli, fake, args, stdin):
    assert "empty" in error_line(cli(*args, stdin=stdin), 2)
    assert fake.requests == []


def test_no_message_with_stdin_from_dev_null_is_a_usage_error(spawn, fake):
    assert "no message" in error_line(finished(spawn("--text"), seconds=10), 2)
    assert fake.requests == []


def test_no_message_with_stdin_on_a_terminal_exits_without_waiting_for_input(cli, fake_env, fake):
    out, err = cli.workdir.parent / "stdout.txt", cli.workdir.parent / "stderr.txt"
    child = run_in_terminal("chat_example.py", "--text", env=fake_env, cwd=cli.workdir, stdout=out, stderr=err)
    result = subprocess.CompletedProcess(child.args, child.exitstatus, out.read_text(), err.read_text())
    assert "no message" in error_line(result, 2)


# --- Tweaks ------------------------------------------------------------------------------------

TWEAKS = {"ChatInput-abc": {"sender_name": "me"}}


def test_tweaks_are_sent_in_the_body(cli, fake):
    cli("hi", "--tweaks", json.dumps(TWEAKS))
    assert sent_body(fake)["tweaks"] == TWEAKS


def test_tweaks_are_read_from_an_at_file(cli, fake):
    (cli.workdir / "tweaks.json").write_text(json.dumps(TWEAKS))
    cli("hi", "--tweaks", "@tweaks.json")
    assert sent_body(fake)["tweaks"] == TWEAKS


def test_a_tweak_for_a_component_the_flow_lacks_is_named_before_the_run(cli, fake):
    line = error_line(cli("hi", "--tweaks", '{"ChatInputt-abc": {"sender_name": "me"}}'), 2)
    assert line.startswith("error: --tweaks: flow echo has no component 'ChatInputt-abc'")
    assert "ChatInput-abc (Chat Input)" in line and fake.runs() == []


def test_a_tweak_may_name_a_component_by_its_display_name(cli, fake):
    assert cli("hi", "--tweaks", '{"Chat Input": {"sender_name": "me"}}').returncode == 0


def test_a_tweak_for_every_component_needs_no_check(cli, fake):
    assert cli("hi", "--tweaks", '{"stream": false}').returncode == 0
    assert [seen.path for seen in fake.requests] == ["/api/v1/run/echo"]


def test_an_output_component_the_flow_lacks_is_named_before_the_run(cli, fake):
    line = error_line(cli("hi", "--output-component", "ChatOutput-typo"), 2)
    assert line.startswith("error: --output-component: flow echo has no component 'ChatOutput-typo'")
    assert fake.runs() == []


def test_components_are_not_checked_where_the_server_does_not_show_the_flow(cli, fake):
    fake.script("/api/v1/flows/0b6a", json_reply({"detail": "Forbidden"}, status=403))
    assert cli("hi", "--output-component", "ChatOutput-anything").returncode == 0


@pytest.mark.parametrize("tweaks", ['[{"ChatInput-abc": {}}]', "{ChatInput-abc: {}}", "@missing.json"])
def test_bad_tweaks_are_a_usage_error(cli, fake, tweaks):
    error_line(cli("hi", "--tweaks", tweaks), 2)
    assert fake.requests == []


# --- Files -------------------------------------------------------------------------------------


def test_a_file_is_uploaded_before_the_run_and_attached_to_the_chat_input(cli, fake):
    (cli.workdir / "photo.png").write_bytes(PNG)
    flow_id = fake.flows[0]["id"]  # the echo flow's UUID: uploads take the UUID, not the endpoint name
    assert cli("what is in it?", "--file", "photo.png").returncode == 0
    upload, run = (seen for seen in fake.requests if seen.method == "POST")
    assert upload.path == f"/api/v1/files/upload/{flow_id}"
    assert upload.headers["content-type"].startswith("multipart/form-data")
    assert b'name="file"; filename="photo.png"' in upload.body and PNG in upload.body
    assert run.json()["tweaks"] == {"Chat Input": {"files": [f"{flow_id}/2026-11-21_photo.png"]}}


def test_a_file_joins_the_chat_input_tweaks_given(cli, fake):
    (cli.workdir / "photo.png").write_bytes(PNG)
    cli("hi", "--file", "photo.png", "--tweaks", '{"Chat Input": {"sender_name": "me"}}')
    files = [f"{fake.flows[0]['id']}/2026-11-21_photo.png"]
    assert sent_body(fake)["tweaks"] == {"Chat Input": {"sender_name": "me", "files": files}}


def test_a_file_goes_to_langflow_1_1_as_the_one_path_string_it_takes(cli, fake):
    fake.version = "1.1.1"
    (cli.workdir / "photo.png").write_bytes(PNG)
    assert cli("hi", "--file", "photo.png").returncode == 0
    assert sent_body(fake)["tweaks"] == {"Chat Input": {"files": f"{fake.flows[0]['id']}/2026-11-21_photo.png"}}


def test_several_files_for_langflow_1_1_are_a_usage_error_before_any_upload(cli, fake):
    fake.version = "1.1.1"
    for name in ("a.png", "b.png"):
        (cli.workdir / name).write_bytes(PNG)
    line = error_line(cli("hi", "--file", "a.png", "--file", "b.png"), 2)
    assert "Langflow 1.1.1 takes one file per message" in line
    assert [seen.path for seen in fake.requests] == ["/api/v1/version"]


def test_a_missing_file_is_a_usage_error_and_nothing_is_sent(cli, fake):
    assert "missing.png" in error_line(cli("hi", "--file", "missing.png"), 2)
    assert fake.requests == []


# --- Versions ----------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--version", "-V"])
@pytest.mark.parametrize("script", ["chat_example.py", "chat_session.py"])
def test_version_shows_the_clients_and_the_servers_langflow_version(cli, fake, script, flag):
    result = cli(flag, script=script)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines()[:2] == [f"{script} 1.0.0", f"server: {fake.url}: Langflow 1.13.0"]
    (asked,) = fake.requests
    assert asked.path == "/api/v1/version"


def test_version_without_a_configured_server_asks_nothing(cli, fake, fake_env):
    result = cli("--version", env=without(fake_env, "LANGFLOW_URL"))
    assert result.returncode == 0
    assert result.stdout.splitlines()[:2] == [
        "chat_example.py 1.0.0",
        "server: not configured (set LANGFLOW_URL or --url)",
    ]
    assert fake.requests == []


def test_version_with_an_unreachable_server_says_so_and_exits_0(cli, fake_env):
    result = cli("--version", "--url", f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 0
    assert result.stdout.splitlines()[1].endswith(": not reachable, or not a Langflow server")


def test_version_does_not_wait_long_for_a_server_that_does_not_answer(cli, fake):
    fake.script("/api/v1/version", Reply(delay=60))
    result = cli("--version", timeout=20)
    assert result.stdout.splitlines()[1] == f"server: {fake.url}: not reachable, or not a Langflow server"


def user_settings_file(env: dict[str, str], tmp_path, text: str) -> str:
    """Write the user-level settings file, private to its owner; the environment that reads it."""
    path = tmp_path / "config" / "langflow-chat" / ".env"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return {**env, "XDG_CONFIG_HOME": str(tmp_path / "config")}


@pytest.mark.parametrize("script", ["chat_example.py", "chat_session.py"])
def test_version_says_which_settings_files_were_read(cli, fake_env, tmp_path, script):
    env = user_settings_file(fake_env, tmp_path, "LANGFLOW_TIMEOUT=30\n")
    (cli.workdir / ".env").write_text("LANGFLOW_FLOW_ID=echo\n", encoding="utf-8")
    last = cli("--version", env=env, script=script).stdout.splitlines()[-1]
    assert last == f"settings read from {cli.workdir / '.env'}, {tmp_path / 'config' / 'langflow-chat' / '.env'}"


def test_version_says_where_it_looked_when_no_settings_file_was_read(cli, fake_env):
    last = cli("--version").stdout.splitlines()[-1]
    assert last.startswith("settings: no file read (looked for ") and str(cli.workdir / ".env") in last


def test_verbose_says_which_settings_files_were_read(cli, fake_env, tmp_path):
    env = user_settings_file(fake_env, tmp_path, "LANGFLOW_TIMEOUT=30\n")
    result = cli("-v", "hi", env=env)
    assert result.stderr.splitlines()[0] == f"settings read from {tmp_path / 'config' / 'langflow-chat' / '.env'}"


def test_the_user_settings_file_is_used_from_any_folder(cli, fake, fake_env, tmp_path):
    settings = f"LANGFLOW_URL={fake.url}\nLANGFLOW_FLOW_ID=echo\nLANGFLOW_API_KEY={API_KEY}\n"
    env = user_settings_file(
        without(fake_env, "LANGFLOW_URL", "LANGFLOW_FLOW_ID", "LANGFLOW_API_KEY"), tmp_path, settings
    )
    result = cli("--text", "hi", env=env)
    assert (result.returncode, result.stdout, result.stderr) == (0, "hi\n", "")


def test_a_user_settings_file_with_a_key_others_can_read_is_refused_before_any_request(cli, fake, fake_env, tmp_path):
    env = user_settings_file(fake_env, tmp_path, "LANGFLOW_API_KEY=sk-user-SECRET\n")
    (tmp_path / "config" / "langflow-chat" / ".env").chmod(0o644)
    line = error_line(cli("hi", env=env), 2)
    assert "chmod 600" in line and "SECRET" not in line and fake.requests == []


def with_profiles(env: dict[str, str], tmp_path, **profiles: str) -> dict[str, str]:
    """Write each profile NAME.env beside the user-level settings file, private; the environment
    that reads them, with no LANGFLOW_* setting of its own."""
    folder = tmp_path / "config" / "langflow-chat"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in profiles.items():
        (folder / f"{name}.env").write_text(text, encoding="utf-8")
        (folder / f"{name}.env").chmod(0o600)
    return {
        **without(env, "LANGFLOW_URL", "LANGFLOW_FLOW_ID", "LANGFLOW_API_KEY"),
        "XDG_CONFIG_HOME": str(folder.parent),
    }


@pytest.mark.parametrize("script", ["chat_example.py", "chat_session.py"])
def test_a_profile_names_the_server_flow_and_key_of_both_scripts(cli, fake, fake_env, tmp_path, script):
    env = with_profiles(
        fake_env, tmp_path, work=f"LANGFLOW_URL={fake.url}\nLANGFLOW_FLOW_ID=echo\nLANGFLOW_API_KEY={API_KEY}\n"
    )
    args = ("--text", "hi") if script == "chat_example.py" else ()
    result = cli("--profile", "work", *args, stdin="" if args else "hi\n", env=env, script=script)
    shown = "hi\n" if args else "User: hi\nAI: hi\n\n"
    assert (result.returncode, result.stdout, result.stderr) == (0, shown, "")
    listed = cli("--list-flows", "--json", env={**env, "LANGFLOW_PROFILE": "work"}, script=script)
    assert [flow["endpoint_name"] for flow in json.loads(listed.stdout)] == ["echo", None]
    version = cli("--version", env={**env, "LANGFLOW_PROFILE": "work"}, script=script).stdout.splitlines()
    work = tmp_path / "config" / "langflow-chat" / "work.env"
    assert version[1:] == [f"server: {fake.url}: Langflow 1.13.0", f"settings read from {work} (profile work)"]


def test_continue_remembers_the_last_conversation_per_profile(cli, fake, fake_env, tmp_path):
    settings = f"LANGFLOW_URL={fake.url}\nLANGFLOW_API_KEY={API_KEY}\nLANGFLOW_FLOW_ID="
    env = with_profiles(fake_env, tmp_path, a=settings + "echo\n", b=settings + fake.flows[1]["id"] + "\n")
    assert cli("--profile", "a", stdin="first\n", env=env, script="chat_session.py").returncode == 0
    assert cli("--profile", "a", "-c", stdin="again\n", env=env, script="chat_session.py").returncode == 0
    other = cli("--profile", "b", "-c", stdin="hi\n", env=env, script="chat_session.py")
    assert "no earlier conversation with this flow" in other.stderr and other.returncode == 2
    first, again = (seen.json()["session_id"] for seen in fake.runs())
    assert first == again


def test_an_unknown_profile_is_one_line_naming_the_profiles_there_are(cli, fake, fake_env, tmp_path):
    env = with_profiles(fake_env, tmp_path, work="", home="")
    path = tmp_path / "config" / "langflow-chat" / "wrok.env"
    line = error_line(cli("--profile", "wrok", "hi", env=env), 2)
    assert line == f"error: no profile 'wrok': no file {path} (the profiles there are: home, work)"
    assert fake.requests == []


def test_version_with_a_bad_configuration_still_shows_the_clients_version(cli, fake_env):
    result = cli("--version", env={**fake_env, "LANGFLOW_URL": "localhost:7860"})
    assert result.returncode == 0 and result.stdout.startswith("chat_example.py 1.0.0\nserver: not configured (")


# --- Listing flows -----------------------------------------------------------------------------


def test_list_flows_prints_an_aligned_table(cli, fake):
    lines = cli("--list-flows").stdout.splitlines()
    assert lines[0].split() == ["ENDPOINT", "ID", "NAME"]
    rows = [[flow["endpoint_name"] or "-", flow["id"], flow["name"]] for flow in fake.flows]
    for line, row in zip(lines[1:], rows, strict=True):
        assert line.split(maxsplit=2) == row
        assert (line.index(row[1]), line.index(row[2])) == (lines[0].index("ID"), lines[0].index("NAME"))


def test_list_flows_json_prints_the_flows(cli, fake):
    flows = json.loads(cli("--list-flows", "--json").stdout)
    assert flows == [{key: flow[key] for key in ("endpoint_name", "id", "name")} for flow in fake.flows]


def test_list_flows_asks_for_the_full_list_when_the_short_one_lacks_endpoint_names(cli, fake):
    """Langflow 1.1's header_flows list has every endpoint_name null."""
    fake.script("/api/v1/flows/", json_reply([{**flow, "endpoint_name": None} for flow in fake.flows]))
    flows = json.loads(cli("--list-flows", "--json").stdout)
    assert [flow["endpoint_name"] for flow in flows] == ["echo", None]
    assert [seen.query["header_flows"] for seen in fake.requests] == [["true"], ["false"]]


def test_list_flows_needs_no_flow(cli, fake, fake_env):
    assert cli("--list-flows", env=without(fake_env, "LANGFLOW_FLOW_ID")).returncode == 0
    (listing,) = fake.requests
    assert (listing.method, listing.path, listing.query["get_all"]) == ("GET", "/api/v1/flows/", ["true"])


USER_READ_FAILURE = {"detail": "'UserRead' object has no attribute 'flows'"}  # Langflow 1.0's flow list, to a key


def test_list_flows_of_langflow_1_0_whose_flow_list_fails_reads_each_folder(cli, fake):
    fake.version = "1.0.19"
    names = ["Starter Projects", "My Projects", "Other"]  # the starter projects are not the user's
    folders = [{"id": f"folder-{number}", "name": name} for number, name in enumerate(names)]
    fake.script("/api/v1/flows/", json_reply(USER_READ_FAILURE, status=500))
    fake.script(
        "/api/v1/folders/",
        json_reply(folders),
        json_reply({"detail": "404: Folder not found"}, status=500),
        json_reply({**folders[1], "flows": fake.flows[:1]}),
        json_reply({**folders[2], "flows": fake.flows[1:]}),
    )
    flows = json.loads(cli("--list-flows", "--json").stdout)
    assert flows == [{key: flow[key] for key in ("endpoint_name", "id", "name")} for flow in fake.flows]
    assert [seen.path for seen in fake.requests if "folders" in seen.path] == [
        "/api/v1/folders/",
        "/api/v1/folders/folder-0",
        "/api/v1/folders/folder-1",
        "/api/v1/folders/folder-2",
    ]


def test_a_failing_flow_list_of_a_later_release_is_an_error(cli, fake):
    fake.script("/api/v1/flows/", json_reply(USER_READ_FAILURE, status=500))
    result = cli("--list-flows")
    assert result.returncode == 1
    assert "'UserRead' object has no attribute 'flows'" in result.stderr
    assert not [seen for seen in fake.requests if "folders" in seen.path]


# --- Terminal safety ---------------------------------------------------------------------------

ANSI_REPLIES = {
    "--text": texts_reply(ANSI_REPLY),
    "--stream": event_stream(stream_events("s", "hi", ANSI_REPLY, [ANSI_REPLY])),
}


@pytest.mark.parametrize("mode", ANSI_REPLIES)
def test_escape_sequences_in_a_reply_reach_a_terminal_escaped(cli, fake_env, fake, mode):
    fake.script(RUN, ANSI_REPLIES[mode])
    shown = one_shot_at_terminal(fake_env, cli.workdir, "hi", mode)
    assert shown.returncode == 0 and b"\\x1b]0;pwned\\x07\\x1b[31mred" in shown.stdout
    assert b"\x1b" not in shown.stdout and b"\x07" not in shown.stdout


@pytest.mark.parametrize("mode", ANSI_REPLIES)
def test_a_reply_to_a_pipe_is_exact(spawn, fake, mode):
    fake.script(RUN, ANSI_REPLIES[mode])
    out, _ = spawn("hi", mode).communicate(timeout=30)
    assert out == ANSI_REPLY.encode() + b"\n"


def test_escape_sequences_in_an_error_reach_a_terminal_escaped(cli, fake, fake_env):
    fake_env["TERM"] = "dumb"  # no waiting line: any escape sequence on the screen would be the server's
    fake.script(RUN, json_reply({"detail": f"boom {ANSI_REPLY}"}, status=500))
    shown = one_shot_at_terminal(fake_env, cli.workdir, "hi", stderr_too=True)
    assert shown.returncode == 1 and b"boom" in shown.stdout
    assert b"\x1b" not in shown.stdout and b"\x07" not in shown.stdout


def test_escape_sequences_in_a_flow_name_reach_a_terminal_escaped(cli, fake_env, fake):
    fake.flows.append({"id": "0b6a3b0e-3333-4c3a-9d55-000000000003", "name": ANSI_REPLY, "endpoint_name": "evil"})
    shown = one_shot_at_terminal(fake_env, cli.workdir, "--list-flows")
    assert shown.returncode == 0 and b"evil" in shown.stdout
    assert b"\x1b" not in shown.stdout and b"\x07" not in shown.stdout
