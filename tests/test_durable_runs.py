"""Background runs that survive the network (Langflow 1.10+, `--background`, and every flow that
pauses for a human): a dropped or stalled event stream is re-attached from the last event received
(Last-Event-ID), and the reply goes on without repeated or lost text. Against the fake Langflow
server's v2 workflows API; the same against a real Langflow 1.13 through a TCP proxy that cuts the
connection is in test_e2e_human_input.py."""

from __future__ import annotations

import pytest
from fake_langflow import Reply, message_event, sse_frame, v2_reply_events, words

REPLY = "one two three four five"
EVENTS = "/api/v2/workflows/"  # the prefix of a run's events (and resume) requests


def event_requests(fake) -> list:
    return [seen for seen in fake.requests if seen.path.endswith("/events")]


def test_background_runs_an_ordinary_flow_in_the_background(cli, fake):
    result = cli("--background", "--text", "hi")
    assert (result.returncode, result.stdout, result.stderr) == (0, "hi\n", "")
    assert fake.runs() == [] and len(fake.jobs) == 1


@pytest.mark.parametrize("mode", ["--text", "--stream"])
def test_a_stream_cut_mid_reply_is_re_attached_and_the_reply_is_whole_without_repeats(cli, fake, mode):
    # frames: 4 before the model, the partial AI message (5), then its tokens: cut after two of them
    fake.v2_script(v2_reply_events("s", REPLY, words(REPLY)), cut_after=7)
    result = cli("--background", mode, "hi")
    assert (result.returncode, result.stdout) == (0, REPLY + "\n"), result.stderr
    first, second = event_requests(fake)
    assert "last-event-id" not in first.headers
    assert second.headers["last-event-id"] == "5"


def test_tokens_sent_after_a_gap_are_not_shown_out_of_place(cli, fake):
    """Langflow 1.13 goes on with the live tokens after a re-attach: those sent meanwhile are gone."""
    token = [{"event": "token", "data": {"chunk": chunk, "id": "ai-1"}} for chunk in words(REPLY)]
    partial = message_event("", "Machine", "s", "ai-1", state="partial")
    before_the_cut = [(0.0, sse_frame(event, 1)) for event in [partial, token[0], token[1]]]
    after_it = [token[4], message_event(REPLY, "Machine", "s", "ai-1"), {"event": "end", "data": {}}]
    sse = "text/event-stream; charset=utf-8"
    fake.script(
        EVENTS,
        Reply(content_type=sse, chunks=before_the_cut, cut=True),
        Reply(content_type=sse, chunks=[(0.0, sse_frame(event, 2)) for event in after_it]),
    )
    result = cli("--background", "--stream", "hi")
    assert (result.returncode, result.stdout) == (0, REPLY + "\n"), result.stderr


def test_a_re_attach_is_said_on_stderr(cli, fake):
    fake.v2_script(v2_reply_events("s", REPLY, words(REPLY)), cut_after=7)
    result = cli("--background", "--text", "hi")
    assert result.stderr == "the connection dropped; re-attaching in 0.5 s (1 of 3)\n"


def test_a_stalled_stream_is_re_attached_after_the_timeout(cli, fake):
    silent = Reply(content_type="text/event-stream; charset=utf-8", chunks=[(30.0, b": keepalive\n\n")])
    fake.script(EVENTS, silent)
    result = cli("--background", "--timeout", "1", "--text", "hi")
    assert (result.returncode, result.stdout) == (0, "hi\n"), result.stderr
    assert len(event_requests(fake)) == 2


def test_a_run_that_cannot_be_re_attached_ends_with_exit_4_and_the_command_that_re_attaches(cli, fake):
    fake.script(EVENTS, *[Reply(drop=True)] * 4)
    result = cli("--background", "--text", "hi")
    (job_id,) = fake.jobs
    assert result.returncode == 4
    assert result.stderr.splitlines()[-1] == (
        "error: the connection dropped; the run goes on at the server "
        f"(re-attach with: chat_example.py --resume {job_id})"
    )
    assert len(event_requests(fake)) == 4


def test_background_on_a_server_without_the_v2_api_says_so(cli, fake):
    fake.v2 = False
    result = cli("--background", "--text", "hi")
    assert (result.returncode, result.stderr) == (
        1,
        "error: Langflow 1.13.0 has no background runs (the v2 workflows API) (Langflow 1.10 and later have)\n",
    )


def test_every_turn_of_a_background_chat_is_a_background_run(cli, fake):
    result = cli("--background", stdin="one\ntwo\n", script="chat_session.py")
    assert result.returncode == 0, result.stderr
    assert "AI: one" in result.stdout and "AI: two" in result.stdout
    assert len(fake.jobs) == 2 and fake.runs() == []


@pytest.mark.parametrize(("mode", "asked"), [("--stream", 0), ("--text", 1)])
def test_the_runs_answer_is_asked_for_only_when_its_text_did_not_stream(cli, fake, mode, asked):
    result = cli("--background", mode, "hi")
    assert (result.returncode, result.stdout) == (0, "hi\n"), result.stderr
    statuses = [seen for seen in fake.requests if seen.path == "/api/v2/workflows" and seen.method == "GET"]
    assert len(statuses) == asked
