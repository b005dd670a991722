"""A hostile server, or a hostile world around the client: redirects elsewhere, secrets echoed back,
nesting and numbers JSON allows but Python cannot hold, endless answers, odd stored messages,
signals, closed or full output. Whatever happens, the client says one line (`error: ...`) with its
documented exit code, never a traceback or "internal error", shows no secret, and sends no secret
to any server but the one configured.

Black-box: the scripts run as a user runs them (real argv, environment, pipes, a pseudo-terminal),
against tests/hostile_server.py, on the loopback only.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pexpect
import pytest
from conftest import API_KEY, ROOT, Terminal, chat_terminals, clean_env
from fake_langflow import Reply, error_envelope, error_event, event_stream, json_reply, v2_reply_events, words
from hostile_server import RUN, HostileServer
from tcp_proxy import TcpProxy

PASSWORD = "pw-SECRET-5150"  # in LANGFLOW_URL as http://user:PASSWORD@host:port
VAR_SECRET = "var-SECRET-4242"  # a --var value whose name looks secret
# The client's own peak resident memory, written at its exit (wait4's ru_maxrss cannot be used:
# Linux carries the peak of the process that forked it across exec, here pytest's).
PEAK_PROBE = Path(tempfile.mkdtemp(prefix="peak-probe-"))
(PEAK_PROBE / "sitecustomize.py").write_text(
    "import atexit, os\n"
    "def _peak():\n"
    "    with open('/proc/self/status') as status:\n"
    "        kb = next(line.split()[1] for line in status if line.startswith('VmHWM'))\n"
    "    with open(os.environ['PEAK_FILE'], 'w') as out:\n"
    "        out.write(kb)\n"
    "if os.environ.get('PEAK_FILE'):\n"
    "    atexit.register(_peak)\n"
)
MEMORY_KB = 2 * 1024 * 1024  # every run's address space (ulimit -v): a client that reads forever fails, not the machine

# Each way to run a turn: the script and its arguments (the piped chat reads "hi" on stdin).
MODES = {
    "json": ("chat_example.py", ["hi"]),
    "text": ("chat_example.py", ["--text", "hi"]),
    "stream": ("chat_example.py", ["--stream", "hi"]),
    "stream-json": ("chat_example.py", ["--stream", "--json", "hi"]),
    "piped-chat": ("chat_session.py", []),
}
STREAMING = {"stream", "stream-json", "piped-chat"}


# --- running the scripts ------------------------------------------------------------------------


@dataclass
class Result:
    code: int
    out: str
    err: str
    seconds: float
    peak_mb: float  # the largest resident memory the process had


def run(
    script: str,
    *args: str,
    env: dict[str, str],
    cwd: Path,
    stdin: str = "",
    redirect: str = "",
    timeout: float = 30,
    give_up: Callable[[], bool] = lambda: False,
) -> Result:
    """Run a script as a shell does (`redirect` as written after it, e.g. ">&-"), with piped stdin
    and a bounded address space; killed after `timeout` seconds, or as soon as `give_up()`."""
    command = f'ulimit -v {MEMORY_KB}; exec "$@" {redirect}'
    argv = ["/bin/sh", "-c", command, "sh", sys.executable, str(ROOT / script), *args]
    peak_file = cwd / ".peak-kb"
    peak_file.unlink(missing_ok=True)
    paths = [*filter(None, [env.get("PYTHONPATH")]), str(PEAK_PROBE)]  # a test's own sitecustomize first
    env = {**env, "PYTHONPATH": os.pathsep.join(paths), "PEAK_FILE": str(peak_file)}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=err, env=env, cwd=cwd)
        try:
            process.stdin.write(stdin.encode())
            process.stdin.close()
        except BrokenPipeError:
            pass
        while True:
            pid, status = os.waitpid(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > timeout or give_up():
                process.kill()
                pid, status = os.waitpid(process.pid, 0)
                break
            time.sleep(0.02)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        out.seek(0), err.seek(0)
        text = [stream.read().decode("utf-8", "replace") for stream in (out, err)]
    peak_kb = int(peak_file.read_text()) if peak_file.exists() else 0
    return Result(process.returncode, text[0], text[1], seconds, peak_kb / 1024)


def run_mode(mode: str, *extra: str, env: dict[str, str], cwd: Path, **options) -> Result:
    """A turn in one of MODES, with `extra` options before the message."""
    script, args = MODES[mode]
    stdin = "hi\n" if script == "chat_session.py" else ""
    return run(script, *extra, *args, env=env, cwd=cwd, stdin=stdin, **options)


def secret_forms(secret: str) -> set[str]:
    """The secret as text, and as JSON writes it (escaped quotes and backslashes, \\u escapes)."""
    return {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}


def shows(secret: str, text: str) -> bool:
    """Whether `text` holds the secret as a whole value (not inside a word or a number)."""
    return any(re.search(rf"(?<![^\W_]){re.escape(form)}(?![^\W_])", text) for form in secret_forms(secret))


def assert_clean(result: Result, secrets: tuple[str, ...] = (API_KEY,)) -> None:
    """No traceback, no internal error, no secret, in anything the run wrote."""
    text = result.out + result.err
    for bad in ("Traceback", "internal error", "Fatal Python error"):
        assert bad not in text, text
    for secret in secrets:
        assert not shows(secret, text), f"{secret!r} shown in: {text}"


def assert_one_error(result: Result, code: int, secrets: tuple[str, ...] = (API_KEY,)) -> str:
    """One `error: ...` line on stderr and the exit code; the line."""
    assert (result.code, len(result.err.splitlines())) == (code, 1), result.err
    assert result.err.startswith("error: "), result.err
    assert_clean(result, secrets)
    return result.err.rstrip("\n")


def secrets_received(server: HostileServer, secrets: tuple[str, ...]) -> list[str]:
    """What of each request the server got holds a secret (its URL, a header, its body)."""
    found = []
    for seen in server.requests:
        parts = {"url": f"{seen.path}?{seen.query}", "body": seen.body.decode("latin-1"), **seen.headers}
        found += [
            f"{seen.method} {seen.path} {name}" for name, text in parts.items() if any(s in text for s in secrets)
        ]
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens there once the probe is closed


@pytest.fixture
def serve():
    """Start HostileServer(mode, ...) servers, all closed at the end."""
    servers = []

    def start(mode: str = "echo", **options) -> HostileServer:
        server = HostileServer(mode, api_key=options.pop("api_key", API_KEY), **options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    folder = tmp_path / "cwd"
    folder.mkdir()
    return folder


@pytest.fixture
def env_for(tmp_path: Path):
    """The settings of a user of this server (or URL), with a private state folder."""

    def settings(server: HostileServer | str, **more: str) -> dict[str, str]:
        url = server if isinstance(server, str) else server.url
        state = str(tmp_path / "state")
        usual = {"LANGFLOW_URL": url, "LANGFLOW_FLOW_ID": "echo", "LANGFLOW_API_KEY": API_KEY, "XDG_STATE_HOME": state}
        return clean_env(**{**usual, **more})

    return settings


# --- 1. Redirects: followed only within the same origin -----------------------------------------

OTHER_ORIGINS = {
    "another port": lambda port: f"http://127.0.0.1:{port}",
    "localhost on another port": lambda port: f"http://localhost:{port}",
    "a local file": lambda _port: "file:///etc/passwd",
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("target", OTHER_ORIGINS)
def test_a_redirect_to_another_origin_is_refused_and_that_origin_gets_nothing(serve, env_for, cwd, target, mode):
    elsewhere = serve()
    location = OTHER_ORIGINS[target](elsewhere.server.server_address[1])
    hostile = serve("redirect", location=location)
    result = run_mode(mode, env=env_for(hostile), cwd=cwd)
    line = assert_one_error(result, 1)
    assert location in line, line
    if not location.startswith("file:"):
        assert "LANGFLOW_URL" in line, line
    assert (elsewhere.connections, secrets_received(elsewhere, (API_KEY,))) == (0, [])


@pytest.mark.parametrize("mode", MODES)
def test_a_redirect_loop_is_one_error_and_the_run_is_sent_a_bounded_number_of_times(serve, env_for, cwd, mode):
    hostile = serve("redirect-loop")
    result = run_mode(mode, env=env_for(hostile), cwd=cwd)
    assert len(hostile.runs()) <= 6
    assert_one_error(result, 1)


@pytest.mark.parametrize("mode", MODES)
def test_a_redirect_within_the_server_is_followed_and_each_hop_shows_in_verbose(serve, env_for, cwd, mode):
    hostile = serve("moved")
    result = run_mode(mode, "-v", env=env_for(hostile), cwd=cwd)
    assert result.code == 0, result.err
    assert "hi" in result.out
    assert_clean(result)
    requests = [line for line in result.err.splitlines() if line.startswith("> POST ")]
    assert any(f"{hostile.url}/api/v1/run/echo" in line for line in requests), result.err
    hop = f"{hostile.url}/moved/api/v1/run/echo"
    assert any(hop in line for line in requests), f"no request line for the hop to {hop}:\n{result.err}"


# --- 2. Redaction: whole secret values, before any escaping ---------------------------------------


def echoing(value: str, streaming: bool) -> Reply:
    """A failing run whose error repeats `value`, as a 500 or as a stream's error event."""
    message = f"the value {value} is wrong"
    if streaming:
        return event_stream([error_event("Prompt", message, "message")])
    return json_reply({"detail": error_envelope(f"Error building Component Prompt: {message}")}, status=500)


SECRET_VALUES = {"one letter": "t", "one digit": "7", "a quote": 'q"q', "a backslash": "b\\s", "non-ASCII": "é"}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("value", SECRET_VALUES)
@pytest.mark.parametrize("kind", ["API key", "secret-named --var"])
def test_a_secret_the_server_echoes_is_redacted_as_a_whole_value(serve, env_for, cwd, kind, value, mode):
    secret = SECRET_VALUES[value]
    hostile = serve(api_key=secret if kind == "API key" else API_KEY)
    hostile.script(RUN, echoing(secret, mode in STREAMING))
    env = env_for(hostile, LANGFLOW_API_KEY=hostile.api_key)
    extra = ["--var", f"MODEL_TOKEN={secret}"] if kind != "API key" else []
    result = run_mode(mode, *extra, env=env, cwd=cwd)
    line = assert_one_error(result, 1, secrets=(secret,))
    assert "the value [redacted] is wrong" in line
    if mode == "stream-json":
        events = [json.loads(text) for text in result.out.splitlines()]
        assert [event["event"] for event in events] == ["error"]
        assert "the value [redacted] is wrong" in events[0]["data"]["text"]


@pytest.mark.parametrize("mode", MODES)
def test_a_var_value_inside_a_word_leaves_stream_json_keys_and_the_error_line_intact(serve, env_for, cwd, mode):
    hostile = serve()
    hostile.script(RUN, echoing("spoken", mode in STREAMING))
    result = run_mode(mode, "--var", "LANG=en", env=env_for(hostile), cwd=cwd)
    line = assert_one_error(result, 1)
    assert "the value spoken is wrong" in line
    if mode == "stream-json":
        assert all("event" in json.loads(text) for text in result.out.splitlines()), result.out


@pytest.mark.parametrize("mode", MODES)
def test_a_var_value_inside_an_address_leaves_the_verbose_trace_intact(serve, env_for, cwd, mode):
    hostile = serve()
    result = run_mode(mode, "-v", "--var", "DEBUG=1", env=env_for(hostile), cwd=cwd)
    assert result.code == 0, result.err
    assert_clean(result)
    assert f"> POST {hostile.url}/api/v1/run/echo" in result.err


@pytest.mark.parametrize("mode", MODES)
def test_a_one_letter_var_value_leaves_the_word_settings_intact(serve, env_for, cwd, mode):
    hostile = serve()
    result = run_mode(mode, "-v", "--var", "X=t", env=env_for(hostile), cwd=cwd)
    assert result.code == 0, result.err
    assert "settings" in result.err


@pytest.mark.parametrize("mode", MODES)
def test_verbose_shows_every_var_header_value_redacted_whatever_its_name(serve, env_for, cwd, mode):
    hostile = serve()
    variables = ["--var", "DEBUG=1", "--var", "LANG=en", "--var", f"MODEL_KEY={VAR_SECRET}"]
    result = run_mode(mode, "-v", *variables, env=env_for(hostile), cwd=cwd)
    assert result.code == 0, result.err
    assert_clean(result, secrets=(API_KEY, VAR_SECRET))
    for name in ("DEBUG", "LANG", "MODEL_KEY"):
        assert f"> X-LANGFLOW-GLOBAL-VAR-{name}: [redacted]" in result.err, result.err


@pytest.mark.parametrize("mode", MODES)
def test_a_key_no_http_header_can_carry_is_refused_with_exit_2_and_nothing_is_sent(serve, env_for, cwd, mode):
    hostile = serve()
    key = "sk-€-0123456789"
    result = run_mode(mode, env=env_for(hostile, LANGFLOW_API_KEY=key), cwd=cwd)
    assert_one_error(result, 2, secrets=(key,))
    assert hostile.requests == []


# --- 3. A password in the URL is never shown ------------------------------------------------------


def with_password(url: str) -> str:
    return url.replace("http://", f"http://user:{PASSWORD}@")


URL_SECRETS = (API_KEY, PASSWORD, base64.b64encode(f"user:{PASSWORD}".encode()).decode())


@pytest.mark.parametrize("mode", MODES)
def test_a_url_password_is_not_in_the_verbose_trace(serve, env_for, cwd, mode):
    hostile = serve()
    result = run_mode(mode, "-v", env=env_for(with_password(hostile.url)), cwd=cwd)
    assert result.code == 0, result.err
    assert_clean(result, URL_SECRETS)


@pytest.mark.parametrize("mode", MODES)
def test_a_url_password_is_not_in_a_cannot_connect_error(env_for, cwd, mode):
    result = run_mode(mode, "--retries", "0", env=env_for(with_password(f"http://127.0.0.1:{free_port()}")), cwd=cwd)
    line = assert_one_error(result, 4, URL_SECRETS)
    assert "cannot connect" in line


@pytest.mark.parametrize("script", ["chat_example.py", "chat_session.py"])
def test_a_url_password_is_not_in_version(serve, env_for, cwd, script):
    hostile = serve()
    result = run(script, "--version", env=env_for(with_password(hostile.url)), cwd=cwd)
    assert result.code == 0, result.err
    assert_clean(result, URL_SECRETS)


def test_a_url_password_is_not_in_the_chat_banner(serve, env_for, cwd):
    hostile = serve()
    env = {**env_for(with_password(hostile.url)), "TERM": "dumb", "INPUTRC": os.devnull}
    with chat_terminals(env, cwd, timeout=10) as start:
        terminal = Terminal(start(), timeout=10)
        terminal.expect("User: ")
        terminal.ctrl_d()
        assert terminal.exit_code() == 0
    assert "127.0.0.1" in terminal.screen  # the banner names the server
    assert not any(shows(secret, terminal.screen) for secret in URL_SECRETS), terminal.screen


def test_a_url_password_is_not_in_the_chat_state_file(serve, env_for, cwd, tmp_path):
    hostile = serve()
    result = run("chat_session.py", env=env_for(with_password(hostile.url)), cwd=cwd, stdin="hi\n")
    assert result.code == 0, result.err
    state = (tmp_path / "state" / "langflow-chat" / "sessions.json").read_text()
    assert "127.0.0.1" in state and PASSWORD not in state, state


@pytest.mark.parametrize("mode", MODES)
def test_a_url_password_goes_as_basic_auth_on_every_request_and_hop_within_the_origin(serve, env_for, cwd, mode):
    hostile = serve("moved")
    result = run_mode(mode, env=env_for(with_password(hostile.url)), cwd=cwd)
    assert result.code == 0, result.err
    basic = "Basic " + base64.b64encode(f"user:{PASSWORD}".encode()).decode()
    assert {seen.headers.get("authorization") for seen in hostile.requests} == {basic}
    assert any(seen.path.startswith("/moved/") for seen in hostile.requests)


def test_a_url_password_is_not_sent_to_another_origin(serve, env_for, cwd):
    elsewhere = serve()
    hostile = serve("redirect", location=f"http://127.0.0.1:{elsewhere.server.server_address[1]}")
    result = run_mode("text", env=env_for(with_password(hostile.url)), cwd=cwd)
    assert_one_error(result, 1, URL_SECRETS)
    assert elsewhere.requests == []


# --- 4. Never "internal error" for what a user or a server did -----------------------------------

OUTPUT_CASES = {
    "one-shot": ("chat_example.py", ["--text", "hi"], ""),
    "piped chat": ("chat_session.py", [], "hi\n"),
    "one-shot --version": ("chat_example.py", ["--version"], ""),
    "chat --version": ("chat_session.py", ["--version"], ""),
}


@pytest.mark.parametrize("output", [">&-", ">/dev/full"], ids=["stdout closed", "stdout on a full disk"])
@pytest.mark.parametrize("case", OUTPUT_CASES)
def test_output_that_cannot_be_written_is_one_line_and_exit_2(serve, env_for, cwd, case, output):
    hostile = serve()
    script, args, stdin = OUTPUT_CASES[case]
    result = run(script, *args, env=env_for(hostile), cwd=cwd, stdin=stdin, redirect=output)
    assert_one_error(result, 2)


BAD_URLS = {
    "unclosed IPv6": "http://[::1",
    "empty label": "http://a..b",
    "10,000-character host": "http://" + "a" * 10_000,
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("url", BAD_URLS)
def test_an_invalid_url_is_one_line_and_exit_2(env_for, cwd, url, mode):
    result = run_mode(mode, env=env_for(BAD_URLS[url]), cwd=cwd)
    assert_one_error(result, 2)


BAD_ADDRESSES = {**BAD_URLS, "port 99999": "http://127.0.0.1:99999", "port abc": "http://127.0.0.1:abc"}


@pytest.mark.parametrize("script", ["chat_example.py", "chat_session.py"])
@pytest.mark.parametrize("url", BAD_ADDRESSES)
def test_version_with_an_invalid_url_says_so_and_exits_0(env_for, cwd, url, script):
    result = run(script, "--version", env=env_for(BAD_ADDRESSES[url]), cwd=cwd)
    assert (result.code, result.err) == (0, "")
    assert_clean(result)
    assert re.search(r"server: not configured \(the server URL is not valid: .+\)", result.out), result.out


@pytest.mark.parametrize("mode", [*MODES, "piped-chat --no-stream"])
def test_json_nested_100000_deep_is_one_line_and_exit_1(serve, env_for, cwd, mode):
    hostile = serve("deep-json")
    extra = ["--no-stream"] if mode.endswith("--no-stream") else []
    result = run_mode(mode.split()[0], *extra, env=env_for(hostile), cwd=cwd)
    assert_one_error(result, 1)


def pause(action: object) -> list[dict]:
    """A stored pause for a human whose submitted_action is `action`."""
    content = {"type": "human_input", "prompt": "Go on?", "options": [{"action_id": "approve", "label": "Approve"}]}
    return [{"title": "Human input required", "contents": [{**content, "submitted_action": action}]}]


ODD_MESSAGES = {
    "content_blocks 5": {"content_blocks": 5},
    "properties 7": {"properties": 7},
    "submitted_action a list": {"text": "", "content_blocks": pause(["approve"])},
    "month 13": {"timestamp": "2026-13-01 10:00:00"},
    "offset +99:00": {"timestamp": "2026-11-21T10:00:00+99:00"},
}


@contextlib.contextmanager
def going_on(terminal: Terminal) -> Iterator[None]:
    """A chat that ends or stalls where it should go on fails the test, showing its screen."""
    try:
        yield
    except (pexpect.EOF, pexpect.TIMEOUT) as stop:
        pytest.fail(f"the chat {'ended' if isinstance(stop, pexpect.EOF) else 'stalled'}:\n{terminal.screen}")


def store_odd(server: HostileServer, odd: str) -> None:
    """Conversation S: a user's message, then a reply of an odd shape."""
    server.store("S", "User", "hello")
    server.store("S", "Machine", **{"text": "odd reply", **ODD_MESSAGES[odd]})


@pytest.mark.parametrize("command", ["recap", "/history", "/resume S", "/save"])
@pytest.mark.parametrize("odd", ODD_MESSAGES)
def test_a_stored_message_of_an_odd_shape_does_not_end_the_chat(serve, env_for, cwd, odd, command):
    hostile = serve()
    store_odd(hostile, odd)
    env = {**env_for(hostile), "TERM": "dumb", "INPUTRC": os.devnull}
    with chat_terminals(env, cwd, timeout=10) as start:
        terminal = Terminal(start("--session-id", "S"), timeout=10)
        with going_on(terminal):
            terminal.expect("hello")  # the recap
            terminal.expect("User: ")
            if command != "recap":
                terminal.type(command.replace("/save", f"/save {cwd / 'saved.md'}"))
                terminal.expect("User: ")
            terminal.say("still here")
            terminal.ctrl_d()
            assert terminal.exit_code() == 0, terminal.screen
    assert "internal error" not in terminal.screen, terminal.screen
    if command == "/save":
        assert (cwd / "saved.md").exists()


@pytest.mark.parametrize("output", [[], ["--json"]], ids=["table", "json"])
@pytest.mark.parametrize("odd", ODD_MESSAGES)
def test_list_sessions_lists_a_conversation_holding_a_message_of_an_odd_shape(serve, env_for, cwd, odd, output):
    hostile = serve()
    store_odd(hostile, odd)
    result = run("chat_session.py", "--list-sessions", *output, env=env_for(hostile), cwd=cwd)
    assert (result.code, result.err) == (0, "")
    assert "hello" in result.out


def test_a_nul_in_a_save_path_is_one_line_and_the_chat_goes_on(serve, env_for, cwd):
    """With stdout in a file the chat reads plain lines, so a NUL typed at the terminal reaches /save."""
    hostile = serve()
    env = {**env_for(hostile), "TERM": "dumb", "INPUTRC": os.devnull}
    with chat_terminals(env, cwd, timeout=10) as start:
        terminal = Terminal(start(stdout=cwd / "transcript.txt"), timeout=10)
        with going_on(terminal):
            terminal.expect("User: ")
            terminal.type("hello")
            terminal.expect("User: ")
            terminal.type("/save a\0b.md")
            terminal.expect("User: ")
            after_save = terminal.screen.rsplit("/save a", 1)[1]
            terminal.type("still here")
            terminal.expect("User: ")
            terminal.ctrl_d()
            assert terminal.exit_code() == 0, terminal.screen
    assert len(after_save.split("\n")[1:-1]) == 1, after_save  # one line between the line typed and the prompt
    assert "internal error" not in terminal.screen
    assert "AI: still here" in (cwd / "transcript.txt").read_text()


# --- 5. Exit 2, not 4, when nothing could be sent ------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("number", ["NaN", "1e999"])
def test_tweaks_json_cannot_send_are_exit_2_and_nothing_is_run(serve, env_for, cwd, number, mode):
    hostile = serve()
    result = run_mode(mode, "--tweaks", f'{{"ChatInput-abc": {{"b": {number}}}}}', env=env_for(hostile), cwd=cwd)
    assert_one_error(result, 2)
    assert hostile.runs() == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("port", ["99999", "abc"])
def test_a_url_port_that_cannot_be_is_exit_2(env_for, cwd, port, mode):
    result = run_mode(mode, env=env_for(f"http://127.0.0.1:{port}"), cwd=cwd)
    assert_one_error(result, 2)


# --- 6. --file: regular files only, 100 MB at most, checked before reading ------------------------


def not_a_regular_file(kind: str, folder: Path) -> str:
    if kind == "/dev/zero":
        return kind
    path = folder / kind.replace(" ", "-")
    if kind == "a FIFO":
        os.mkfifo(path)
    else:
        with open(path, "wb") as sparse:
            sparse.truncate(2 * 1024**3)
    return str(path)


@pytest.mark.parametrize("kind", ["/dev/zero", "a FIFO", "a 2 GB sparse file"])
def test_file_takes_only_a_regular_file_within_100_mb_and_says_so_at_once(serve, env_for, cwd, tmp_path, kind):
    hostile = serve()
    path = not_a_regular_file(kind, tmp_path)
    result = run("chat_example.py", "--file", path, "--text", "hi", env=env_for(hostile), cwd=cwd, timeout=15)
    assert result.seconds < 5, f"still running after {result.seconds:.1f} s"
    line = assert_one_error(result, 2)
    if kind.endswith("sparse file"):
        assert "100 MB" in line, line
    assert hostile.requests == []


# --- 7. A signal during a reply at a terminal: the echo comes back -----------------------------

SIGNALS = {"SIGTERM": (signal.SIGTERM, 143), "SIGHUP": (signal.SIGHUP, 129)}
REPLYING = {"chat": ("chat_session.py", []), "one-shot --stream": ("chat_example.py", ["--stream", "hi"])}


def child_of(pid: int) -> int:
    """The process whose parent is `pid`."""
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            return int(entry.name)
    raise AssertionError(f"process {pid} has no child")


@pytest.mark.parametrize("which", REPLYING)
@pytest.mark.parametrize("name", SIGNALS)
def test_a_signal_during_a_reply_restores_the_terminal_echo_and_exits_128_plus_its_number(
    serve, env_for, cwd, name, which
):
    hostile = serve("slow")
    script, args = REPLYING[which]
    number, expected = SIGNALS[name]
    env = {**env_for(hostile), "TERM": "dumb", "INPUTRC": os.devnull}
    shell = ["-c", '"$@"; echo "exit=$?"; stty -a', "sh", sys.executable, str(ROOT / script), *args]
    child = pexpect.spawn("/bin/sh", shell, env=env, cwd=str(cwd), encoding="utf-8", timeout=15, dimensions=(24, 200))
    try:
        if script == "chat_session.py":
            child.expect_exact("User: ")
            child.sendline("hi")
        child.expect_exact("tick")
        os.kill(child_of(child.pid), number)
        child.expect(r"exit=(\d+)")
        code = int(child.match.group(1))
        child.expect(pexpect.EOF)
        settings = child.before.split()
    finally:
        child.close(force=True)
    assert code == expected
    assert "-echo" not in settings, f"the terminal is left without echo: {' '.join(settings)}"


@pytest.mark.parametrize("which", REPLYING)
def test_a_terminal_that_hangs_up_during_a_reply_ends_the_run_with_129(serve, env_for, cwd, tmp_path, which):
    """The terminal closes (its window, an ssh connection): SIGHUP, and every write to it fails."""
    import pty

    hostile = serve("slow")
    script, args = REPLYING[which]
    errors = tmp_path / "stderr.txt"
    env = {**env_for(hostile), "TERM": "dumb", "INPUTRC": os.devnull}
    pid, terminal = pty.fork()
    if pid == 0:
        os.dup2(os.open(errors, os.O_WRONLY | os.O_CREAT), 2)
        os.execve(sys.executable, [sys.executable, str(ROOT / script), *args], env)
    seen = b""
    with contextlib.suppress(OSError):
        if script == "chat_session.py":
            while b"User: " not in seen:
                seen += os.read(terminal, 1024)
            os.write(terminal, b"hi\n")
        while b"tick" not in seen:
            seen += os.read(terminal, 1024)
    os.close(terminal)  # the hang-up
    _pid, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 129, errors.read_text()
    assert_clean(Result(129, "", errors.read_text(), 0, 0))


# --- 8. A background run re-attached after a cut ends cleanly -----------------------------------

REPLY = "one two three four five"


@pytest.mark.parametrize("which", ["one-shot --stream", "piped chat"])
def test_a_background_run_re_attached_after_a_cut_ends_cleanly_every_time(serve, env_for, cwd, which):
    hostile = serve()
    with TcpProxy(hostile.server.server_address[1]) as proxy:
        for attempt in range(1, 6):
            hostile.v2_script(v2_reply_events("s", REPLY, words(REPLY)), gap=0.05)
            proxy.cut_on(b'"event": "token"')
            if which == "piped chat":
                result = run("chat_session.py", "--background", env=env_for(proxy.url), cwd=cwd, stdin="hi\n")
            else:
                result = run("chat_example.py", "--background", "--stream", "hi", env=env_for(proxy.url), cwd=cwd)
            assert proxy.cuts == attempt
            assert (result.code, REPLY in result.out) == (0, True), f"attempt {attempt}: {result}"
            assert all("re-attaching" in line for line in result.err.splitlines()), f"attempt {attempt}: {result.err}"
            assert_clean(result)


# --- 9. Smaller things -----------------------------------------------------------------------------


def refuse(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


@pytest.mark.parametrize("mode", ["json", "stream-json"])
def test_json_output_never_holds_infinity_or_nan(serve, env_for, cwd, mode):
    hostile = serve("huge-number")
    result = run_mode(mode, env=env_for(hostile), cwd=cwd)
    if not result.out:
        assert_one_error(result, 1)
        return
    assert_clean(result)
    for document in [result.out] if mode == "json" else result.out.splitlines():
        json.loads(document, parse_constant=refuse)


@pytest.mark.parametrize("mode", MODES)
def test_an_endless_line_is_one_line_and_exit_1_in_bounded_time_and_memory(serve, env_for, cwd, mode):
    hostile = serve("endless-line")
    result = run_mode(mode, env=env_for(hostile), cwd=cwd, timeout=30)
    assert result.seconds < 30
    assert_one_error(result, 1)
    assert result.peak_mb < 512


LISTING_REQUESTS = 500 + 30  # a listing reads 500 pages at most (100,000 messages), and a few other answers


@pytest.mark.parametrize("release", ["1.13.0", "1.4.3"])
@pytest.mark.parametrize("output", [[], ["--json"]], ids=["table", "json"])
def test_endless_paging_of_stored_messages_ends_within_500_pages(serve, env_for, cwd, output, release):
    hostile = serve("endless-pages")
    hostile.version = release

    def listings() -> int:
        return sum(seen.path.startswith("/api/v1/monitor") for seen in hostile.requests)

    def too_many() -> bool:
        return listings() > LISTING_REQUESTS

    env = env_for(hostile)
    result = run("chat_session.py", "--list-sessions", *output, env=env, cwd=cwd, timeout=60, give_up=too_many)
    assert listings() <= LISTING_REQUESTS
    if result.code == 1:
        assert_one_error(result, 1)
    else:
        assert (result.code, result.err) == (0, "")
        assert_clean(result)


FAST_SLEEP = """\
import time

_sleep = time.sleep


def sleep(seconds):  # a retry's wait passes at once; the -v line still says how long it was
    _sleep(seconds if seconds < 0.4 else 0)


time.sleep = sleep
"""


@pytest.mark.parametrize("server", ["503 without Retry-After", "connection refused"])
def test_retries_never_wait_longer_than_60_s(serve, env_for, cwd, tmp_path, server):
    folder = tmp_path / "fast_sleep"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(FAST_SLEEP)
    url = serve("busy").url if server.startswith("503") else f"http://127.0.0.1:{free_port()}"
    env = env_for(url, PYTHONPATH=str(folder))
    result = run("chat_example.py", "-v", "--retries", "25", "--stream", "hi", env=env, cwd=cwd, timeout=60)
    waits = [float(seconds) for seconds in re.findall(r"retrying in ([0-9.]+) s", result.err)]
    assert len(waits) >= 8, result.err  # past 0.5 * 2**7 = 64 s
    assert max(waits) <= 60, waits


def test_save_onto_a_symlink_keeps_the_link(serve, env_for, cwd):
    hostile = serve()
    target, link = cwd / "target.md", cwd / "link.md"
    target.write_text("old\n")
    link.symlink_to(target)
    env = {**env_for(hostile), "TERM": "dumb", "INPUTRC": os.devnull}
    with chat_terminals(env, cwd, timeout=10) as start:
        terminal = Terminal(start(), timeout=10)
        with going_on(terminal):
            terminal.expect("User: ")
            terminal.say("hello")
            terminal.type(f"/save {link}")
            terminal.expect("replace it? [y/N] ")
            terminal.type("y")
            terminal.expect("User: ")
            after_save = terminal.screen.rsplit("[y/N] ", 1)[1]
            terminal.ctrl_d()
            assert terminal.exit_code() == 0, terminal.screen
    assert link.is_symlink()
    assert "hello" in target.read_text(), after_save  # the link's target is written


@pytest.fixture(scope="module")
def big_settings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 200 MB settings file: the flow, then a comment line of 200 MB."""
    path = tmp_path_factory.mktemp("big") / "big.env"
    with open(path, "w") as settings:
        settings.write("LANGFLOW_FLOW_ID=echo\n#")
        for _ in range(200):
            settings.write("x" * 1024 * 1024)
        settings.write("\n")
    return path


@pytest.mark.parametrize("mode", ["text", "piped-chat"])
def test_a_200_mb_settings_file_is_refused_without_reading_it_whole(serve, env_for, cwd, big_settings, mode):
    hostile = serve()
    os.link(big_settings, cwd / ".env")
    result = run_mode(mode, env=env_for(hostile), cwd=cwd, timeout=30)
    assert result.seconds < 10 and result.peak_mb < 150, (result.seconds, result.peak_mb)
    assert_one_error(result, 2)
