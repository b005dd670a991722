"""Install, start and stop a real `lfx serve` for end-to-end tests.

`lfx serve` (package `lfx`, Langflow's runtime without the UI or database) serves flow JSON
files as an API of its own: `GET /health`, `GET /flows`, `GET /flows/{id}/info`,
`POST /flows/{id}/run` and `POST /flows/{id}/stream`, each execution checked against the
key in the server's LANGFLOW_API_KEY (header or query `x-api-key`). Like Langflow, it lives in
a cached virtual environment of its own (.cache/lfx-<version>) and runs as a separate process
on a free loopback port. The flows are built by langflow_flows.py in that environment, written
to files with fixed ids, and served from there. Standard library + requests only.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from langflow_server import (
    CACHE,
    FLOWS_SCRIPT,
    _find_uv,
    _install_lock,
    _run_logged,
    _stop_group,
    _tail,
    _venv_python,
    free_port,
    log,
    parse_flows,
)

LFX_VERSION = "1.13.0"  # the lfx that Langflow 1.13.0 itself runs on
# Fixed flow ids: `lfx serve` takes a flow's id from its file's "id", and a test names it.
FLOW_IDS = {
    "echo": "00000000-0000-4000-8000-0000000ec401",
    "counter": "00000000-0000-4000-8000-00000c0a7e01",
}


def venv_path(version: str = LFX_VERSION) -> Path:
    return CACHE / f"lfx-{version}"


def ensure_lfx(version: str = LFX_VERSION) -> Path:
    """Return the Python of the cached lfx venv, installing it with uv if needed."""
    venv = venv_path(version)
    wanted = f"lfx=={version}\n"
    marker = venv / ".install-complete"
    if _venv_python(venv).exists() and marker.exists() and marker.read_text() == wanted:
        return _venv_python(venv)
    with _install_lock(f"lfx-{version}"):
        if _venv_python(venv).exists() and marker.exists() and marker.read_text() == wanted:
            return _venv_python(venv)
        if venv.exists():
            log(f"removing the unfinished or outdated install in {venv}")
            import shutil

            shutil.rmtree(venv)
        uv = _find_uv()
        log(f"installing lfx=={version} into {venv}")
        started = time.monotonic()
        _run_logged([uv, "venv", "--quiet", "-p", sys.executable, str(venv)])
        _run_logged([uv, "pip", "install", "--quiet", f"lfx=={version}"], env={**os.environ, "VIRTUAL_ENV": str(venv)})
        marker.write_text(wanted)
        log(f"installed lfx {version} in {time.monotonic() - started:.0f} s")
    return _venv_python(venv)


@dataclass
class LfxServer:
    """A running `lfx serve` of the echo and counter flow files; stop() ends it."""

    url: str
    api_key: str = field(repr=False)
    flow_ids: dict[str, str]
    workdir: Path
    process: subprocess.Popen = field(repr=False)
    version: str = LFX_VERSION
    start_seconds: float = 0.0

    @property
    def echo_id(self) -> str:
        return self.flow_ids["echo"]

    @property
    def counter_id(self) -> str:
        return self.flow_ids["counter"]

    @property
    def log_path(self) -> Path:
        return self.workdir / "lfx.log"

    def stop(self) -> None:
        _stop_group(self.process)

    def __enter__(self) -> LfxServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def write_flow_files(python: Path, folder: Path) -> dict[str, Path]:
    """Build echo and counter with lfx's own graph API and write each as a flow file."""
    built = subprocess.run([str(python), str(FLOWS_SCRIPT)], capture_output=True, text=True, cwd=folder, timeout=300)
    if built.returncode != 0:
        raise RuntimeError(f"building the test flows failed:\n{built.stderr[-4000:]}")
    paths = {}
    flows = parse_flows(built.stdout)
    for name, flow_id in FLOW_IDS.items():  # langflow_flows.py may build more: only these are served
        path = folder / f"{name}.json"
        flow = {"id": flow_id, "name": name, "description": f"test flow {name}", "data": flows[name]}
        path.write_text(json.dumps(flow), encoding="utf-8")
        paths[name] = path
    return paths


def _server_env(api_key: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("LANGFLOW_", "LFX_"))}
    env.pop("VIRTUAL_ENV", None)
    return {**env, "LANGFLOW_API_KEY": api_key, "LANGFLOW_DO_NOT_TRACK": "true", "DO_NOT_TRACK": "true"}


def _wait_listening(url: str, process: subprocess.Popen, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"lfx serve exited with {process.returncode} while starting; log:\n{_tail(log_path)}")
        try:
            if requests.get(f"{url}/health", timeout=2).json().get("status") == "healthy":
                return
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"lfx serve did not answer /health within {timeout:.0f} s; log:\n{_tail(log_path)}")


def start_lfx(workdir: Path, port: int | None = None, timeout: float = 180.0, version: str = LFX_VERSION) -> LfxServer:
    """Write the flow files into workdir and serve them with `lfx serve` on a loopback port.

    Raises RuntimeError with the end of the server log if it does not come up. `lfx serve`
    moves to another port when the one asked for is taken, so a port taken between
    free_port() and the start shows up here as a server that never answers, not as a wrong one.
    """
    python = ensure_lfx(version)
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    flow_files = write_flow_files(python, workdir)
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    api_key = "lfx-" + secrets.token_urlsafe(24)
    log_path = workdir / "lfx.log"
    command = [str(python), str(python.parent / "lfx"), "serve", *map(str, flow_files.values())]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    log(f"starting lfx serve {version} at {url} (log: {log_path})")
    started = time.monotonic()
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=_server_env(api_key),
            start_new_session=True,
        )
    atexit.register(_stop_group, process)
    try:
        _wait_listening(url, process, log_path, timeout)
    except BaseException:
        _stop_group(process)
        raise
    seconds = time.monotonic() - started
    log(f"lfx serve ready at {url} after {seconds:.0f} s")
    return LfxServer(
        url=url,
        api_key=api_key,
        flow_ids=dict(FLOW_IDS),
        workdir=workdir,
        process=process,
        version=version,
        start_seconds=seconds,
    )


if __name__ == "__main__":  # serve the test flows until Ctrl-C, for trying a client by hand
    import tempfile

    with start_lfx(Path(tempfile.mkdtemp(prefix="lfx-serve-"))) as server:
        print(f"LANGFLOW_URL={server.url}\nLANGFLOW_API_KEY={server.api_key}\nflows: {server.flow_ids}", flush=True)
        try:
            server.process.wait()
        except KeyboardInterrupt:
            pass
