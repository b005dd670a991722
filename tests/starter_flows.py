"""Langflow's own starter projects, pointed at the OpenAI fake (tests/openai_fake.py).

Langflow ships its starter projects inside the installed package
(`langflow/initial_setup/starter_projects/*.json`). Each is loaded as shipped, its model fields
are set as Langflow's UI stores a chosen OpenAI model, and it is created on the test server
under an endpoint name. The server itself must run with OPENAI_API_KEY and OPENAI_BASE_URL
pointing at the fake (`openai_env`). Standard library + requests only.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import requests

# Starter project file → endpoint name on the test server.
STARTERS = {
    "Basic Prompting": "basic-prompting",
    "Memory Chatbot": "memory-chatbot",
    "Simple Agent": "simple-agent",
}

# One entry of a model field's value as Langflow 1.13's UI stores a chosen OpenAI model: the
# option the model picker offers (lfx.base.models.unified_models.model_catalog
# .get_language_model_options), which a flow saved by the UI keeps as a one-item list.
OPENAI_MODEL = {
    "name": "gpt-4o-mini",
    "icon": "OpenAI",
    "category": "OpenAI",
    "provider": "OpenAI",
    "metadata": {
        "context_length": 128000,
        "model_class": "ChatOpenAI",
        "model_name_param": "model",
        "api_key_param": "api_key",
        "max_tokens_field_name": "max_tokens",
    },
}

# Not a secret: the fake accepts any key; langchain-openai only needs one to be set.
FAKE_API_KEY = "sk-fake-openai-key-for-tests"


def openai_env(base_url: str) -> dict[str, str]:
    """The Langflow server's environment for a model at base_url."""
    return {"OPENAI_API_KEY": FAKE_API_KEY, "OPENAI_BASE_URL": base_url}


def starter_folder(langflow_python: Path) -> Path:
    """The starter projects of the Langflow installed in the venv of langflow_python."""
    pattern = "lib/python*/site-packages/langflow/initial_setup/starter_projects"
    found = sorted(langflow_python.parent.parent.glob(pattern))
    if not found:
        raise RuntimeError(f"no starter projects in the Langflow venv of {langflow_python}")
    return found[0]


def with_openai_model(flow: dict) -> dict:
    """A copy of the flow whose every model field holds the OpenAI model."""
    flow = copy.deepcopy(flow)
    for node in flow["data"]["nodes"]:
        template = node.get("data", {}).get("node", {}).get("template", {})
        field = template.get("model")
        if isinstance(field, dict) and field.get("type") == "model":
            field["value"] = [OPENAI_MODEL]
    return flow


def load_starters(folder: Path) -> dict[str, dict]:
    """Endpoint name → the starter project's flow, with the OpenAI model chosen."""
    flows = {}
    for title, endpoint in STARTERS.items():
        flow = json.loads((folder / f"{title}.json").read_text(encoding="utf-8"))
        flows[endpoint] = with_openai_model(flow)
    return flows


def create_starters(url: str, username: str, password: str, folder: Path) -> dict[str, str]:
    """Create the starter flows on the server; return endpoint name → flow id."""
    login = requests.post(f"{url}/api/v1/login", data={"username": username, "password": password}, timeout=30)
    login.raise_for_status()
    bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
    ids = {}
    for endpoint, flow in load_starters(folder).items():
        body = {
            "name": flow["name"],
            "description": flow.get("description", ""),
            "data": flow["data"],
            "endpoint_name": endpoint,
        }
        created = requests.post(f"{url}/api/v1/flows/", json=body, headers=bearer, timeout=30)
        if not created.ok:
            raise RuntimeError(f"creating starter flow {endpoint!r}: {created.status_code} {created.text[:500]}")
        ids[endpoint] = created.json()["id"]
    return ids
