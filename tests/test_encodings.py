"""Encodings as Langflow's users have them: stdio in any locale (Windows' cp1252 with output piped,
legacy Unix locales), settings files as Windows tools write them, and error lines that cannot leak.

Windows and legacy locales are reproduced with PYTHONIOENCODING and LC_ALL=C (no UTF-8 mode, no
locale coercion) in the real scripts, run as subprocesses against tests/fake_langflow.py.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
from conftest import API_KEY, ROOT, one_shot_at_terminal, sent_messages, spawn_in_terminal
from fake_langflow import event_stream, json_reply, run_response, stream_events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chat_example
import chat_session as core

RUN = "/api/v1/run/"
WORLD = "héllo 世界 👋"  # Latin-1, then characters no legacy code page has
LOCALES = {
    "cp1252": {"PYTHONIOENCODING": "cp1252"},
    "latin-1": {"PYTHONIOENCODING": "latin-1"},
    "C-locale": {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"},
}
REPLIES = {
    "--text": json_reply(run_response("s", [WORLD], "hi")),
    "--stream": event_stream(stream_events("s", "hi", WORLD, [WORLD[:6], WORLD[6:]])),
}


def run_script(env: dict[str, str], cwd: Path, *args: str, stdin: bytes = b"", script: str = "chat_example.py"):
    """The script with raw bytes in and out, so the test sees exactly what a pipe carries."""
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args], input=stdin, capture_output=True, env=env, cwd=cwd, timeout=60
    )


# --- Standard output and input: UTF-8 on pipes, whatever the locale ----------------------------


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("mode", REPLIES)
def test_a_reply_reaches_a_pipe_as_utf8_in_any_locale(fake, fake_env, tmp_path, locale, mode):
    fake.script(RUN, REPLIES[mode])
    result = run_script({**fake_env, **LOCALES[locale]}, tmp_path, "hi", mode)
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout == f"{WORLD}\n".encode()


@pytest.mark.parametrize("locale", LOCALES)
def test_json_reaches_a_pipe_as_utf8_in_any_locale(fake, fake_env, tmp_path, locale):
    reply = run_response("s", [WORLD], "hi")
    fake.script(RUN, json_reply(reply))
    result = run_script({**fake_env, **LOCALES[locale]}, tmp_path, "hi")
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout == (json.dumps(reply, indent=2, ensure_ascii=False) + "\n").encode()


@pytest.mark.parametrize("locale", LOCALES)
def test_stream_json_reaches_a_pipe_as_utf8_in_any_locale(fake, fake_env, tmp_path, locale):
    fake.script(RUN, REPLIES["--stream"])
    result = run_script({**fake_env, **LOCALES[locale]}, tmp_path, "hi", "--stream", "--json")
    assert (result.returncode, result.stderr) == (0, b"")
    assert WORLD[6:].encode() in result.stdout
    assert [json.loads(line)["event"] for line in result.stdout.decode("utf-8").splitlines()][-1] == "end"


@pytest.mark.parametrize("locale", LOCALES)
def test_piped_stdin_is_read_as_utf8_in_any_locale(fake, fake_env, tmp_path, locale):
    result = run_script({**fake_env, **LOCALES[locale]}, tmp_path, "--text", stdin=f"{WORLD}\n".encode())
    assert result.returncode == 0, result.stderr
    assert sent_messages(fake) == [WORLD]


@pytest.mark.parametrize("locale", LOCALES)
def test_a_piped_conversation_is_utf8_both_ways_and_goes_on_past_non_latin_text(fake, fake_env, tmp_path, locale):
    lines = [WORLD, "Ελληνικά", "last ✓"]
    stdin = "".join(f"{line}\n" for line in lines).encode()
    result = run_script({**fake_env, **LOCALES[locale]}, tmp_path, stdin=stdin, script="chat_session.py")
    assert (result.returncode, result.stderr) == (0, b"")
    assert sent_messages(fake) == lines
    assert result.stdout.decode("utf-8") == "".join(f"User: {line}\nAI: {line}\n\n" for line in lines)


@pytest.mark.parametrize("script", ["chat_example.py", "chat_session.py"])
def test_invalid_bytes_on_stdin_are_replaced_not_fatal(fake, fake_env, tmp_path, script):
    env = {**fake_env, **LOCALES["cp1252"]}  # where a locale decoder would read 0xe9 as "é"
    result = run_script(env, tmp_path, stdin=b"caf\xe9 ok\n", script=script)
    assert result.returncode == 0, result.stderr
    assert sent_messages(fake) == ["caf\ufffd ok"]


# --- At a terminal that cannot show every character --------------------------------------------


def test_a_terminal_gets_what_its_encoding_can_show_and_a_replacement_for_the_rest(fake, fake_env, tmp_path):
    fake.script(RUN, REPLIES["--stream"])
    shown = one_shot_at_terminal({**fake_env, **LOCALES["latin-1"]}, tmp_path, "hi", "--stream")
    assert (shown.returncode, shown.stderr) == (0, b"")
    assert shown.stdout == "héllo ?? ?\r\n".encode("latin-1")


def test_a_chat_at_a_cp1252_terminal_replaces_what_it_cannot_show_and_goes_on(fake, fake_env, tmp_path):
    env = {**fake_env, **LOCALES["cp1252"], "TERM": "dumb", "INPUTRC": os.devnull}
    child = spawn_in_terminal("chat_session.py", env=env, cwd=tmp_path, size=(24, 80), timeout=5, encoding="cp1252")
    try:
        child.expect_exact("User: ")
        fake.script(RUN, REPLIES["--stream"])
        child.sendline("hi")
        child.expect_exact("AI: héllo ?? ?\r\n\r\nUser: ")
        child.sendline("still here")
        child.expect_exact("AI: still here\r\n\r\nUser: ")
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


# --- Settings files as Windows writes them ---------------------------------------------------

SETTINGS = f"LANGFLOW_URL=http://127.0.0.1:9\nLANGFLOW_FLOW_ID=flow-é\nLANGFLOW_API_KEY={API_KEY}\n"
ENCODINGS = {  # how each is written: Notepad (UTF-8, with or without a BOM), PowerShell 5.1's `>` (UTF-16)
    "utf-8": SETTINGS.encode("utf-8"),
    "utf-8-bom": b"\xef\xbb\xbf" + SETTINGS.encode("utf-8"),
    "utf-16-le-bom": b"\xff\xfe" + SETTINGS.encode("utf-16-le"),
    "utf-16-be-bom": b"\xfe\xff" + SETTINGS.encode("utf-16-be"),
}
NOT_READABLE = {
    "cp1252": SETTINGS.encode("cp1252"),
    "utf-16-without-bom": SETTINGS.encode("utf-16-le"),
}


def settings_from(*argv: str) -> core.Config:
    """The settings of a run in the current folder; the user's settings folder is ./config."""
    return core.load_config(chat_example.parse_args(["hi", *argv]), {"XDG_CONFIG_HOME": os.path.abspath("config")})


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_dotenv_is_read_in_utf8_with_or_without_a_bom_and_in_utf16_with_one(in_tmp, encoding):
    (in_tmp / ".env").write_bytes(ENCODINGS[encoding])
    config = settings_from()
    assert (config.url, config.flow, config.api_key) == ("http://127.0.0.1:9", "flow-é", API_KEY)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_the_user_settings_file_is_read_in_utf8_with_or_without_a_bom_and_in_utf16_with_one(in_tmp, encoding):
    path = in_tmp / "config" / "langflow-chat" / ".env"
    path.parent.mkdir(parents=True)
    path.write_bytes(ENCODINGS[encoding])
    path.chmod(0o600)
    config = settings_from()
    assert (config.url, config.flow, config.api_key) == ("http://127.0.0.1:9", "flow-é", API_KEY)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_an_env_file_is_read_in_utf8_with_or_without_a_bom_and_in_utf16_with_one(in_tmp, encoding):
    (in_tmp / "settings.env").write_bytes(ENCODINGS[encoding])
    config = settings_from("--env-file", "settings.env")
    assert (config.url, config.flow, config.api_key) == ("http://127.0.0.1:9", "flow-é", API_KEY)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
def test_a_tweaks_file_is_read_in_utf8_with_or_without_a_bom_and_in_utf16_with_one(tmp_path, encoding):
    tweaks = {"ChatInput-abc": {"sender_name": "José 世界"}}
    (tmp_path / "tweaks.json").write_text(json.dumps(tweaks, ensure_ascii=False), encoding=encoding)
    assert core.parse_tweaks(f"@{tmp_path / 'tweaks.json'}") == tweaks


@pytest.mark.parametrize("encoding", NOT_READABLE)
@pytest.mark.parametrize("how", [".env", "--env-file", "@tweaks"])
def test_a_file_in_another_encoding_is_a_usage_error_naming_it_and_utf8_not_its_contents(in_tmp, encoding, how):
    (in_tmp / "file").write_bytes(NOT_READABLE[encoding])
    if how == ".env":
        (in_tmp / "file").rename(in_tmp / ".env")
    argv = {".env": [], "--env-file": ["--env-file", "file"], "@tweaks": ["--tweaks", "@file"]}[how]
    with pytest.raises(core.ClientError) as caught:
        settings_from(*argv)
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert ("file" if how != ".env" else ".env") in message and "UTF-8" in message
    assert API_KEY not in message and "LANGFLOW" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_powershell_dotenv_works_end_to_end_and_its_key_is_sent(fake, fake_env, tmp_path, cli):
    (cli.workdir / ".env").write_bytes(b"\xff\xfe" + f"LANGFLOW_API_KEY={API_KEY}\r\n".encode("utf-16-le"))
    result = cli("hi", "--text", env={name: value for name, value in fake_env.items() if name != "LANGFLOW_API_KEY"})
    assert (result.returncode, result.stdout, result.stderr) == (0, "hi\n", "")
    assert fake.runs()[0].headers["x-api-key"] == API_KEY


@pytest.mark.parametrize("flags", [[], ["-v"]], ids=["quiet", "verbose"])
def test_an_unreadable_dotenv_is_one_line_without_the_key_even_verbose(fake_env, cli, flags):
    (cli.workdir / ".env").write_bytes(f"LANGFLOW_API_KEY={API_KEY}\nLANGFLOW_FLOW_ID=café\n".encode("cp1252"))
    result = cli("hi", *flags)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        f"error: env file {cli.workdir / '.env'} is neither UTF-8 nor UTF-16 with a BOM (save it as UTF-8)"
    )
    assert API_KEY not in result.stderr


# --- The one place that reports errors cannot leak --------------------------------------------

EXCEPTION_TYPES = [
    ValueError,
    KeyError,
    RuntimeError,
    TypeError,
    OSError,
    LookupError,
    AssertionError,
    type("CustomError", (Exception,), {}),
]


def key_carrying_exceptions() -> st.SearchStrategy[BaseException]:
    """Any exception whose args, message or repr hold the key, among other user data."""
    text = st.text(max_size=40)
    carrier = st.one_of(
        st.builds(lambda a, b: f"{a}{API_KEY}{b}", text, text),
        st.builds(lambda a: {"LANGFLOW_API_KEY": API_KEY, "note": a}, text),
        st.builds(lambda a: f"{a}{API_KEY}".encode("utf-16"), text),
    )
    plain = st.sampled_from(EXCEPTION_TYPES).flatmap(
        lambda kind: st.lists(st.one_of(carrier, text), min_size=1, max_size=3).map(
            lambda args: kind(*args) if any(API_KEY in repr(arg) for arg in args) else kind(API_KEY, *args)
        )
    )
    file_bytes = st.builds(lambda a: f"{a}LANGFLOW_API_KEY={API_KEY}\xff".encode("latin-1", "replace"), text)
    decode = st.builds(lambda data: UnicodeDecodeError("utf-8", data, 0, 1, "invalid start byte"), file_bytes)
    encode = st.builds(lambda a: UnicodeEncodeError("cp1252", f"{a} {API_KEY} 世界", 0, 1, "cannot"), text)
    return st.one_of(plain, decode, encode)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key_carrying_exceptions())
def test_an_internal_error_line_never_holds_the_key_even_when_the_key_is_not_yet_known(error):
    err = io.StringIO()
    core.Terminal(None, None, err).report(error, verbose=False)
    assert API_KEY not in err.getvalue()
    assert err.getvalue() == (
        f"error: internal error: {type(error).__name__} (run with -v for the traceback, and report it)\n"
    )


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key_carrying_exceptions())
def test_a_verbose_traceback_never_holds_a_known_key(error):
    err = io.StringIO()
    try:
        raise error
    except Exception as raised:  # noqa: BLE001 - any exception, with its traceback
        core.Terminal(None, None, err, [API_KEY]).report(raised, verbose=True)
    assert API_KEY not in err.getvalue()
    assert "Traceback" in err.getvalue()


def test_an_internal_error_in_a_run_is_one_line_naming_only_its_type(in_tmp, monkeypatch, capsys):
    monkeypatch.setenv("LANGFLOW_API_KEY", API_KEY)

    def failing_run(*_args):
        raise UnicodeEncodeError("cp1252", f"a whole reply, {API_KEY} 世界", 0, 1, "character maps to <undefined>")

    assert core.guarded_main(chat_example.parse_args, failing_run, ["hi"]) == 1
    captured = capsys.readouterr()
    assert captured.err == (
        "error: internal error: UnicodeEncodeError (run with -v for the traceback, and report it)\n"
    )
    assert captured.out == ""
