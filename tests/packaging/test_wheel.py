"""The wheel, as a user gets it: built with ``python -m build``, installed with its ``redis``
extra into a fresh venv outside this repository, then a scaffolded project tested with it.

Marked ``packaging`` (about 15-90 s, mostly pip): ``make test`` runs it; ``pytest -m 'not
packaging'`` skips it. pip resolves the dependencies from the configured index (its cache is warm
on a developer's machine and on CI's).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "motia_rt", "motia_sim")


def sh(args: Sequence[str | Path], cwd: Path, timeout: float = 300) -> str:
    """Run a command of the user's, outside this repository's environment; its stdout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip
    assert done.returncode == 0, f"{args}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m build --wheel`` of a copy of the sources (the build leaves files beside them)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))  # fmt: skip
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    sh([sys.executable, "-m", "build", "--wheel", "--outdir", work / "dist", source], cwd=work)
    [built] = (work / "dist").glob("motia_sim-*.whl")
    return built


def test_the_wheel_ships_the_project_template_and_the_plugin(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        declared = archive.read(entry_points).decode()
    assert "motia_rt/_project_template/steps/tasks/create_task_step.py.tmpl" in names
    assert "motia_rt/_project_template/pyproject.toml.tmpl" in names
    assert "motia_rt/py.typed" in names and "motia_sim/py.typed" in names
    assert "motia-rt = motia_rt.cli:main" in declared
    assert "motia_sim = motia_sim.pytest_plugin" in declared


def test_a_fresh_venv_writes_runs_and_tests_a_project(
    wheel: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    home = tmp_path_factory.mktemp("user")
    sh([sys.executable, "-m", "venv", home / "venv"], cwd=home)
    bin_ = home / "venv" / "bin"
    sh([bin_ / "pip", "install", "--quiet", f"motia-sim[redis] @ {wheel.as_uri()}"], cwd=home)

    where = sh([bin_ / "python", "-c", "import motia_rt, redis; print(motia_rt.__file__)"], home)
    assert where.startswith(str(home / "venv")), where  # the installed copy, not this checkout
    sh([bin_ / "motia-sim", "new", "app"], cwd=home)
    app = home / "app"
    assert "POST   /tasks" in sh([bin_ / "motia-rt", "routes"], cwd=app)
    out = sh([bin_ / "pytest", "-q", "-p", "no:cacheprovider"], cwd=app)
    assert "9 passed" in out, out
