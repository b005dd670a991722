"""The rules behind test_hostile_server.py, in-process: a URL's password, invalid URLs, numbers a
float cannot hold in --tweaks, what --file and a settings file may be, redaction of short secrets,
stored messages of any shape, and a background run's reader stopped when the run is read (issue 24).
"""

from __future__ import annotations

import gc
import io
import os
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import API_KEY
from fake_langflow import Reply, message_event, sse_frame
from hypothesis import given, settings
from hypothesis import strategies as st

import chat_session as core

# --- a password in the URL ------------------------------------------------------------------------


def config(url: str, **more: object) -> core.Config:
    return core.Config(url=url, flow="echo", api_key=API_KEY, timeout=10, retries=0, **more)


def test_the_shown_url_hides_the_password_and_the_secrets_hold_it():
    url = config("http://user:p%40ss-word@127.0.0.1:7860/prefix")
    assert url.shown_url == "http://user:[redacted]@127.0.0.1:7860/prefix"
    assert {"p%40ss-word", "p@ss-word"} <= set(url.secrets)
    assert config("http://127.0.0.1:7860").shown_url == "http://127.0.0.1:7860"


def test_the_client_sends_the_password_as_basic_auth_and_never_in_a_url():
    assert core.base_and_auth("http://user:pw@host:1/p") == ("http://host:1/p", ("user", "pw"))
    assert core.base_and_auth("http://user@host") == ("http://host", ("user", ""))
    assert core.base_and_auth("http://host/a:b@c") == ("http://host/a:b@c", None)


def test_a_password_is_hidden_even_in_a_url_that_cannot_be_read():
    assert core.without_password("ftp://u:secret@h") == "ftp://u:[redacted]@h"
    assert core.without_password("http://u:pw@[::1") == "http://u:[redacted]@[::1"


# --- invalid URLs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1",
        "http://a..b",
        "http://.a",
        "http://" + "a" * 254,
        "http://" + "a" * 64 + ".b",
        "http://127.0.0.1:99999",
        "http://127.0.0.1:abc",
        "http://127.0.0.1:0",
        "http://:7860",
    ],
)
def test_an_address_no_request_can_go_to_is_named(url):
    assert core.url_problem(url)


@pytest.mark.parametrize(
    "url",
    ["http://localhost:7860", "http://[::1]:7860", "https://lf.example.com./prefix", "http://u:pw@host:65535"],
)
def test_an_address_a_request_can_go_to_is_valid(url):
    assert core.url_problem(url) == ""


# --- --tweaks -------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
def test_tweaks_with_a_number_json_cannot_send_are_a_usage_error(number):
    with pytest.raises(core.ClientError) as refused:
        core.parse_tweaks(f'{{"ChatInput-abc": {{"b": {number}}}}}')
    assert refused.value.exit_code == core.Exit.USAGE


def test_tweaks_keep_ordinary_and_large_finite_numbers():
    assert core.parse_tweaks('{"A": {"t": 0.2, "n": 1e308, "i": 123456789012345678901234567890}}') == {
        "A": {"t": 0.2, "n": 1e308, "i": 123456789012345678901234567890}
    }


# --- --file and settings files --------------------------------------------------------------------


def refusal(paths: list[str]) -> str:
    with pytest.raises(core.ClientError) as refused:
        core.readable_files(paths)
    assert refused.value.exit_code == core.Exit.USAGE
    return str(refused.value)


def test_file_refuses_what_is_not_a_regular_file_without_opening_it(tmp_path: Path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer
    assert "not a regular file" in refusal([str(fifo)])
    assert "not a regular file" in refusal(["/dev/zero"])
    assert "is a directory" in refusal([str(tmp_path)])
    assert "No such file" in refusal([str(tmp_path / "missing")])


def test_file_refuses_more_than_100_mb_and_takes_100_mb(tmp_path: Path):
    big, limit = tmp_path / "big.bin", tmp_path / "limit.bin"
    for path, size in ((big, core.MAX_FILE + 1), (limit, core.MAX_FILE)):
        with open(path, "wb") as sparse:
            sparse.truncate(size)
    assert "the limit is 100 MB" in refusal([str(big)])
    assert core.readable_files([str(limit)]) == [str(limit)]


def test_a_settings_file_over_1_mb_is_refused_after_reading_1_mb(tmp_path: Path):
    big, limit = tmp_path / "big.env", tmp_path / "limit.env"
    big.write_bytes(b"#" * (core.MAX_SETTINGS + 1))
    limit.write_bytes(b"#" * core.MAX_SETTINGS)
    with pytest.raises(core.ClientError) as refused:
        core.read_text_file(str(big), "env file")
    assert (refused.value.exit_code, str(refused.value)) == (
        core.Exit.USAGE,
        f"env file {big} is larger than 1 MB: not a settings file",
    )
    assert core.read_text_file(str(limit), "env file") == "#" * core.MAX_SETTINGS


# --- redaction of a short secret ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("the value 1 is wrong", "the value [redacted] is wrong"),
        ("the value is 1.", "the value is [redacted]."),
        ('"1"', '"[redacted]"'),
        ("> POST http://127.0.0.1:7861/api/v1/run/echo", "> POST http://127.0.0.1:7861/api/v1/run/echo"),
        ("took 1.5 s", "took 1.5 s"),
        ("v1", "v1"),
    ],
)
def test_a_short_secret_is_redacted_only_where_it_stands_alone(text, shown):
    assert core.redacted(text, ["1"]) == shown


def test_a_long_secret_is_redacted_wherever_it_appears():
    assert core.redacted("http://u:pw-SECRET-5150@h", ["pw-SECRET-5150"]) == "http://u:[redacted]@h"


# --- stored messages of any shape -----------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=12,
)
FIELDS = ("id", "session_id", "sender", "sender_name", "text", "category", "timestamp", "properties", "content_blocks")
ODD_TIMES = [
    "2026-13-01 10:00:00",
    "2026-11-21T10:00:00+99:00",
    "9999-12-31 23:59:59-23:59",
    "0001-01-01 00:00:00+23:59",
]
BLOCKS = [{"contents": [{"type": "human_input", "submitted_action": ["approve"], "options": 5, "prompt": {}}]}]
MESSAGE = st.fixed_dictionaries(
    {},
    optional={
        name: JSON | st.sampled_from([*ODD_TIMES, "User", "error", BLOCKS, 5, [5], {"state": 7}]) for name in FIELDS
    },
)


@settings(max_examples=300, deadline=None)
@given(st.lists(MESSAGE, max_size=4))
def test_stored_messages_of_any_shape_are_shown_as_far_as_they_can_be(messages):
    saved = datetime(2026, 11, 21, tzinfo=timezone.utc)
    for message in messages:
        assert isinstance(core.stored_text(message), str)
        assert isinstance(core.local_time(message.get("timestamp")), str)
    summaries = core.session_summaries(messages)
    core.sessions_table(summaries, numbered=True, width=80)
    core.print_json(summaries, io.StringIO())
    for path in ("chat.md", "chat.json"):
        assert isinstance(core.conversation_export(path, "S", messages, saved), str)


@pytest.mark.parametrize("stamp", ODD_TIMES)
def test_a_timestamp_that_cannot_be_read_or_moved_is_shown_as_the_server_sent_it(stamp):
    assert core.local_time(stamp) == stamp
    assert core.iso_time(stamp) == stamp


# --- a background run's reader ---------------------------------------------------------------------


def readers() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.endswith("(work)")]


def test_a_re_attached_background_run_leaves_no_reader_running(fake):
    """What made a chat end with "Fatal Python error: _enter_buffered_busy": the exception of the
    dropped attach kept job_events' frame, and with it the next attach's stream, alive until the
    garbage collector ran at exit, which closed the response while its worker thread still read it."""
    sse = "text/event-stream; charset=utf-8"
    partial = message_event("", "Machine", "s", "ai-1", state="partial")
    whole = [message_event("hi", "Machine", "s", "ai-1"), {"event": "end", "data": {}}]
    fake.script(
        "/api/v2/workflows/",
        Reply(content_type=sse, chunks=[(0.0, sse_frame(partial, 1))], cut=True),
        Reply(content_type=sse, chunks=[*((0.0, sse_frame(event, 2)) for event in whole), (30.0, b": keepalive\n\n")]),
    )
    client = core.Client(config(fake.url, background=True), core.Terminal(None, None, io.StringIO()), sleep=bool)
    server, shown = core.Server(client), []
    gc.disable()  # as at a chat's exit: nothing collected yet
    try:
        core.ask(server, "hi", "s", show=shown.append)
        left = readers()
    finally:
        gc.enable()
        server.close()
    assert ("".join(shown), left) == ("hi", [])
