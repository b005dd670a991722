"""The benchmark still works: `tests/bench.py --quick` runs against the local server and prints its tables.

Only that it runs and reports every measurement is checked here; the numbers depend on the
machine and are for people (README, Performance), not for pass/fail.
"""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import ROOT, TESTS

EXPECTED_ROWS = [
    r"\| local test server \| minimal `requests` script \|",
    r"\| local test server \| `curl` \|",
    r"\| local test server \| `chat_example.py --text` \|",
    r"\| local test server \| `chat_example.py --stream` \| 50/50 \|",
    r"\| local test server \| `chat_session.py` at a terminal \| 50/50 \|",
    r"\| local test server \| `/api/v1/run` \| 3 \|",
    r"\| local test server \| background \(`--background`\) \| 3 \|",
    r"\| local test server \| streaming \(default\) \| 100 \| 1 \|",
    r"\| local test server \| `--no-stream` \| 100 \| 1 \|",
    r"\| local test server \| 5 MB reply, `chat_example.py --text` \|",
    r"\| local test server \| 5 MB reply, `chat_example.py` \(JSON\) \|",
    r"\| local test server \| 5 MB reply, `chat_example.py --stream` \|",
    r"\| local test server \| 500 turns, `chat_session.py` piped \(streaming\) \|",
    r"\| `python -c pass` \|",
    r"\| `chat_example.py --version` \|",
    r"\| \*\*all imports the client adds\*\* \|",
]
GOAL_ROWS = 9  # one-shot 1, token latency 2, conversation 2, memory 4


def test_quick_benchmark_prints_every_measurement() -> None:
    done = subprocess.run(
        [sys.executable, str(TESTS / "bench.py"), "--quick"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("Machine: ")
    for row in EXPECTED_ROWS:
        assert re.search(row, done.stdout), f"missing row {row!r} in:\n{done.stdout}"
    verdicts = re.findall(r"\| (?:PASS|\*\*MISS\*\*) \|$", done.stdout, flags=re.MULTILINE)
    assert len(verdicts) == GOAL_ROWS, "every goal row must say PASS or MISS"
    assert "Langflow not started" in done.stdout and "`langflow-sdk`" not in done.stdout, "quick: local server only"
