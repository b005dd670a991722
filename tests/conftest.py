"""Shared fixtures and helpers: the fake Langflow server, the scripts run as a user runs them (piped
and in a pseudo-terminal), the conversation loop in memory, and the real Langflow releases."""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import pexpect
import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
sys.path[:0] = [str(ROOT), str(TESTS)]

from compat_matrix import FEATURES, Recorder  # noqa: E402
from fake_langflow import FakeFlow, FakeLangflow  # noqa: E402

if TYPE_CHECKING:
    from chat_session import Chat

# Started in the background by a shell without job control, the tests inherit Ctrl-C ignored, and
# so would every client they start (an ignored signal stays ignored across exec). A user's
# terminal never starts a program so: Ctrl-C gets its default back here, for every child.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

API_KEY = "sk-test-SECRET-0123456789"
NO_USER_SETTINGS = str(TESTS / "no-user-settings")  # an XDG_CONFIG_HOME that does not exist


def clean_env(**settings: str) -> dict[str, str]:
    """The process environment without any LANGFLOW_* setting of the developer's (nor their user-level
    settings file), plus these."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("LANGFLOW_")}
    env.pop("PYTHONUNBUFFERED", None)  # the client must flush by itself
    return {**env, "XDG_CONFIG_HOME": NO_USER_SETTINGS, **settings}


@pytest.fixture
def fake() -> FakeLangflow:
    server = FakeLangflow(api_key=API_KEY)
    yield server
    server.close()


@pytest.fixture
def fake_env(fake: FakeLangflow, tmp_path: Path) -> dict[str, str]:
    """Settings pointing at the fake server, and a private state folder."""
    return clean_env(
        LANGFLOW_URL=fake.url,
        LANGFLOW_FLOW_ID="echo",
        LANGFLOW_API_KEY=API_KEY,
        XDG_STATE_HOME=str(tmp_path / "state"),
    )


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in an empty folder, where a test can put a .env."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def cli(fake_env: dict[str, str], tmp_path: Path):
    """Run a script against the fake server as a user does (see `script_runner`)."""
    return script_runner(fake_env, tmp_path)


def script_runner(default_env: dict[str, str], tmp_path: Path):
    """Run a script as a user does: real argv, stdin, stdout, stderr and exit code.

    It runs in an empty folder, so no developer's .env is read.
    """
    workdir = tmp_path / "cwd"
    workdir.mkdir(exist_ok=True)

    def run(
        *args: str,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
        script: str = "chat_example.py",
        timeout: float = 60,
    ):
        return subprocess.run(
            [sys.executable, str(ROOT / script), *args],
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=env if env is not None else default_env,
            cwd=workdir,
            timeout=timeout,
        )

    run.workdir = workdir
    return run


# --- the conversation loop in memory (chat_session.Chat with an injected flow) ------------------

SESSION = "session-1"  # the session id a Conversation starts with
CTRL_C = object()  # typed instead of a line: input() raises KeyboardInterrupt


class Output(io.StringIO):
    """Standard output or error captured, as a UTF-8 file or pipe."""

    encoding = "utf-8"


class TerminalOutput(Output):
    """Standard output or error when it is a terminal."""

    def isatty(self) -> bool:
        return True


@dataclass
class ChatTranscript:
    """A Chat wired to a FakeFlow, with its standard output and error captured."""

    flow: FakeFlow
    out: Output
    err: Output
    remembered: list[str]
    chat: Chat
    kept: list[str] = field(default_factory=list)  # the input history's entries

    def type(self, *lines: str | object, echo: bool = False) -> int:
        """Run the terminal loop while the user types these lines, then Ctrl-D; its exit code.

        With echo, stdout is a file: the prompts and typed lines show on stderr (see line_reader).
        """
        typed = deque(lines)
        screen = self.err if echo else self.out

        def read_line(prompt: str) -> str:
            screen.write(prompt)
            if not typed:
                screen.write("\n")  # the line reader ends the prompt's line at the end of input
                raise EOFError
            line = typed.popleft()
            if line is CTRL_C:
                raise KeyboardInterrupt
            screen.write(f"{line}\n")
            return line

        with ctrl_c_must_not_escape():
            return self.chat.interactive(read_line, self.kept.append, echo=echo)

    def pipe(self, text: str) -> int:
        """Run the piped loop on this standard input; its exit code."""
        with ctrl_c_must_not_escape():
            return self.chat.piped(io.StringIO(text))


@pytest.fixture
def fresh_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """/new hands out session-2, session-3, ... instead of random UUIDs."""
    import chat_session

    numbers = iter(range(2, 100))
    monkeypatch.setattr(chat_session, "new_session_id", lambda: f"session-{next(numbers)}")


FAKE_EDITOR = """
import os, signal, stat, sys, time
path = sys.argv[-1]
with open(os.environ["EDITOR_LOG"], "a") as log:  # what it was given: the file, its mode and size
    log.write(f"{sys.argv[1:-1]} {path} {stat.S_IMODE(os.stat(path).st_mode):o} {os.path.getsize(path)}\\n")
if os.environ.get("EDITOR_WAITS_FOR_CTRL_C"):
    interrupted = []
    signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))
    print("editing...", flush=True)
    while not interrupted:
        time.sleep(0.05)
    print("the editor got Ctrl-C", flush=True)
with open(path, "w", encoding="utf-8") as edited:
    edited.write(os.environ.get("EDITOR_TEXT", ""))
sys.exit(int(os.environ.get("EDITOR_EXIT", "0")))
"""


@pytest.fixture
def fake_editor(tmp_path: Path) -> SimpleNamespace:
    """An editor for /edit: it writes $EDITOR_TEXT into the file it opens and exits with $EDITOR_EXIT;
    with $EDITOR_WAITS_FOR_CTRL_C, only after Ctrl-C. `env` sets it as VISUAL; `log` tells what it
    was given, a line per run: its arguments, the file, the file's mode and size."""
    script, log = tmp_path / "fake_editor.py", tmp_path / "editor.log"
    script.write_text(FAKE_EDITOR, encoding="utf-8")
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"
    return SimpleNamespace(command=command, log=log, env={"VISUAL": command, "EDITOR_LOG": str(log)})


@contextlib.contextmanager
def ctrl_c_must_not_escape() -> Iterator[None]:
    """A KeyboardInterrupt out of the loop ends the program (and would stop pytest): fail the test instead."""
    try:
        yield
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped the conversation loop: the program would end with 'interrupted'")


# --- a pseudo-terminal, as a user at a terminal has -----------------------------------------------


def spawn_in_terminal(
    script: str,
    *args: str,
    env: dict[str, str],
    cwd: Path,
    size: tuple[int, int] = (24, 200),
    timeout: float = 10,
    encoding: str | None = "utf-8",
    stdin: Path | str | None = None,
    stdout: Path | None = None,
    stderr: Path | None = None,
) -> pexpect.spawn:
    """Start a script of the repo in a pseudo-terminal of `size` (rows, columns), as a user does.

    Its standard streams are the terminal, unless one is redirected to a file as a shell does
    (`stdin=os.devnull`, `stderr=tmp_path / "stderr.txt"`). Everything the terminal received is
    kept in `child.logfile_read` (text, or bytes when encoding is None).
    """
    command, argv = sys.executable, [str(ROOT / script), *args]
    streams = ((0, "<", stdin), (1, ">", stdout), (2, ">", stderr))
    redirects = [f"{fd}{way}{shlex.quote(str(file))}" for fd, way, file in streams if file is not None]
    if redirects:  # through sh, which redirects and then runs the script in its place
        command, argv = "/bin/sh", ["-c", f'exec "$@" {" ".join(redirects)}', "sh", command, *argv]
    child = pexpect.spawn(command, argv, env=env, cwd=str(cwd), encoding=encoding, timeout=timeout, dimensions=size)
    child.logfile_read = io.StringIO() if encoding else io.BytesIO()
    return child


def run_in_terminal(script: str, *args: str, **options: object) -> pexpect.spawn:
    """`spawn_in_terminal`, waited for until it ends: its output is in `child.logfile_read`,
    its exit code is `child.exitstatus`."""
    child = spawn_in_terminal(script, *args, **options)
    child.expect(pexpect.EOF)
    child.close()
    return child


def one_shot_at_terminal(
    env: dict[str, str], cwd: Path, *args: str, stderr_too: bool = False
) -> subprocess.CompletedProcess[bytes]:
    """chat_example.py run to its end with stdout (and stderr, if asked) on a pseudo-terminal and
    stdin from /dev/null. Its stdout is what the terminal received; its stderr what went to the
    file when stderr is not on the terminal."""
    with tempfile.TemporaryDirectory() as folder:
        errors = None if stderr_too else Path(folder) / "stderr"
        child = run_in_terminal(
            "chat_example.py", *args, env=env, cwd=cwd, encoding=None, stdin=os.devnull, stderr=errors, timeout=30
        )
        stderr = errors.read_bytes() if errors else b""
    return subprocess.CompletedProcess(child.args, child.exitstatus, child.logfile_read.getvalue(), stderr)


def screen_lines(output: str, size: tuple[int, int] = (24, 100)) -> list[str]:
    """The lines a terminal of `size` (rows, columns) shows after this output, trailing blanks dropped.

    pyte renders it as a VT100 terminal would, so erased and overwritten text is gone.
    """
    import pyte

    rows, columns = size
    terminal = pyte.Screen(columns, rows)
    pyte.Stream(terminal).feed(output.replace("\n", "\r\n").replace("\r\r\n", "\r\n"))
    lines = [line.rstrip() for line in terminal.display]
    while lines and not lines[-1]:
        lines.pop()
    return lines


@contextlib.contextmanager
def chat_terminals(
    base_env: dict[str, str], cwd: Path, timeout: float, size: tuple[int, int] = (40, 200)
) -> Iterator[Callable[..., pexpect.spawn]]:
    """Start chat_session.py in pseudo-terminals, as a user does; all closed at the end.

    Each caller waits for its own first screen: the prompt, a recap, a prompt after a banner.
    """
    children = []

    def start(*args: str, env: dict[str, str] | None = None, **streams: Path | None) -> pexpect.spawn:
        """Start one; env adds to the environment, streams redirects stdout or stderr (see spawn_in_terminal)."""
        child = spawn_in_terminal(
            "chat_session.py",
            *args,
            env={**base_env, **(env or {})},
            cwd=cwd,
            size=size,
            timeout=timeout,
            **streams,
        )
        children.append(child)
        return child

    try:
        yield start
    finally:
        for child in children:
            child.close(force=True)


NEW_PROMPT = "\n\nUser: "  # the end of every reply in a chat


class Terminal:
    """chat_session.py in a pseudo-terminal: type lines, wait for text, read the whole screen.

    Texts are compared with the terminal's "\\r\\n" read as "\\n".
    """

    def __init__(self, child: pexpect.spawn, timeout: float) -> None:
        self.child = child
        self.timeout = timeout

    def type(self, line: str) -> None:
        self.child.sendline(line)

    def expect(self, text: str, timeout: float | None = None) -> None:
        self.child.expect_exact(text.replace("\n", "\r\n"), timeout=timeout or self.timeout)

    def say(self, message: str) -> None:
        """Type a message to the echo flow and wait for its reply and the next prompt."""
        self.type(message)
        self.expect(f"AI: {message}{NEW_PROMPT}")

    def ctrl_c(self) -> None:
        self.child.sendintr()

    def ctrl_d(self) -> None:
        self.child.sendeof()

    def exit_code(self) -> int | None:
        """Wait for the program to end."""
        self.child.expect(pexpect.EOF, timeout=self.timeout)
        self.child.close()
        return self.child.exitstatus

    @property
    def screen(self) -> str:
        return self.child.logfile_read.getvalue().replace("\r\n", "\n")


@pytest.fixture
def spawn_session(fake_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Terminal]]:
    """Start chat_session.py at a terminal against the fake server, in an empty folder, and wait
    for its first prompt.

    With stderr_file or stdout_file, that stream goes to the file instead of the terminal; env
    adds to the environment.
    """
    workdir = tmp_path / "terminal"
    workdir.mkdir()
    base_env = {**fake_env, "TERM": "dumb", "INPUTRC": os.devnull}  # no escape codes or key bindings of the machine's
    timeout = 5  # seconds; reached only when the expected text never comes
    with chat_terminals(base_env, workdir, timeout, size=(24, 200)) as start:

        def spawn(
            *args: str,
            stderr_file: Path | None = None,
            stdout_file: Path | None = None,
            env: dict[str, str] | None = None,
        ) -> Terminal:
            child = start(*args, env=env, stdout=stdout_file, stderr=stderr_file)
            terminal = Terminal(child, timeout)
            terminal.expect("User: ")
            return terminal

        yield spawn


def sent_messages(fake: FakeLangflow) -> list[str]:
    """The messages the fake server was asked to run, in order."""
    return [seen.json()["input_value"] for seen in fake.runs()]


# --- the real Langflow: which release, and what each release cannot do ------------------------
#
# The release comes from `--langflow=RELEASE`, else $LANGFLOW_TEST_RELEASE, else 1.13.0.
# Each end-to-end test names the compatibility-matrix feature it proves
# (@pytest.mark.feature("stream")). On a release that cannot do what a test asks, it is marked
#     @pytest.mark.lacks("1.1.1", "1.2.0", reason="...")      (those releases)
#     @pytest.mark.lacks(before="1.1.2", reason="...")         (every release older than that)
#     @pytest.mark.lacks(since="1.5", reason="...")            (that release and every newer one)
# and becomes xfail(strict=True) there: it runs, must fail, and turns red the day it passes.
# @pytest.mark.pending(...) takes the same arguments, for a client fix not made yet.
# @pytest.mark.only(before="1.1.2", reason="...") is a test of a behaviour only those releases
# have: elsewhere it is not run, and the run's summary lists it with the reason.
# The run writes every test's outcome by feature to .e2e-results/langflow-<release>.json, from
# which `python tests/compat_matrix.py` prints the README's compatibility table.


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--langflow",
        metavar="RELEASE",
        help="Langflow release the end-to-end tests install and run (default: $LANGFLOW_TEST_RELEASE or 1.13.0)",
    )


def langflow_release(config: pytest.Config) -> str:
    from langflow_server import release_under_test

    return config.getoption("--langflow") or release_under_test()


def _applies(mark: pytest.Mark, release: str) -> bool:
    """Whether a lacks/pending/only mark names this release (listed, older than before=, since=
    or newer, or any release when it names none)."""
    from langflow_server import release_tuple

    before, since = mark.kwargs.get("before"), mark.kwargs.get("since")
    if not mark.args and before is None and since is None:
        return True
    return (
        release in mark.args
        or (before is not None and release_tuple(release) < release_tuple(before))
        or (since is not None and release_tuple(release) >= release_tuple(since))
    )


@pytest.hookimpl(trylast=True)  # after -m and -k, so only selected tests are listed as not run
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    release = langflow_release(config)
    not_applicable = []
    for item in items:
        feature = item.get_closest_marker("feature")
        if feature is not None and feature.args[0] not in FEATURES:
            raise pytest.UsageError(f"{item.nodeid}: unknown feature {feature.args[0]!r}; known: {FEATURES}")
        for mark in [*item.iter_markers("lacks"), *item.iter_markers("pending")]:
            if _applies(mark, release):
                reason = mark.kwargs["reason"]
                reason = f"Langflow {release} {reason}" if mark.name == "lacks" else reason
                item.add_marker(pytest.mark.xfail(strict=True, reason=reason))
        only = item.get_closest_marker("only")
        if only is not None and not _applies(only, release):
            not_applicable.append((item, only.kwargs["reason"]))
            results.not_applicable(item.nodeid, feature.args[0] if feature else "", only.kwargs["reason"])
    if not_applicable:
        config.hook.pytest_deselected(items=[item for item, _ in not_applicable])
        items[:] = [item for item in items if item not in {item for item, _ in not_applicable}]
        config.stash[NOT_APPLICABLE] = [(item.nodeid, reason) for item, reason in not_applicable]
    # Tests with a server of their own run first, so only one Langflow runs at a time.
    items.sort(key=lambda item: OWN_SERVER_FIXTURES.isdisjoint(getattr(item, "fixturenames", ())))


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    for nodeid, reason in config.stash.get(NOT_APPLICABLE, []):
        terminalreporter.write_line(f"NOT RUN on Langflow {langflow_release(config)}: {nodeid}: {reason}")


NOT_APPLICABLE = pytest.StashKey[list]()
# Fixtures of tests that start a Langflow of their own (the demo server's test starts it with --detach).
OWN_SERVER_FIXTURES = frozenset({"langflow_auto_login", "langflow_as_shipped", "demo_checkout"})
results = Recorder()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    feature = item.get_closest_marker("feature")
    if feature is not None:
        results.add(item.nodeid, feature.args[0], report)
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    written = results.write(langflow_release(session.config))
    if written is not None:
        print(f"\n[langflow] e2e results by feature: {written}", file=sys.stderr)


@pytest.fixture(scope="session")
def openai_model():
    """The OpenAI-compatible fake model (tests/openai_fake.py) that Langflow's model components call."""
    from openai_fake import OpenAIFake

    model = OpenAIFake()
    yield model
    model.close()


@pytest.fixture(scope="session")
def langflow(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, openai_model):
    """A real Langflow (the release under test) with an API key and the echo and counter flows,
    auto-login off (the key is checked), for the whole run. Its OpenAI models are the fake
    (listening before the server starts, which reads its URL once)."""
    from langflow_server import start_langflow
    from starter_flows import openai_env

    release = langflow_release(request.config)
    model_env = openai_env(openai_model.url)
    server = start_langflow(tmp_path_factory.mktemp("langflow"), release=release, extra_env=model_env)
    results.timings["install_seconds"] = round(server.install_seconds, 1)
    results.timings["start_seconds"] = round(server.start_seconds, 1)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def langflow_as_shipped(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, openai_model):
    """The release under test as a user's server runs it, for one module: no fix of
    langflow_patches/sitecustomize.py (an Agent's tool approval may then be lost to Langflow's own
    race) and its transaction, vertex-build and key-usage writes on (Langflow's defaults). Otherwise
    as `langflow`: API key, auto-login off, the test flows, the OpenAI fake as its model."""
    from langflow_server import start_langflow
    from starter_flows import openai_env

    release = langflow_release(request.config)
    workdir = tmp_path_factory.mktemp("langflow-as-shipped")
    server = start_langflow(workdir, release=release, extra_env=openai_env(openai_model.url), as_shipped=True)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def langflow_auto_login(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The release under test with its auto-login on (the default up to 1.4), for one module."""
    from langflow_server import start_langflow

    release = langflow_release(request.config)
    server = start_langflow(tmp_path_factory.mktemp("langflow-auto-login"), release=release, auto_login=True)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def lfx_serve(tmp_path_factory: pytest.TempPathFactory):
    """A real `lfx serve` (tests/lfx_server.py) of the echo and counter flow files, for the whole run."""
    from lfx_server import start_lfx

    server = start_lfx(tmp_path_factory.mktemp("lfx-serve"))
    yield server
    server.stop()
