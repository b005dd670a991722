"""The demo server's settings file: written only where no user's file is, deleted only if unchanged;
and its detached mode's bookkeeping: what --detach records and writes, what --stop stops and deletes.

These rules need no Langflow (a detached server is played by a stand-in process group); one
end-to-end test runs --detach, a question and --stop against the real release under test.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import demo_server
import pytest
from conftest import ROOT, TESTS, clean_env, langflow_release
from demo_server import MARKER, choose_env_file, env_text, hints, remove_if_unchanged, written_here
from dotenv import dotenv_values
from langflow_server import LangflowServer, ensure_langflow, venv_path

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


def test_the_detached_hints_say_how_to_stop_it():
    text = hints(demo_server_at("http://127.0.0.1:1"), ROOT / ".env", detached=True)
    assert "Stop it with: .venv/bin/python tests/demo_server.py --stop" in text
    assert "Ctrl-C" not in text and "another terminal" not in text


def test_stop_takes_no_other_option_and_not_detach():
    for args in (["--stop", "--port", "7860"], ["--detach", "--stop"]):
        result = subprocess.run([sys.executable, str(TESTS / "demo_server.py"), *args], capture_output=True, text=True)
        assert result.returncode == 2, args
        assert "error:" in result.stderr


# --- detach and stop, with a stand-in for Langflow ---------------------------------------------

# A process group like the one --detach leaves running: a leader whose command line is Langflow's
# on a port, and a process it started.
LANGFLOW_ARGS = "run --host 127.0.0.1 --port"  # and the port, as tests/langflow_server.py starts it
STAND_IN = (
    "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']);"
    " time.sleep(300)"
)


def group_members(pgid: int) -> list[int]:
    table = subprocess.run(["ps", "-eo", "pid=,pgid=,stat="], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in table.splitlines()]
    return [int(row[0]) for row in rows if len(row) >= 3 and int(row[1]) == pgid and not row[2].startswith("Z")]


@pytest.fixture
def stand_in():
    """start(port, name) -> the pgid of a stand-in process group, started through a
    launcher that exits at once: as after --detach, init reaps it, not this test. Killed at the end."""
    started = []

    def start(port: int, name: str = ".cache/langflow-1.13.0/bin/langflow") -> int:
        command = [sys.executable, "-c", STAND_IN, name, *f"{LANGFLOW_ARGS} {port} --backend-only".split()]
        launcher = (
            "import subprocess, sys\n"
            f"leader = subprocess.Popen({command!r}, start_new_session=True,"
            " stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
            "print(leader.pid)\n"
        )
        launched = subprocess.run([sys.executable, "-c", launcher], capture_output=True, text=True, check=True)
        pgid = int(launched.stdout)
        started.append(pgid)
        deadline = time.monotonic() + 10
        while len(group_members(pgid)) < 2:  # the leader and its child
            assert time.monotonic() < deadline, "the stand-in did not start its child"
            time.sleep(0.05)
        return pgid

    yield start
    for pgid in started:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


@pytest.fixture
def demo_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder as the repository of demo_server (its .env, .cache/demo, state and lock), where
    nothing starts Langflow unless a test says how (and Langflow counts as installed)."""
    workdir = tmp_path / ".cache" / "demo"
    monkeypatch.setattr(demo_server, "REPO", tmp_path)
    monkeypatch.setattr(demo_server, "WORKDIR", workdir)
    monkeypatch.setattr(demo_server, "STATE", workdir / "detached.json")
    monkeypatch.setattr(demo_server, "LOCK", tmp_path / ".cache" / "demo.lock")
    monkeypatch.setattr(demo_server, "needs_install", lambda release: None)
    monkeypatch.setattr(demo_server, "check_ready", lambda server: None)

    def no_start(*args: object, **kwargs: object) -> LangflowServer:
        pytest.fail("Langflow was started")

    monkeypatch.setattr(demo_server, "start_langflow", no_start)
    for name in demo_server.SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # the handlers main() sets are not the test's
    return tmp_path


def detach_args(**options: object) -> argparse.Namespace:
    return argparse.Namespace(**{"port": None, "env_file": None, "langflow": None, **options})


def server_on(port: int, process: object) -> LangflowServer:
    return LangflowServer(
        release="1.13.0",
        url=f"http://127.0.0.1:{port}",
        api_key="sk-demo",
        echo_id="e",
        counter_id="c",
        workdir=demo_server.WORKDIR,
        process=process,
    )


@pytest.fixture
def detached(demo_dirs: Path, stand_in, monkeypatch: pytest.MonkeyPatch, capsys) -> SimpleNamespace:
    """`--detach` done, its Langflow a stand-in on port 45678."""
    pgid = stand_in(45678)
    started = []

    def start(workdir: Path, port: int | None = None, release: str = "", **kwargs: object) -> LangflowServer:
        started.append(release)
        return server_on(45678, SimpleNamespace(pid=pgid))

    monkeypatch.setattr(demo_server, "start_langflow", start)
    assert demo_server.detach(detach_args()) == 0
    monkeypatch.setattr(demo_server, "start_langflow", lambda *args, **kwargs: pytest.fail("Langflow was started"))
    return SimpleNamespace(
        pgid=pgid,
        started=started,
        env_file=demo_dirs / ".env",
        text=env_text("http://127.0.0.1:45678", "sk-demo"),
        stderr=capsys.readouterr().err,
    )


def private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


def test_detach_writes_the_settings_and_records_the_server(detached):
    assert detached.started == ["1.13.0"]
    assert detached.env_file.read_text(encoding="utf-8") == detached.text
    assert private(detached.env_file)
    state = json.loads(demo_server.STATE.read_text(encoding="utf-8"))
    assert private(demo_server.STATE)
    assert (state["pid"], state["port"], state["url"]) == (detached.pgid, 45678, "http://127.0.0.1:45678")
    assert (state["env_file"], state["env_text"]) == (str(detached.env_file), detached.text)
    assert "Langflow 1.13.0 is running in the background at http://127.0.0.1:45678" in detached.stderr
    assert "Wrote .env" in detached.stderr
    assert "Stop it with: .venv/bin/python tests/demo_server.py --stop" in detached.stderr


def test_detach_writes_beside_a_users_dot_env_and_stop_leaves_it(demo_dirs, stand_in, monkeypatch, capsys):
    users = demo_dirs / ".env"
    users.write_text("LANGFLOW_URL=https://langflow.example.com\n", encoding="utf-8")
    pgid = stand_in(45679)
    monkeypatch.setattr(demo_server, "start_langflow", lambda *a, **k: server_on(45679, SimpleNamespace(pid=pgid)))
    assert demo_server.detach(detach_args()) == 0
    assert "--env-file .cache/demo/.env" in capsys.readouterr().err
    assert written_here(demo_server.WORKDIR / ".env")
    assert demo_server.stop() == 0
    assert not (demo_server.WORKDIR / ".env").exists()
    assert users.read_text(encoding="utf-8") == "LANGFLOW_URL=https://langflow.example.com\n"


def test_a_second_detach_says_so_and_keeps_the_running_server(detached, capsys):
    state = demo_server.STATE.read_text(encoding="utf-8")
    assert demo_server.detach(detach_args()) == 0
    err = capsys.readouterr().err
    assert "already running: Langflow 1.13.0 at http://127.0.0.1:45678" in err
    assert "settings in .env" in err and "--stop" in err
    assert demo_server.STATE.read_text(encoding="utf-8") == state
    assert detached.env_file.read_text(encoding="utf-8") == detached.text
    assert len(group_members(detached.pgid)) == 2


def test_a_second_detach_writes_the_settings_again_if_they_were_deleted(detached, capsys):
    detached.env_file.unlink()
    assert demo_server.detach(detach_args()) == 0
    assert "wrote .env again" in capsys.readouterr().err
    assert detached.env_file.read_text(encoding="utf-8") == detached.text
    assert private(detached.env_file)


def test_a_second_detach_asking_for_another_release_or_port_is_refused(detached, capsys):
    assert demo_server.detach(detach_args(langflow="1.0.19")) == 1
    assert demo_server.detach(detach_args(port=7860)) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2
    assert "--langflow 1.0.19" in err[0] and "stop it first: .venv/bin/python tests/demo_server.py --stop" in err[0]
    assert len(group_members(detached.pgid)) == 2


def test_stop_ends_the_whole_process_group_and_deletes_what_detach_wrote(detached, capsys):
    assert demo_server.stop() == 0
    assert group_members(detached.pgid) == []
    assert not demo_server.group_exists(detached.pgid)
    assert not detached.env_file.exists()
    assert not demo_server.STATE.exists()
    assert capsys.readouterr().err == "Stopped Langflow 1.13.0 at http://127.0.0.1:45678; deleted .env.\n"


def test_stop_keeps_a_settings_file_changed_since(detached, capsys):
    detached.env_file.write_text(detached.text + "LANGFLOW_TIMEOUT=60\n", encoding="utf-8")
    assert demo_server.stop() == 0
    assert "left .env in place: it was changed since it was written" in capsys.readouterr().err
    assert detached.env_file.read_text(encoding="utf-8") == detached.text + "LANGFLOW_TIMEOUT=60\n"
    assert not demo_server.STATE.exists()
    assert group_members(detached.pgid) == []


def test_stop_kills_a_group_that_ignores_sigterm(stand_in):
    pgid = stand_in(45680)
    for pid in group_members(pgid):  # the stand-in's own handler cannot be changed from outside: stop it
        os.kill(pid, signal.SIGSTOP)  # a stopped process leaves SIGTERM pending, as one ignoring it would
    assert demo_server.stop_group(pgid, grace=0.5)
    assert group_members(pgid) == []


def test_stop_with_none_running_says_so_in_one_line(demo_dirs, capsys):
    assert demo_server.stop() == 0
    assert capsys.readouterr().err == "No detached demo server is running.\n"


def test_a_detached_server_that_exited_is_cleaned_up_by_stop(detached, capsys):
    os.killpg(detached.pgid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while demo_server.group_exists(detached.pgid):
        assert time.monotonic() < deadline, "the killed process group did not go within 10 s"
        time.sleep(0.05)
    assert demo_server.stop() == 0
    assert "had already exited; deleted .env" in capsys.readouterr().err
    assert not detached.env_file.exists()
    assert not demo_server.STATE.exists()


def test_detach_replaces_a_detached_server_that_exited(detached, stand_in, monkeypatch, capsys):
    os.killpg(detached.pgid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while demo_server.group_exists(detached.pgid):
        assert time.monotonic() < deadline, "the killed process group did not go within 10 s"
        time.sleep(0.05)
    pgid = stand_in(45681)
    monkeypatch.setattr(demo_server, "start_langflow", lambda *a, **k: server_on(45681, SimpleNamespace(pid=pgid)))
    assert demo_server.detach(detach_args()) == 0
    assert "(the last detached demo server had exited; deleted .env)" in capsys.readouterr().err
    assert json.loads(demo_server.STATE.read_text(encoding="utf-8"))["pid"] == pgid
    assert detached.env_file.read_text(encoding="utf-8") == env_text("http://127.0.0.1:45681", "sk-demo")


def test_a_pid_that_another_program_got_since_is_never_stopped(detached, stand_in, capsys):
    os.killpg(detached.pgid, signal.SIGKILL)
    other = stand_in(45678, name="some-other-program")  # same port, but not Langflow's command line
    state = json.loads(demo_server.STATE.read_text(encoding="utf-8"))
    demo_server.write_private(demo_server.STATE, json.dumps({**state, "pid": other}))
    assert demo_server.stop() == 0
    assert "had already exited" in capsys.readouterr().err
    assert len(group_members(other)) == 2


def test_a_detach_that_cannot_start_says_so_in_one_line_and_leaves_nothing(demo_dirs, monkeypatch, capsys):
    def fails(*args: object, **kwargs: object) -> LangflowServer:
        raise RuntimeError("Langflow exited with 1 while starting; log:\nTraceback ...\nImportError: nope")

    monkeypatch.setattr(demo_server, "start_langflow", fails)
    assert demo_server.detach(detach_args()) == 1
    assert capsys.readouterr().err == (
        "error: could not start Langflow 1.13.0: Langflow exited with 1 while starting; log: ..."
        " ImportError: nope (log: .cache/demo/langflow.log)\n"
    )
    assert not (demo_dirs / ".env").exists()
    assert not demo_server.STATE.exists()


def test_a_detach_that_fails_once_started_stops_that_server(demo_dirs, monkeypatch, capsys):
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
    monkeypatch.setattr(demo_server, "start_langflow", lambda *a, **k: server_on(45682, process))

    def refused(server: LangflowServer) -> None:
        raise RuntimeError("the flow 'counter' is not readable with the new key: HTTP 403")

    monkeypatch.setattr(demo_server, "check_ready", refused)
    try:
        assert demo_server.detach(detach_args()) == 1
        assert process.poll() is not None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert len(capsys.readouterr().err.splitlines()) == 1
    assert not (demo_dirs / ".env").exists()
    assert not demo_server.STATE.exists()


def test_the_foreground_mode_will_not_start_beside_a_detached_server(detached, capsys):
    assert demo_server.foreground(detach_args(langflow="1.13.0")) == 1
    assert "a detached demo server runs at http://127.0.0.1:45678" in capsys.readouterr().err
    assert detached.env_file.read_text(encoding="utf-8") == detached.text


def test_one_demo_server_starts_at_a_time(demo_dirs, capsys):
    with demo_server.exclusive() as mine:  # as a foreground demo server, or a --detach still starting
        assert mine
        assert demo_server.detach(detach_args()) == 1
        assert demo_server.stop() == 1
        assert demo_server.foreground(detach_args(langflow="1.13.0")) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3
    assert all("another tests/demo_server.py is starting a demo server" in line for line in err)
    with demo_server.exclusive() as mine:
        assert mine  # released


# --- end to end ---------------------------------------------------------------------------------


@pytest.fixture
def demo_checkout(request: pytest.FixtureRequest, tmp_path: Path) -> SimpleNamespace:
    """What the demo server and the client need, copied into a folder standing for a fresh checkout,
    with the release under test's install (in the real .cache) linked into its .cache: its .env,
    .cache/demo and detached server are its own, never the developer's."""
    release = langflow_release(request.config)
    ensure_langflow(release)
    checkout = tmp_path / "checkout"
    shutil.copytree(TESTS, checkout / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    for script in ("chat_example.py", "chat_session.py"):
        shutil.copy(ROOT / script, checkout)
    (checkout / ".cache").mkdir()
    (checkout / ".cache" / venv_path(release).name).symlink_to(venv_path(release), target_is_directory=True)
    return SimpleNamespace(path=checkout, release=release, env=clean_env())


def processes_mentioning(text: str) -> list[str]:
    table = subprocess.run(["ps", "-eo", "pid=,stat=,args="], capture_output=True, text=True, check=True).stdout
    return [line for line in table.splitlines() if text in line and " Z" not in line[:12]]


@pytest.mark.e2e
def test_detach_answers_then_stop_leaves_nothing(demo_checkout):
    checkout, env = demo_checkout.path, demo_checkout.env
    demo = [sys.executable, "tests/demo_server.py"]
    state_file = checkout / ".cache" / "demo" / "detached.json"
    detach = subprocess.run(
        [*demo, "--detach", "--langflow", demo_checkout.release],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    state = json.loads(state_file.read_text(encoding="utf-8")) if state_file.exists() else {}
    try:
        assert detach.returncode == 0, detach.stderr
        assert "Wrote .env" in detach.stderr and "--stop" in detach.stderr
        assert demo_server.group_exists(state["pid"])
        asked = subprocess.run(
            [sys.executable, "chat_example.py", "--text", "Why is the sky blue?"],
            cwd=checkout,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert (asked.returncode, asked.stdout) == (0, "turn 1: Why is the sky blue?\n"), asked.stderr
        again = subprocess.run([*demo, "--detach"], cwd=checkout, env=env, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0 and "already running" in again.stderr, again.stderr
    finally:
        stop = subprocess.run([*demo, "--stop"], cwd=checkout, env=env, capture_output=True, text=True, timeout=60)
        if state and demo_server.group_exists(state["pid"]):
            os.killpg(state["pid"], signal.SIGKILL)
    assert stop.returncode == 0, stop.stderr
    assert stop.stderr.startswith(f"Stopped Langflow {demo_checkout.release} at ")
    assert not demo_server.group_exists(state["pid"])
    assert processes_mentioning(str(checkout)) == []
    assert not (checkout / ".env").exists()
    assert not state_file.exists()
