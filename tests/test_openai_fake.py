"""The OpenAI-compatible fake that the starter-project tests put behind Langflow's models.

Its answers decide what those end-to-end tests expect, so its rules are tested here on their
own, over real HTTP, the way langchain-openai calls it.
"""

from __future__ import annotations

import json

import pytest
import requests
from openai_fake import FAIL_MESSAGE, FAIL_WORD, TOOL, OpenAIFake, answer

CALCULATOR = {"type": "function", "function": {"name": TOOL, "parameters": {"type": "object"}}}


@pytest.fixture(scope="module")
def model():
    fake = OpenAIFake(word_delay=0)
    yield fake
    fake.close()


def chat(model: OpenAIFake, body: dict) -> requests.Response:
    return requests.post(f"{model.url}/chat/completions", json={"model": "gpt-4o-mini", **body}, timeout=10)


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def test_it_listens_on_the_ipv6_loopback_under_v1(model):
    assert model.url.startswith("http://[::1]:") and model.url.endswith("/v1")


def test_it_echoes_the_last_user_message_and_counts_the_earlier_ones():
    messages = [{"role": "system", "content": "be nice"}, user("a"), {"role": "assistant", "content": "x"}, user("b")]
    assert answer({"messages": messages}) == {"content": "You said: b (earlier user messages: 1)"}


def test_it_reads_text_parts_of_a_message():
    parts = [{"type": "text", "text": "two "}, {"type": "image_url"}, {"type": "text", "text": "parts"}]
    assert answer({"messages": [user(parts)]})["content"].startswith("You said: two parts ")


def test_a_whole_answer_is_a_chat_completion(model):
    body = chat(model, {"messages": [user("hello")]}).json()
    assert body["object"] == "chat.completion"
    reply = "You said: hello (earlier user messages: 0)"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": reply}
    assert model.requests[-1]["messages"] == [user("hello")]


def streamed_chunks(response: requests.Response) -> list[dict]:
    """The JSON chunks of a Server-Sent Events answer, which must end with [DONE]."""
    assert response.headers["Content-Type"] == "text/event-stream"
    events = [event for event in response.text.split("\n\n") if event]
    assert events[-1] == "data: [DONE]"
    return [json.loads(event.removeprefix("data: ")) for event in events[:-1]]


def test_a_streamed_answer_comes_word_by_word_as_server_sent_events(model):
    chunks = streamed_chunks(chat(model, {"messages": [user("hello there")], "stream": True}))
    pieces = [chunk["choices"][0]["delta"].get("content") for chunk in chunks]
    assert pieces[1:-1] == ["You", " said:", " hello", " there", " (earlier", " user", " messages:", " 0)"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_offered_the_calculator_it_calls_it_for_an_expression(model):
    body = chat(model, {"messages": [user("what is 2 + 3?")], "tools": [CALCULATOR]}).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"][0]["function"] == {"name": TOOL, "arguments": '{"expression": "2 + 3"}'}


def test_a_streamed_tool_call_comes_in_one_chunk(model):
    response = chat(model, {"messages": [user("what is 2 + 3?")], "tools": [CALCULATOR], "stream": True})
    chunks = streamed_chunks(response)
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks]
    calls = [call["function"]["arguments"] for delta in deltas for call in delta.get("tool_calls", [])]
    assert calls == ['{"expression": "2 + 3"}']
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_without_an_expression_or_the_tool_it_just_answers():
    assert "content" in answer({"messages": [user("hello")], "tools": [CALCULATOR]})
    assert "content" in answer({"messages": [user("what is 2 + 3?")]})


def test_the_tools_result_comes_back_in_the_answer():
    call = {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1"}]}
    result = {"role": "tool", "content": '{"result": "5"}', "tool_call_id": "call_1"}
    messages = [user("what is 2 + 3?"), call, result]
    assert answer({"messages": messages, "tools": [CALCULATOR]}) == {"content": 'The tool said: {"result": "5"}'}


def test_asked_to_fail_it_answers_400_with_its_message(model):
    response = chat(model, {"messages": [user(f"please {FAIL_WORD}")], "stream": True})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == FAIL_MESSAGE


def test_it_lists_its_model(model):
    assert [entry["id"] for entry in requests.get(f"{model.url}/models", timeout=10).json()["data"]] == ["gpt-4o-mini"]
