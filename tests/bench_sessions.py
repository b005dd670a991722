#!/usr/bin/env python3
"""Measure listing a busy flow's conversations against a real Langflow.

    .venv/bin/python tests/bench_sessions.py [--sessions 200] [--messages 50] [--runs 10]
    .venv/bin/python tests/bench_sessions.py --server INFO.json   # a Langflow already running

INFO.json names a running Langflow that has the test flows: {"url", "key", "counter" (the counter
flow's uuid), "db" (its SQLite file)}; it is filled as below and keeps the messages.

Starts a Langflow (--release, 1.13.0 by default) in a scratch folder, stores one
real turn through /run, then copies that turn's rows in its database into SESSIONS
conversations of MESSAGES messages each (10,000 by default: a busy flow, made in a second
instead of an hour of /run calls). Then it times, against that server:

- `chat_session.py --list-sessions --json`, as a user runs it (a new process each time): the
  20 latest conversations (1.12.5+: their ids, then one request each);
- `chat_session.py --list-sessions --all --json`: every conversation;
- the --all way in-process: the flow's messages in pages of 200, grouped by session;
- the other way: the sessions endpoint, then one request per session for its messages.

Prints a Markdown table on stdout; progress on stderr. Not a pass/fail test.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
sys.path[:0] = [str(ROOT), str(TESTS)]

import requests  # noqa: E402
from langflow_server import DEFAULT_RELEASE, start_langflow  # noqa: E402

import chat_session as core  # noqa: E402
from chat_session import session_summaries  # noqa: E402


class RunningServer:
    def __init__(self, url: str, api_key: str, flow_id: str, db: Path) -> None:
        self.url, self.api_key, self.flow_id, self.db = url, api_key, flow_id, db
        self.stop = lambda: None  # a server this script did not start keeps running


def log(text: str) -> None:
    print(f"[bench-sessions] {text}", file=sys.stderr, flush=True)


def seed_turn(url: str, api_key: str, flow: str) -> None:
    response = requests.post(
        f"{url}/api/v1/run/{flow}",
        json={"input_value": "seed", "session_id": "bench-seed"},
        headers={"x-api-key": api_key},
        timeout=120,
    )
    response.raise_for_status()


def fill(db: Path, sessions: int, per_session: int) -> None:
    """Copy the seed turn's stored rows into `sessions` conversations of `per_session` messages."""
    with sqlite3.connect(db, timeout=60) as connection:
        connection.row_factory = sqlite3.Row
        seed = connection.execute("SELECT * FROM message WHERE session_id = 'bench-seed' ORDER BY timestamp").fetchall()
        if len(seed) < 2:
            raise SystemExit(f"the seed turn stored {len(seed)} messages, expected 2")
        columns = seed[0].keys()
        dashed = "-" in str(seed[0]["id"])
        start = datetime(2026, 1, 1)
        rows = []
        for number in range(sessions * per_session):
            session, index = divmod(number, per_session)
            row = dict(seed[index % 2])
            row["id"] = str(uuid.uuid4()) if dashed else uuid.uuid4().hex
            row["session_id"] = f"bench-{session:04d}"
            row["text"] = f"message {index} of conversation {session}"
            row["timestamp"] = (start + timedelta(seconds=number)).strftime("%Y-%m-%d %H:%M:%S.%f")
            rows.append(tuple(row[column] for column in columns))
        placeholders = ", ".join("?" for _ in columns)
        connection.execute("DELETE FROM message WHERE session_id LIKE 'bench-0%'")  # an earlier run's, on --server
        connection.executemany(f"INSERT INTO message ({', '.join(columns)}) VALUES ({placeholders})", rows)
        connection.execute("DELETE FROM message WHERE session_id = 'bench-seed'")


def timed(action, runs: int) -> tuple[list[float], object]:
    """`runs` timings after one warm-up run (the server's caches, the bytecode caches), as tests/bench.py."""
    action()
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        times.append((time.perf_counter() - started) * 1000)
    return times, result


def list_by_messages(client: core.Server) -> list[dict]:
    return session_summaries(core.RemoteFlow(client, client.terminal, stream=True).flow_messages())


def latest(client: core.Server, connections: int) -> list[dict]:
    """The 20 latest conversations as --list-sessions reads them, over this many connections at once."""
    core.SUMMARY_CONNECTIONS = connections
    return core.recent_sessions(client, core.RECENT).sessions


def pages_with_plain_requests(server: RunningServer) -> list[dict]:
    """The server's own floor: the same pages fetched by a bare requests loop, grouped the same way."""
    http = requests.Session()
    http.headers["x-api-key"] = server.api_key
    messages: list[dict] = []
    while True:
        params = {"flow_id": server.flow_id, "limit": 200, "offset": len(messages)}
        page = http.get(f"{server.url}/api/v1/monitor/messages", params=params, timeout=300).json()
        messages += page
        if len(page) != 200:  # the last page; or the whole listing, from a release that does not page
            http.close()
            return session_summaries(messages)


def list_by_sessions_endpoint(client: core.Server) -> list[dict]:
    flow_id = client.flow_uuid()
    ids = core.monitor_list(client, "/api/v1/monitor/messages/sessions", {"flow_id": flow_id})
    messages = []
    for session_id in ids:
        messages += core.monitor_list(
            client, "/api/v1/monitor/messages", {"flow_id": flow_id, "session_id": session_id}
        )
    return session_summaries(messages)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--messages", type=int, default=50, help="messages per conversation")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--release", default=DEFAULT_RELEASE, help="Langflow release to start (default %(default)s)")
    parser.add_argument("--server", type=Path, help="use this running Langflow (see above) instead of starting one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sessions-") as scratch:
        if args.server:
            info = json.loads(args.server.read_text())
            server = RunningServer(info["url"], info["key"], info["counter"], Path(info["db"]))
        else:
            started = start_langflow(Path(scratch) / "langflow", timeout=600, release=args.release)
            server = RunningServer(started.url, started.api_key, started.counter_id, started.workdir / "langflow.db")
            server.stop = started.stop
        try:
            seed_turn(server.url, server.api_key, server.flow_id)
            fill(server.db, args.sessions, args.messages)
            total = args.sessions * args.messages
            log(f"stored {total} messages in {args.sessions} conversations")
            env = {k: v for k, v in os.environ.items() if not k.startswith("LANGFLOW_")}
            env.update(LANGFLOW_URL=server.url, LANGFLOW_API_KEY=server.api_key, LANGFLOW_FLOW_ID=server.flow_id)
            command = [sys.executable, str(ROOT / "chat_session.py"), "--list-sessions", "--json"]

            def cli(*flags: str) -> list:
                done = subprocess.run(
                    [*command, *flags], env=env, cwd=scratch, capture_output=True, text=True, check=True
                )
                return json.loads(done.stdout)

            config = core.Config(url=server.url, flow=server.flow_id, api_key=server.api_key, timeout=300, retries=0)
            client = core.Server(core.Client(config, core.Terminal(None, None, io.StringIO())))
            rows = []
            for name, action, runs in (
                ("`chat_session.py --list-sessions --json` (new process): the 20 latest", cli, args.runs),
                ("in-process: the 20 latest, 4 connections at once", lambda: latest(client, 4), args.runs),
                ("in-process: the 20 latest, one connection", lambda: latest(client, 1), args.runs),
                ("`chat_session.py --list-sessions --all --json` (new process)", lambda: cli("--all"), args.runs),
                (
                    "in-process: the flow's messages in pages of 200, grouped (the --all way)",
                    lambda: list_by_messages(client),
                    args.runs,
                ),
                ("baseline: same pages, bare `requests` loop", lambda: pages_with_plain_requests(server), args.runs),
                (
                    "in-process: sessions endpoint, then one request per session",
                    lambda: list_by_sessions_endpoint(client),
                    3,
                ),
            ):
                log(f"timing {name}")
                times, listed = timed(action, runs)
                counts = sorted({s["messages"] for s in listed}, key=str)
                rows.append((name, runs, len(listed), counts, times))
            client.close()
        finally:
            server.stop()
    print(
        f"Langflow {'(--server)' if args.server else args.release}, "
        f"{args.sessions} conversations x {args.messages} messages = {total} messages; "
        f"load average {os.getloadavg()[0]:.2f} at the end\n"
    )
    print("| How | Runs | Conversations listed | Messages each | Median ms | Min-max ms |")
    print("|---|---|---|---|---|---|")
    for name, runs, listed, counts, times in rows:
        print(
            f"| {name} | {runs} | {listed} | {', '.join(map(str, counts))} | "
            f"{statistics.median(times):.0f} | {min(times):.0f}-{max(times):.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
