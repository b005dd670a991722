"""--var: per-request global variables, sent as X-LANGFLOW-GLOBAL-VAR-<NAME> headers on /api/v1/run,
against the fake Langflow server (tests/fake_langflow.py). The end-to-end proof that a component
reads them is in test_e2e.py."""

from __future__ import annotations

import pytest

from chat_example import parse_args
from chat_session import ClientError, load_config

SECRET = "var-SECRET-4242"


def config(*argv: str, **environ: str):
    return load_config(parse_args(["hi", *argv]), environ)


def variable_headers(seen) -> dict[str, str]:
    return {name.lower(): value for name, value in seen.headers.items() if name.lower().startswith("x-langflow")}


# --- Reading --var ------------------------------------------------------------------------------


def test_var_name_equals_value_sets_that_variable(in_tmp):
    assert config("--var", "MODEL_KEY=abc=def").variables == {"MODEL_KEY": "abc=def"}


def test_var_name_alone_takes_the_value_of_the_environment_variable_of_that_name(in_tmp):
    assert config("--var", "MODEL_KEY", MODEL_KEY="from-env").variables == {"MODEL_KEY": "from-env"}


def test_var_name_alone_takes_the_value_from_the_dotenv_when_the_environment_lacks_it(in_tmp):
    (in_tmp / ".env").write_text("MODEL_KEY=from-dotenv\n", encoding="utf-8")
    assert config("--var", "MODEL_KEY").variables == {"MODEL_KEY": "from-dotenv"}


def test_var_is_repeatable(in_tmp):
    assert config("--var", "A=1", "--var", "B=2").variables == {"A": "1", "B": "2"}


def test_var_naming_an_unset_environment_variable_is_a_usage_error_naming_it(in_tmp):
    with pytest.raises(ClientError) as failed:
        config("--var", "MODEL_KEY")
    assert failed.value.exit_code == 2
    assert "no environment variable MODEL_KEY is set" in str(failed.value)


def test_a_bad_var_name_is_a_usage_error_that_does_not_show_the_value(in_tmp):
    with pytest.raises(ClientError) as failed:
        config("--var", f"MY KEY={SECRET}")
    assert failed.value.exit_code == 2
    assert "'MY KEY'" in str(failed.value) and SECRET not in str(failed.value)


def test_var_values_are_secrets(in_tmp):
    assert SECRET in config("--var", f"A={SECRET}").secrets


# --- Sending them ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [[], ["--text"], ["--stream"]], ids=["json", "text", "stream"])
def test_each_var_is_sent_as_a_global_variable_header_on_the_run(cli, fake, mode):
    result = cli(*mode, "--var", "MODEL_KEY=k1", "--var", "other-name=k2", "hi")
    assert result.returncode == 0, result.stderr
    (run,) = fake.runs()
    assert variable_headers(run) == {
        "x-langflow-global-var-model_key": "k1",
        "x-langflow-global-var-other-name": "k2",
    }


def test_var_from_the_environment_is_sent_and_never_in_argv(cli, fake, fake_env):
    result = cli("--text", "--var", "MODEL_KEY", "hi", env={**fake_env, "MODEL_KEY": SECRET})
    assert result.returncode == 0, result.stderr
    (run,) = fake.runs()
    assert variable_headers(run) == {"x-langflow-global-var-model_key": SECRET}


def test_verbose_output_redacts_var_values(cli, fake):
    result = cli("-v", "--text", "--var", f"MODEL_KEY={SECRET}", "hi")
    assert result.returncode == 0, result.stderr
    assert "X-LANGFLOW-GLOBAL-VAR-MODEL_KEY: [redacted]" in result.stderr
    assert SECRET not in result.stderr


def test_an_error_line_never_shows_a_var_value(cli, fake):
    fake.failing = ("Variable Reader", f"bad value {SECRET}")
    result = cli("--text", "--var", f"MODEL_KEY={SECRET}", "hi")
    assert result.returncode == 1
    assert "Variable Reader" in result.stderr and SECRET not in result.stderr


@pytest.mark.parametrize(
    ("script", "message"), [("chat_example.py", ["hi"]), ("chat_session.py", [])], ids=["one-shot", "chat"]
)
def test_a_server_older_than_1_7_1_is_a_usage_error_and_nothing_is_run(cli, fake, script, message):
    fake.version = "1.7.0"
    result = cli("--var", "MODEL_KEY=k1", *message, stdin="hi\n", script=script)
    assert result.returncode == 2
    assert "error: Langflow 1.7.0 does not take per-request variables (--var)" in result.stderr
    assert fake.runs() == []


def test_without_var_an_older_server_is_not_asked_its_version(cli, fake):
    result = cli("--text", "hi")
    assert result.returncode == 0, result.stderr
    assert [seen.path for seen in fake.requests] == [fake.runs()[0].path]


def test_every_turn_of_a_chat_sends_the_variables(cli, fake, fake_env):
    result = cli(
        "--var", "MODEL_KEY", stdin="one\ntwo\n", env={**fake_env, "MODEL_KEY": "k1"}, script="chat_session.py"
    )
    assert result.returncode == 0, result.stderr
    assert [variable_headers(run) for run in fake.runs()] == [{"x-langflow-global-var-model_key": "k1"}] * 2


def test_a_var_value_a_header_cannot_carry_is_a_usage_error_naming_only_the_variable(in_tmp):
    with pytest.raises(ClientError) as failed:
        config("--var", f"MODEL_KEY={SECRET}\nX")
    assert failed.value.exit_code == 2
    assert "--var MODEL_KEY" in str(failed.value) and SECRET not in str(failed.value)
