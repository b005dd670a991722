"""Install, start and stop a real Langflow server for end-to-end tests and demos.

Langflow is far too big for the project's own environment, so each release lives in a
cached virtual environment of its own (.cache/langflow-<release>, e.g. .cache/langflow-1.13.0)
and runs as a separate process on a free loopback port, with a throwaway database, superuser,
API key and the test flows built by langflow_flows.py ("echo" and "counter" on every release; from
1.7.1 "variables", from 1.11 "approval" and "approval-agent"; ids by name in .flow_ids). Any release
from 1.1.1 on works; the tests pick it with LANGFLOW_TEST_RELEASE (default 1.13.0).
Standard library + requests only.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

DEFAULT_RELEASE = "1.13.0"
LANGFLOW_VERSION = DEFAULT_RELEASE  # the release the benchmark and the demo server use
RELEASE_VARIABLE = "LANGFLOW_TEST_RELEASE"  # which release the end-to-end tests run against
TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
CACHE = REPO / ".cache"
FLOWS_SCRIPT = TESTS / "langflow_flows.py"
USERNAME = "admin"

# Packages an old release needs next to it, because its own pins allow a newer one that breaks it.
EXTRA_REQUIREMENTS = {
    # setuptools 81 dropped pkg_resources, which 1.0 imports at start-up; with a newer fastapi every
    # request of 1.0 answers 500 "'_IncludedRouter' object has no attribute 'path'"
    "1.0.": ["setuptools<81", "fastapi==0.115.4"],
    # elevenlabs 2 needs a newer websockets than 1.3 to 1.5 allow: start-up dies importing it
    "1.3.": ["elevenlabs<2"],
    "1.4.": ["elevenlabs<2"],
    "1.5.": ["elevenlabs<2"],
}

# Releases installed as on the day they shipped (uv's --exclude-newer, the day after their upload
# to PyPI). Langflow 1.9 to 1.11 ask for `langflow-base>=0.<minor>.<patch>` with no upper bound, so
# a resolver today gives them 1.13.0's base, which then runs under the old release's name and
# version; pinned to their own base, today's fastapi stops 1.9.6 at start-up ("`Query` default
# value cannot be set in `Annotated` for 'page'") and today's pydantic fails 1.11.6's agent tools.
SHIPPED = {"1.9.6": "2026-06-03", "1.10.3": "2026-07-24", "1.11.6": "2026-09-02"}

# Settings that keep a test server local and self-contained on a closed network. They change
# nothing a run does, so even a server "as shipped" (start_langflow(as_shipped=True)) has them.
OFFLINE_SETTINGS = {
    "LANGFLOW_DO_NOT_TRACK": "true",
    "LANGFLOW_CREATE_STARTER_PROJECTS": "false",  # only our flows in the database
    "LANGFLOW_SKIP_MCP_AUTO_INIT": "true",  # offline it can block ~2 min on a connect
    "LANGFLOW_MCP_COMPOSER_ENABLED": "false",  # would try to fetch mcp-composer with uvx
    "LANGFLOW_ADD_PROJECTS_TO_MCP_SERVERS": "false",
    "LANGFLOW_STORE": "false",
    "LANGFLOW_PRETTY_LOGS": "false",  # plain log lines: faster, readable in a file
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no retried download of a price list
}
# Fewer writers on the test server's SQLite: each of these races the flow's own message writes,
# and Langflow then fails the run with "database is locked" (1.13: the API key's usage counter,
# once in CI; 1.1.1: 2 runs in 12 here, the message insert waiting 60 s first). They only feed
# Langflow's own logs views; the usage switch exists from 1.6 on, the others from 1.1. A user's
# server has them on: a server "as shipped" keeps Langflow's defaults.
BOOKKEEPING_OFF = {
    "LANGFLOW_DISABLE_TRACK_APIKEY_USAGE": "true",
    "LANGFLOW_TRANSACTIONS_STORAGE_ENABLED": "false",
    "LANGFLOW_VERTEX_BUILDS_STORAGE_ENABLED": "false",
}
QUIET_SETTINGS = {**OFFLINE_SETTINGS, **BOOKKEEPING_OFF}


def release_under_test() -> str:
    """The Langflow release the end-to-end tests use: $LANGFLOW_TEST_RELEASE, else the default."""
    return os.environ.get(RELEASE_VARIABLE, "").strip() or DEFAULT_RELEASE


def release_tuple(release: str) -> tuple[int, ...]:
    """'1.4.3' -> (1, 4, 3), for comparisons such as release_tuple(r) < (1, 5)."""
    return tuple(int(part) for part in release.split(".") if part.isdigit())


def requirements(release: str) -> list[str]:
    """What `uv pip install` gets for a release: Langflow itself plus any known fix, and for a
    release of SHIPPED the day it shipped."""
    extras = [req for prefix, reqs in EXTRA_REQUIREMENTS.items() if release.startswith(prefix) for req in reqs]
    shipped = ["--exclude-newer", SHIPPED[release]] if release in SHIPPED else []
    return [f"langflow=={release}", *extras, *shipped]


def venv_path(release: str) -> Path:
    return CACHE / f"langflow-{release}"


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
def _install_lock(release: str):
    """Let parallel test processes share one install instead of racing on the folder."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"langflow-{release}.lock", "w") as handle:
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


def _installed(venv: Path, wanted: str) -> bool:
    marker = venv / ".install-complete"
    return _venv_python(venv).exists() and marker.exists() and marker.read_text() == wanted


def ensure_langflow(release: str = DEFAULT_RELEASE) -> Path:
    """Return the Python of the release's cached venv, installing it with uv if needed.

    The marker file holds exactly what was installed, so a changed requirement reinstalls.
    """
    venv = venv_path(release)
    wanted = " ".join(requirements(release)) + "\n"
    if _installed(venv, wanted):
        return _venv_python(venv)
    with _install_lock(release):
        if _installed(venv, wanted):  # another process finished it meanwhile
            return _venv_python(venv)
        if venv.exists():
            log(f"removing the unfinished or outdated install in {venv}")
            shutil.rmtree(venv)
        uv = _find_uv()
        log(f"installing {wanted.strip()} into {venv} (30-120 s, ~1.5-2 GB)")
        started = time.monotonic()
        _run_logged([uv, "venv", "--quiet", "-p", sys.executable, str(venv)])
        env = {**os.environ, "VIRTUAL_ENV": str(venv)}
        _run_logged([uv, "pip", "install", "--quiet", *requirements(release)], env=env)
        (venv / ".install-complete").write_text(wanted)
        log(f"installed langflow {release} in {time.monotonic() - started:.0f} s")
    return _venv_python(venv)


def free_port() -> int:
    """A port nobody listens on right now (tiny race, fine for tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LangflowServer:
    """A running Langflow with an API key and the test flows; stop() ends it."""

    release: str
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
    auto_login: bool = False
    install_seconds: float = 0.0  # ~0 when the release was already in .cache/
    start_seconds: float = 0.0  # from launch to flows created
    flow_ids: dict[str, str] = field(default_factory=dict)  # every created flow, by name
    stop_at_exit: Callable[[], None] | None = field(default=None, repr=False)  # what atexit runs

    @property
    def log_path(self) -> Path:
        return self.workdir / "langflow.log"

    def stop(self) -> None:
        """Terminate the server's whole process group: SIGTERM, then SIGKILL after 10 s."""
        _stop_group(self.process)

    def outlive_this_process(self) -> None:
        """Leave the server running when this process exits (demo_server.py --detach): start_langflow
        otherwise stops it at exit."""
        if self.stop_at_exit is not None:
            atexit.unregister(self.stop_at_exit)
            self.stop_at_exit = None

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


def _server_env(workdir: Path, password: str, auto_login: bool = False, as_shipped: bool = False) -> dict[str, str]:
    """Our environment without the developer's LANGFLOW_* settings, plus the test server's."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("LANGFLOW_")}
    env.pop("VIRTUAL_ENV", None)
    if as_shipped:  # no fix of ours on the path either (a PYTHONPATH of the developer's is kept)
        paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
        kept = [path for path in paths if path and Path(path).resolve() != TESTS / "langflow_patches"]
        env.pop("PYTHONPATH", None)
        env.update({"PYTHONPATH": os.pathsep.join(kept)} if kept else {})
    return {
        **env,
        **(OFFLINE_SETTINGS if as_shipped else QUIET_SETTINGS),
        # off: /run needs a valid API key on every release (the default only from 1.5 on)
        "LANGFLOW_AUTO_LOGIN": "true" if auto_login else "false",
        "LANGFLOW_SUPERUSER": USERNAME,
        "LANGFLOW_SUPERUSER_PASSWORD": password,
        "LANGFLOW_CONFIG_DIR": str(workdir / "config"),
        "LANGFLOW_DATABASE_URL": f"sqlite:///{workdir / 'langflow.db'}",
        "LANGFLOW_TELEMETRY_WRITER_OUTBOX_DIR": str(workdir / "telemetry"),
        "LANGFLOW_KNOWLEDGE_BASES_DIR": str(workdir / "knowledge_bases"),
    }


def _patches_env(release: str) -> dict[str, str]:
    """The fixes langflow_patches/sitecustomize.py applies to this release, if any: before 1.6
    (no LANGFLOW_DISABLE_TRACK_APIKEY_USAGE) the usage counter off (see QUIET_SETTINGS); from 1.11
    (tool approval) an Agent's approval checkpoint that is not lost to a race."""
    patches = []
    if release_tuple(release) < (1, 6):
        patches.append("apikey-usage")
    if release_tuple(release) >= (1, 11):
        patches.append("agent-checkpoint")
    if not patches:
        return {}
    paths = [str(TESTS / "langflow_patches"), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(paths), "TEST_LANGFLOW_PATCHES": ",".join(patches)}


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


def parse_flows(out: str) -> dict:
    """The flows JSON langflow_flows.py prints, ignoring what a library prints after it at exit
    (1.0.19's composio prints a "new version available" notice to stdout)."""
    flows, _ = json.JSONDecoder().raw_decode(out.lstrip())
    return flows


def _build_flows(builder: subprocess.Popen) -> dict:
    out, err = builder.communicate(timeout=300)
    if builder.returncode != 0:
        raise RuntimeError(f"building the test flows failed:\n{err[-4000:]}")
    return parse_flows(out)


def _access_token(url: str, password: str, auto_login: bool) -> str:
    """A bearer token for the admin API: the superuser's login, or auto-login's own user."""
    if auto_login:  # releases before 1.5 then replace our superuser by their default one
        answer = requests.get(f"{url}/api/v1/auto_login", timeout=30)
    else:
        answer = requests.post(f"{url}/api/v1/login", data={"username": USERNAME, "password": password}, timeout=30)
    answer.raise_for_status()
    return answer.json()["access_token"]


def _setup(url: str, token: str, flows: dict) -> tuple[str, dict[str, str]]:
    """Make an API key and create the flows; return the key and the flow ids by name."""
    bearer = {"Authorization": f"Bearer {token}"}
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


def start_langflow(
    workdir: Path,
    port: int | None = None,
    timeout: float = 600.0,
    release: str = DEFAULT_RELEASE,
    auto_login: bool = False,
    extra_env: dict[str, str] | None = None,
    extra_flows: dict[str, dict] | None = None,
    as_shipped: bool = False,
) -> LangflowServer:
    """Start a fresh Langflow release in workdir (database, config, log) and set it up for tests.

    auto_login=False (the default) makes every release check the API key, as 1.5+ do by default.
    as_shipped=True starts it as a user's server runs: no fix of langflow_patches/sitecustomize.py
    and Langflow's own bookkeeping writes on (only OFFLINE_SETTINGS, not BOOKKEEPING_OFF).
    extra_env is added to the server's environment; extra_flows ({name: flow data}) are created
    next to echo and counter, with their name as endpoint name (ids in .flow_ids).
    Raises RuntimeError with the end of the server log if it does not come up.
    """
    installing = time.monotonic()
    python = ensure_langflow(release)
    install_seconds = time.monotonic() - installing
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    password = secrets.token_urlsafe(16)
    log_path = workdir / "langflow.log"
    args = f"run --host 127.0.0.1 --port {port} --backend-only --no-open-browser".split()
    # the console script run by the venv's Python, not by its shebang: a copied or moved .cache
    # keeps the absolute path of the folder it was installed in there
    command = [str(python), str(python.parent / "langflow"), *args]
    shipped = " as shipped (no patches, bookkeeping on)" if as_shipped else ""
    log(f"starting Langflow {release}{shipped} at {url} (30 s to minutes; log: {log_path})")
    started = time.monotonic()
    patches = {} if as_shipped else _patches_env(release)
    env = {**_server_env(workdir, password, auto_login, as_shipped), **patches, **(extra_env or {})}
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=env,
            start_new_session=True,
        )
    stop_at_exit = functools.partial(_stop_group, process)
    atexit.register(stop_at_exit)  # never leave a server behind, even if a caller forgets
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
            env=env,
        )
        _wait_healthy(url, process, log_path, timeout)
        flows = {**_build_flows(builder), **(extra_flows or {})}
        api_key, ids = _setup(url, _access_token(url, password, auto_login), flows)
    except BaseException:
        if builder is not None and builder.poll() is None:
            builder.kill()
            builder.wait()
        _stop_group(process)
        raise
    seconds = time.monotonic() - started
    log(f"Langflow {release} ready at {url} after {seconds:.0f} s")
    return LangflowServer(
        release=release,
        url=url,
        api_key=api_key,
        echo_id=ids["echo"],
        counter_id=ids["counter"],
        workdir=workdir,
        process=process,
        password=password,
        auto_login=auto_login,
        install_seconds=install_seconds,
        start_seconds=seconds,
        flow_ids=ids,
        stop_at_exit=stop_at_exit,
    )
