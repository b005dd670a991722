"""Build the test flows with Langflow's own graph API and print them as JSON.

Run ONLY with the Python of the Langflow virtual environment (it imports lfx):
    .cache/langflow-1.13.0/bin/python tests/langflow_flows.py
Output: {"echo": <flow data>, "counter": <flow data>}, each with "nodes" and "edges",
ready for POST /api/v1/flows/. Building through lfx (not hand-written JSON) keeps the
flows valid for the exact Langflow version under test.
"""

import json

from lfx.components.input_output import ChatInput, ChatOutput
from lfx.custom.eval import eval_custom_component_code
from lfx.graph import Graph

# Source of the "CounterModel" component. It is a string because Langflow stores a
# custom component as the source of its whole module and runs it in the server;
# keeping it separate from this script keeps the stored code small and self-contained.
COUNTER_CODE = '''
import asyncio
import re
from dataclasses import dataclass

from lfx.custom.custom_component.component import Component
from lfx.io import BoolInput, MessageInput, Output
from lfx.memory import aget_messages
from lfx.schema.message import Message


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
        stored = await aget_messages(session_id=session_id, order="ASC")
        users = [m for m in stored if m.sender == "User"]
        current = self.input_value
        current_id = current.get_id() if isinstance(current, Message) else None
        already_stored = current_id is not None and any(str(m.get_id()) == str(current_id) for m in users)
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

        if self.stream and self._event_manager is not None and self.is_connected_to_chat_output():
            message = Message(text=chunks(), sender="Machine", sender_name="AI", session_id=session_id)
            return await self.send_message(message)
        await asyncio.sleep(delay * max(len(tokens) - 1, 0))
        self.status = reply
        return Message(text=reply, sender="Machine", sender_name="AI", session_id=session_id)
'''


def echo_flow() -> dict:
    """Chat Input straight into Chat Output: replies with the user's message."""
    chat_in = ChatInput()
    chat_out = ChatOutput()
    chat_out.set(input_value=chat_in.message_response)
    return Graph(chat_in, chat_out).dump(name="echo")["data"]


def counter_flow() -> dict:
    """Chat Input -> CounterModel -> Chat Output."""
    counter_class = eval_custom_component_code(COUNTER_CODE)
    chat_in = ChatInput()
    counter = counter_class(_code=COUNTER_CODE)
    chat_out = ChatOutput()
    counter.set(input_value=chat_in.message_response)
    chat_out.set(input_value=counter.reply)
    return Graph(chat_in, chat_out).dump(name="counter")["data"]


if __name__ == "__main__":
    print(json.dumps({"echo": echo_flow(), "counter": counter_flow()}))
