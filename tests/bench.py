#!/usr/bin/env python3
"""Measure the chat client against local servers and print the results as Markdown tables.

    bash tests/bench            # the full run: the tests' local server, then a real Langflow 1.13
    bash tests/bench --quick    # a few runs against the local server only: proves it still works

The tables go to stdout, progress to stderr. Every client runs as a user runs it: a separate
process of the project's Python, in an empty folder (no .env), with none of our LANGFLOW_*,
PYTHON* or proxy settings. Only 127.0.0.1 is contacted. Not part of the pass/fail suite:
the numbers depend on the machine and its load, so every table shows spreads, not just medians.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import gzip
import itertools
import json
import os
import platform
import pty
import re
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from importlib.metadata import version
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS))

from fake_langflow import (  # noqa: E402
    FakeLangflow,
    Reply,
    agent_message,
    event_line,
    event_stream,
    run_response,
    stream_events,
    tool_content,
)
from langflow_server import LANGFLOW_VERSION, start_langflow  # noqa: E402

PYTHON = sys.executable  # the project's .venv Python runs the clients, as a user's would
CHAT_EXAMPLE = str(ROOT / "chat_example.py")
CHAT_SESSION = str(ROOT / "chat_session.py")
API_KEY = "sk-bench-0123456789"
MESSAGE = "hello"

ONE_SHOT_GOAL = 1.15  # x the minimal requests script, in wall time
INSTRUCTIONS_GOAL = 1.10  # x the minimal requests script, in instructions
TOKENS, TOKEN_GAP = 50, 0.020
THINKING, STEP_EVERY = 0.5, 10  # the agent's silence before its first step; a new step every 10 tokens
DELAY_GOAL_MS = 5.0
TURN_GOAL_MS = 3.0
RSS_GOAL_MB = 60.0
RSS_GROWTH_GOAL_MB = 1.0  # "flat": at most this much more RSS at the last turn than at the first sample
REPLY_BYTES = 5 * 1024 * 1024

BASELINE = "minimal `requests` script"
CLIENT = "`chat_example.py --text`"

# The floor for a requests-based client: the same POST, nothing else.
MINIMAL_REQUESTS = """\
import os, sys, uuid
import requests
url = f"{os.environ['LANGFLOW_URL']}/api/v1/run/{os.environ['LANGFLOW_FLOW_ID']}?stream=false"
body = {"input_value": sys.argv[1], "input_type": "chat", "output_type": "chat", "session_id": str(uuid.uuid4())}
reply = requests.post(url, json=body, headers={"x-api-key": os.environ["LANGFLOW_API_KEY"]}, timeout=300)
reply.raise_for_status()
print(reply.json()["outputs"][0]["outputs"][0]["results"]["message"]["text"])
"""


# The official SDK's documented way to run a flow and print its text.
SDK_RUN = """\
import os, sys
from langflow_sdk import Client
with Client(os.environ["LANGFLOW_URL"], api_key=os.environ["LANGFLOW_API_KEY"]) as client:
    print(client.run(os.environ["LANGFLOW_FLOW_ID"], sys.argv[1]).first_text_output())
"""

# Put on PYTHONPATH as sitecustomize for memory runs: the client's own peak RSS, read at its exit.
# (wait4's ru_maxrss cannot be used: Linux carries the spawning process's peak across exec.)
PEAK_RSS_PROBE = """\
import atexit
import os


def _report_peak_rss():
    with open("/proc/self/status") as status, open(os.environ["BENCH_PEAK_RSS_FILE"], "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM:")))


if os.environ.get("BENCH_PEAK_RSS_FILE"):
    atexit.register(_report_peak_rss)
"""


class BenchError(Exception):
    """A client run failed: stop rather than report the numbers of a broken run."""


@dataclass(frozen=True)
class Plan:
    """How many repetitions: the full run for the README, --quick only to prove it all still works."""

    runs: int  # timed runs of each one-shot and start-up command, after a warm-up
    langflow_runs: int  # the same against the real Langflow
    token_runs: int  # streams of 50 tokens per script
    turns: int  # the conversation
    memory_turns: int  # the long conversation whose RSS must stay flat
    import_runs: int  # -X importtime repetitions
    one_shot_only: bool = False  # --one-shot: the one-shot table alone, against the local server
    instructions: bool = False  # --instructions: count the one-shots' instructions too (needs valgrind)


FULL = Plan(runs=30, langflow_runs=40, token_runs=3, turns=100, memory_turns=500, import_runs=7)
QUICK = Plan(runs=3, langflow_runs=3, token_runs=1, turns=100, memory_turns=500, import_runs=2)


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- Statistics and tables --------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Linear interpolation between the nearest ranks (numpy's default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def spread(values: list[float], digits: int = 1) -> str:
    return f"{percentile(values, 0.1):.{digits}f}-{percentile(values, 0.9):.{digits}f}"


def extent(values: list[float], digits: int = 1) -> str:
    return f"{min(values):.{digits}f}-{max(values):.{digits}f}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "**MISS**"


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", "| " + " | ".join(self.headers) + " |"]
        lines.append("|" + "|".join("---" for _ in self.headers) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join([*lines, "", *self.notes]).rstrip() + "\n"


TIMING = ["Median ms", "p10-p90 ms", "Min-max ms"]


def new_tables() -> dict[str, Table]:
    """One table per measurement of the issue; both servers add rows to the same table."""
    return {
        "one_shot": Table(
            "1. One-shot wall time (`--text`, a new process per question)",
            ["Server", "Command", "Runs", *TIMING, "x baseline (paired p10-p90)", "Goal", "Result"],
            notes=[
                "Runs interleaved, after one warm-up run each; the ratio is of medians, with the per-round ratios' "
                "p10-p90. `curl` and the SDK send no session id; the others a new one per run."
            ],
        ),
        "instructions": Table(
            "1b. One-shot instructions (`--instructions`: valgrind's callgrind, one run each)",
            ["Command", "M instructions", "x baseline", "Goal", "Result"],
            notes=["Counted against the local test server, after a run that wrote the bytecode caches."],
        ),
        "tokens": Table(
            "2. Token display latency (stdout read through a pseudo-terminal)",
            [
                "Server",
                "Client",
                "Tokens shown",
                "Reads with 2+ tokens",
                "Median ms",
                "p99 ms",
                "Max ms",
                "Goal",
                "Result",
            ],
            notes=[
                "Delay = the read of the terminal that completed the token minus the time the server sent it "
                "(same monotonic clock). The local server sends 50 tokens 20 ms apart; Langflow's counter flow "
                "22 tokens 0.1 s apart, their send times taken at a loopback relay in front of it. Stdout and "
                "stderr share the terminal (TERM=xterm-256color), so the waiting line runs until the first "
                "token; the local server's reply comes from an agent that waits 0.5 s, then reports a tool "
                "step before the first token and another every 10 tokens (all shown, dimmed)."
            ],
        ),
        "turns": Table(
            "3. Conversation in one `chat_session.py` process (piped)",
            [
                "Server",
                "Mode",
                "Turns",
                "TCP connections",
                "Client ms/turn median",
                "p10-p90",
                "Min-max",
                "Server ms/turn median",
                "Goal",
                "Result",
            ],
            notes=[
                "Client time per turn = from the server's last byte of one reply to the first byte of the next "
                "request (at the local server's handler; for Langflow at a relay, which adds two loopback hops)."
            ],
        ),
        "memory": Table(
            "4. Peak memory (RSS) of the client process",
            ["Server", "Case", "Peak RSS MB", "RSS MB at turns", "Wall s", "Goal", "Result"],
            notes=[
                "Peak = the client's own VmHWM at exit; RSS at a turn = its VmRSS when that turn's request arrives. "
                "A 5 MB reply is a ~26 MB JSON body, as Langflow repeats the text in five places of /run's response "
                "(sent gzip-compressed, as Langflow 1.13 does); its stream repeats it in two add_message events "
                "(twice in each) and the end event. Langflow's counter flow sends 5 MB when the message says `big`."
            ],
        ),
        "startup": Table(
            "5. Start-up",
            ["Command", "Runs", *TIMING, "x `python -c pass`"],
            notes=[
                "All with the project's .venv Python; its site-packages .pth files run for every command. "
                "`--version` with no server configured; the chat against the local test server, where its start "
                "check is one request (the flow list, for an endpoint name)."
            ],
        ),
        "first_token": Table(
            "7. First reply text: `/api/v1/run` or a background run (`chat_example.py --stream`)",
            ["Server", "Run", "Runs", "First text median ms", "p10-p90 ms", "Whole reply median ms", "p10-p90 ms"],
            notes=[
                "From the process start to the first byte of reply text on stdout (a pipe), and to its exit; "
                "the two ways interleaved, after a warm-up each. A background run (`--background`, and every "
                "flow that pauses for a human) submits the run, then reads its events: one request more, and "
                "a job row on the server; in exchange a dropped connection re-attaches instead of losing the run."
            ],
        ),
        "imports": Table(
            "5b. Import time the client adds (`python -X importtime`, median ms)",
            ["Imported by the client", *IMPORT_COLUMNS],
            notes=[
                "Outermost modules only (each includes what it imports). Plus, not an import: the script itself is "
                "compiled on every run, as Python never caches the bytecode of the file it runs."
            ],
        ),
    }


# --- Running the clients ---------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A server and flow the clients talk to, and the empty folder they run in."""

    server: str
    url: str
    flow: str
    api_key: str
    workdir: Path
    before: tuple[str, str] | None = None  # (a git revision, its chat_example.py), timed beside today's

    def env(self, **extra: str) -> dict[str, str]:
        """A user's shell pointed at the server. Our PYTHON* settings would change what is measured
        (PYTHONDONTWRITEBYTECODE: no bytecode cache; PYTHONUNBUFFERED: flushing); a proxy would
        take the traffic off the loopback."""
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("LANGFLOW_", "PYTHON")) and not name.lower().endswith("_proxy")
        }
        settings = {"LANGFLOW_URL": self.url, "LANGFLOW_FLOW_ID": self.flow, "LANGFLOW_API_KEY": self.api_key}
        return {**env, **settings, "XDG_STATE_HOME": str(self.workdir / "state"), **extra}


def run_checked(argv: list[str], target: Target, stdin: str | None = None, expect: str = "") -> str:
    """Run to the end; a failure or an answer without `expect` stops the benchmark. Returns stderr."""
    done = subprocess.run(
        argv,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        env=target.env(),
        cwd=target.workdir,
        timeout=300,
    )
    if done.returncode != 0 or expect not in done.stdout:
        raise BenchError(f"{' '.join(argv)[:120]} exited {done.returncode}: {done.stderr.strip()[-800:]}")
    return done.stderr


def wall_ms(argv: list[str], target: Target, expect: str) -> float:
    started = time.perf_counter()
    run_checked(argv, target, expect=expect)
    return (time.perf_counter() - started) * 1000


def interleaved(commands: dict[str, list[str]], target: Target, runs: int, expect: str) -> dict[str, list[float]]:
    """Each command `runs` times after a warm-up, in rotating order, so load drifts hit all alike."""
    for argv in commands.values():  # warm-up: page cache, bytecode caches, the server's first run
        wall_ms(argv, target, expect)
    times: dict[str, list[float]] = {name: [] for name in commands}
    names = list(commands)
    for round_number in range(runs):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(wall_ms(commands[name], target, expect))
    return times


def timing_cells(values: list[float]) -> list[str]:
    return [str(len(values)), f"{statistics.median(values):.1f}", spread(values), extent(values)]


# --- The servers' side: the local server, timed, and a relay in front of Langflow -----------------


class BenchFake(FakeLangflow):
    """The tests' local server, plus: each run request's handling span, and a hook when one arrives."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []
        self.arrived = 0
        self.on_arrival: Callable[[int], None] = lambda count: None
        super().__init__(api_key=API_KEY)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake, base = self, super()._handler()

        class TimedHandler(base):
            def parse_request(self) -> bool:
                self.started = time.monotonic()
                return super().parse_request()

            def timed(self) -> None:
                if "/api/v1/run/" not in self.path:  # not a turn: e.g. --no-stream asks the version once
                    base.handle_any(self)
                    return
                fake.arrived += 1
                fake.on_arrival(fake.arrived)
                base.handle_any(self)
                fake.spans.append((self.started, time.monotonic()))

            do_GET = do_POST = timed

        return TimedHandler


class Proxy:
    """A loopback TCP relay in front of a real server: counts connections and timestamps every
    piece it passes on, so the server's sends and the client's turns can be timed from outside."""

    def __init__(self, target_url: str) -> None:
        self.target = ("127.0.0.1", int(target_url.rsplit(":", 1)[1]))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections = 0
        self.log: list[tuple[float, str, bytes]] = []
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            self.connections += 1
            server = socket.create_connection(self.target)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.sockets.append(sock)
            threading.Thread(target=self._pump, args=(client, server, "up"), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, "down"), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, direction: str) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
                self.log.append((time.monotonic(), direction, data))
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def pieces(self, direction: str) -> list[tuple[float, bytes]]:
        return [(at, data) for at, way, data in sorted(self.log, key=lambda entry: entry[0]) if way == direction]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        for sock in [self.listener, *self.sockets]:
            sock.close()


# --- 1. One-shot wall time --------------------------------------------------------------------


def one_shot_commands(target: Target, sdk_python: str | None) -> dict[str, list[str]]:
    body = json.dumps({"input_value": MESSAGE, "input_type": "chat", "output_type": "chat"})
    url = f"{target.url}/api/v1/run/{target.flow}?stream=false"
    headers = ["-H", "Content-Type: application/json", "-H", f"x-api-key: {target.api_key}"]
    commands = {
        BASELINE: [PYTHON, "-c", MINIMAL_REQUESTS, MESSAGE],
        "`curl`": ["curl", "-sS", "--fail", "--noproxy", "*", *headers, "--data-binary", body, url],
    }
    if sdk_python:
        commands["`langflow-sdk` (`Client.run`)"] = [sdk_python, "-c", SDK_RUN, MESSAGE]
    commands[CLIENT] = [PYTHON, CHAT_EXAMPLE, "--text", MESSAGE]
    if target.before is not None:
        commands[f"`chat_example.py --text` at {target.before[0]}"] = [PYTHON, target.before[1], "--text", MESSAGE]
    return commands


def measure_one_shot(table: Table, target: Target, sdk_python: str | None, runs: int) -> None:
    """Wall time of one question, start to exit, against the floor a requests-based client can reach."""
    log(f"one-shot wall time against {target.server}: {runs} interleaved runs each")
    times = interleaved(one_shot_commands(target, sdk_python), target, runs, MESSAGE)
    baseline = times[BASELINE]
    for name, values in times.items():
        ratio = statistics.median(values) / statistics.median(baseline)
        paired = [value / base for value, base in zip(values, baseline, strict=True)]
        goal, result = "", ""
        if name == CLIENT:
            goal, result = f"<= {ONE_SHOT_GOAL:.2f}x", verdict(ratio <= ONE_SHOT_GOAL)
        cells = timing_cells(values)
        table.rows.append([target.server, name, *cells, f"{ratio:.2f} ({spread(paired, 2)})", goal, result])


def measure_instructions(table: Table, target: Target) -> None:
    """Instructions each Python one-shot executes (valgrind's callgrind): the same whatever the
    machine's load, so two revisions compare to the instruction."""
    commands = {name: argv for name, argv in one_shot_commands(target, None).items() if argv[0] == PYTHON}
    counts = {}
    for name, argv in commands.items():
        log(f"instructions of {name}")
        wall_ms(argv, target, MESSAGE)  # bytecode caches written
        stderr = run_checked(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv], target)
        counts[name] = int(re.search(r"Collected : (\d+)", stderr)[1])
    for name, count in counts.items():
        ratio = count / counts[BASELINE]
        goal = f"<= {INSTRUCTIONS_GOAL:.2f}x" if name == CLIENT else ""
        result = verdict(ratio <= INSTRUCTIONS_GOAL) if name == CLIENT else ""
        table.rows.append([name, f"{count / 1e6:.1f}", f"{ratio:.3f}", goal, result])


# --- 2. Token display latency -----------------------------------------------------------------


class Terminal:
    """A client in a pseudo-terminal, as a user runs it; every read of its output is timestamped."""

    def __init__(self, argv: list[str], target: Target) -> None:
        master, slave = pty.openpty()
        self.process = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=target.env(TERM=os.environ.get("TERM") or "xterm-256color"),
            cwd=target.workdir,
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self.reads: list[tuple[float, bytes]] = []
        self.output = b""

    def read_until(self, done: Callable[[bytes], bool] | None = None, timeout: float = 60.0) -> None:
        """Read until done(output) holds, or to the end of the output when done is None."""
        deadline = time.monotonic() + timeout
        while done is None or not done(self.output):
            ready, _, _ = select.select([self.master], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise BenchError(f"timed out waiting for the client; it showed: {self.output[-300:]!r}")
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the client closed the terminal
                data = b""
            if not data:
                if done is None:
                    return
                raise BenchError(f"the client ended early; it showed: {self.output[-300:]!r}")
            self.reads.append((time.monotonic(), data))
            self.output += data

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        os.close(self.master)
        if self.process.wait(timeout=30) != 0:
            raise BenchError(f"the client exited {self.process.returncode}: {self.output[-300:]!r}")


def example_reads(target: Target, message: str) -> tuple[list[tuple[float, bytes]], bytes]:
    """`chat_example.py --stream` at a terminal: its reads, and where the reply starts."""
    terminal = Terminal([PYTHON, CHAT_EXAMPLE, "--stream", message], target)
    terminal.read_until()
    terminal.close()
    return terminal.reads, b""


def session_reads(target: Target, message: str) -> tuple[list[tuple[float, bytes]], bytes]:
    """`chat_session.py` at a terminal: type one message at the prompt, then Ctrl-D."""
    terminal = Terminal([PYTHON, CHAT_SESSION], target)
    terminal.read_until(lambda output: b"User:" in output)
    terminal.write(message.encode() + b"\r")
    terminal.read_until(lambda output: output.count(b"User:") >= 2)
    terminal.write(b"\x04")
    terminal.read_until()
    terminal.close()
    return terminal.reads, b"AI:"  # after the terminal's echo of the typed message (the label may be coloured)


def timeline(pieces: list[tuple[float, bytes]]) -> tuple[bytes, list[int], list[float]]:
    """The pieces joined, the offset where each ends, and when each was seen."""
    data = b"".join(piece for _, piece in pieces)
    return data, list(itertools.accumulate(len(piece) for _, piece in pieces)), [at for at, _ in pieces]


def sent_tokens(pieces: list[tuple[float, bytes]]) -> list[tuple[str, float]]:
    """Each token event's text, and when the piece that completed its line left the server."""
    data, ends, times = timeline(pieces)
    tokens, offset = [], 0
    for line in data.split(b"\n"):
        offset += len(line) + 1
        try:
            event = json.loads(line)
        except ValueError:  # blank lines, chunk-size lines
            continue
        if isinstance(event, dict) and event.get("event") == "token":
            index = min(bisect.bisect_right(ends, offset - 2), len(times) - 1)
            tokens.append((event["data"]["chunk"], times[index]))
    return tokens


@dataclass
class Latency:
    delays_ms: list[float] = field(default_factory=list)
    expected: int = 0
    batched_reads: int = 0

    def add(self, sent: list[tuple[str, float]], reads: list[tuple[float, bytes]], after: bytes) -> None:
        """Match each sent token to the read that completed it on screen; a read with two is batching."""
        output, ends, times = timeline(reads)
        position = output.find(after) + len(after) if after else 0
        carriers = []
        for text, sent_at in sent:
            found = output.find(text.encode(), position)
            if found < 0:
                continue
            position = found + len(text.encode())
            index = bisect.bisect_right(ends, position - 1)
            self.delays_ms.append((times[index] - sent_at) * 1000)
            carriers.append(index)
        self.expected += len(sent)
        self.batched_reads += sum(1 for count in Counter(carriers).values() if count > 1)

    def row(self, server: str, client: str) -> list[str]:
        if not self.delays_ms:
            raise BenchError(f"{client} showed none of the tokens")
        p99 = percentile(self.delays_ms, 0.99)
        ok = len(self.delays_ms) == self.expected and self.batched_reads == 0 and p99 < DELAY_GOAL_MS
        return [
            server,
            client,
            f"{len(self.delays_ms)}/{self.expected}",
            str(self.batched_reads),
            f"{statistics.median(self.delays_ms):.2f}",
            f"{p99:.2f}",
            f"{max(self.delays_ms):.2f}",
            f"none batched, p99 < {DELAY_GOAL_MS:g} ms",
            verdict(ok),
        ]


TERMINAL_CLIENTS = {"`chat_example.py --stream`": example_reads, "`chat_session.py` at a terminal": session_reads}


def token_reply(count: int, gap: float) -> Reply:
    """Langflow 1.13's stream of a reply of `count` unique tokens (t00, t01, ...), tokens `gap` s apart,
    from an agent: it thinks for THINKING s (the client's waiting line runs), calls a tool (a step is
    shown), and every STEP_EVERY tokens reports one more tool call and result (steps held to the
    end of the reply's line), so the waiting line and the steps are on while tokens are timed."""
    session_id, tokens = str(uuid.uuid4()), [f"t{index:02d} " for index in range(count)]
    events = stream_events(session_id, "go", "".join(tokens), tokens)
    ai_id = events[1]["data"]["id"]
    chunks: list[tuple[float, bytes]] = []
    tools: list[dict] = []
    for event in events:
        if event["event"] == "token":
            if len(chunks) == 2 or int(event["data"]["chunk"][1:3]) % STEP_EVERY == 0:
                tools.append(tool_content("lookup", {"page": len(tools)}, output=f"page {len(tools)} found"))
                steps = agent_message(session_id, ai_id, list(tools))
                chunks.append((THINKING if len(tools) == 1 else 0.0, event_line(steps)))
            chunks.append((gap, event_line(event)))
        else:
            chunks.append((0.0, event_line(event)))
    return Reply(content_type="text/event-stream; charset=utf-8", chunks=chunks)


def measure_tokens_fake(table: Table, fake: BenchFake, target: Target, runs: int) -> None:
    """50 tokens 20 ms apart from the local server, which logs the time it sent each one."""
    for client, reads_of in TERMINAL_CLIENTS.items():
        log(f"token latency of {client} against {target.server}: {runs} x {TOKENS} tokens")
        latency = Latency()
        for _ in range(runs):
            fake.sent.clear()
            fake.script("/api/v1/run/", token_reply(TOKENS, TOKEN_GAP))
            reads, after = reads_of(target, "go")
            latency.add(sent_tokens(fake.sent), reads, after)
        table.rows.append(latency.row(target.server, client))


def measure_tokens_langflow(table: Table, target: Target, runs: int) -> None:
    """The counter flow streams `turn 1: <message>` a word every 0.1 s; a relay logs when each left."""
    message = " ".join(f"w{index:02d}" for index in range(20))
    for client, reads_of in TERMINAL_CLIENTS.items():
        log(f"token latency of {client} against {target.server}: {runs} streams")
        latency = Latency()
        for _ in range(runs):
            with contextlib.closing(Proxy(target.url)) as proxy:
                reads, after = reads_of(replace(target, url=proxy.url), message)
                latency.add(sent_tokens(proxy.pieces("down")), reads, after)
        table.rows.append(latency.row(target.server, client))


# --- 7. First reply text: the v1 run, or a background run ---------------------------------------


def first_text_ms(argv: list[str], target: Target) -> tuple[float, float]:
    """ms from the start of the process to its first byte on stdout, and to its end."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=target.env(), cwd=target.workdir
    )
    first = process.stdout.read(1)
    first_at = time.perf_counter()
    _, errors = process.communicate(timeout=300)
    if process.returncode != 0 or not first:
        raise BenchError(f"{' '.join(argv)[:120]} exited {process.returncode}: {errors.decode()[-800:]}")
    return (first_at - started) * 1000, (time.perf_counter() - started) * 1000


def measure_first_token(table: Table, target: Target, runs: int) -> None:
    ways = {"`/api/v1/run`": [], "background (`--background`)": ["--background"]}
    log(f"first reply text against {target.server}: {runs} runs each way")
    timings: dict[str, list[tuple[float, float]]] = {way: [] for way in ways}
    for flags in ways.values():  # warm-up
        first_text_ms([PYTHON, CHAT_EXAMPLE, "--stream", *flags, MESSAGE], target)
    names = list(ways)
    for round_number in range(runs):
        shift = round_number % len(names)
        for way in names[shift:] + names[:shift]:
            timings[way].append(first_text_ms([PYTHON, CHAT_EXAMPLE, "--stream", *ways[way], MESSAGE], target))
    for way, pairs in timings.items():
        first, whole = [pair[0] for pair in pairs], [pair[1] for pair in pairs]
        table.rows.append(
            [
                target.server,
                way,
                str(len(pairs)),
                f"{statistics.median(first):.0f}",
                spread(first, 0),
                f"{statistics.median(whole):.0f}",
                spread(whole, 0),
            ]
        )


# --- 3. A conversation in one process ---------------------------------------------------------


def relay_turns(log: list[tuple[float, str, bytes]]) -> tuple[list[float], list[float]]:
    """Per turn, from the relay: the client's gaps (last reply byte -> next request) and the
    server's spans (request passed on -> last reply byte), in ms."""
    gaps, spans = [], []
    request_at = reply_at = None
    log = sorted(log, key=lambda entry: entry[0])
    runs = [i for i, (_, direction, piece) in enumerate(log) if direction == "up" and piece.startswith(b"POST ")]
    for at, direction, _ in log[runs[0] if runs else 0 :]:  # not --no-stream's GET /api/v1/version before
        if direction == "down":
            reply_at = at
        elif request_at is None:
            request_at = at
        elif reply_at is not None and reply_at > request_at:  # the first piece of the next request
            spans.append((reply_at - request_at) * 1000)
            gaps.append((at - reply_at) * 1000)
            request_at = at
    if request_at is not None and reply_at is not None and reply_at > request_at:
        spans.append((reply_at - request_at) * 1000)
    return gaps, spans


def fake_turns(spans: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
    """Per turn, at the local server: the client's gaps between handled requests, and the handling times."""
    gaps = [(after[0] - before[1]) * 1000 for before, after in itertools.pairwise(spans)]
    return gaps, [(end - start) * 1000 for start, end in spans]


def messages(turns: int) -> str:
    return "".join(f"message {number}\n" for number in range(turns))


def converse(target: Target, turns: int, *options: str) -> None:
    """One `chat_session.py` process, one message per stdin line; every turn must get its reply."""
    run_checked([PYTHON, CHAT_SESSION, *options], target, stdin=messages(turns), expect=f"AI: message {turns - 1}\n")


def turns_row(target: Target, mode: str, connections: int, gaps: list[float], spans: list[float]) -> list[str]:
    median = statistics.median(gaps)
    ok = connections == 1 and median < TURN_GOAL_MS
    return [
        target.server,
        mode,
        str(len(spans)),
        str(connections),
        f"{median:.2f}",
        spread(gaps, 2),
        extent(gaps, 2),
        f"{statistics.median(spans):.2f}",
        f"1 connection, median < {TURN_GOAL_MS:g} ms",
        verdict(ok),
    ]


SESSION_MODES = {"streaming (default)": (), "`--no-stream`": ("--no-stream",)}


def measure_turns_fake(table: Table, fake: BenchFake, target: Target, turns: int) -> None:
    for mode, options in SESSION_MODES.items():
        log(f"{turns}-turn conversation against {target.server}, {mode}")
        fake.spans.clear()
        connections_before = fake.connections
        converse(target, turns, *options)
        gaps, spans = fake_turns(fake.spans)
        table.rows.append(turns_row(target, mode, fake.connections - connections_before, gaps, spans))


def measure_turns_langflow(table: Table, target: Target, turns: int) -> None:
    for mode, options in SESSION_MODES.items():
        log(f"{turns}-turn conversation against {target.server}, {mode}")
        with contextlib.closing(Proxy(target.url)) as proxy:
            converse(replace(target, url=proxy.url), turns, *options)
            gaps, spans = relay_turns(proxy.log)
            table.rows.append(turns_row(target, mode, proxy.connections, gaps, spans))


# --- 4. Peak memory ---------------------------------------------------------------------------


def vm_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


@dataclass
class MemoryRun:
    peak_mb: float
    seconds: float
    output: bytes


def run_for_memory(
    argv: list[str], target: Target, stdin: str | None = None, started: Callable[[int], None] = lambda pid: None
) -> MemoryRun:
    """Run with the peak-RSS probe; `started(pid)` is called as soon as the process exists."""
    probe = target.workdir / "probe"
    probe.mkdir(exist_ok=True)
    (probe / "sitecustomize.py").write_text(PEAK_RSS_PROBE)
    report = target.workdir / "peak-rss"
    report.unlink(missing_ok=True)
    env = target.env(PYTHONPATH=str(probe), BENCH_PEAK_RSS_FILE=str(report))
    with tempfile.TemporaryFile() as out:
        began = time.perf_counter()
        process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.PIPE,
            env=env,
            cwd=target.workdir,
        )
        started(process.pid)
        _, errors = process.communicate(stdin.encode() if stdin is not None else None, timeout=300)
        seconds = time.perf_counter() - began
        out.seek(0)
        output = out.read()
    if process.returncode != 0 or not report.exists():
        raise BenchError(f"{' '.join(argv)[:120]} exited {process.returncode}: {errors.decode()[-800:]}")
    return MemoryRun(int(report.read_text().split()[1]) / 1024, seconds, output)


def big_text(size: int) -> str:
    return ("lorem ipsum dolor sit amet " * (size // 27 + 1))[:size]


def measure_big_reply(table: Table, fake: BenchFake, target: Target) -> None:
    """A 5 MB reply: whole (`--text` and JSON; Langflow's JSON repeats the text in five places) and streamed
    (1 KB tokens, then the whole text again in add_message and end events, as Langflow sends it)."""
    text = big_text(REPLY_BYTES)
    tokens = [text[start : start + 1024] for start in range(0, len(text), 1024)]
    whole = gzip.compress(json.dumps(run_response("s", [text], "go")).encode())  # Langflow gzips /run's JSON
    cases = {
        "5 MB reply, `chat_example.py --text`": (["--text"], Reply(body=whole, headers={"Content-Encoding": "gzip"})),
        "5 MB reply, `chat_example.py` (JSON)": ([], Reply(body=whole, headers={"Content-Encoding": "gzip"})),
        "5 MB reply, `chat_example.py --stream`": (["--stream"], event_stream(stream_events("s", "go", text, tokens))),
    }
    for case, (options, reply) in cases.items():
        fake.script("/api/v1/run/", reply)
        measure_one_big_reply(table, target, case, [*options, "go"], text)


def measure_big_reply_langflow(table: Table, counter: Target) -> None:
    """The counter flow adds 5 MB to its reply when the message says "big" (1 KB tokens when streaming)."""
    text = big_text(REPLY_BYTES)
    for case, options in {
        "5 MB reply, `chat_example.py --text`": ["--text"],
        "5 MB reply, `chat_example.py` (JSON)": [],
        "5 MB reply, `chat_example.py --stream`": ["--stream"],
    }.items():
        measure_one_big_reply(table, counter, case, [*options, "big"], text)


def measure_one_big_reply(table: Table, target: Target, case: str, arguments: list[str], text: str) -> None:
    log(f"peak RSS against {target.server}: {case}")
    run = run_for_memory([PYTHON, CHAT_EXAMPLE, *arguments], target)
    if text not in run.output.decode():
        raise BenchError(f"{case}: the reply was not printed whole")
    ok = run.peak_mb < RSS_GOAL_MB
    goal = f"< {RSS_GOAL_MB:g} MB"
    table.rows.append([target.server, case, f"{run.peak_mb:.1f}", "", f"{run.seconds:.2f}", goal, verdict(ok)])


def measure_long_conversation(table: Table, fake: BenchFake, target: Target, turns: int) -> None:
    """RSS of one `chat_session.py` at a tenth, half and all of `turns`: it must not grow per turn."""
    log(f"RSS across a {turns}-turn conversation")
    points = (turns // 10, turns // 2, turns)
    pid: list[int] = []
    samples: dict[int, float] = {}
    first = fake.arrived

    def sample(count: int) -> None:
        if count - first in points:
            samples[count - first] = vm_rss_mb(pid[0])

    fake.on_arrival = sample
    try:
        run = run_for_memory([PYTHON, CHAT_SESSION], target, messages(turns), pid.append)
    finally:
        fake.on_arrival = lambda count: None
    if run.output.count(b"\nAI: ") != turns or len(samples) != len(points):
        raise BenchError(f"the {turns}-turn conversation did not complete")
    growth = samples[turns] - samples[points[0]]
    ok = run.peak_mb < RSS_GOAL_MB and growth <= RSS_GROWTH_GOAL_MB
    at_turns = " / ".join(f"{samples[point]:.1f} ({point})" for point in points)
    goal = f"< {RSS_GOAL_MB:g} MB, growth <= {RSS_GROWTH_GOAL_MB:g} MB"
    case = f"{turns} turns, `chat_session.py` piped (streaming)"
    table.rows.append([target.server, case, f"{run.peak_mb:.1f}", at_turns, f"{run.seconds:.2f}", goal, verdict(ok)])


# --- 5. Start-up and import time --------------------------------------------------------------


def without_server(target: Target) -> Target:
    """--version asks a configured server for its version: start-up is measured with none set."""
    return replace(target, url="")


def measure_startup(table: Table, server_target: Target, runs: int) -> None:
    log(f"start-up: {runs} interleaved runs each")
    target = without_server(server_target)
    commands = {
        "`python -c pass`": [PYTHON, "-c", "pass"],
        '`python -c "import requests"`': [PYTHON, "-c", "import requests"],
        "`chat_example.py --version`": [PYTHON, CHAT_EXAMPLE, "--version"],
        "`chat_session.py --version`": [PYTHON, CHAT_SESSION, "--version"],
    }
    times = interleaved(commands, target, runs, expect="")
    chat = {"`chat_session.py < /dev/null` (settings, the start check, exit)": [PYTHON, CHAT_SESSION]}
    times.update(interleaved(chat, server_target, runs, expect=""))
    floor = statistics.median(times["`python -c pass`"])
    for name, values in times.items():
        table.rows.append([name, *timing_cells(values), f"{statistics.median(values) / floor:.2f}"])


def import_tree(stderr: str) -> dict[str, tuple[float, str | None]]:
    """module -> (cumulative ms, the module whose import imported it). -X importtime prints a
    module after the modules it imports, indented two spaces deeper."""
    entries = []
    for line in stderr.splitlines():
        if line.startswith("import time:") and "cumulative" not in line:
            _, cumulative, name = line.split("|")
            entries.append(((len(name) - len(name.lstrip()) - 1) // 2, name.strip(), int(cumulative) / 1000))
    tree: dict[str, tuple[float, str | None]] = {}
    latest_at_level: dict[int, str] = {}
    for level, name, cumulative in reversed(entries):
        latest_at_level[level] = name
        tree[name] = (cumulative, latest_at_level.get(level - 1) if level else None)
    return tree


def added_imports(argv: list[str], baseline: list[str], target: Target, runs: int, expect: str) -> dict[str, float]:
    """Median cumulative ms of the outermost modules `argv` imports that `baseline` does not."""
    profile = [PYTHON, "-X", "importtime"]
    samples: dict[str, list[float]] = {}
    target = without_server(target) if "--version" in argv else target
    for _ in range(runs):
        client = import_tree(run_checked([*profile, *argv], target, expect=expect))
        base = import_tree(run_checked([*profile, *baseline], target))
        added = set(client) - set(base)
        for name in added:
            cumulative, parent = client[name]
            if parent not in added:
                samples.setdefault(name, []).append(cumulative)
    return {name: statistics.median(values) for name, values in samples.items()}


def script_compile_ms(path: str, runs: int) -> float:
    source = Path(path).read_text(encoding="utf-8")
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        compile(source, path, "exec")
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


IMPORT_COLUMNS = {  # what runs, and the baseline whose imports are not counted
    "`--version`, beyond `python -c pass`": (["--version"], ["-c", "pass"]),
    "`--text`, beyond `import requests`": (["--text", MESSAGE], ["-c", "import requests"]),
    "`--text`, beyond the minimal script": (["--text", MESSAGE], ["-c", MINIMAL_REQUESTS, MESSAGE]),
}


def measure_imports(table: Table, target: Target, runs: int, shown: int = 10) -> None:
    """What the client's imports cost beyond the interpreter, beyond requests, and beyond the floor
    of the one-shot comparison (the minimal script also imports uuid, and requests imports netrc
    when it sends)."""
    log(f"import-time breakdown: {runs} runs each")
    columns = [
        added_imports([CHAT_EXAMPLE, *options], baseline, target, runs, MESSAGE if "--text" in options else "")
        for options, baseline in IMPORT_COLUMNS.values()
    ]
    names = sorted(set().union(*columns), key=lambda name: -max(column.get(name, 0) for column in columns))
    for name in names[:shown]:
        table.rows.append([f"`{name}`", *(f"{column[name]:.1f}" if name in column else "-" for column in columns)])
    rest = names[shown:]
    table.rows.append([f"{len(rest)} more", *(f"{sum(column.get(n, 0) for n in rest):.1f}" for column in columns)])
    table.rows.append(["**all imports the client adds**", *(f"{sum(column.values()):.1f}" for column in columns)])
    compiling = f"{script_compile_ms(CHAT_EXAMPLE, runs):.1f}"
    table.rows.append(["compiling `chat_example.py` (every run)", *[compiling] * len(columns)])


# --- The runs ---------------------------------------------------------------------------------


def fake_server_phase(
    tables: dict[str, Table], workdir: Path, plan: Plan, sdk_python: str | None, before: tuple[str, str] | None
) -> None:
    """Everything against the tests' local server (in this process), before Langflow loads the machine."""
    with contextlib.closing(BenchFake()) as fake:
        target = Target("local test server", fake.url, "echo", API_KEY, workdir, before)
        if plan.instructions:
            measure_instructions(tables["instructions"], target)
        if plan.one_shot_only:
            measure_one_shot(tables["one_shot"], target, sdk_python, plan.runs)
            return
        measure_startup(tables["startup"], target, plan.runs)
        measure_imports(tables["imports"], target, plan.import_runs)
        measure_one_shot(tables["one_shot"], target, sdk_python, plan.runs)
        measure_tokens_fake(tables["tokens"], fake, target, plan.token_runs)
        measure_first_token(tables["first_token"], target, plan.runs)
        measure_turns_fake(tables["turns"], fake, target, plan.turns)
        measure_big_reply(tables["memory"], fake, target)
        measure_long_conversation(tables["memory"], fake, target, plan.memory_turns)


def langflow_phase(tables: dict[str, Table], workdir: Path, plan: Plan, sdk_python: str | None) -> None:
    """The real thing: Langflow 1.13's echo flow, and its streaming counter flow (a word every 0.1 s)."""
    server = start_langflow(workdir / "langflow")
    try:
        echo = Target(f"Langflow {LANGFLOW_VERSION} echo", server.url, server.echo_endpoint, server.api_key, workdir)
        counter = replace(echo, server=f"Langflow {LANGFLOW_VERSION} counter", flow=server.counter_endpoint)
        measure_one_shot(tables["one_shot"], echo, sdk_python, plan.langflow_runs)
        measure_tokens_langflow(tables["tokens"], counter, plan.token_runs)
        measure_first_token(tables["first_token"], counter, plan.langflow_runs)
        measure_turns_langflow(tables["turns"], echo, plan.turns)
        measure_big_reply_langflow(tables["memory"], counter)
    finally:
        server.stop()


def machine_line(langflow: str, sdk_python: str | None) -> str:
    with open("/proc/cpuinfo") as cpuinfo:
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "unknown")
    memory_gb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    sdk = "not run"
    if sdk_python:
        sdk = subprocess.run(
            [sdk_python, "-c", "from importlib.metadata import version; print(version('langflow-sdk'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    return (
        f"Machine: {cpu}, {os.cpu_count()} cores, {memory_gb:.1f} GiB RAM, Linux {platform.release()}; "
        f"Python {platform.python_version()}, "
        f"requests {version('requests')}, Langflow {langflow}, langflow-sdk {sdk}; "
        f"load average {os.getloadavg()[0]:.2f} at start; {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
    )


def git_show(revision: str, path: str) -> str:
    return subprocess.run(
        ["git", "show", f"{revision}:{path}"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few runs against the local server only")
    parser.add_argument("--no-langflow", action="store_true", help="skip the real Langflow (no 35 s start)")
    parser.add_argument("--sdk-python", help="Python of an environment with langflow-sdk (tests/bench makes one)")
    parser.add_argument("--one-shot", action="store_true", help="only the one-shot table, against the local server")
    parser.add_argument(
        "--before", metavar="REV", help="also time chat_example.py --text as it was at this git revision"
    )
    parser.add_argument(
        "--instructions", action="store_true", help="also count each one-shot's instructions (needs valgrind)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = replace(QUICK if args.quick else FULL, one_shot_only=args.one_shot, instructions=args.instructions)
    with_langflow = not (args.quick or args.no_langflow or args.one_shot)
    # abspath, not resolve(): a virtual environment's python is a symlink that must stay one
    sdk_python = os.path.abspath(args.sdk_python) if args.sdk_python and not args.quick else None
    began = time.monotonic()
    header = machine_line(LANGFLOW_VERSION if with_langflow else "not started", sdk_python)
    tables = new_tables()
    try:
        with tempfile.TemporaryDirectory(prefix="langflow-bench-") as temp:
            before = None
            if args.before:
                old = Path(temp) / "before" / "chat_example.py"
                old.parent.mkdir()
                old.write_text(git_show(args.before, "chat_example.py"), encoding="utf-8")
                before = (args.before, str(old))
            fake_server_phase(tables, Path(temp), plan, sdk_python, before)
            if with_langflow:
                langflow_phase(tables, Path(temp), plan, sdk_python)
    except BenchError as error:
        log(f"failed: {error}")
        return 1
    command = "bash tests/bench" + " --quick" * args.quick + " --no-langflow" * args.no_langflow
    command += " --one-shot" * args.one_shot + (f" --before {args.before}" if args.before else "")
    command += " --instructions" * args.instructions
    print(f"{header}\n\nCommand: `{command}` ({'quick' if args.quick else 'full'} run)\n")
    print("\n".join(table.markdown() for table in tables.values() if table.rows))
    print(f"Took {time.monotonic() - began:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
