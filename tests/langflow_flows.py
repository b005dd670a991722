"""Build the test flows with Langflow's own graph API and print them as JSON.

Run ONLY with the Python of a Langflow virtual environment (it imports Langflow):
    .cache/langflow-1.13.0/bin/python tests/langflow_flows.py
Output: {"echo": <flow data>, "counter": <flow data>, ...}, each with "nodes" and "edges",
ready for POST /api/v1/flows/. Releases with Human Input (1.11+) also get "approval" (a Human
Input node choosing between two replies) and "approval-agent" (an Agent whose tool needs a
human's approval; its model is the OpenAI fake the server is started with, see starter_flows.py)
and "text-echo" (Text Input into Text Output, for --input-type and --output-type text);
releases that take per-request variables (1.7.1+) get "variables" (replies with two global
variables, one read through a field bound to it, one by the component's code).
Building through Langflow itself (not hand-written JSON) keeps the flows valid
for the exact release under test. Releases differ (1.0.19 to 1.13.0 are tested):
1.13 keeps the components in the `lfx` package, older ones in `langflow`; before 1.6 the chat
components are in `components.inputs`/`.outputs`; 1.0 keeps only the imports and the first class of a
component's code; up to 1.1.1 there is only the synchronous `get_messages`, and a reply
streams through the `stream_url` protocol, not through `send_message`. In `lfx serve`'s own
environment (lfx without langflow) the lfx components are used.
"""

import importlib.util
import json
from importlib.metadata import version

PACKAGE = "lfx" if importlib.util.find_spec("lfx") else "langflow"
# `lfx serve`'s own venv has lfx without langflow; lfx is numbered as the Langflow it ships with
DISTRIBUTION = "langflow" if importlib.util.find_spec("langflow") else "lfx"
RELEASE = tuple(int(part) for part in version(DISTRIBUTION).split(".")[:3] if part.isdigit())
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
# Langflow 1.0 keeps only a module's imports and its first class (later ones also keep
# functions and assignments), so everything is in the class, and the differences between
# releases are filled in here (PACKAGE, GET_MESSAGES, STREAMS_BY_URL, ONLY_STORED_INPUT_VALUE:
# 1.0's messages have no id, and its Chat Input has stored the message before the model runs).
COUNTER_TEMPLATE = '''
import asyncio
import re
from types import SimpleNamespace

from PACKAGE.custom.custom_component.component import Component
from PACKAGE.io import BoolInput, MessageInput, Output
from PACKAGE.memory import GET_MESSAGES
from PACKAGE.schema.message import Message

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

    @staticmethod
    def _message_id(message) -> str | None:
        """A stored message's id: Message.get_id() from 1.2 on, the id field before."""
        get_id = getattr(message, "get_id", None)
        found = get_id() if get_id is not None else getattr(message, "id", None)
        return None if found is None else str(found)

    async def _turn_number(self, session_id: str) -> int:
        stored = AWAIT_GET_MESSAGES(session_id=session_id, order="ASC")
        users = [m for m in stored if m.sender == "User"]
        current = self.input_value
        current_id = self._message_id(current) if isinstance(current, Message) else None
        if current_id is None and ONLY_STORED_INPUT_VALUE:  # 1.0: no message ids; the Chat Input stored it
            return len(users)
        already_stored = current_id is not None and any(self._message_id(m) == current_id for m in users)
        return len(users) + (0 if already_stored else 1)

    async def reply(self) -> Message:
        current = self.input_value
        text = current.text if isinstance(current, Message) else str(current or "")
        words = set(re.findall(r"[a-z]+", text.lower()))
        if "explode" in words:
            raise ValueError("counter exploded on request")
        delay = 1.0 if "slowly" in words else 0.1
        # 1.0's graph has no session_id: there the message from the Chat Input carries it
        session_id = getattr(self.graph, "session_id", None) or getattr(current, "session_id", None) or ""
        reply = f"turn {await self._turn_number(session_id)}: {text}"
        tokens = re.findall(r"\\s*\\S+|\\s+", reply)
        if "big" in words:
            reply += " " + ("lorem ipsum dolor sit amet " * 200_000)[: 5 * 1024 * 1024]
            tokens, delay = [reply[start : start + 1024] for start in range(0, len(reply), 1024)], 0.0

        async def chunks():
            for i, token in enumerate(tokens):
                if i:
                    await asyncio.sleep(delay)
                yield SimpleNamespace(content=token)  # Langflow's streaming reads each item's .content

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
        .replace("STREAMS_BY_URL", str(STREAMS_BY_URL))
        .replace("ONLY_STORED_INPUT_VALUE", str(RELEASE < (1, 1)))
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


def text_echo_flow() -> dict:
    """Text Input straight into Text Output: replies with the message when it is sent to text inputs
    (--input-type text or any) and text outputs are returned (--output-type text, any or debug)."""
    components = importlib.import_module(f"{PACKAGE}.components.input_output")
    text_in = components.TextInputComponent()
    text_out = components.TextOutputComponent()
    text_out.set(input_value=text_in.text_response)
    return dump(Graph(text_in, text_out), "text-echo")


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


# Source of the "BranchReply" component: tells the two branches of a Human Input apart in the reply.
BRANCH_REPLY_CODE = """
from lfx.custom.custom_component.component import Component
from lfx.io import MessageInput, Output, StrInput
from lfx.schema.message import Message


class BranchReply(Component):
    \"\"\"Replies '<label>: <message>', the label naming the branch the message came through.\"\"\"

    display_name = "BranchReply"
    description = "Replies '<label>: <message>'."
    icon = "split"
    name = "BranchReply"

    inputs = [
        MessageInput(name="input_value", display_name="Input"),
        StrInput(name="label", display_name="Label", value=""),
    ]
    outputs = [Output(display_name="Message", name="message", method="reply")]

    def reply(self) -> Message:
        current = self.input_value
        text = current.text if isinstance(current, Message) else str(current or "")
        return Message(text=f"{self.label}: {text}", sender="Machine", sender_name="AI")
"""

# The tool the approval agent must ask about, and the decisions its approval offers
# (every decision Langflow's tool approval knows: approve, edit the input, reject, answer instead).
APPROVAL_TOOL = "evaluate_expression"
APPROVAL_ACTIONS = ["approve", "edit", "reject", "respond"]


# Source of the "VariableReader" component: shows the global variables a run sees.
VARIABLE_READER_CODE = """
from lfx.custom.custom_component.component import Component
from lfx.io import MessageInput, MessageTextInput, Output
from lfx.schema.message import Message


class VariableReader(Component):
    \"\"\"Replies '<message> | FLOW_BOUND=<value> | FLOW_READ=<value>': FLOW_BOUND through a field bound
    to the global variable (Langflow fills it in before the run), FLOW_READ through get_variables()
    in the code; '<unset>' when the variable has no value for this run.\"\"\"

    display_name = "VariableReader"
    description = "Replies with the global variables FLOW_BOUND and FLOW_READ."
    icon = "variable"
    name = "VariableReader"

    inputs = [
        MessageInput(name="input_value", display_name="Input"),
        MessageTextInput(name="bound", display_name="Bound", value="FLOW_BOUND", load_from_db=True),
    ]
    outputs = [Output(display_name="Message", name="message", method="reply")]

    async def reply(self) -> Message:
        current = self.input_value
        text = current.text if isinstance(current, Message) else str(current or "")
        try:
            read = await self.get_variables("FLOW_READ", "")
        except ValueError:
            read = "<unset>"
        return Message(text=f"{text} | FLOW_BOUND={self.bound} | FLOW_READ={read}", sender="Machine", sender_name="AI")
""".replace("lfx.", f"{PACKAGE}.")


def variables_flow() -> dict:
    """Chat Input -> VariableReader -> Chat Output."""
    reader_class = eval_custom_component_code(VARIABLE_READER_CODE)
    chat_in = ChatInput()
    reader = reader_class(_code=VARIABLE_READER_CODE)
    chat_out = ChatOutput()
    reader.set(input_value=chat_in.message_response)
    chat_out.set(input_value=reader.reply)
    return dump(Graph(chat_in, chat_out), "variables")


def approval_flow() -> dict:
    """Chat Input -> Human Input (Approve / Reject, the message as its prompt) -> one reply per
    branch: "approved: <message>" or "rejected: <message>", each through its own Chat Output."""
    from lfx.components.flow_controls.human_input import HumanInput

    branch_reply = eval_custom_component_code(BRANCH_REPLY_CODE)
    chat_in = ChatInput()
    human = HumanInput()
    human.set(prompt=chat_in.message_response, decisions=["Approve", "Reject"])
    approved = branch_reply(_code=BRANCH_REPLY_CODE)
    approved.set(input_value=human.route_branch, label="approved")  # route_branch: the first output, Approve
    rejected = branch_reply(_code=BRANCH_REPLY_CODE, label="rejected")
    approved_out, rejected_out = ChatOutput(), ChatOutput()
    approved_out.set(input_value=approved.reply)
    rejected_out.set(input_value=rejected.reply)
    graph = Graph()
    graph.add_component(approved_out)  # and, through its inputs, everything upstream
    graph.add_component(rejected_out)
    # Both branch outputs share one method, so the Reject branch is wired by its output's name.
    graph.add_component_edge(human.get_id(), ("branch_reject", "input_value"), rejected.get_id())
    graph.prepare(start_component_id=chat_in.get_id())
    return dump(graph, "approval")


def approval_agent_flow() -> dict:
    """Chat Input -> Agent (OpenAI gpt-4o-mini) with the Calculator as its only tool -> Chat Output.
    The tool's row in tools_metadata carries approval_actions, as the UI stores a tool whose use
    needs a human's approval: the run pauses before each call of it."""
    from lfx.components.models_and_agents import AgentComponent
    from lfx.components.utilities import CalculatorComponent
    from starter_flows import OPENAI_MODEL

    chat_in = ChatInput()
    calculator = CalculatorComponent()
    calculator._append_tool_to_outputs_map()  # its "Toolset" output (to_toolkit), as tool mode adds it
    agent = AgentComponent()
    agent.set(
        input_value=chat_in.message_response,
        tools=calculator.to_toolkit,
        add_current_date_tool=False,
        add_calculator_tool=False,
    )
    chat_out = ChatOutput()
    chat_out.set(input_value=agent.message_response)
    data = dump(Graph(chat_in, chat_out), "approval-agent")
    for node in data["nodes"]:
        template = node["data"]["node"]["template"]
        if node["data"]["type"] == "Agent":
            template["model"]["value"] = [OPENAI_MODEL]
        if node["data"]["type"] == "CalculatorComponent":  # in tool mode, as the UI stores it
            outputs = node["data"]["node"]["outputs"]
            node["data"]["node"].update(tool_mode=True, outputs=[o for o in outputs if o["method"] == "to_toolkit"])
            template["tools_metadata"] = tools_metadata_field(calculator)
    return data


def tools_metadata_field(component) -> dict:
    """The Actions (tools_metadata) field of a component in tool mode, its tool needing approval."""
    from lfx.inputs.inputs import ToolsInput

    row = {
        "name": APPROVAL_TOOL,
        "description": component.description,
        "display_name": APPROVAL_TOOL,
        "display_description": component.description,
        "tags": [APPROVAL_TOOL],
        "status": True,
        "readonly": False,
        "approval_actions": APPROVAL_ACTIONS,
        "args": {"expression": {"title": "Expression", "type": "string"}},
    }
    return ToolsInput(name="tools_metadata", display_name="Actions", value=[row], real_time_refresh=True).to_dict()


if __name__ == "__main__":
    flows = {"echo": echo_flow(), "counter": counter_flow()}
    if RELEASE >= (1, 7, 1):  # X-LANGFLOW-GLOBAL-VAR-* headers on /api/v1/run
        flows["variables"] = variables_flow()
    if RELEASE >= (1, 11):  # Human Input and tool approval; text-echo is used with 1.13 only so far
        flows.update({"approval": approval_flow(), "approval-agent": approval_agent_flow()})
        flows["text-echo"] = text_echo_flow()
    print(json.dumps(flows))
