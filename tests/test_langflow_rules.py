"""The pure Langflow rules of chat_example.py: stream framing, reply text, error messages, configuration.

Each test states one rule; the property tests state the rules that must hold for any input.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import pytest
from fake_langflow import error_envelope, error_event, message_event, run_response, stream_events
from hypothesis import given, settings
from hypothesis import strategies as st

from chat_example import parse_args
from chat_session import (
    ClientError,
    Config,
    StreamEnded,
    detail_message,
    dialect_for,
    error_body_message,
    flow_failure,
    insecure_key_warning,
    load_config,
    output_text,
    parse_event_line,
    parse_json,
    parse_tweaks,
    read_message,
    reply_text,
    reply_texts,
    require_flow,
    retry_after,
    settings_read,
    show_stream,
    split_events,
    streamed_outputs,
    terminal_safe,
    text_of,
    turn_error,
    user_path,
)

no_deadline = settings(deadline=None)


def stream_urls(response: dict) -> list[str]:
    return [url for _output, url in streamed_outputs(response)]  # on a busy CI box a slow example is not a failure


@contextmanager
def fails_with(exit_code: int, *fragments: str) -> Iterator[None]:
    """The block raises a ClientError with this exit code, whose message holds these fragments."""
    with pytest.raises(ClientError) as caught:
        yield
    assert caught.value.exit_code == exit_code, caught.value
    for fragment in fragments:
        assert fragment in str(caught.value)


# --- Stream framing: split_events and parse_event_line -----------------------------------------

EVENT_KINDS = ["add_message", "token", "end", "error", "end_vertex", "build_start", "build_end", "log"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)
langflow_events = st.fixed_dictionaries({"event": st.sampled_from(EVENT_KINDS), "data": json_values})


def langflow_stream(events: list[dict], ensure_ascii: bool = True) -> bytes:
    """The bytes of a stream as Langflow writes it: `json.dumps(event) + "\\n\\n"` per event."""
    return b"".join((json.dumps(event, ensure_ascii=ensure_ascii) + "\n\n").encode() for event in events)


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


@no_deadline
@given(st.lists(langflow_events, max_size=6), st.booleans(), st.data())
def test_split_events_yields_the_sent_events_however_the_bytes_are_chunked(events, ensure_ascii, data):
    # ensure_ascii=False puts multi-byte UTF-8 in the stream, so cuts can land inside a character.
    stream = langflow_stream(events, ensure_ascii)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12), label="cuts")
    assert list(split_events(split_at(stream, cuts))) == events


def test_split_events_joins_a_character_cut_between_two_chunks():
    stream = langflow_stream([{"event": "token", "data": {"chunk": "👋"}}], ensure_ascii=False)
    middle_of_the_emoji = stream.index("👋".encode()) + 2
    assert list(split_events(split_at(stream, [middle_of_the_emoji]))) == [{"event": "token", "data": {"chunk": "👋"}}]


@pytest.mark.parametrize(
    "framing",
    [b'{"event": "end"}\r\n\r\n', b'data: {"event": "end"}\n\n', b'{"event": "end"}'],
    ids=["crlf", "sse-data-prefix", "no-final-newline"],
)
def test_split_events_tolerates_other_framings(framing):
    assert list(split_events([framing])) == [{"event": "end"}]
    assert list(split_events([bytes([byte]) for byte in framing])) == [{"event": "end"}]


def test_each_event_is_yielded_before_the_next_chunk_is_read():
    first, second = (langflow_stream([{"event": "token", "data": {"chunk": text}}]) for text in "ab")
    read: list[bytes] = []

    def arriving() -> Iterator[bytes]:
        for chunk in (first, second[:9], second[9:]):
            read.append(chunk)
            yield chunk

    events = split_events(arriving())
    assert next(events) == {"event": "token", "data": {"chunk": "a"}} and len(read) == 1
    assert next(events) == {"event": "token", "data": {"chunk": "b"}} and len(read) == 3


def test_a_malformed_event_split_across_chunks_is_a_flow_error():
    with fails_with(1, "malformed event", '{"event": "token"'):
        list(split_events([b'{"event": "token", "data": ', b"{broken}\n\n"]))


@pytest.mark.parametrize("line", [b"", b"   ", b"\r", b": keep-alive", b"event: message", b"id: 7", b"retry: 100"])
def test_parse_event_line_skips_blank_and_sse_control_lines(line):
    assert parse_event_line(line) is None


def test_parse_event_line_tolerates_a_data_prefix():
    assert parse_event_line(b'data: {"event": "token", "data": {"chunk": "a"}}') == {
        "event": "token",
        "data": {"chunk": "a"},
    }


@pytest.mark.parametrize("line", [b'{"event": "tok', b"<html>", b"not json"])
def test_parse_event_line_rejects_a_malformed_line(line):
    with fails_with(1, "malformed event"):
        parse_event_line(line)


# --- Reply text: output_text and reply_texts ---------------------------------------------------

# Where a Langflow output can hold its reply text, most reliable first (see the shared notes).
TEXT_PLACES: dict[str, Callable[[str], dict]] = {
    "results.message.text": lambda text: {"results": {"message": {"text": text}}},
    "results.message.data.text": lambda text: {"results": {"message": {"data": {"text": text}}}},
    "results.text.text": lambda text: {"results": {"text": {"text": text}}},
    "messages[0].message": lambda text: {"messages": [{"message": text}]},
    "outputs.message.message": lambda text: {"outputs": {"message": {"message": text}}},
    "artifacts.message": lambda text: {"artifacts": {"message": text}},
    "artifacts.text": lambda text: {"artifacts": {"text": text}},
}
ANY_PLACE = {
    **TEXT_PLACES,
    "outputs.message.message as a dict (Langflow 1.0 stream mode)": (
        lambda text: {"outputs": {"message": {"message": {"text": text}}}}
    ),
}


def merged(*parts: dict) -> dict:
    """Deep-merge nested dicts, so several places can be filled in one output."""
    result: dict = {}
    for part in parts:
        for key, value in part.items():
            result[key] = merged(result[key], value) if isinstance(value, dict) and key in result else value
    return result


def one_output_response(output: dict) -> dict:
    return {"session_id": "s", "outputs": [{"inputs": {}, "outputs": [output]}]}


@no_deadline
@given(st.sampled_from(list(ANY_PLACE)), st.text(min_size=1))
def test_text_at_any_one_place_is_found(place, text):
    output = ANY_PLACE[place](text)
    assert output_text(output) == text
    assert reply_texts(one_output_response(output)) == [text]


@no_deadline
@given(st.sampled_from(list(TEXT_PLACES)), st.text(min_size=1), st.text(min_size=1))
def test_the_most_reliable_place_wins_and_an_empty_text_counts_as_missing(place, text, other):
    puts = list(TEXT_PLACES.values())
    index = list(TEXT_PLACES).index(place)
    earlier, later = [put("") for put in puts[:index]], [put(other) for put in puts[index + 1 :]]
    assert output_text(merged(*earlier, TEXT_PLACES[place](text), *later)) == text


def test_an_output_holding_no_message_has_no_text():
    assert output_text({"results": {}, "messages": [], "component_id": "TextOutput-1"}) is None


def test_an_output_holding_an_empty_message_has_empty_text():
    output = {"results": {"message": {"text": ""}}, "artifacts": {"message": ""}, "messages": []}
    assert output_text(output) == ""


# --- One rule for an empty reply: reply_text ---------------------------------------------------


def test_an_empty_message_is_an_empty_reply():
    assert reply_text(run_response("s", [""])) == ""


def test_a_run_without_a_message_is_the_no_text_error():
    with fails_with(1, "the flow returned no message", "Chat Output"):
        reply_text({"session_id": "s", "outputs": []})


def test_an_empty_output_next_to_others_adds_no_blank_lines():
    assert reply_text(run_response("s", ["first", "", "second"])) == "first\n\nsecond"


def test_reply_texts_gives_every_outputs_text_in_order():
    response = run_response("s", ["first", "second"])
    response["outputs"].append({"inputs": {}, "outputs": [TEXT_PLACES["messages[0].message"]("third")]})
    assert reply_texts(response) == ["first", "second", "third"]


def test_reply_texts_skips_outputs_without_text():
    response = run_response("s", ["only"])
    response["outputs"][0]["outputs"].insert(0, {"results": {}, "component_id": "TextOutput-1"})
    assert reply_texts(response) == ["only"]


@pytest.mark.parametrize(
    "response", [{"outputs": []}, {}, {"outputs": None}, {"outputs": [{"outputs": ["x", None]}]}, []]
)
def test_reply_texts_of_a_run_without_outputs_is_empty(response):
    assert reply_texts(response) == []


# --- Error messages: detail_message and error_body_message -------------------------------------

COMPONENT_ERROR = "Error running graph: Error building Component Chat Output: boom"
ENVELOPE = error_envelope(COMPONENT_ERROR)
VALIDATION_ITEM = {
    "type": "string_type",
    "loc": ["body", "input_value"],
    "msg": "Input should be a valid string",
    "input": 1,
}


def test_a_string_detail_is_the_message():
    assert detail_message("Flow identifier nope not found") == "Flow identifier nope not found"


def test_a_multiline_detail_becomes_one_line():
    assert detail_message("first line\n  second line\n") == "first line second line"


def test_a_json_string_detail_gives_the_innermost_message_not_the_envelope():
    assert detail_message(ENVELOPE) == COMPONENT_ERROR


def test_a_json_string_nested_in_a_detail_object_gives_the_innermost_message():
    assert detail_message({"detail": ENVELOPE}) == COMPONENT_ERROR


def test_a_422_list_gives_each_items_field_and_msg():
    second = {**VALIDATION_ITEM, "loc": ["query", "stream"], "msg": "Input should be a valid boolean"}
    assert detail_message([VALIDATION_ITEM, second]) == (
        "input_value: Input should be a valid string; query.stream: Input should be a valid boolean"
    )


@pytest.mark.parametrize("key", ["detail", "message", "error", "text", "exception"])
def test_a_dict_detail_gives_its_message_field(key):
    assert detail_message({key: "it broke", "code": 500}) == "it broke"


def test_a_stream_errors_status_prefix_is_dropped_with_its_envelope():
    assert detail_message(f"500: {ENVELOPE}") == COMPONENT_ERROR


def test_a_detail_that_only_looks_like_json_is_kept_as_text():
    assert detail_message("{not json") == "{not json"


def test_a_very_long_detail_is_shortened():
    message = detail_message("x" * 10_000)
    assert len(message) == 500 and message.endswith("…")


def test_a_json_error_body_gives_its_detail_message():
    body = json.dumps({"detail": ENVELOPE}).encode()
    assert error_body_message(body, "application/json") == COMPONENT_ERROR


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", ""])
def test_an_html_error_body_gives_no_message(content_type):
    page = b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    assert error_body_message(page, content_type) == ""


def test_a_plain_text_error_body_is_the_message():
    assert error_body_message(b"upstream connect error\n", "text/plain") == "upstream connect error"


def test_a_malformed_json_error_body_is_shown_as_text():
    assert error_body_message(b'{"detail": "cut', "application/json") == '{"detail": "cut'


def test_an_unneeded_end_line_is_dropped_unparsed_and_given_as_a_bare_end():
    end_line = json.dumps({"event": "end", "data": {"result": {"outputs": ["x" * 1000]}}}).encode() + b"\n\n"
    token_line = json.dumps({"event": "token", "data": {"chunk": "hi"}}).encode() + b"\n\n"
    chunks = [token_line, end_line[:40], end_line[40:]]

    assert list(split_events(chunks, skip_end=lambda: True)) == [
        {"event": "token", "data": {"chunk": "hi"}},
        {"event": "end", "data": {}},
    ]


def test_an_end_line_is_parsed_whole_when_its_content_is_needed():
    end = {"event": "end", "data": {"result": {"outputs": []}}}
    assert list(split_events([json.dumps(end).encode() + b"\n\n"], skip_end=lambda: False)) == [end]


# --- Reading a whole answer as it arrives: text_of and parse_json ------------------------------

any_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.sampled_from(['"', "\\", '\\"', "\\\\", "👋", "x" * 1100]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def read_json(chunks: list[bytes]):
    return parse_json(text_of(chunks))


@no_deadline
@given(any_json, st.booleans(), st.sampled_from([None, 2]), st.data())
def test_an_answer_reads_as_json_loads_reads_it_however_the_bytes_are_chunked(value, ensure_ascii, indent, data):
    body = json.dumps(value, ensure_ascii=ensure_ascii, indent=indent).encode()
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=12), label="cuts")
    assert read_json(split_at(body, cuts)) == json.loads(body)


def test_a_string_is_read_right_wherever_a_chunk_ends_in_it():
    body = json.dumps({"text": 'a \\" quote after a backslash \\\\ and 👋', "n": -1.5e3}, ensure_ascii=False).encode()
    for cut in range(len(body) + 1):
        assert read_json([body[:cut], body[cut:]]) == json.loads(body), cut
    assert read_json([bytes([byte]) for byte in body]) == json.loads(body)


def test_bytes_that_are_not_utf8_are_shown_replaced_not_refused():
    assert read_json([b'{"text": "a\xff', b'b"}']) == {"text": "a\ufffdb"}


def test_a_number_too_large_for_a_float_is_kept_as_its_text_and_nan_is_not_json():
    assert read_json([b'{"n": 1e999, "m": 1.5}']) == {"n": "1e999", "m": 1.5}
    with pytest.raises(ValueError):
        read_json([b'{"n": NaN}'])


def test_json_nested_too_deeply_is_a_value_error():
    with pytest.raises(ValueError):
        read_json([b"[" * 100_000 + b"]" * 100_000])


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[",
        b'{"a": 1',
        b'{"a": "cut',
        b"[1,]",
        b"[,1]",
        b'{"a": 1,}',
        b'{"a" 1}',
        b"[1 2]",
        b"{1: 2}",
        b"]",
        b'{"a": 1}]',
        b'{"a": 1} x',
        b"tru",
        b"01",
        b"[1.]",
        b"[1}",
        b'{"a"}',
        b"<html>",
    ],
)
def test_malformed_json_is_a_value_error_however_it_is_chunked(body):
    for chunks in ([body], [bytes([byte]) for byte in body]):
        with pytest.raises(ValueError):
            read_json(chunks)


# --- Showing a stream: show_stream -------------------------------------------------------------


def shown_by(events: list[dict]) -> tuple[list[str], dict]:
    """What show_stream shows, piece by piece, and what it returns."""
    pieces: list[str] = []
    result = show_stream(events, pieces.append)
    return pieces, result


def end_event(*texts: str) -> dict:
    return {"event": "end", "data": {"result": run_response("s", list(texts), "hi")}}


def test_tokens_are_shown_one_by_one_and_the_end_result_is_returned():
    events = stream_events("s", "hi", "Hello world", ["Hello", " world"])
    assert shown_by(events) == (["Hello", " world"], run_response("s", ["Hello world"], "hi"))


def test_a_reply_that_came_as_tokens_is_not_shown_again_from_add_message_or_end():
    events = stream_events("s", "hi", "Hello world", ["Hello", " world"])
    assert "".join(shown_by(events)[0]) == "Hello world"


def test_a_reply_without_tokens_is_shown_once_from_add_message():
    events = stream_events("s", "hi", "Hello world", tokens=None)
    assert shown_by(events)[0] == ["Hello world"]


def test_a_reply_only_in_the_end_event_is_shown_from_it():
    assert shown_by([end_event("Hello world")])[0] == ["Hello world"]


def test_several_outputs_in_the_end_event_are_separated_by_a_blank_line():
    assert "".join(shown_by([end_event("first", "second")])[0]) == "first\n\nsecond"


def test_two_streamed_messages_are_separated_by_a_blank_line():
    tokens = [{"event": "token", "data": {"chunk": chunk, "id": message}} for chunk, message in [("a", 1), ("b", 2)]]
    assert "".join(shown_by([*tokens, end_event("a", "b")])[0]) == "a\n\nb"


def test_the_users_own_message_is_never_shown():
    assert shown_by([message_event("hi", "User", "s", "u1"), end_event()])[0] == []


def test_a_partial_message_is_not_shown_since_its_text_comes_again():
    partial = message_event("Hel", "Machine", "s", "ai", state="partial")
    assert shown_by([partial, message_event("Hello", "Machine", "s", "ai"), end_event("Hello")])[0] == ["Hello"]


def test_a_first_token_repeated_after_a_complete_add_message_is_shown_once():
    """Langflow 1.2 to 1.6: the AI add_message (state complete) holds the first token, which the
    first token event sends again."""
    first = message_event("turn", "Machine", "s", "ai")
    tokens = [{"event": "token", "data": {"chunk": chunk, "id": "ai"}} for chunk in ("turn", " 1:", " hi")]
    whole = message_event("turn 1: hi", "Machine", "s", "ai")
    assert "".join(shown_by([first, *tokens, whole, end_event("turn 1: hi")])[0]) == "turn 1: hi"


def test_a_token_that_goes_past_the_text_already_shown_shows_only_the_rest():
    first = message_event("tu", "Machine", "s", "ai")
    token = {"event": "token", "data": {"chunk": "turn", "id": "ai"}}
    assert shown_by([first, token, end_event("turn")])[0] == ["tu", "rn"]


def test_tokens_that_do_not_repeat_the_shown_text_are_all_shown():
    first = message_event("Hello", "Machine", "s", "ai")
    tokens = [{"event": "token", "data": {"chunk": chunk, "id": "ai"}} for chunk in ("Bye", "Hello")]
    assert shown_by([first, *tokens, end_event()])[0] == ["Hello", "Bye", "Hello"]


def test_an_error_message_is_not_shown_as_a_reply():
    error_message = {**message_event("boom", "Machine", "s", "e1")["data"], "category": "error", "error": True}
    assert shown_by([{"event": "add_message", "data": error_message}, end_event()])[0] == []


def test_events_of_other_kinds_are_ignored():
    others = [
        {"event": kind, "data": {"text": "noise", "id": kind}} for kind in ("end_vertex", "build_start", "log", "x")
    ]
    assert shown_by([*others, end_event("reply")])[0] == ["reply"]


@pytest.mark.parametrize("shape", ["message", "error"])
def test_show_stream_raises_an_error_event_of_either_shape_as_a_flow_error(shape):
    with fails_with(1, "the flow failed: Agent: model said no"):
        shown_by([error_event("Agent", "model said no", shape)])


def test_a_stream_that_ends_without_an_end_event_says_what_it_showed():
    user = message_event("hi", "User", "s", "u1")
    with pytest.raises(StreamEnded) as ended:
        shown_by([user, {"event": "token", "data": {"chunk": "He", "id": "a1"}}])
    assert (str(ended.value), ended.value.user_message_id) == ("2 events, the last token", "u1")


# --- The error stored for a turn: turn_error ---------------------------------------------------


def stored(sender: str, text: str, id: str, category: str = "message") -> dict:
    return {"id": id, "sender": sender, "sender_name": sender, "text": text, "category": category}


EARLIER_TURN = [stored("User", "one", "u1"), stored("OldModel", "first failure", "e1", "error")]


def test_the_error_stored_after_this_turns_user_message_is_this_turns_error():
    messages = [*EARLIER_TURN, stored("User", "two", "u2"), stored("OldModel", "second failure", "e2", "error")]
    assert turn_error(messages, "u2")["id"] == "e2"


def test_an_earlier_turns_error_is_not_this_turns_error():
    assert turn_error([*EARLIER_TURN, stored("User", "two", "u2")], "u2") is None


def test_without_the_user_messages_id_the_error_after_the_last_user_message_counts():
    messages = [*EARLIER_TURN, stored("User", "two", "u2"), stored("OldModel", "second failure", "e2", "error")]
    assert turn_error(messages, None)["id"] == "e2"
    assert turn_error(messages, "never-stored")["id"] == "e2"


# --- One wording per failure: flow_failure -----------------------------------------------------

FAILURE_SHAPES = {  # as Langflow sends them (1.4.3's 500 puts two newlines before the message)
    "1.13 error event, a message": error_event("CounterModel", "counter exploded on request", "message")["data"],
    "1.13 error event, a 500 envelope": error_event("CounterModel", "counter exploded on request", "error")["data"],
    "1.1.2-1.6 stored error": stored("CounterModel", "counter exploded on request\n", "e1", "error"),
    "1.4.3 500 detail": error_envelope(
        "Error running graph: Error building Component CounterModel: \n\ncounter exploded on request"
    ),
}


@pytest.mark.parametrize("shape", FAILURE_SHAPES)
def test_every_shape_of_a_component_failure_gives_the_same_component_and_message(shape):
    assert flow_failure(FAILURE_SHAPES[shape]) == ("CounterModel", "counter exploded on request")


def test_a_failure_that_names_no_component_gives_its_message_alone():
    assert flow_failure({"error": "No cache found for f."}) == ("", "No cache found for f.")


# --- Terminal safety: terminal_safe ------------------------------------------------------------


def test_escape_sequences_are_shown_escaped():
    assert terminal_safe("\x1b]0;pwned\x07\x1b[31mred") == "\\x1b]0;pwned\\x07\\x1b[31mred"


@pytest.mark.parametrize("char, shown", [("\r", "\\r"), ("\x08", "\\x08"), ("\x7f", "\\x7f"), ("\x9b", "\\x9b")])
def test_other_control_characters_are_shown_escaped(char, shown):
    assert terminal_safe(f"a{char}b") == f"a{shown}b"


def test_newlines_tabs_and_unicode_are_kept():
    assert terminal_safe("héllo\tworld 👋\n世界") == "héllo\tworld 👋\n世界"


@no_deadline
@given(st.text())
def test_no_control_character_but_newline_and_tab_survives(text):
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", terminal_safe(text))


# --- Old Langflow streams: stream_urls ---------------------------------------------------------


def test_stream_urls_come_from_the_artifacts_or_the_outputs_message():
    first = {"artifacts": {"stream_url": "/api/v1/build/f/ChatOutput-1/stream"}}
    second = {"outputs": {"message": {"message": {"stream_url": "/api/v1/build/f/ChatOutput-2/stream"}}}}
    response = {"outputs": [{"outputs": [first, second]}]}
    assert stream_urls(response) == ["/api/v1/build/f/ChatOutput-1/stream", "/api/v1/build/f/ChatOutput-2/stream"]


def test_an_output_gives_one_stream_url_even_if_it_holds_two():
    both = {"artifacts": {"stream_url": "/a"}, "outputs": {"message": {"message": {"stream_url": "/b"}}}}
    assert stream_urls(one_output_response(both)) == ["/a"]


def test_a_finished_response_has_no_stream_urls():
    assert stream_urls(run_response("s", ["Hello"])) == []


# --- Retry-After: retry_after ------------------------------------------------------------------


@pytest.mark.parametrize("header, wait", [("2", 2.0), ("0.5", 0.5), ("0", 0.0), ("-3", 0.0)])
def test_retry_after_in_seconds_is_honoured(header, wait):
    assert retry_after(header, default=1.5) == wait


def test_a_huge_retry_after_is_capped():
    assert retry_after("86400", default=1.5) == 60.0  # the README's cap


@pytest.mark.parametrize("header", [None, "", "Wed, 21 Oct 2015 07:28:00 GMT", "soon", "nan"])
def test_a_missing_or_unusable_retry_after_falls_back_to_the_backoff(header):
    assert retry_after(header, default=1.5) == 1.5


# --- Tweaks: parse_tweaks ----------------------------------------------------------------------

TWEAKS = {"ChatInput-abc": {"sender_name": "me"}}


def test_tweaks_are_parsed_from_json():
    assert parse_tweaks(json.dumps(TWEAKS)) == TWEAKS


def test_parse_tweaks_reads_an_at_file(tmp_path):
    (tmp_path / "tweaks.json").write_text(json.dumps(TWEAKS), encoding="utf-8")
    assert parse_tweaks(f"@{tmp_path / 'tweaks.json'}") == TWEAKS


@pytest.mark.parametrize("value", [None, ""])
def test_no_tweaks_are_no_tweaks(value):
    assert parse_tweaks(value) == {}


@pytest.mark.parametrize("value", ['[{"ChatInput-abc": {}}]', '"text"', "3", "null"])
def test_tweaks_must_be_a_json_object(value):
    with fails_with(2, "must be a JSON object"):
        parse_tweaks(value)


def test_tweaks_must_be_valid_json():
    with fails_with(2, "not valid JSON"):
        parse_tweaks("{ChatInput-abc: {}}")


def test_a_missing_tweaks_file_is_a_usage_error(tmp_path):
    with fails_with(2, "missing.json"):
        parse_tweaks(f"@{tmp_path / 'missing.json'}")


def test_a_tweaks_file_that_is_not_utf8_is_a_usage_error(tmp_path):
    (tmp_path / "latin1.json").write_bytes('{"ChatInput-abc": {"sender_name": "José"}}'.encode("latin-1"))
    with fails_with(2, "latin1.json"):
        parse_tweaks(f"@{tmp_path / 'latin1.json'}")


# --- The message: read_message -----------------------------------------------------------------


@pytest.fixture
def piped():
    """Make a stdin that is a pipe holding this text, as in `echo text | chat_example.py`."""
    opened: list[TextIO] = []

    def make(text: str) -> TextIO:
        read_end, write_end = os.pipe()
        os.write(write_end, text.encode())
        os.close(write_end)
        opened.append(open(read_end, encoding="utf-8"))
        return opened[-1]

    yield make
    for stream in opened:
        stream.close()


def terminal() -> TextIO:
    """A stdin that is not piped (no file descriptor at all), so it must never be read."""
    return io.StringIO("typed at the terminal")


def test_read_message_takes_the_positional_argument():
    assert read_message("hello", terminal()) == "hello"


def test_a_dash_reads_the_message_from_stdin():
    assert read_message("-", io.StringIO("from stdin")) == "from stdin"


def test_piped_stdin_is_the_message_without_its_final_newline(piped):
    assert read_message(None, piped("from a pipe\n")) == "from a pipe"


def test_piped_stdin_and_a_positional_are_joined_by_a_blank_line(piped):
    assert read_message("question", piped("context\n")) == "context\n\nquestion"


@pytest.mark.parametrize("stdin", ["", "  \n"])
def test_an_empty_pipe_leaves_the_positional_alone(piped, stdin):
    assert read_message("question", piped(stdin)) == "question"


def test_no_message_and_no_pipe_is_a_usage_error():
    with fails_with(2, "no message"):
        read_message(None, terminal())


@pytest.mark.parametrize("positional, stdin", [("   ", ""), (None, " \n\n"), ("-", "")])
def test_read_message_refuses_an_empty_message(piped, positional, stdin):
    with fails_with(2, "empty"):
        read_message(positional, piped(stdin))


# --- Configuration: load_config ----------------------------------------------------------------


def write_env(path: Path, **settings: str) -> None:
    path.write_text("".join(f"{name}={value}\n" for name, value in settings.items()), encoding="utf-8")


def config(*argv: str, **environ: str) -> Config:
    """The settings of a run in the current folder; the user's settings folder is ./config."""
    return load_config(parse_args(["hi", *argv]), {"XDG_CONFIG_HOME": os.path.abspath("config"), **environ})


def user_settings(folder: Path, mode: int = 0o600, **settings: str) -> Path:
    """The user-level settings file of `config`, holding these settings."""
    path = folder / "config" / "langflow-chat" / ".env"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_env(path, **settings)
    path.chmod(mode)
    return path


def test_the_defaults_apply_without_any_setting(in_tmp):
    expected = Config(
        url="http://localhost:7860", flow="", api_key="", timeout=300.0, retries=2, url_given=False
    )
    assert config()._replace(settings_files=()) == expected


def test_a_dotenv_in_the_working_folder_is_read(in_tmp):
    write_env(in_tmp / ".env", LANGFLOW_URL="http://env-file:1", LANGFLOW_FLOW_ID="f", LANGFLOW_API_KEY="k")
    chosen = config()
    assert (chosen.url, chosen.flow, chosen.api_key) == ("http://env-file:1", "f", "k")


def test_load_config_takes_the_environment_before_the_dotenv(in_tmp):
    write_env(in_tmp / ".env", LANGFLOW_URL="http://env-file:1", LANGFLOW_FLOW_ID="f", LANGFLOW_API_KEY="k")
    chosen = config(LANGFLOW_URL="http://environ:2", LANGFLOW_FLOW_ID="g", LANGFLOW_API_KEY="k2")
    assert (chosen.url, chosen.flow, chosen.api_key) == ("http://environ:2", "g", "k2")


def test_flags_beat_the_environment(in_tmp):
    environ = {"LANGFLOW_URL": "http://environ:2", "LANGFLOW_FLOW_ID": "g", "LANGFLOW_TIMEOUT": "9"}
    chosen = config("--url", "http://flag:3", "--flow", "h", "--timeout", "5", **environ)
    assert (chosen.url, chosen.flow, chosen.timeout) == ("http://flag:3", "h", 5.0)


def test_the_timeout_comes_from_the_environment(in_tmp):
    assert config(LANGFLOW_TIMEOUT="12.5").timeout == 12.5


def test_langflow_server_url_is_an_alias(in_tmp):
    assert config(LANGFLOW_SERVER_URL="http://alias:4").url == "http://alias:4"


def test_the_alias_in_the_environment_beats_the_url_in_the_dotenv(in_tmp):
    write_env(in_tmp / ".env", LANGFLOW_URL="http://env-file:1")
    assert config(LANGFLOW_SERVER_URL="http://alias:4").url == "http://alias:4"


def test_a_trailing_slash_on_the_url_is_dropped(in_tmp):
    assert config(LANGFLOW_URL="http://host:7860/").url == "http://host:7860"


def test_env_file_is_read_instead_of_the_dotenv(in_tmp):
    write_env(in_tmp / ".env", LANGFLOW_FLOW_ID="from-dotenv", LANGFLOW_API_KEY="k")
    write_env(in_tmp / "other.env", LANGFLOW_FLOW_ID="from-other")
    chosen = config("--env-file", str(in_tmp / "other.env"))
    assert (chosen.flow, chosen.api_key) == ("from-other", "")


def test_the_user_settings_file_is_read_when_nothing_else_sets_a_value(in_tmp):
    user_settings(in_tmp, LANGFLOW_URL="http://user:5", LANGFLOW_FLOW_ID="u", LANGFLOW_API_KEY="k")
    chosen = config()
    assert (chosen.url, chosen.flow, chosen.api_key) == ("http://user:5", "u", "k")


def test_the_dotenv_beats_the_user_settings_file(in_tmp):
    user_settings(in_tmp, LANGFLOW_FLOW_ID="from-user-file", LANGFLOW_TIMEOUT="7")
    write_env(in_tmp / ".env", LANGFLOW_FLOW_ID="from-dotenv")
    chosen = config()
    assert (chosen.flow, chosen.timeout) == ("from-dotenv", 7.0)


def test_the_environment_beats_the_user_settings_file(in_tmp):
    user_settings(in_tmp, LANGFLOW_FLOW_ID="from-user-file")
    assert config(LANGFLOW_FLOW_ID="from-environ").flow == "from-environ"


def test_the_user_settings_file_is_read_after_an_env_file(in_tmp):
    user_settings(in_tmp, LANGFLOW_FLOW_ID="from-user-file", LANGFLOW_API_KEY="k")
    write_env(in_tmp / "other.env", LANGFLOW_FLOW_ID="from-other")
    chosen = config("--env-file", "other.env")
    assert (chosen.flow, chosen.api_key) == ("from-other", "k")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_a_user_settings_file_holding_a_key_that_others_can_read_is_refused(in_tmp, mode):
    path = user_settings(in_tmp, mode=mode, LANGFLOW_API_KEY="sk-user-secret")
    with pytest.raises(ClientError) as caught:
        config()
    assert caught.value.exit_code == 2
    assert f"chmod 600 {path}" in str(caught.value) and "sk-user-secret" not in str(caught.value)


def test_a_user_settings_file_without_a_key_may_be_readable_by_others(in_tmp):
    user_settings(in_tmp, mode=0o644, LANGFLOW_FLOW_ID="shared")
    assert config().flow == "shared"


def test_the_settings_files_read_are_listed_in_order(in_tmp):
    path = user_settings(in_tmp, LANGFLOW_FLOW_ID="u")
    write_env(in_tmp / ".env", LANGFLOW_URL="http://env-file:1")
    files = config().settings_files
    assert [(file.path, file.read) for file in files] == [(str(in_tmp / ".env"), True), (str(path), True)]


def profile(folder: Path, name: str, mode: int = 0o600, **settings: str) -> Path:
    """The profile NAME of `config`: NAME.env beside the user-level settings file."""
    path = folder / "config" / "langflow-chat" / f"{name}.env"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_env(path, **settings)
    path.chmod(mode)
    return path


def test_a_profile_beats_the_environment_and_the_files_and_a_flag_beats_the_profile(in_tmp):
    profile(in_tmp, "staging", LANGFLOW_URL="http://staging:1", LANGFLOW_FLOW_ID="s", LANGFLOW_API_KEY="k")
    write_env(in_tmp / ".env", LANGFLOW_URL="http://env-file:1", LANGFLOW_TIMEOUT="7")
    chosen = config("--profile", "staging", "--flow", "flag", LANGFLOW_URL="http://environ:2")
    assert (chosen.url, chosen.flow, chosen.api_key, chosen.timeout) == ("http://staging:1", "flag", "k", 7.0)
    assert chosen.profile == "staging"


def test_langflow_profile_in_the_environment_names_the_profile_and_the_flag_another(in_tmp):
    profile(in_tmp, "staging", LANGFLOW_FLOW_ID="s")
    profile(in_tmp, "prod", LANGFLOW_FLOW_ID="p")
    assert config(LANGFLOW_PROFILE="staging").flow == "s"
    assert config("--profile", "prod", LANGFLOW_PROFILE="staging").flow == "p"


@pytest.mark.parametrize("name", ["nope", "../langflow-chat/staging", ""])
def test_an_unknown_profile_is_one_line_naming_the_profiles_there_are(in_tmp, name):
    user_settings(in_tmp, LANGFLOW_FLOW_ID="u")
    path = profile(in_tmp, "staging", LANGFLOW_FLOW_ID="s")
    profile(in_tmp, "prod", LANGFLOW_FLOW_ID="p")
    if not name:  # an empty name is no profile
        assert config("--profile", name).flow == "u"
        return
    with fails_with(2, f"no profile {name!r}: no file {path.parent}/{name}.env"):
        config("--profile", name)
    with fails_with(2, "(the profiles there are: prod, staging)"):
        config(LANGFLOW_PROFILE=name)


def test_an_unknown_profile_without_a_settings_folder_says_there_are_none(in_tmp):
    with fails_with(2, "(the profiles there are: none)"):
        config("--profile", "staging")


def test_a_profile_holding_a_key_that_others_can_read_is_refused(in_tmp):
    path = profile(in_tmp, "staging", mode=0o644, LANGFLOW_API_KEY="sk-profile-secret")
    with fails_with(2, f"chmod 600 {path}"):
        config("--profile", "staging")


def test_the_settings_read_name_the_profile_first(in_tmp):
    path = profile(in_tmp, "staging", LANGFLOW_FLOW_ID="s")
    user = user_settings(in_tmp, LANGFLOW_FLOW_ID="u")
    assert settings_read(config("--profile", "staging")) == f"settings read from {path}, {user} (profile staging)"


def test_the_user_settings_file_follows_xdg_config_home():
    environ = {"XDG_CONFIG_HOME": "/srv/config", "HOME": "/home/ann"}
    assert user_path("config", ".env", "posix", environ) == "/srv/config/langflow-chat/.env"


@pytest.mark.parametrize("xdg", ["", "relative/config"])
def test_the_user_settings_file_defaults_to_dot_config_in_home(xdg):
    environ = {"XDG_CONFIG_HOME": xdg, "HOME": "/home/ann"}
    assert user_path("config", ".env", "posix", environ) == "/home/ann/.config/langflow-chat/.env"


def test_the_user_settings_file_is_in_appdata_on_windows():
    environ = {"APPDATA": r"C:\Users\ann\AppData\Roaming", "XDG_CONFIG_HOME": "/srv/config"}
    assert user_path("config", ".env", "nt", environ) == r"C:\Users\ann\AppData\Roaming\langflow-chat\.env"


def test_no_flow_names_every_place_it_looked_in_and_the_flag(in_tmp):
    places = ("--flow", "LANGFLOW_FLOW_ID", "the environment", str(in_tmp / ".env"), str(in_tmp / "config"))
    with fails_with(2, "no flow given", *places):
        require_flow(config())


@pytest.mark.parametrize(
    "url, server, flow",
    [
        (
            "http://host:7860/api/v1/run/0b6a3b0e-1111-4c3a-9d55-000000000001?stream=false",
            "http://host:7860",
            "0b6a3b0e-1111-4c3a-9d55-000000000001",
        ),
        ("http://host:7860/api/v1/run/advanced/my-flow", "http://host:7860", "my-flow"),
        ("http://host:7860/api/v1/webhook/my%20flow", "http://host:7860", "my flow"),
        ("https://proxy.example/langflow/api/v1/run/my-flow", "https://proxy.example/langflow", "my-flow"),
        ("http://host:7860/api/v1", "http://host:7860", ""),
        ("http://host:7860/api/v1/", "http://host:7860", ""),
    ],
)
def test_a_url_copied_from_the_api_panel_gives_the_server_and_the_flow(in_tmp, url, server, flow):
    chosen = config(LANGFLOW_URL=url)
    assert (chosen.url, chosen.flow) == (server, flow)


def test_a_flow_set_otherwise_beats_the_flow_in_the_url(in_tmp):
    chosen = config("--flow", "mine", LANGFLOW_URL="http://host:7860/api/v1/run/theirs")
    assert (chosen.url, chosen.flow) == ("http://host:7860", "mine")


def test_a_proxy_path_without_the_api_path_is_kept(in_tmp):
    assert config(LANGFLOW_URL="https://proxy.example/langflow/").url == "https://proxy.example/langflow"


def test_load_config_refuses_a_timeout_beyond_a_week(in_tmp):
    with fails_with(2, "the timeout must be at most", "99999999999"):
        config("--timeout", "99999999999")


@pytest.mark.parametrize("key", ["SECRET\nrest", "SECRET\trest", "SECRET\x7f", "SECRETé€", "SECRET😀"])
def test_a_key_a_header_cannot_carry_is_a_configuration_error_that_does_not_show_it(in_tmp, key):
    with pytest.raises(ClientError) as caught:
        config(LANGFLOW_API_KEY=key)
    assert caught.value.exit_code == 2
    assert "HTTP header" in str(caught.value) and "the environment" in str(caught.value)
    assert "SECRET" not in str(caught.value)


def test_a_latin1_key_is_accepted(in_tmp):
    assert config(LANGFLOW_API_KEY="sk-é").api_key == "sk-é"


def test_load_config_refuses_a_missing_env_file(in_tmp):
    with fails_with(2, "missing.env"):
        config("--env-file", "missing.env")


@pytest.mark.parametrize("url", ["localhost:7860", "ftp://host", "http://"])
def test_a_url_without_http_is_a_usage_error(in_tmp, url):
    with fails_with(2, "http://"):
        config(LANGFLOW_URL=url)


@pytest.mark.parametrize("argv", [["--timeout", "soon"], ["--timeout", "0"], ["--timeout", "nan"], ["--retries", "-1"]])
def test_a_bad_number_is_a_usage_error(in_tmp, argv):
    with fails_with(2, "must be a number"):
        config(*argv)


def test_the_api_key_cannot_be_given_as_a_flag():
    with fails_with(2, "--api-key"):
        parse_args(["hi", "--api-key", "sk-1"])


# --- The plain-http warning: insecure_key_warning ----------------------------------------------


def remote_config(url: str, api_key: str = "sk-1") -> Config:
    return Config(url=url, flow="f", api_key=api_key, timeout=1.0, retries=0)


def test_a_key_over_plain_http_to_another_machine_gets_a_one_line_warning():
    warning = insecure_key_warning(remote_config("http://192.0.2.1:7860"))
    assert warning.startswith("warning: ") and "192.0.2.1" in warning and "https://" in warning and "\n" not in warning


@pytest.mark.parametrize(
    "url, api_key",
    [
        ("https://langflow.example:443", "sk-1"),
        ("http://localhost:7860", "sk-1"),
        ("http://127.0.0.1:7860", "sk-1"),
        ("http://[::1]:7860", "sk-1"),
        ("http://192.0.2.1:7860", ""),
    ],
    ids=["https", "localhost", "127.0.0.1", "ipv6-loopback", "no-key"],
)
def test_no_warning_over_https_to_loopback_or_without_a_key(url, api_key):
    assert insecure_key_warning(remote_config(url, api_key)) is None


PROVIDER_400 = (
    "Error code: 400 - {'error': {'message': 'fake model error requested', 'type': 'invalid_request_error',"
    " 'param': None, 'code': None}}"
)


def test_a_model_providers_error_says_only_its_message():
    assert detail_message(PROVIDER_400) == "fake model error requested"


def test_a_component_failing_on_its_model_provider_reads_component_and_message():
    text = f"Error running graph: Error building Component Language Model: {PROVIDER_400}"
    assert flow_failure({"detail": text}) == ("Language Model", "fake model error requested")


def test_text_that_only_looks_like_a_providers_error_is_kept_as_it_is():
    assert detail_message("Error code: 400 - {not python}") == "Error code: 400 - {not python}"


# --- Dialects: dialect_for ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "stores"),
    [("1.0.19", True), ("1.1.0", False), ("1.1.1", False), ("1.1.2", True), ("1.2.0", True), ("1.13.0", True)],
)
def test_streamed_replies_are_stored_with_their_text_except_by_langflow_1_1_0_and_1_1_1(version, stores):
    # seen on real servers: 1.0.19 stores a streamed reply whole, 1.1.0 and 1.1.1 with "" as its text, 1.1.2+ whole
    assert dialect_for(version).stores_streamed_replies is stores


@pytest.mark.parametrize(("version", "one_path"), [("1.1.1", True), ("1.1.4", True), ("1.2.0", False)])
def test_a_chat_inputs_files_are_one_path_before_langflow_1_2(version, one_path):
    assert dialect_for(version).files_as_string is one_path


@pytest.mark.parametrize("version", [None, "", "nightly"])
def test_a_server_that_does_not_say_its_release_is_taken_as_the_newest(version):
    newest = dialect_for("99.0.0")
    assert dialect_for(version)._replace(version=None, name="") == newest._replace(version=None, name="")
