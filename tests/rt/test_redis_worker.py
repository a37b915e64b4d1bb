"""Settings of the Redis-backed processes: flags over environment over defaults."""

from __future__ import annotations

import argparse

import pytest

from motia_rt.worker import RedisSettings, redacted


def test_environment_overrides_the_defaults() -> None:
    env = {"MOTIA_REDIS_URL": "redis://r:6380/2", "MOTIA_PREFIX": "shop",
           "MOTIA_CONCURRENCY": "64", "MOTIA_SHUTDOWN_TIMEOUT": "7.5"}  # fmt: skip
    assert RedisSettings.from_env(env) == RedisSettings("redis://r:6380/2", "shop", 64, 7.5)
    assert RedisSettings.from_env({}) == RedisSettings()


def test_flags_override_the_environment() -> None:
    args = argparse.Namespace(redis_url=None, prefix="flag", concurrency=3, shutdown_timeout=None)
    env = {"MOTIA_PREFIX": "env", "MOTIA_REDIS_URL": "redis://env:1/0"}
    settings = RedisSettings.from_args(args, env)
    assert (settings.url, settings.prefix, settings.concurrency) == ("redis://env:1/0", "flag", 3)


def test_a_malformed_variable_names_itself() -> None:
    with pytest.raises(ValueError, match="MOTIA_CONCURRENCY='many' is not a whole number"):
        RedisSettings.from_env({"MOTIA_CONCURRENCY": "many"})


def test_the_cli_exits_with_status_2_on_a_malformed_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MOTIA_SHUTDOWN_TIMEOUT", "soon")
    with pytest.raises(SystemExit) as exit_:
        RedisSettings.for_command(argparse.Namespace())
    assert exit_.value.code == 2
    assert "MOTIA_SHUTDOWN_TIMEOUT='soon' is not a number of seconds" in capsys.readouterr().err


def test_passwords_stay_out_of_logs() -> None:
    assert redacted("redis://:s3cret@host:6379/0") == "redis://:***@host:6379/0"
    assert redacted("rediss://user:pw@host/1") == "rediss://user:***@host/1"
    assert redacted("redis://host:6379/0") == "redis://host:6379/0"
