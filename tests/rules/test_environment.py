"""What of the tool's environment a run gets, and how secrets are masked in what is shown."""

from __future__ import annotations

import pytest

from autoresearch.rules.environment import (
    looks_like_credential,
    mask_secrets,
    passed_names,
    run_environment,
)

TOOL_ENVIRONMENT = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/home/me",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "CUDA_VISIBLE_DEVICES": "0",
    "OMP_NUM_THREADS": "4",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "TF_VAR_region_of_the_database": "eu-west-1",
    "PYTHONPATH": "/opt/lib",
    "VIRTUAL_ENV": "/home/me/venv",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HOME": "/data/hf",
    "AUTORESEARCH_TAG": "t",
    "OPENAI_API_KEY": "sk-openai-0123456789",
    "ANTHROPIC_API_KEY": "sk-ant-0123456789",
    "AWS_SECRET_ACCESS_KEY": "aws/secret+0123456789",
    "GITHUB_TOKEN": "ghp_0123456789",
    "HF_TOKEN": "hf_0123456789",
    "TORCH_HUB_TOKEN": "torch-0123456789",
    "AUTORESEARCH_API_KEY": "ar-0123456789",
    "my_db_password": "hunter2hunter2",
    "DATABASE_URL": "postgres://me:pw@db/prod",
    "EDITOR": "vim",
}


def test_the_allowlist_passes_what_locates_things_and_tunes_the_hardware() -> None:
    env = run_environment(TOOL_ENVIRONMENT, ())
    assert sorted(env) == sorted(
        [
            "PATH",
            "HOME",
            "LANG",
            "LC_ALL",
            "CUDA_VISIBLE_DEVICES",
            "OMP_NUM_THREADS",
            "TF_CPP_MIN_LOG_LEVEL",
            "PYTHONPATH",
            "VIRTUAL_ENV",
            "TOKENIZERS_PARALLELISM",
            "HF_HOME",
            "AUTORESEARCH_TAG",
        ]
    )
    assert env["PATH"] == "/usr/bin:/bin"


def test_anything_else_passes_only_when_named() -> None:
    env = run_environment(TOOL_ENVIRONMENT, ["EDITOR", "DATABASE_URL", "NOT_SET_ANYWHERE"])
    assert env["EDITOR"] == "vim" and env["DATABASE_URL"] == "postgres://me:pw@db/prod"
    assert "NOT_SET_ANYWHERE" not in env


@pytest.mark.parametrize(
    "name",
    ["HF_TOKEN", "TORCH_HUB_TOKEN", "AUTORESEARCH_API_KEY", "OPENAI_API_KEY", "my_db_password"],
)
def test_a_credential_is_refused_even_under_an_allowed_prefix_unless_named_exactly(
    name: str,
) -> None:
    assert name not in run_environment(TOOL_ENVIRONMENT, ())
    assert name not in run_environment(TOOL_ENVIRONMENT, [name.swapcase(), name + "_"])
    assert run_environment(TOOL_ENVIRONMENT, [name])[name] == TOOL_ENVIRONMENT[name]


@pytest.mark.parametrize(
    "name",
    [
        "OPENAI_API_KEY",
        "github_token",
        "AWS_SECRET_ACCESS_KEY",
        "DB_PASSWORD",
        "MYSQL_PASSWD",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "ANTHROPIC_AUTH_TOKEN",
        "ApiKey",
    ],
)
def test_credential_names_are_recognized_in_any_case(name: str) -> None:
    assert looks_like_credential(name)


@pytest.mark.parametrize("name", ["TOKENIZERS_PARALLELISM", "GIT_AUTHOR_NAME", "PATH", "HOME"])
def test_words_that_only_contain_a_credential_word_are_not_credentials(name: str) -> None:
    assert not looks_like_credential(name)


def test_the_passed_names_travel_in_the_environment() -> None:
    assert passed_names({"AUTORESEARCH_PASS_ENV": "HF_TOKEN WANDB_API_KEY"}) == (
        "HF_TOKEN",
        "WANDB_API_KEY",
    )
    assert passed_names({}) == ()


def test_masking_replaces_every_credential_value_by_its_name() -> None:
    text = (
        "OPENAI_API_KEY=sk-openai-0123456789\n"
        "key again: sk-openai-0123456789, aws: aws/secret+0123456789\n"
        "lowercase name: hunter2hunter2; home: /home/me\n"
    )
    masked = mask_secrets(text, TOOL_ENVIRONMENT)
    assert masked == (
        "OPENAI_API_KEY=[masked OPENAI_API_KEY]\n"
        "key again: [masked OPENAI_API_KEY], aws: [masked AWS_SECRET_ACCESS_KEY]\n"
        "lowercase name: [masked my_db_password]; home: /home/me\n"
    )


def test_a_secret_holding_another_is_masked_whole() -> None:
    environ = {"SHORT_TOKEN": "abcd", "LONG_TOKEN": "abcd-efgh-ijkl"}
    assert mask_secrets("x abcd-efgh-ijkl y abcd", environ) == (
        "x [masked LONG_TOKEN] y [masked SHORT_TOKEN]"
    )


def test_values_too_short_or_too_common_to_be_secrets_stay() -> None:
    environ = {"USE_AUTH": "true", "PIN_KEY": "123", "EMPTY_TOKEN": "", "NAME": "secret-ish"}
    text = "true 123 secret-ish"
    assert mask_secrets(text, environ) == text


def test_a_secret_over_several_lines_is_masked_whole_and_line_by_line() -> None:
    key = "-----BEGIN KEY-----\nMIIEowIBAAKCAQEA\nq4bWcZ9x7Yy3\n-----END KEY-----"
    environ = {"DEPLOY_PRIVATE_KEY": key}
    assert mask_secrets(f"key: {key}.", environ) == "key: [masked DEPLOY_PRIVATE_KEY]."
    # A tail that begins inside the key shows none of its lines.
    assert "MIIE" not in mask_secrets("MIIEowIBAAKCAQEA\nq4bWcZ9x7Yy3\n", environ)
    assert "q4bW" not in mask_secrets("MIIEowIBAAKCAQEA\nq4bWcZ9x7Yy3\n", environ)


def test_regular_expression_characters_in_a_secret_are_taken_literally() -> None:
    environ = {"API_KEY": "a.b*c(d)"}
    assert mask_secrets("aXbc(d) a.b*c(d)", environ) == "aXbc(d) [masked API_KEY]"
