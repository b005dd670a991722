"""The demo server's settings file: written only where no user's file is, deleted only if unchanged.

These rules need no Langflow; starting the demo server itself is tried by hand (tests/README.md).
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, TESTS
from demo_server import MARKER, choose_env_file, env_text, hints, remove_if_unchanged, written_here
from dotenv import dotenv_values
from langflow_server import LangflowServer

TEST_TOOLS = ("pytest", "pexpect", "hypothesis", "pyte", "ruff")


def demo_server_at(url: str) -> LangflowServer:
    return LangflowServer(
        release="1.13.0", url=url, api_key="sk-demo", echo_id="e", counter_id="c", workdir=TESTS, process=None
    )


def test_the_settings_file_sets_the_three_variables_the_client_reads():
    text = env_text("http://127.0.0.1:41234", "sk-demo")
    assert dotenv_values(stream=io.StringIO(text)) == {
        "LANGFLOW_URL": "http://127.0.0.1:41234",
        "LANGFLOW_API_KEY": "sk-demo",
        "LANGFLOW_FLOW_ID": "counter",
    }


def test_the_settings_file_starts_with_the_marker(tmp_path):
    path = tmp_path / ".env"
    path.write_text(env_text("http://127.0.0.1:1", "sk-demo"), encoding="utf-8")
    assert path.read_text(encoding="utf-8").startswith(MARKER)
    assert written_here(path)


def test_a_users_env_file_is_not_taken_for_the_demo_servers(tmp_path):
    path = tmp_path / ".env"
    path.write_text("LANGFLOW_URL=https://langflow.example.com\n", encoding="utf-8")
    assert not written_here(path)


def test_the_settings_go_to_dot_env_when_there_is_none(tmp_path):
    assert choose_env_file(tmp_path / ".env", tmp_path / "demo.env") == tmp_path / ".env"


def test_the_settings_replace_a_dot_env_the_demo_server_wrote_before(tmp_path):
    (tmp_path / ".env").write_text(env_text("http://127.0.0.1:1", "sk-old"), encoding="utf-8")
    assert choose_env_file(tmp_path / ".env", tmp_path / "demo.env") == tmp_path / ".env"


def test_the_settings_go_elsewhere_when_the_user_has_a_dot_env(tmp_path):
    (tmp_path / ".env").write_text("LANGFLOW_FLOW_ID=mine\n", encoding="utf-8")
    assert choose_env_file(tmp_path / ".env", tmp_path / "demo.env") == tmp_path / "demo.env"


def test_stopping_deletes_the_settings_file_it_wrote(tmp_path):
    path = tmp_path / ".env"
    text = env_text("http://127.0.0.1:1", "sk-demo")
    path.write_text(text, encoding="utf-8")
    assert remove_if_unchanged(path, text)
    assert not path.exists()


def test_stopping_keeps_a_settings_file_changed_since(tmp_path):
    path = tmp_path / ".env"
    text = env_text("http://127.0.0.1:1", "sk-demo")
    path.write_text(text + "LANGFLOW_TIMEOUT=60\n", encoding="utf-8")
    assert not remove_if_unchanged(path, text)
    assert path.read_text(encoding="utf-8") == text + "LANGFLOW_TIMEOUT=60\n"


def test_stopping_with_the_settings_file_already_gone_is_quiet(tmp_path):
    assert not remove_if_unchanged(tmp_path / ".env", env_text("http://127.0.0.1:1", "sk-demo"))


def test_the_hints_are_the_readmes_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [line.strip() for line in hints(demo_server_at("http://127.0.0.1:1"), ROOT / ".env").splitlines()]
    run = [command for command in commands if command.startswith(".venv/bin/python")]
    assert run == ['.venv/bin/python chat_example.py --text "hello"', ".venv/bin/python chat_session.py"]
    assert '.venv/bin/python chat_example.py --text "' in readme
    assert ".venv/bin/python chat_session.py" in readme


def test_the_hints_name_the_other_settings_file_when_dot_env_was_the_users():
    other = ROOT / ".cache" / "demo" / ".env"
    text = hints(demo_server_at("http://127.0.0.1:1"), other)
    assert ".venv/bin/python chat_session.py --env-file .cache/demo/.env" in text


def test_the_demo_server_imports_none_of_the_test_tools():
    code = "import sys, demo_server; print(' '.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], cwd=TESTS, capture_output=True, text=True, check=True)
    loaded = {name.split(".")[0] for name in result.stdout.split()}
    assert loaded.isdisjoint(TEST_TOOLS)
    assert "requests" in loaded


def test_the_demo_server_says_what_it_does_without_starting_anything():
    result = subprocess.run(
        [sys.executable, str(TESTS / "demo_server.py"), "--help"], cwd=Path.cwd(), capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "--env-file" in result.stdout
