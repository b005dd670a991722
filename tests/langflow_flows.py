"""Build the test flows with Langflow's own graph API and print them as JSON.

Run ONLY with the Python of a Langflow virtual environment (it imports Langflow):
    .cache/langflow-1.13.0/bin/python tests/langflow_flows.py
Output: {"echo": <flow data>, "counter": <flow data>}, each with "nodes" and "edges",
ready for POST /api/v1/flows/. Building through Langflow itself (not hand-written JSON) keeps
the flows valid for the exact release under test. Releases differ (1.1.1 to 1.13.0 are tested):
1.13 keeps the components in the `lfx` package, older ones in `langflow`; before 1.6 the chat
components are in `components.inputs`/`.outputs`; 1.1.1 has only the synchronous `get_messages`
and streams a reply through the `stream_url` protocol, not through `send_message`.
"""

import importlib.util
import json
from importlib.metadata import version

PACKAGE = "lfx" if importlib.util.find_spec("lfx") else "langflow"
RELEASE = tuple(int(part) for part in version("langflow").split(".")[:3] if part.isdigit())
STREAMS_BY_URL = RELEASE < (1, 1, 2)  # 1.1.1 and earlier: POST /run answers a stream_url

try:
    _chat = importlib.import_module(f"{PACKAGE}.components.input_output")
    ChatInput, ChatOutput = _chat.ChatInput, _chat.ChatOutput
except ImportError:  # before 1.6
    ChatInput = importlib.import_module(f"{PACKAGE}.components.inputs").ChatInput
    ChatOutput = importlib.import_module(f"{PACKAGE}.components.outputs").ChatOutput
eval_custom_component_code = importlib.import_module(f"{PACKAGE}.custom.eval").eval_custom_component_code
Graph = importlib.import_module(f"{PACKAGE}.graph").Graph

# Source of the "CounterModel" component. It is a string because Langflow stores a
# custom component as the source of its whole module and runs it in the server;
# keeping it separate from this script keeps the stored code small and self-contained.
# Langflow keeps only a module's imports, classes, functions and assignments, so the
# differences between releases are filled in here (PACKAGE, GET_MESSAGES, STREAMS_BY_URL).
COUNTER_TEMPLATE = '''
import asyncio
import re
from dataclasses import dataclass

from PACKAGE.custom.custom_component.component import Component
from PACKAGE.io import BoolInput, MessageInput, Output
from PACKAGE.memory import GET_MESSAGES
from PACKAGE.schema.message import Message

STREAMS_BY_URL = STREAMS_BY_URL_VALUE


def message_id(message) -> str | None:
    """A stored message's id: Message.get_id() from 1.2 on, the id field in 1.1."""
    get_id = getattr(message, "get_id", None)
    found = get_id() if get_id is not None else getattr(message, "id", None)
    return None if found is None else str(found)


@dataclass
class Chunk:
    """What Langflow's streaming code reads from each item: a .content string."""

    content: str


class CounterModel(Component):
    """A deterministic stand-in for a streaming LLM.

    Replies "turn N: <message>", N being the number of user messages stored for this
    session including the current one. Words arrive 0.1 s apart (1 s when the
    message contains "slowly"); "explode" makes it raise; "big" adds 5 MB of text,
    sent at once in 1 KB tokens (for the benchmark). A non-streaming run
    (stream=false) waits the same total time and returns the whole text at once.
    """

    display_name = "CounterModel"
    description = "Replies 'turn N: <message>' word by word; no LLM."
    icon = "hash"
    name = "CounterModel"

    inputs = [
        MessageInput(name="input_value", display_name="Input"),
        # /api/v1/run injects its stream flag into every component with a "stream" field.
        BoolInput(name="stream", display_name="Stream", value=True, advanced=True),
    ]
    outputs = [Output(display_name="Message", name="message", method="reply")]

    async def _turn_number(self, session_id: str) -> int:
        stored = AWAIT_GET_MESSAGES(session_id=session_id, order="ASC")
        users = [m for m in stored if m.sender == "User"]
        current = self.input_value
        current_id = message_id(current) if isinstance(current, Message) else None
        already_stored = current_id is not None and any(message_id(m) == current_id for m in users)
        return len(users) + (0 if already_stored else 1)

    async def reply(self) -> Message:
        current = self.input_value
        text = current.text if isinstance(current, Message) else str(current or "")
        words = set(re.findall(r"[a-z]+", text.lower()))
        if "explode" in words:
            raise ValueError("counter exploded on request")
        delay = 1.0 if "slowly" in words else 0.1
        session_id = self.graph.session_id
        reply = f"turn {await self._turn_number(session_id)}: {text}"
        tokens = re.findall(r"\\s*\\S+|\\s+", reply)
        if "big" in words:
            reply += " " + ("lorem ipsum dolor sit amet " * 200_000)[: 5 * 1024 * 1024]
            tokens, delay = [reply[start : start + 1024] for start in range(0, len(reply), 1024)], 0.0

        async def chunks():
            for i, token in enumerate(tokens):
                if i:
                    await asyncio.sleep(delay)
                yield Chunk(token)

        if self.stream and STREAMS_BY_URL:
            # Langflow 1.1.1 streams through a stream_url when the Chat Output's input is itself an
            # iterator, as its own model components return it (runnable.stream(...)).
            return chunks()
        # before 1.6 there is no is_connected_to_chat_output: the model is always wired to it here
        connected = getattr(self, "is_connected_to_chat_output", lambda: True)
        if self.stream and self._event_manager is not None and connected():
            message = Message(text=chunks(), sender="Machine", sender_name="AI", session_id=session_id)
            return await self.send_message(message)
        await asyncio.sleep(delay * max(len(tokens) - 1, 0))
        self.status = reply
        return Message(text=reply, sender="Machine", sender_name="AI", session_id=session_id)
'''


def counter_code() -> str:
    """The CounterModel source for the Langflow release this script runs in."""
    asynchronous = RELEASE >= (1, 2)  # 1.1.1 has only get_messages
    return (
        COUNTER_TEMPLATE.replace("PACKAGE", PACKAGE)
        .replace("AWAIT_GET_MESSAGES", "await aget_messages" if asynchronous else "get_messages")
        .replace("GET_MESSAGES", "aget_messages" if asynchronous else "get_messages")
        .replace("STREAMS_BY_URL_VALUE", str(STREAMS_BY_URL))
    )


def dump(graph, name: str) -> dict:
    """The flow data of a graph, as plain JSON (before 1.6 the dump holds a datetime)."""
    return json.loads(json.dumps(graph.dump(name=name)["data"], default=str))


def echo_flow() -> dict:
    """Chat Input straight into Chat Output: replies with the user's message."""
    chat_in = ChatInput()
    chat_out = ChatOutput()
    chat_out.set(input_value=chat_in.message_response)
    return dump(Graph(chat_in, chat_out), "echo")


def counter_flow() -> dict:
    """Chat Input -> CounterModel -> Chat Output."""
    code = counter_code()
    counter_class = eval_custom_component_code(code)
    chat_in = ChatInput()
    counter = counter_class(_code=code)
    chat_out = ChatOutput()
    counter.set(input_value=chat_in.message_response)
    chat_out.set(input_value=counter.reply)
    return dump(Graph(chat_in, chat_out), "counter")


if __name__ == "__main__":
    print(json.dumps({"echo": echo_flow(), "counter": counter_flow()}))
