#!/usr/bin/env python3
"""Ask a Langflow flow one question from the shell and print the answer.

    python chat_example.py "Why is the sky blue?"            the server's JSON
    python chat_example.py --text "Why is the sky blue?"     the reply alone
    python chat_example.py --stream "Why is the sky blue?"   the reply as it is written

This is the one-shot from its flags to its exit. What it shares with the chat (settings, the
HTTP client, Langflow's rules, the terminal, errors) lives in chat_session.py, imported here so
that Python loads it from its cached bytecode.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Any, TextIO

import chat_session as core

if TYPE_CHECKING:
    import argparse

ONE_SHOT_FLAGS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("message",), {"nargs": "?", "help": "the message; '-' reads standard input (also read when piped)"}),
    (("--text",), {"action": "store_true", "help": "print only the reply text"}),
    (("--json",), {"action": "store_true", "help": "print JSON (the default; with --stream, one event per line)"}),
    (("--stream",), {"action": "store_true", "help": "print the reply token by token as it arrives"}),
    (("--choice",), {"metavar": "ACTION", "help": "answer the flow's questions (a pause for a human) with ACTION"}),
    (
        ("--resume",),
        {"metavar": "JOB_ID", "help": "re-attach to a background run of this flow: answer it, or print its reply"},
    ),
    (
        ("--file",),
        {
            "action": "append",
            "default": [],
            "metavar": "PATH",
            "help": "attach a file to the flow's Chat Input (repeatable)",
        },
    ),
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = core.argument_parser(
        "chat_example.py",
        "Send one message to a Langflow flow and print the reply.",
        core.EXIT_CODES_HELP,
        ONE_SHOT_FLAGS,
    )
    args = parser.parse_args(argv)
    if args.text and args.json:
        parser.error("argument --json: not allowed with argument --text")
    return args


def run(args: argparse.Namespace, config: core.Config, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    """One question, from the settings to the printed answer."""
    terminal = core.Terminal(stdin, out, err, config.secrets, args.steps)
    server = core.connect(config, terminal)
    try:
        if args.list_flows:
            return core.show_flows(server, args.json, out)
        if args.resume:
            if args.message is not None:
                raise core.usage_error("--resume takes no message")
            return print_reply(args, terminal, lambda **run: core.follow_job(server, args.resume, **run))
        core.require_flow(config)
        if args.message == "-":
            terminal.typing_hint()
        message = core.read_message(args.message, stdin)
        files = core.readable_files(args.file)
        session_id = args.session_id or core.new_session_id()  # never the flow's shared default conversation
        if config.verbose:
            terminal.say(f"session id: {session_id}")
        core.check_component_names(server)
        tweaks = core.attach_files(server, files)
        continues = bool(args.session_id)
        return print_reply(
            args,
            terminal,
            lambda **run: core.ask(server, message, session_id, tweaks=tweaks, continues=continues, **run),
        )
    finally:
        server.close()


def print_reply(args: argparse.Namespace, terminal: core.Terminal, ask: Any) -> int:
    """The reply of `ask` (a run, or a re-attached background run) in the mode asked for: JSON (the
    default), --text, --stream, or --stream --json (the events as JSON lines). An empty reply is a
    reply (exit 0); a run with no message at all is the no-text error (exit 1, after any JSON)."""
    out, decide = terminal.out, decider(args, terminal)
    with terminal.turn():
        if args.stream and args.json:

            def print_event(event: dict) -> None:
                core.print_json(redact_strings(event, terminal), out, compact=True)

            reply = ask(on_event=print_event, on_step=terminal.step_shower(), decide=decide)
            core.reply_text(reply.result)
            return core.Exit.OK
        if not args.stream and not args.text:
            reply = ask(on_step=terminal.step_shower(), decide=decide)
            core.print_json(reply.result, out)
            core.reply_text(reply.result)
            return core.Exit.OK
        written = False

        def show(text: str) -> None:
            nonlocal written
            written = written or bool(text)
            terminal.show(text)

        try:
            reply = ask(show=show if args.stream else None, on_step=terminal.step_shower(), decide=decide)
            text = core.unshown_text(reply)
        except BaseException:
            if written:  # end the line a failure cut short; a failure before any text leaves stdout empty
                with contextlib.suppress(OSError):  # the failure is what is reported (a hung-up terminal takes no more)
                    terminal.show("\n")
            raise
    if not reply.had_text and not text:
        terminal.empty_reply_note()
    terminal.show(text + "\n")
    return core.Exit.OK


def redact_strings(value: Any, terminal: core.Terminal) -> Any:
    """An event with every string redacted before it is written as JSON (the server's words may echo the key)."""
    if isinstance(value, str):
        return terminal.redact(value)
    if isinstance(value, dict):
        return {key: redact_strings(item, terminal) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_strings(item, terminal) for item in value]
    return value


def decider(args: argparse.Namespace, terminal: core.Terminal) -> core.Decide:
    """How a pause is answered: --choice; else the person at the terminal; else exit 5 with the
    command that answers it (and, with --json, the waiting request on stdout)."""

    def decide(job_id: str, request: dict) -> dict:
        if args.choice:
            choices = core.request_choices(request)
            action = core.pick_choice(args.choice, choices)
            if action is None:
                allowed = ", ".join(action for action, _ in choices)
                raise core.failure_error("choice-not-allowed", choice=args.choice, choices=allowed)
            return {"action_id": action}
        decision = terminal.choose(request) if terminal.can_ask() else None
        if decision is not None:
            return decision
        if args.json:
            core.print_json({"job_id": job_id, **request}, terminal.out)
        raise core.human_needed(job_id, request)

    return decide


def main(argv: list[str] | None = None) -> int:
    return core.guarded_main(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
