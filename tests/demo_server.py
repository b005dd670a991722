"""Start a local Langflow with two ready-made flows, to try the client by hand.

    .venv/bin/pip install -q uv && .venv/bin/python tests/demo_server.py [--port N] [--env-file PATH]
    .venv/bin/python tests/demo_server.py --detach     (in the background; --stop stops it)

Needs only the client's own environment (requirements.txt) and uv. The first run installs
Langflow into .cache/ (about 1.8 GB, a few minutes); each run starts it fresh in .cache/demo/,
writes the settings the client reads (LANGFLOW_URL, LANGFLOW_API_KEY, LANGFLOW_FLOW_ID=counter)
to ./.env, and runs until Ctrl-C or SIGTERM. Then it stops Langflow and deletes that .env if it
is still the file it wrote. A .env it did not write is never touched: the settings then go to
.cache/demo/.env, for the client's --env-file. Linux and macOS only.

With --detach it returns once Langflow answers, leaving it running in the background (its own
process group, its output in .cache/demo/langflow.log, its pid in .cache/demo/detached.json);
run it again and it says so and keeps that one. --stop stops it and deletes what it wrote.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests
from langflow_server import DEFAULT_RELEASE, REPO, LangflowServer, start_langflow, venv_path

MARKER = "# Written by tests/demo_server.py"
WORKDIR = REPO / ".cache" / "demo"
STATE = WORKDIR / "detached.json"  # the detached server: its process group, URL and settings file
LOCK = REPO / ".cache" / "demo.lock"  # held while a server starts, and while one runs in the foreground
SETTINGS = ("LANGFLOW_URL", "LANGFLOW_SERVER_URL", "LANGFLOW_FLOW_ID", "LANGFLOW_API_KEY")
STOP_COMMAND = ".venv/bin/python tests/demo_server.py --stop"


def env_text(url: str, api_key: str, counter: str = "counter", echo: str = "echo") -> str:
    """The settings file for the demo server; its first line marks it as this script's."""
    return (
        f"{MARKER}: a throwaway local Langflow, deleted when the demo server stops.\n"
        f"LANGFLOW_URL={url}\n"
        f"LANGFLOW_API_KEY={api_key}\n"
        "# counter: replies 'turn N: <message>' word by word; say 'slowly', 'explode' or 'big' to test.\n"
        f"LANGFLOW_FLOW_ID={counter}\n"
        f"# echo: replies with your message. To use it: --flow {echo}\n"
    )


def written_here(path: Path) -> bool:
    """True if path is a settings file this script wrote (so it may be replaced)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.readline().startswith(MARKER)
    except OSError:
        return False


def choose_env_file(wanted: Path, fallback: Path) -> Path:
    """Where to write the settings: wanted, unless a file this script did not write is there."""
    if wanted.exists() and not written_here(wanted):
        return fallback
    return wanted


def remove_if_unchanged(path: Path, text: str) -> bool:
    """Delete path only if it still holds exactly what this script wrote; True if deleted."""
    try:
        if path.read_text(encoding="utf-8") != text:
            return False
        path.unlink()
    except OSError:
        return False
    return True


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it holds a key), whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    partial.chmod(0o600)  # O_CREAT's mode does not apply to a file that was already there
    os.replace(partial, path)


def shown(path: Path) -> str:
    """path as the user would type it from the repository root."""
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def hints(server: LangflowServer, env_file: Path, detached: bool = False) -> str:
    """What to run next: the README's own commands, with --env-file when it is not ./.env."""
    option = "" if env_file == REPO / ".env" else f" --env-file {shown(env_file)}"
    where = "in the background " if detached else ""
    lines = [
        f"\nLangflow {server.release} is running {where}at {server.url} (log: {shown(server.log_path)}).",
        f"Wrote {shown(env_file)}: LANGFLOW_URL, LANGFLOW_API_KEY and LANGFLOW_FLOW_ID=counter.",
    ]
    if option:
        lines.append(f"(./.env was not written by this script, so it is left as it is: use{option}.)")
    overridden = [name for name in SETTINGS if os.environ.get(name)]
    if overridden:
        lines.append(f"Your environment sets {', '.join(overridden)}, which wins over that file: unset it first.")
    lines += [
        f"Try, from {REPO}{'' if detached else ' in another terminal'}:",
        f'    .venv/bin/python chat_example.py{option} --text "hello"',
        f"    .venv/bin/python chat_session.py{option}",
        "Flows: 'counter' (replies 'turn N: <message>'; say 'slowly', 'explode' or 'big') and 'echo' (--flow echo).",
    ]
    if detached:
        lines.append(f"Stop it with: {STOP_COMMAND} (that also deletes the settings file it wrote).")
    else:
        lines.append("Stop it with Ctrl-C here; that also deletes the settings file it wrote.")
    return "\n".join(lines)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the detached server's bookkeeping ---------------------------------------------------------


@contextlib.contextmanager
def exclusive() -> Iterator[bool]:
    """Hold LOCK while nothing else does: yields False when another demo_server.py holds it (it is
    starting a server, or running one in the foreground), True otherwise."""
    import fcntl  # not on Windows, where main() has already refused to run

    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "a") as handle:  # never inherited: subprocess closes other descriptors
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_state() -> dict | None:
    """What --detach recorded about the server it left running, or None."""
    try:
        state = json.loads(STATE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not isinstance(state.get("pid"), int):
        return None
    return state


def write_state(server: LangflowServer, env_file: Path, written: str) -> None:
    state = {
        "pid": server.process.pid,  # also its process group: Langflow starts in a session of its own
        "port": int(server.url.rsplit(":", 1)[1]),
        "url": server.url,
        "release": server.release,
        "log": str(server.log_path),
        "env_file": str(env_file),
        "env_text": written,  # to delete the settings file only if unchanged, and to restore it
        "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    write_private(STATE, json.dumps(state, indent=2) + "\n")


def command_line(pid: int) -> str | None:
    """The command line of process pid ("" for a zombie), or None if there is no such process."""
    if Path("/proc/self").exists():
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return None
    found = subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True, text=True)  # macOS
    return found.stdout.strip() if found.returncode == 0 else None


def live_members(pgid: int) -> list[int]:
    """The processes of group pgid, but for zombies: exited, and waiting for their parent (here init,
    which may take its time, or in a container may never come) to collect their exit status."""
    if not Path("/proc/self/stat").exists():  # macOS
        table = subprocess.run(["ps", "-A", "-o", "pid=,pgid=,stat="], capture_output=True, text=True).stdout
        rows = [line.split() for line in table.splitlines()]
        return [int(row[0]) for row in rows if len(row) == 3 and row[1] == str(pgid) and not row[2].startswith("Z")]
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:  # "pid (command) state ppid pgrp ...", where the command may hold spaces and parentheses
                state, _, group = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
            except (OSError, ValueError):
                continue  # gone meanwhile
            if group == str(pgid) and state != "Z":
                members.append(int(entry.name))
    return members


def group_exists(pgid: int) -> bool:
    """Whether process group pgid has a process left that is not a zombie."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's: not ours to stop, but it exists
        return True
    return bool(live_members(pgid))


def is_running(state: dict) -> bool:
    """Whether the server state names still runs: its process group exists, and its leader (if not
    gone already) is that Langflow, not a program that got its pid since."""
    pid = state["pid"]
    line = command_line(pid)
    if line:
        return f"langflow run --host 127.0.0.1 --port {state.get('port')} " in line + " "
    return group_exists(pid)  # the leader is gone (or a zombie) but processes it started may run on


def stop_group(pgid: int, grace: float = 10.0) -> bool:
    """SIGTERM the whole process group, SIGKILL whatever is left after grace seconds; True once it
    is gone. (The leader is not our child: it is reaped by init, so only its group can be watched.)"""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
        deadline = time.monotonic() + wait
        while group_exists(pgid):
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        else:
            return True
    return False


def forget(state: dict) -> str:
    """Delete what --detach wrote: the state file, and the settings file if still unchanged. Returns
    what happened to the settings file, for the user."""
    env_file = Path(state.get("env_file", ""))
    note = ""
    if state.get("env_text") and env_file.name:
        if remove_if_unchanged(env_file, state["env_text"]):
            note = f"deleted {shown(env_file)}"
        elif env_file.exists():
            note = f"left {shown(env_file)} in place: it was changed since it was written"
    with contextlib.suppress(FileNotFoundError):
        STATE.unlink()
    return note


def check_ready(server: LangflowServer) -> None:
    """The client's own first request: the counter flow, asked for with the key. Raises RuntimeError."""
    try:
        answer = requests.get(
            f"{server.url}/api/v1/flows/{server.counter_id}", headers={"x-api-key": server.api_key}, timeout=30
        )
    except requests.RequestException as error:
        raise RuntimeError(f"Langflow stopped answering: {error}") from error
    if answer.status_code != 200:
        raise RuntimeError(f"the flow 'counter' is not readable with the new key: HTTP {answer.status_code}")


# --- the three modes ---------------------------------------------------------------------------


def one_line(error: BaseException) -> str:
    """An error on one line: its first line, and its last when more follow (a log's tail: the
    exception that ended it)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [type(error).__name__]
    return lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"


def needs_install(release: str) -> int | None:
    """None if release is installed or can be; else the exit code after saying why not."""
    if not (venv_path(release) / ".install-complete").exists():
        if not (shutil.which("uv") or (Path(sys.executable).parent / "uv").exists()):
            say("error: uv is needed to install Langflow: .venv/bin/pip install -q uv")
            return 2
        say(
            f"Langflow {release} is not installed yet: installing it into {shown(venv_path(release))} "
            "downloads and writes about 1.8 GB and takes a few minutes (once). Then it starts (30 s to 2 min)."
        )
    return None


def settings_file(args: argparse.Namespace) -> Path | None:
    """Where the settings go (None, said why, if --env-file names someone else's file)."""
    if args.env_file:
        env_file = args.env_file.resolve()
        if env_file.exists() and not written_here(env_file):
            say(f"error: {env_file} exists and was not written by this script; choose another --env-file")
            return None
        return env_file
    return choose_env_file(REPO / ".env", WORKDIR / ".env")


def busy() -> int:
    say(
        "error: another tests/demo_server.py is starting a demo server or running one in the foreground"
        " (Ctrl-C in its terminal stops it)"
    )
    return 1


def foreground(args: argparse.Namespace) -> int:
    """Today's demo server: runs until Ctrl-C or SIGTERM, then stops Langflow and cleans up."""
    with exclusive() as mine:
        if not mine:
            return busy()
        state = read_state()
        if state is not None and is_running(state):
            say(f"error: a detached demo server runs at {state.get('url')}: stop it first ({STOP_COMMAND})")
            return 1
        return run_in_foreground(args)


def run_in_foreground(args: argparse.Namespace) -> int:
    env_file = settings_file(args)
    if env_file is None:
        return 2
    refused = needs_install(args.langflow)
    if refused is not None:
        return refused

    # Stop cleanly on Ctrl-C and SIGTERM, also when started in the background (where SIGINT is ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    server = None
    written = ""
    try:
        shutil.rmtree(WORKDIR, ignore_errors=True)
        server = start_langflow(WORKDIR, port=args.port, release=args.langflow)
        written = env_text(server.url, server.api_key, server.counter_endpoint, server.echo_endpoint)
        env_file.parent.mkdir(parents=True, exist_ok=True)
        env_file.write_text(written, encoding="utf-8")
        env_file.chmod(0o600)  # it holds a key
        say(hints(server, env_file))
        while server.process.poll() is None:
            time.sleep(1)
        say(f"Langflow exited by itself ({server.process.returncode}); see {server.log_path}")
        return 1
    except KeyboardInterrupt:
        say("\nstopping Langflow..." if server is not None else "\ninterrupted")
        return 0
    except RuntimeError as error:
        say(f"could not start Langflow: {error}")
        return 1
    finally:
        if server is not None:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            server.stop()
            say("Langflow stopped.")  # start_langflow stops it itself if interrupted while starting
        if written:
            if remove_if_unchanged(env_file, written):
                say(f"Deleted {shown(env_file)}.")
            elif env_file.exists():
                say(f"Left {shown(env_file)} in place: it was changed since it was written.")


def detach(args: argparse.Namespace) -> int:
    """Start the demo server in the background and return once it answers (or say which one runs)."""
    with exclusive() as mine:
        if not mine:
            return busy()
        state = read_state()
        if state is not None:
            if is_running(state):
                return reuse(state, args)
            note = forget(state)
            say(f"(the last detached demo server had exited{'; ' + note if note else ''})")
        return start_detached(args)


def reuse(state: dict, args: argparse.Namespace) -> int:
    url, release, env_file = state.get("url"), state.get("release"), Path(state.get("env_file", ""))
    asked = [
        f"--{name} {wanted}"
        for name, wanted, running in (
            ("port", args.port, state.get("port")),
            ("langflow", args.langflow, release),
            ("env-file", args.env_file and args.env_file.resolve(), env_file),
        )
        if wanted is not None and wanted != running
    ]
    if asked:
        say(
            f"error: a demo server (Langflow {release} at {url}) already runs; to start one with"
            f" {' '.join(map(str, asked))}, stop it first: {STOP_COMMAND}"
        )
        return 1
    option = "" if env_file == REPO / ".env" else f" --env-file {shown(env_file)}"
    if not env_file.exists() and state.get("env_text"):
        write_private(env_file, state["env_text"])
        settings = f"wrote {shown(env_file)} again"
    elif written_here(env_file):
        settings = f"settings in {shown(env_file)}"
    else:
        settings = f"{shown(env_file)} is no longer the settings file it wrote"
    say(
        f"The demo server is already running: Langflow {release} at {url} since {state.get('started')}"
        f" ({settings}).\n"
        f'Try: .venv/bin/python chat_example.py{option} --text "hello". Stop it with: {STOP_COMMAND}'
    )
    return 0


def start_detached(args: argparse.Namespace) -> int:
    env_file = settings_file(args)
    if env_file is None:
        return 2
    release = args.langflow or DEFAULT_RELEASE
    refused = needs_install(release)
    if refused is not None:
        return refused
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    server = None
    written = ""
    handed_off = False
    try:
        shutil.rmtree(WORKDIR, ignore_errors=True)
        server = start_langflow(WORKDIR, port=args.port, release=release)
        check_ready(server)
        written = env_text(server.url, server.api_key, server.counter_endpoint, server.echo_endpoint)
        write_private(env_file, written)
        write_state(server, env_file, written)
        server.outlive_this_process()
        handed_off = True
    except KeyboardInterrupt:
        say("interrupted: nothing left running")
        return 130
    except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as error:
        say(f"error: could not start Langflow {release}: {one_line(error)} (log: {shown(WORKDIR / 'langflow.log')})")
        return 1
    finally:
        if not handed_off:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if server is not None:
                server.stop()
            if written:
                remove_if_unchanged(env_file, written)
            with contextlib.suppress(FileNotFoundError):
                STATE.unlink()
    say(hints(server, env_file, detached=True))
    return 0


def stop() -> int:
    """Stop the detached server's process group and delete what --detach wrote."""
    with exclusive() as mine:
        if not mine:
            return busy()
        state = read_state()
        if state is None:
            say("No detached demo server is running.")
            return 0
        what = f"Langflow {state.get('release')} at {state.get('url')}"
        if not is_running(state):
            note = forget(state)
            say(f"The detached demo server ({what}) had already exited{'; ' + note if note else ''}.")
            return 0
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # stop whole or not at all
        if not stop_group(state["pid"]):
            say(f"error: process group {state['pid']} ({what}) is still there after SIGKILL")
            return 1
        note = forget(state)
        say(f"Stopped {what}{'; ' + note if note else ''}.")
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--detach", action="store_true", help="start in the background; return once it answers")
    mode.add_argument("--stop", action="store_true", help="stop the server --detach started, delete what it wrote")
    parser.add_argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--env-file", type=Path, help="where to write the settings (default: ./.env of the repository)")
    parser.add_argument("--langflow", metavar="RELEASE", help=f"Langflow release to run (default: {DEFAULT_RELEASE})")
    args = parser.parse_args()
    if args.stop and (args.port or args.env_file or args.langflow):
        parser.error("--stop takes no other option")
    if os.name == "nt":
        say("error: the demo server runs on Linux and macOS only (on Windows, use WSL or a Langflow of your own)")
        return 2
    if args.stop:
        return stop()
    if args.detach:
        return detach(args)
    args.langflow = args.langflow or DEFAULT_RELEASE
    return foreground(args)


if __name__ == "__main__":
    sys.exit(main())
