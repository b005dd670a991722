"""Shared fixtures: the fake Langflow server and running the scripts as a user does."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
sys.path[:0] = [str(ROOT), str(TESTS)]

from compat_matrix import FEATURES, Recorder  # noqa: E402
from fake_langflow import FakeLangflow  # noqa: E402

API_KEY = "sk-test-SECRET-0123456789"


def clean_env(**settings: str) -> dict[str, str]:
    """The process environment without any LANGFLOW_* setting of the developer's, plus these."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("LANGFLOW_")}
    env.pop("PYTHONUNBUFFERED", None)  # the client must flush by itself
    return {**env, **settings}


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
    items.sort(key=lambda item: "langflow_auto_login" not in getattr(item, "fixturenames", ()))


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    for nodeid, reason in config.stash.get(NOT_APPLICABLE, []):
        terminalreporter.write_line(f"NOT RUN on Langflow {langflow_release(config)}: {nodeid}: {reason}")


NOT_APPLICABLE = pytest.StashKey[list]()
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
def langflow_auto_login(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The release under test with its auto-login on (the default up to 1.4), for one module."""
    from langflow_server import start_langflow

    release = langflow_release(request.config)
    server = start_langflow(tmp_path_factory.mktemp("langflow-auto-login"), release=release, auto_login=True)
    yield server
    server.stop()


@contextlib.contextmanager
def chat_terminals(
    env: dict[str, str], cwd: Path, timeout: float, dimensions: tuple[int, int] = (40, 200)
) -> Iterator[Callable[..., object]]:
    """Start chat_session.py in pseudo-terminals (pexpect), as a user does; all closed at the end.

    Each caller waits for its own first screen: the prompt, a recap, a prompt after a banner.
    """
    import pexpect

    children = []

    def start(*args: str) -> pexpect.spawn:
        child = pexpect.spawn(
            sys.executable,
            [str(ROOT / "chat_session.py"), *args],
            env=env,
            cwd=str(cwd),
            encoding="utf-8",
            timeout=timeout,
            dimensions=dimensions,
        )
        children.append(child)
        return child

    try:
        yield start
    finally:
        for child in children:
            child.close(force=True)


def read_terminal(controller: int) -> bytes:
    """Everything written to a pseudo-terminal until its other side closes (30 s of silence at most)."""
    screen = b""
    while select.select([controller], [], [], 30)[0]:
        try:
            data = os.read(controller, 65536)
        except OSError:  # the terminal's other side is closed
            break
        if not data:
            break
        screen += data
    os.close(controller)
    return screen
