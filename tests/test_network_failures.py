"""Network failures, provoked for real against local sockets, each mapped to its row of the error
table (FAILURES) by the types of the exceptions it raises.

tests/run runs this file with every urllib3 the requirements allow (1.26.x, 2.0.x and the newest),
since each wraps the same failure differently. The unknown host is looked up in a network
namespace of its own (`unshare -n`), so no query leaves the machine.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from conftest import ROOT, clean_env
from fake_langflow import Reply, event_stream, json_reply, run_response, stream_events

import chat_session as core

RUN = "/api/v1/run/"
TIMEOUT = 0.5  # the client's --timeout in these tests


def message_of(row: str, url: str) -> str:
    return str(core.failure_error(row, url=url, timeout=TIMEOUT, connect=TIMEOUT))  # connect: min(10 s, TIMEOUT)


def client_for(url: str) -> core.Server:
    return core.Server(core.Client(core.Config(url=url, flow="echo", api_key="", timeout=TIMEOUT, retries=0)))


def run_once(server: core.Server) -> None:
    core.ask(server, "hi", "session")


def stream_once(server: core.Server) -> None:
    core.ask(server, "hi", "session", continues=False, show=lambda _text: None)


CALLS = {"run": run_once, "stream": stream_once}


def failure(url: str, call: Callable[[core.Server], None] = run_once) -> core.ClientError:
    """The error a call to `url` fails with."""
    client = client_for(url)
    try:
        with pytest.raises(core.ClientError) as caught:
            call(client)
    finally:
        client.close()
    return caught.value


@contextlib.contextmanager
def raw_server(handle: Callable[[socket.socket], None]) -> Iterator[str]:
    """A loopback TCP server that hands each connection, its request read, to `handle`."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                handle(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        thread.join(5)


def reset(connection: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a crashing proxy does."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


# --- Each failure, and the row it maps to ------------------------------------------------------


def test_a_refused_port_is_cannot_connect_and_retried():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"  # bound, not listening: refused
        error = failure(url)
    assert (str(error), error.exit_code, error.retry) == (message_of("refused", url), 4, True)


@pytest.mark.parametrize("call", CALLS)
def test_a_server_that_never_answers_is_a_timeout(fake, call):
    fake.script(RUN, Reply(delay=30))
    error = failure(fake.url, CALLS[call])
    assert (str(error), error.exit_code, error.retry) == (message_of("timeout", fake.url), 4, False)


def test_a_server_that_never_answers_the_version_is_not_waited_for_a_second_time_by_the_run():
    requests_seen = []

    def never_answer(connection: socket.socket) -> None:
        requests_seen.append(connection)
        time.sleep(TIMEOUT * 3)

    with raw_server(never_answer) as url:
        error = failure(url)  # --text, JSON, --no-stream: the version first (Langflow 1.1.1's rule)
    assert (str(error), len(requests_seen)) == (message_of("timeout", url), 1)


@pytest.mark.parametrize("call", CALLS)
def test_a_body_that_stalls_half_way_is_a_timeout_not_a_drop(fake, call):
    if call == "stream":
        events = event_stream(stream_events("s", "hi", "hello", ["hel", "lo"]))
        events.chunks = events.chunks[:2] + [(30, chunk) for _, chunk in events.chunks[2:]]
        fake.script(RUN, events)
    else:
        body = json_reply(run_response("s", ["hello"], "hi")).body
        fake.script(RUN, Reply(chunks=[(0, body[:20]), (30, body[20:])]))
    assert str(failure(fake.url, CALLS[call])) == message_of("timeout", fake.url)


@pytest.mark.parametrize("call", CALLS)
def test_a_connection_reset_before_the_answer_is_a_drop(call):
    with raw_server(reset) as url:
        error = failure(url, CALLS[call])
    assert (str(error), error.exit_code, error.retry) == (message_of("dropped", url), 4, False)


@pytest.mark.parametrize("call", CALLS)
def test_a_connection_closed_without_an_answer_is_a_drop(fake, call):
    fake.script(RUN, Reply(drop=True))
    assert str(failure(fake.url, CALLS[call])) == message_of("dropped", fake.url)


@pytest.mark.parametrize("call", CALLS)
def test_a_chunked_body_cut_mid_way_is_a_drop(fake, call):
    if call == "stream":
        events = event_stream(stream_events("s", "hi", "hello", ["hel", "lo"]), cut=True)
        events.chunks = events.chunks[:3]
        fake.script(RUN, events)
    else:
        body = json_reply(run_response("s", ["hello"], "hi")).body
        fake.script(RUN, Reply(chunks=[(0, body[:20])], cut=True))
    assert str(failure(fake.url, CALLS[call])) == message_of("dropped", fake.url)


def test_a_reset_in_the_middle_of_a_stream_is_a_drop():
    def answer_then_reset(connection: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        line = b'{"event": "token", "data": {"chunk": "hel"}}\n\n'
        connection.sendall(head + b"%x\r\n%s\r\n" % (len(line), line))
        reset(connection)

    with raw_server(answer_then_reset) as url:
        assert str(failure(url, stream_once)) == message_of("dropped", url)


def test_tls_to_a_plain_http_port_is_a_tls_failure(fake):
    url = fake.url.replace("http://", "https://")
    error = failure(url)
    assert (str(error), error.exit_code, error.retry) == (message_of("tls", url), 4, False)


@contextlib.contextmanager
def never_opening() -> Iterator[str]:
    """The URL of a loopback port where a connection never opens: its accept queue is full."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = listener.getsockname()[1]
    queued = []
    with contextlib.suppress(TimeoutError):  # fill the accept queue, until a connection cannot open
        while len(queued) < 8:
            queued.append(socket.create_connection(("127.0.0.1", port), timeout=0.3))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for connection in queued:
            connection.close()
        listener.close()


def test_a_connection_that_never_opens_is_a_connect_timeout_no_longer_than_the_timeout():
    with never_opening() as url:
        error = failure(url)
    assert str(error) == str(core.failure_error("connect-timeout", url=url, timeout=TIMEOUT, connect=TIMEOUT))


def test_a_connection_is_given_the_documented_10_s_to_open_however_long_the_timeout(tmp_path):
    """.env.example: "The connection itself must open within 10 s (or this, if shorter)"."""
    with never_opening() as url:
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, str(ROOT / "chat_example.py"), "--url", url, "--flow", "f", "--timeout", "60", "hi"],
            capture_output=True,
            text=True,
            env=clean_env(),
            cwd=tmp_path,
            timeout=60,
        )
        seconds = time.monotonic() - started
    assert (result.returncode, result.stderr) == (
        4,
        f"error: no connection to {url} within 10 s (check LANGFLOW_URL and the network)\n",
    )
    assert 9.5 < seconds < 20


def test_an_unknown_host_is_a_dns_failure(tmp_path):
    url = "http://nonexistent.invalid"
    result = subprocess.run(
        ["unshare", "--net", sys.executable, str(ROOT / "chat_example.py"), "--url", url, "--flow", "f", "hi"],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=tmp_path,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (4, "")
    assert result.stderr == f"error: {message_of('dns', url)}\n"


# --- The classification itself ---------------------------------------------------------------


def test_a_failure_is_classified_by_its_type_never_by_its_class_name_or_text():
    impostor = type("ReadTimeoutError", (Exception,), {})("Read timed out. ConnectTimeoutError NewConnectionError")
    assert core.network_failure(impostor) == "dropped"
