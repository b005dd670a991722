"""The compatibility matrix: what each Langflow release does, from the end-to-end runs.

Each end-to-end run (`LANGFLOW_TEST_RELEASE=X bash tests/run -m e2e`) writes every test's
outcome, by feature, to .e2e-results/langflow-X.json (see conftest.py). This script reads
those files and prints the README's Markdown table:

    .venv/bin/python tests/compat_matrix.py [.e2e-results]

"e2e time" is the sum of the tests' own durations; "run time" the whole pytest run, from start
to end (installing the release on first use, starting the server, every test).
A cell is "yes" when every test of that feature passed on that release, "no" (with the reason)
when the release cannot have it (its tests are strict xfails: they ran and failed as declared),
"partly" when some of them are, and "FAILED" when a test failed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

FEATURES = [
    "text",
    "JSON",
    "stream",
    "NDJSON",
    "files",
    "sessions",
    "history",
    "errors",
    "auth",
    "flows",
    "version",
    "variables",
    "human input",
]
# where the runs write their outcomes: $LANGFLOW_E2E_RESULTS (tests/matrix sets its own), else .e2e-results
RESULTS = Path(os.environ.get("LANGFLOW_E2E_RESULTS") or Path(__file__).resolve().parent.parent / ".e2e-results")


# --- recording (called from conftest.py) ------------------------------------------------------


def outcome(report) -> str:
    """passed, failed, xfailed (failed as declared), error (setup/teardown) or skipped."""
    if hasattr(report, "wasxfail"):
        if report.when == "setup":  # the server did not start: that proves nothing about the test
            return "error"
        return "xfailed" if report.skipped else "failed"  # a strict XPASS is reported as failed
    if report.when != "call" and report.failed:
        return "error"
    return report.outcome


class Recorder:
    """Collects the e2e tests' outcomes by feature and writes them for one release."""

    def __init__(self) -> None:
        self.tests: dict[str, dict] = {}
        self.seconds = 0.0
        self.timings: dict[str, float] = {}
        self.started = time.monotonic()  # made when conftest is imported: the run's start

    def add(self, nodeid: str, feature: str, report) -> None:
        """One phase (setup, call, teardown) of a test: its first phase not passed decides."""
        self.seconds += report.duration
        entry = self.tests.setdefault(nodeid, {"feature": feature, "outcome": "passed", "reason": ""})
        result = outcome(report)
        if entry["outcome"] == "passed" and result != "passed":
            entry["outcome"], entry["reason"] = result, getattr(report, "wasxfail", "")

    def not_applicable(self, nodeid: str, feature: str, reason: str) -> None:
        """A test of a behaviour this release does not have: not run, kept with its reason."""
        self.tests[nodeid] = {"feature": feature, "outcome": "n/a", "reason": reason}

    def write(self, release: str, folder: Path = RESULTS) -> Path | None:
        if all(test["outcome"] == "n/a" for test in self.tests.values()):
            return None  # nothing ran (collection only, or no end-to-end test selected)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"langflow-{release}.json"
        data = {
            "release": release,
            "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "commit": _commit(),
            "python": sys.version.split()[0],
            "e2e_seconds": round(self.seconds, 1),
            "wall_seconds": round(time.monotonic() - self.started, 1),
            "timings": self.timings,
            "tests": self.tests,
        }
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        return path


def _commit() -> str:
    try:
        found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return found.stdout.strip()


# --- the table --------------------------------------------------------------------------------


def cell(tests: list[dict], notes: list[str]) -> str:
    """One feature on one release; reasons go to numbered notes shared by the whole table."""
    if not tests:
        return "not run"
    tests = [test for test in tests if test["outcome"] != "n/a"]
    outcomes = {test["outcome"] for test in tests}
    if not tests:
        return "n/a"
    if outcomes - {"passed", "xfailed"}:
        failed = sum(test["outcome"] in ("failed", "error") for test in tests)
        return f"FAILED ({failed} of {len(tests)})"
    if outcomes == {"passed"}:
        return "yes"
    marks = []
    for test in tests:
        if test["outcome"] == "xfailed":
            reason = re.sub(r"^Langflow [\w.]+ ", "", test["reason"])
            if reason not in notes:
                notes.append(reason)
            marks.append(str(notes.index(reason) + 1))
    word = "no" if outcomes == {"xfailed"} else "partly"
    return f"{word} ({', '.join(sorted(set(marks), key=int))})"


def table(runs: list[dict]) -> str:
    """Markdown: one row per release (oldest first), one column per feature, then the notes."""
    runs = sorted(runs, key=lambda run: tuple(int(p) for p in run["release"].split(".") if p.isdigit()))
    notes: list[str] = []
    lines = [
        "| Langflow | " + " | ".join(FEATURES) + " | tests | e2e time | run time |",
        "|---" * (len(FEATURES) + 4) + "|",
    ]
    for run in runs:
        by_feature = {feature: [] for feature in FEATURES}
        for test in run["tests"].values():
            by_feature.setdefault(test["feature"], []).append(test)
        cells = [cell(by_feature[feature], notes) for feature in FEATURES]
        ran = [test for test in run["tests"].values() if test["outcome"] != "n/a"]
        passed = sum(test["outcome"] == "passed" for test in ran)
        xfailed = sum(test["outcome"] == "xfailed" for test in ran)
        failed = len(ran) - passed - xfailed
        counts = f"{passed} passed, {xfailed} xfailed" + (f", {failed} FAILED" if failed else "") + f" of {len(ran)}"
        wall = f"{run['wall_seconds']:.0f} s" if "wall_seconds" in run else "?"
        times = f"{run['e2e_seconds']:.0f} s | {wall}"
        lines.append(f"| {run['release']} | " + " | ".join(cells) + f" | {counts} | {times} |")
    lines.append("")
    lines += [f"{number}. {note}" for number, note in enumerate(notes, 1)]
    runs_line = ", ".join(f"{run['release']} {run['finished']} (commit {run['commit']})" for run in runs)
    lines += ["", f"Runs: {runs_line}."]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else RESULTS
    runs = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("langflow-*.json"))]
    if not runs:
        print(f"no results in {folder}: run the end-to-end tests first", file=sys.stderr)
        return 1
    print(table(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
