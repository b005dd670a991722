"""Shared fixtures: the fake Langflow server and running the scripts as a user does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
sys.path[:0] = [str(ROOT), str(TESTS)]

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


@pytest.fixture(scope="session")
def langflow(tmp_path_factory: pytest.TempPathFactory):
    """A real Langflow 1.13 with an API key and the echo and counter flows, for the whole run."""
    from langflow_server import start_langflow

    server = start_langflow(tmp_path_factory.mktemp("langflow"))
    yield server
    server.stop()
