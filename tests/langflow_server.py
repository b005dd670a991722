"""Install, start and stop a real Langflow server for end-to-end tests and demos.

Langflow is far too big for the project's own environment, so it lives in a cached
virtual environment of its own (.cache/langflow-1.13.0) and runs as a separate process
on a free loopback port, with a throwaway database, superuser, API key and two test
flows ("echo" and "counter", built by langflow_flows.py). Standard library + requests only.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import requests

LANGFLOW_VERSION = "1.13.0"
TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
CACHE = REPO / ".cache"
VENV = CACHE / f"langflow-{LANGFLOW_VERSION}"
MARKER = VENV / ".install-complete"
FLOWS_SCRIPT = TESTS / "langflow_flows.py"
USERNAME = "admin"

# Settings that keep a test server local, quiet and self-contained on a closed network.
QUIET_SETTINGS = {
    "LANGFLOW_DO_NOT_TRACK": "true",
    "LANGFLOW_AUTO_LOGIN": "false",  # the default in 1.13, explicit: /run needs an API key
    "LANGFLOW_CREATE_STARTER_PROJECTS": "false",  # only our flows in the database
    "LANGFLOW_SKIP_MCP_AUTO_INIT": "true",  # offline it can block ~2 min on a connect
    "LANGFLOW_MCP_COMPOSER_ENABLED": "false",  # would try to fetch mcp-composer with uvx
    "LANGFLOW_ADD_PROJECTS_TO_MCP_SERVERS": "false",
    "LANGFLOW_STORE": "false",
    "LANGFLOW_PRETTY_LOGS": "false",  # plain log lines: faster, readable in a file
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no retried download of a price list
}


def log(message: str) -> None:
    """Progress for humans: the install and the start take tens of seconds."""
    print(f"[langflow] {message}", file=sys.stderr, flush=True)


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _find_uv() -> str:
    found = shutil.which("uv")
    if found:
        return found
    beside = Path(sys.executable).parent / ("uv.exe" if os.name == "nt" else "uv")
    if beside.exists():
        return str(beside)
    raise RuntimeError("uv not found: install it (pip install uv) to set up Langflow for the tests")


@contextlib.contextmanager
def _install_lock():
    """Let parallel test processes share one install instead of racing on the folder."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"langflow-{LANGFLOW_VERSION}.lock", "w") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: no lock, a single test process is assumed
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_logged(command: list[str], env: dict[str, str] | None = None) -> None:
    """Run a setup command; on failure show its output, which is otherwise just noise."""
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n" + "\n".join(output[-40:]))


def ensure_langflow() -> Path:
    """Return the Python of the cached Langflow venv, installing it with uv if needed."""
    python = _venv_python(VENV)
    if MARKER.exists() and python.exists():
        return python
    with _install_lock():
        if MARKER.exists() and python.exists():  # another process finished it meanwhile
            return python
        if VENV.exists():
            log(f"removing the unfinished install in {VENV}")
            shutil.rmtree(VENV)
        uv = _find_uv()
        log(f"installing langflow {LANGFLOW_VERSION} into {VENV} (about 30 s, ~1.8 GB)")
        started = time.monotonic()
        _run_logged([uv, "venv", "--quiet", "-p", sys.executable, str(VENV)])
        env = {**os.environ, "VIRTUAL_ENV": str(VENV)}
        _run_logged([uv, "pip", "install", "--quiet", f"langflow=={LANGFLOW_VERSION}"], env=env)
        MARKER.write_text(f"langflow=={LANGFLOW_VERSION}\n")
        log(f"installed in {time.monotonic() - started:.0f} s")
    return python


def free_port() -> int:
    """A port nobody listens on right now (tiny race, fine for tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LangflowServer:
    """A running Langflow with an API key and the two test flows; stop() ends it."""

    url: str
    api_key: str
    echo_id: str
    counter_id: str
    workdir: Path
    process: subprocess.Popen = field(repr=False)
    password: str = field(default="", repr=False)
    username: str = USERNAME
    echo_endpoint: str = "echo"
    counter_endpoint: str = "counter"

    @property
    def log_path(self) -> Path:
        return self.workdir / "langflow.log"

    def stop(self) -> None:
        """Terminate the server's whole process group: SIGTERM, then SIGKILL after 10 s."""
        _stop_group(self.process)

    def __enter__(self) -> LangflowServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _stop_group(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    # SIGKILL whatever is left of the group: the leader if it hung, or a worker it left behind
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _tail(path: Path, lines: int = 40) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines))
    except OSError:
        return "(no log)"


def _server_env(workdir: Path, password: str) -> dict[str, str]:
    """Our environment without the developer's LANGFLOW_* settings, plus the test server's."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("LANGFLOW_")}
    env.pop("VIRTUAL_ENV", None)
    return {
        **env,
        **QUIET_SETTINGS,
        "LANGFLOW_SUPERUSER": USERNAME,
        "LANGFLOW_SUPERUSER_PASSWORD": password,
        "LANGFLOW_CONFIG_DIR": str(workdir / "config"),
        "LANGFLOW_DATABASE_URL": f"sqlite:///{workdir / 'langflow.db'}",
        "LANGFLOW_TELEMETRY_WRITER_OUTBOX_DIR": str(workdir / "telemetry"),
        "LANGFLOW_KNOWLEDGE_BASES_DIR": str(workdir / "knowledge_bases"),
    }


def _wait_healthy(url: str, process: subprocess.Popen, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Langflow exited with {process.returncode} while starting; log:\n{_tail(log_path)}")
        with contextlib.suppress(requests.RequestException, ValueError):
            if requests.get(f"{url}/health", timeout=2).json().get("status") == "ok":
                return
        time.sleep(0.5)
    raise RuntimeError(f"Langflow did not answer /health within {timeout:.0f} s; log:\n{_tail(log_path)}")


def _build_flows(builder: subprocess.Popen) -> dict:
    out, err = builder.communicate(timeout=300)
    if builder.returncode != 0:
        raise RuntimeError(f"building the test flows failed:\n{err[-4000:]}")
    return json.loads(out)


def _setup(url: str, password: str, flows: dict) -> tuple[str, dict[str, str]]:
    """Log in as the superuser, make an API key, create the flows; return key and flow ids."""
    login = requests.post(f"{url}/api/v1/login", data={"username": USERNAME, "password": password}, timeout=30)
    login.raise_for_status()
    bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
    made = requests.post(f"{url}/api/v1/api_key/", json={"name": "tests"}, headers=bearer, timeout=30)
    made.raise_for_status()
    ids = {}
    for name, data in flows.items():
        body = {"name": name, "data": data, "endpoint_name": name}
        created = requests.post(f"{url}/api/v1/flows/", json=body, headers=bearer, timeout=30)
        if not created.ok:
            raise RuntimeError(f"creating flow {name!r}: {created.status_code} {created.text[:500]}")
        ids[name] = created.json()["id"]
    return made.json()["api_key"], ids


def start_langflow(workdir: Path, port: int | None = None, timeout: float = 180.0) -> LangflowServer:
    """Start a fresh Langflow in workdir (database, config, log) and set it up for tests.

    Raises RuntimeError with the end of the server log if it does not come up.
    """
    python = ensure_langflow()
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    password = secrets.token_urlsafe(16)
    log_path = workdir / "langflow.log"
    args = f"run --host 127.0.0.1 --port {port} --backend-only --no-open-browser".split()
    command = [str(python.parent / "langflow"), *args]
    log(f"starting Langflow {LANGFLOW_VERSION} at {url} (about 30 s; log: {log_path})")
    started = time.monotonic()
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=_server_env(workdir, password),
            start_new_session=True,
        )
    atexit.register(_stop_group, process)  # never leave a server behind, even if a caller forgets
    builder = None
    try:
        # Build the flow JSON (a few seconds of imports) while the server starts.
        builder = subprocess.Popen(
            [str(python), str(FLOWS_SCRIPT)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=workdir,
            env=_server_env(workdir, password),
        )
        _wait_healthy(url, process, log_path, timeout)
        api_key, ids = _setup(url, password, _build_flows(builder))
    except BaseException:
        if builder is not None and builder.poll() is None:
            builder.kill()
            builder.wait()
        _stop_group(process)
        raise
    log(f"Langflow ready at {url} after {time.monotonic() - started:.0f} s")
    return LangflowServer(
        url=url,
        api_key=api_key,
        echo_id=ids["echo"],
        counter_id=ids["counter"],
        workdir=workdir,
        process=process,
        password=password,
    )
