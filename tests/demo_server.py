"""Start a local Langflow with two ready-made flows, to try the client by hand.

    python tests/demo_server.py [--port 7860] [--env-file PATH] [--force] [--langflow 1.13.0]

Installs Langflow into .cache/ on first use, starts it fresh in .cache/demo/, writes a .env
the client reads (LANGFLOW_URL, LANGFLOW_API_KEY, LANGFLOW_FLOW_ID=counter) and runs until
Ctrl-C or SIGTERM, then stops the server. Needs only requests (and uv for the install).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time
from pathlib import Path

from langflow_server import DEFAULT_RELEASE, REPO, LangflowServer, start_langflow

MARKER = "# Written by tests/demo_server.py"


def write_env(path: Path, server: LangflowServer) -> None:
    path.write_text(
        f"{MARKER}: a throwaway local Langflow; safe to delete.\n"
        f"LANGFLOW_URL={server.url}\n"
        f"LANGFLOW_API_KEY={server.api_key}\n"
        f"# counter: replies 'turn N: <message>' word by word; say 'slowly', 'explode' or 'big' to test.\n"
        f"LANGFLOW_FLOW_ID={server.counter_endpoint}\n"
        f"# echo: replies with your message. To use it: LANGFLOW_FLOW_ID={server.echo_endpoint}\n",
        encoding="utf-8",
    )


def ours(path: Path) -> bool:
    """True if the file is missing or was written by this script (so it may be replaced)."""
    return not path.exists() or path.read_text(encoding="utf-8", errors="replace").startswith(MARKER)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--env-file", type=Path, default=REPO / ".env", help="where to write the settings")
    parser.add_argument("--force", action="store_true", help="overwrite an env file this script did not write")
    parser.add_argument("--langflow", metavar="RELEASE", default=DEFAULT_RELEASE, help="Langflow release to run")
    args = parser.parse_args()
    env_file = args.env_file.resolve()
    if not ours(env_file) and not args.force:
        print(f"{env_file} exists and was not written by this script; use --force or --env-file.", file=sys.stderr)
        return 2

    # Stop cleanly on Ctrl-C and SIGTERM, also when started in the background (where SIGINT is ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    workdir = REPO / ".cache" / "demo"
    server = None
    try:
        shutil.rmtree(workdir, ignore_errors=True)
        server = start_langflow(workdir, port=args.port, release=args.langflow)
        write_env(env_file, server)
        print(
            f"\nLangflow {server.release} {server.url} is running (log: {server.log_path}).\n"
            f"Wrote {env_file}: LANGFLOW_URL, LANGFLOW_API_KEY and LANGFLOW_FLOW_ID=counter.\n"
            f"Flows: 'counter' (replies 'turn N: <message>' word by word) and 'echo'.\n"
            "Try, from the repository root in another terminal:\n"
            '    python chat_example.py "hello"\n'
            "    python chat_session.py\n"
            "Stop it with Ctrl-C in this terminal.",
            file=sys.stderr,
            flush=True,
        )
        while server.process.poll() is None:
            time.sleep(1)
        print(f"Langflow exited by itself ({server.process.returncode}); see {server.log_path}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping Langflow...", file=sys.stderr, flush=True)
        return 0
    except RuntimeError as error:
        print(f"could not start Langflow: {error}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            server.stop()
        print("Langflow stopped.", file=sys.stderr)  # start_langflow stops it itself if interrupted


if __name__ == "__main__":
    sys.exit(main())
