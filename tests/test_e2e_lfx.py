"""The `lfx serve` test server (tests/lfx_server.py) itself: it starts, serves the flow files the
tests write, checks the key, runs and streams them. Plain HTTP, no client: these prove the
harness the client's own `lfx serve` tests run against."""

import json

import pytest
import requests

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.only("1.13.0", reason="lfx serve does not depend on the Langflow release under test: run once"),
]


def key(server) -> dict[str, str]:
    return {"x-api-key": server.api_key}


def run(server, flow_id: str, body: dict) -> requests.Response:
    """POST /flows/{flow_id}/run with the server's key."""
    return requests.post(f"{server.url}/flows/{flow_id}/run", json=body, headers=key(server), timeout=30)


def test_health_answers_without_a_key_and_counts_the_flow_files(lfx_serve):
    answer = requests.get(f"{lfx_serve.url}/health", timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"status": "healthy", "flow_count": 2}


def test_flows_lists_each_flow_file_by_its_id_and_name(lfx_serve):
    answer = requests.get(f"{lfx_serve.url}/flows", headers=key(lfx_serve), timeout=10)
    assert answer.status_code == 200
    assert {(flow["id"], flow["title"]) for flow in answer.json()} == {
        (lfx_serve.echo_id, "echo"),
        (lfx_serve.counter_id, "counter"),
    }


def test_info_of_one_flow_gives_its_metadata(lfx_serve):
    answer = requests.get(f"{lfx_serve.url}/flows/{lfx_serve.echo_id}/info", headers=key(lfx_serve), timeout=10)
    assert answer.json() == {
        "id": lfx_serve.echo_id,
        "relative_path": "echo.json",
        "title": "echo",
        "description": "test flow echo",
    }


def test_run_without_a_key_is_refused_with_401(lfx_serve):
    answer = requests.post(f"{lfx_serve.url}/flows/{lfx_serve.echo_id}/run", json={"input_value": "hi"}, timeout=10)
    assert (answer.status_code, answer.json()) == (401, {"detail": "API key required"})


def test_run_with_a_wrong_key_is_refused_with_401(lfx_serve):
    url = f"{lfx_serve.url}/flows/{lfx_serve.echo_id}/run"
    answer = requests.post(url, json={"input_value": "hi"}, headers={"x-api-key": "wrong"}, timeout=10)
    assert (answer.status_code, answer.json()) == (401, {"detail": "Invalid API key"})


def test_run_of_the_echo_flow_returns_the_message(lfx_serve):
    body = {"input_value": "hello lfx", "session_id": "harness-1"}
    answer = run(lfx_serve, lfx_serve.echo_id, body)
    assert answer.status_code == 200
    reply = {"result": "hello lfx", "success": True, "logs": "", "type": "message", "component": "Chat Output"}
    assert answer.json() == reply


def test_run_of_an_unknown_flow_is_404(lfx_serve):
    answer = run(lfx_serve, "nope", {"input_value": "hi"})
    assert (answer.status_code, answer.json()) == (404, {"detail": {"error": "flow not found", "flow_id": "nope"}})


def test_run_of_a_raising_component_is_500_with_its_message(lfx_serve):
    answer = run(lfx_serve, lfx_serve.counter_id, {"input_value": "explode"})
    assert answer.status_code == 500
    assert answer.json()["success"] is False
    assert "counter exploded on request" in answer.json()["result"]


def test_stream_sends_one_end_event_with_the_result(lfx_serve):
    body = {"input_value": "stream this", "session_id": "harness-2"}
    url = f"{lfx_serve.url}/flows/{lfx_serve.counter_id}/stream"
    with requests.post(url, json=body, headers=key(lfx_serve), stream=True, timeout=30) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line) for line in answer.iter_lines() if line]
    assert [event["event"] for event in events] == ["end"]
    assert events[0]["data"]["result"]["result"] == "turn 1: stream this"
