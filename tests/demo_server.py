"""Start a local Langflow with two ready-made flows, to try the client by hand.

    .venv/bin/pip install -q uv && .venv/bin/python tests/demo_server.py [--port N] [--env-file PATH]

Needs only the client's own environment (requirements.txt) and uv. The first run installs
Langflow into .cache/ (about 1.8 GB, a few minutes); each run starts it fresh in .cache/demo/,
writes the settings the client reads (LANGFLOW_URL, LANGFLOW_API_KEY, LANGFLOW_FLOW_ID=counter)
to ./.env, and runs until Ctrl-C or SIGTERM. Then it stops Langflow and deletes that .env if it
is still the file it wrote. A .env it did not write is never touched: the settings then go to
.cache/demo/.env, for the client's --env-file. Linux and macOS only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from langflow_server import DEFAULT_RELEASE, REPO, LangflowServer, start_langflow, venv_path

MARKER = "# Written by tests/demo_server.py"
WORKDIR = REPO / ".cache" / "demo"
SETTINGS = ("LANGFLOW_URL", "LANGFLOW_SERVER_URL", "LANGFLOW_FLOW_ID", "LANGFLOW_API_KEY")


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


def shown(path: Path) -> str:
    """path as the user would type it from the repository root."""
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def hints(server: LangflowServer, env_file: Path) -> str:
    """What to run next: the README's own commands, with --env-file when it is not ./.env."""
    option = "" if env_file == REPO / ".env" else f" --env-file {shown(env_file)}"
    lines = [
        f"\nLangflow {server.release} is running at {server.url} (log: {shown(server.log_path)}).",
        f"Wrote {shown(env_file)}: LANGFLOW_URL, LANGFLOW_API_KEY and LANGFLOW_FLOW_ID=counter.",
    ]
    if option:
        lines.append(f"(./.env was not written by this script, so it is left as it is: use{option}.)")
    overridden = [name for name in SETTINGS if os.environ.get(name)]
    if overridden:
        lines.append(f"Your environment sets {', '.join(overridden)}, which wins over that file: unset it first.")
    lines += [
        f"Try, from {REPO} in another terminal:",
        f'    .venv/bin/python chat_example.py{option} --text "hello"',
        f"    .venv/bin/python chat_session.py{option}",
        "Flows: 'counter' (replies 'turn N: <message>'; say 'slowly', 'explode' or 'big') and 'echo' (--flow echo).",
        "Stop it with Ctrl-C here; that also deletes the settings file it wrote.",
    ]
    return "\n".join(lines)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--env-file", type=Path, help="where to write the settings (default: ./.env of the repository)")
    parser.add_argument("--langflow", metavar="RELEASE", default=DEFAULT_RELEASE, help="Langflow release to run")
    args = parser.parse_args()
    if os.name == "nt":
        say("error: the demo server runs on Linux and macOS only (on Windows, use WSL or a Langflow of your own)")
        return 2
    if args.env_file:
        env_file = args.env_file.resolve()
        if env_file.exists() and not written_here(env_file):
            say(f"error: {env_file} exists and was not written by this script; choose another --env-file")
            return 2
    else:
        env_file = choose_env_file(REPO / ".env", WORKDIR / ".env")
    if not (venv_path(args.langflow) / ".install-complete").exists():
        if not (shutil.which("uv") or (Path(sys.executable).parent / "uv").exists()):
            say("error: uv is needed to install Langflow: .venv/bin/pip install -q uv")
            return 2
        say(
            f"Langflow {args.langflow} is not installed yet: installing it into {shown(venv_path(args.langflow))} "
            "downloads and writes about 1.8 GB and takes a few minutes (once). Then it starts (30 s to 2 min)."
        )

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


if __name__ == "__main__":
    sys.exit(main())
