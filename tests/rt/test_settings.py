"""``[tool.motia]`` in pyproject.toml: what it sets, what beats it, and errors that name the fix."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from motia_rt.cli import _parser as rt_parser
from motia_rt.cli import main as rt_main
from motia_rt.settings import ProjectSettings, SettingsError, project_settings
from motia_rt.testing import Runtime
from motia_sim.cli import _parser as sim_parser
from motia_sim.pytest_plugin import fuzz_examples

from .conftest import WriteSteps

TABLE = """
[tool.motia]
steps = "app/steps"
scenarios = "app/scenarios"
port = 3400
host = "0.0.0.0"
validation = "lax"

[tool.motia.fuzz]
examples = 40
max_faults = 2
"""


def project(root: Path, toml: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(textwrap.dedent(toml))
    return root


def test_every_setting_is_read_relative_to_the_project(tmp_path: Path) -> None:
    root = project(tmp_path, TABLE)
    (root / "app" / "deep").mkdir(parents=True)
    settings = project_settings(root / "app" / "deep")  # found upward from a subfolder
    assert settings == ProjectSettings(
        root=root, steps=root / "app/steps", scenarios=root / "app/scenarios", port=3400,
        host="0.0.0.0", validation="lax", fuzz_examples=40, fuzz_max_faults=2,
    )  # fmt: skip


def test_steps_may_be_a_list_of_one_folder(tmp_path: Path) -> None:
    project(tmp_path, '[tool.motia]\nsteps = ["app/steps"]\n')
    assert project_settings(tmp_path).steps == tmp_path / "app/steps"


def test_no_pyproject_or_no_table_sets_nothing(tmp_path: Path) -> None:
    assert project_settings(tmp_path).port is None
    project(tmp_path, "[tool.other]\nx = 1\n")
    assert project_settings(tmp_path) == ProjectSettings(root=tmp_path)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "[tool.motia]\nsteeps = 'x'\n",
            r"\[tool.motia\] steeps is not a setting; known keys: steps",
        ),
        ("[tool.motia]\nport = '3000'\n", r"port is '3000'; it takes an integer"),
        ("[tool.motia]\nport = 70000\n", r"port is 70000; use a TCP port from 1 to 65535"),
        (
            "[tool.motia]\nvalidation = 'loose'\n",
            r'validation is \'loose\'; use "strict", "lax" or "motia"',
        ),
        ("[tool.motia.fuzz]\nexamples = 0\n", r"examples is 0; use a number of 1 or more"),
        ("[tool.motia.fuzz]\nexamples = true\n", r"examples is True; it takes an integer"),
        ("[tool.motia]\nfuzz = 3\n", r"\[tool.motia\] fuzz is 3; it takes a table"),
        ("[tool.motia\n", r"cannot read it as TOML"),
        ("[tool.motia]\nsteps = ['a', 'b']\n", r"steps names 2 folders; one steps folder is"),
        ("[tool.motia]\nsteps = [1]\n", r"steps is \[1\]; it takes a string"),
    ],
)
def test_a_bad_table_is_an_error_naming_the_file_key_and_fix(
    tmp_path: Path, toml: str, message: str
) -> None:
    project(tmp_path, toml)
    with pytest.raises(SettingsError, match=message) as info:
        project_settings(tmp_path)
    assert str(tmp_path / "pyproject.toml") in str(info.value)


def test_the_cli_reports_a_bad_table_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project(tmp_path, "[tool.motia]\nport = 'x'\n"))
    assert rt_main(["routes"]) == 2
    assert "port is 'x'" in capsys.readouterr().err


@given(
    table=st.none() | st.integers(1, 65535),
    env=st.none() | st.integers(1, 65535),
    flag=st.none() | st.integers(1, 65535),
)
def test_port_flag_beats_env_beats_table_beats_3000(
    table: int | None, env: int | None, flag: int | None
) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MOTIA_PORT", raising=False)
        if env is not None:
            mp.setenv("MOTIA_PORT", str(env))
        argv = ["--port", str(flag)] if flag is not None else []
        for command in ("dev", "start"):
            args = rt_parser(ProjectSettings(port=table)).parse_args([command, *argv])
            expected = next(p for p in (flag, env, table, 3000) if p is not None)
            assert args.port == expected


def test_steps_and_fuzz_defaults_come_from_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MOTIA_STEPS", raising=False)
    settings = project_settings(project(tmp_path, TABLE))
    assert rt_parser(settings).parse_args(["routes"]).steps == str(tmp_path / "app/steps")
    monkeypatch.setenv("MOTIA_STEPS", "elsewhere")
    assert rt_parser(settings).parse_args(["worker"]).steps == "elsewhere"
    fz = sim_parser(settings).parse_args(["fuzz", "s.py::x"])
    assert (fz.examples, fz.max_faults) == (40, 2)
    assert sim_parser(ProjectSettings()).parse_args(["fuzz", "s.py::x"]).examples == 100


def fake_config(root: Path, option: int | None = None, ini: str = "") -> Any:
    return SimpleNamespace(rootpath=root, getoption=lambda name: option,
                           getini=lambda name: ini)  # fmt: skip


def test_the_plugin_fuzzes_option_then_ini_then_table_then_25(tmp_path: Path) -> None:
    assert fuzz_examples(fake_config(tmp_path)) == 25
    project(tmp_path, TABLE)
    assert fuzz_examples(fake_config(tmp_path)) == 40
    assert fuzz_examples(fake_config(tmp_path, ini="7")) == 7
    assert fuzz_examples(fake_config(tmp_path, option=3, ini="7")) == 3


AMOUNT_STEP = """
    from pydantic import BaseModel

    class Body(BaseModel):
        amount: int

    config = {"type": "api", "name": "Pay", "path": "/pay", "method": "POST",
              "bodySchema": Body, "emits": []}

    async def handler(req, context):
        return {"status": 200, "body": {"amount": req.body.amount}}
"""


@pytest.mark.parametrize(("validation", "status"), [("lax", 200), ("strict", 400), (None, 400)])
def test_validation_sets_the_default_for_request_bodies(
    tmp_path: Path, write_steps: WriteSteps, validation: str | None, status: int
) -> None:
    if validation is not None:
        project(tmp_path, f'[tool.motia]\nvalidation = "{validation}"\n')
    steps = write_steps({"pay_step.py": AMOUNT_STEP})

    async def pay(rt: Runtime) -> int:
        return (await rt.post("/pay", json={"amount": "12"})).status_code  # a string: lax coerces

    assert Runtime(steps).run(pay) == status
