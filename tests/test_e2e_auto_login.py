"""The API key on a real Langflow whose auto-login is on (the default up to 1.4).

The main end-to-end server runs with auto-login off, so every release checks the key (see
test_e2e.py). With auto-login on, Langflow up to 1.5 runs a request without a key, and up to
1.3 even one with a wrong key; from 1.6 on the key is checked anyway. The client needs nothing
special for either: these tests pin down what each release does (the README's auth column).
These tests start a server of their own; they run before the others, one Langflow at a time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import clean_env, script_runner

pytestmark = [pytest.mark.e2e, pytest.mark.feature("auth")]


@pytest.fixture
def run(langflow_auto_login, tmp_path: Path):
    env = clean_env(
        LANGFLOW_URL=langflow_auto_login.url,
        LANGFLOW_FLOW_ID=langflow_auto_login.echo_endpoint,
        XDG_STATE_HOME=str(tmp_path / "state"),
    )
    runner = script_runner(env, tmp_path)
    runner.env = env
    return runner


@pytest.mark.only(before="1.6", reason="up to 1.5 auto-login runs a request without a key")
def test_auto_login_runs_a_request_without_a_key(run):
    result = run("--text", "no key")
    assert (result.returncode, result.stdout) == (0, "no key\n"), result.stderr


@pytest.mark.only(since="1.6", reason="from 1.6 on a request without a key is refused, auto-login or not")
def test_auto_login_still_refuses_a_request_without_a_key(run):
    result = run("--text", "no key")
    assert result.returncode == 3, result.stderr
    assert "LANGFLOW_API_KEY" in result.stderr


@pytest.mark.only(before="1.4", reason="up to 1.3 auto-login ignores a wrong key")
def test_auto_login_ignores_a_wrong_key(run):
    result = run("--text", "wrong key", env={**run.env, "LANGFLOW_API_KEY": "sk-wrong"})
    assert (result.returncode, result.stdout) == (0, "wrong key\n"), result.stderr


@pytest.mark.only(since="1.4", reason="from 1.4 on a wrong key is refused, auto-login or not")
def test_auto_login_refuses_a_wrong_key(run):
    result = run("--text", "wrong key", env={**run.env, "LANGFLOW_API_KEY": "sk-wrong"})
    assert result.returncode == 3, result.stderr
    assert "the server refused the API key" in result.stderr
