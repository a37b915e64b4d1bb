"""``motia-rt create`` / ``motia-sim new``: the project they write loads, lints and tests green."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from motia_rt.cli import main as rt_main
from motia_rt.loader import load_steps
from motia_rt.scaffold import ScaffoldError, create_project
from motia_sim.cli import main as sim_main
from motia_sim.scenario import load_scenarios

RUFF = Path(sys.executable).with_name("ruff")


def test_the_project_has_api_event_and_cron_steps_a_scenario_and_tests(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    assert rt_main(["create", str(project)]) == 0
    registry = load_steps(project / "steps")
    assert {s.kind for s in registry} == {"api", "event", "cron"}
    [scenario] = load_scenarios(project / "scenarios" / "tasks.py")
    assert [i.name for i in scenario.invariants] == [
        "nobody_is_notified_twice",
        "every_task_is_notified",
    ]
    assert {p.name for p in (project / "tests").iterdir()} == {"test_tasks.py", "test_fuzz.py"}
    readme = (project / "README.md").read_text()
    assert readme.startswith("# shop\n")
    assert "motia-rt dev" in readme and "pytest" in readme
    assert not list(project.rglob("*.tmpl"))


def test_the_generated_code_passes_ruff_with_default_settings(tmp_path: Path) -> None:
    create_project(tmp_path / "app")
    for command in (["check"], ["format", "--check"]):
        done = subprocess.run([str(RUFF), *command, "--isolated", "."], cwd=tmp_path / "app",
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_generated_tests_pass_as_generated(tmp_path: Path) -> None:
    """Outside this repository, with its own pyproject.toml: ``from steps.services import ...``
    resolves, async tests run, the scenario is collected three ways."""
    assert sim_main(["new", str(tmp_path / "app")]) == 0
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                          cwd=tmp_path / "app", capture_output=True, text=True, timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "9 passed" in done.stdout


def test_an_existing_folder_with_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ScaffoldError, match="not an empty folder"):
        create_project(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
    assert rt_main(["create", str(tmp_path)]) == 2


def test_an_empty_existing_folder_is_filled(tmp_path: Path) -> None:
    written = create_project(tmp_path)
    assert (tmp_path / "pyproject.toml") in written
    assert (tmp_path / ".gitignore").read_text().startswith("__pycache__/")
