"""The docs' Python examples (README.md and docs/*.md) run as written.

Three conventions mark what runs (an HTML comment does not show when the Markdown is rendered):

- a ```python block right after a ``<!-- run -->`` line is part of its doc's test module: the marked
  blocks of one doc, in order, make one file that pytest runs from the repository root (where
  ``steps/`` is the reference app the examples use), with ``MOTIA_URL`` naming a live server on
  that app (for the remote-testing examples);
- a ```python block right after a ``<!-- step -->`` line is a whole step file: it loads on its own;
- the tutorial's blocks whose first line names a file (``# signup/steps/models.py``) are written
  into a project made by ``motia-rt create``, whose tests then pass, and its step 5 replays as shown.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from motia_rt.loader import load_steps
from motia_rt.scaffold import create_project
from motia_rt.server import create_app
from tests.live_server import LiveServer

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
DOC_FILES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
MARK = "<!-- run -->"
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)


def python_blocks(text: str) -> list[tuple[str, str]]:
    """``(the line before the block, the block's code)`` for every ```python block."""
    found = []
    for match in _BLOCK.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        found.append((before.strip(), match.group(1)))
    return found


def _pytest(
    args: list[str], cwd: Path, pythonpath: Path, **env_vars: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath), "PYTHONDONTWRITEBYTECODE": "1", **env_vars}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


STEP_MARK = "<!-- step -->"
STEP_FILES = [
    pytest.param(code, id=f"{doc.name}-{n}")
    for doc in DOC_FILES
    for n, code in enumerate(
        c for b, c in python_blocks(doc.read_text(encoding="utf-8")) if b == STEP_MARK
    )
]


@pytest.mark.parametrize("code", STEP_FILES)
def test_a_marked_step_file_loads(code: str, tmp_path: Path) -> None:
    (tmp_path / "example_step.py").write_text(code, encoding="utf-8")
    registry = load_steps(tmp_path)  # raises StepLoadError with the reason when it does not load
    assert len(registry) == 1


MARKED = [str(p.relative_to(ROOT)) for p in DOC_FILES if MARK in p.read_text(encoding="utf-8")]


def test_the_convention_finds_blocks() -> None:
    text = "intro\n\n<!-- run -->\n```python\nx = 1\n```\n\n```python\ny = 2\n```\n"
    assert python_blocks(text) == [(MARK, "x = 1\n"), ("```", "y = 2\n")]
    assert {"README.md", "docs/testing.md", "docs/fuzzing.md"} <= set(MARKED) and len(
        STEP_FILES
    ) >= 7


@pytest.mark.parametrize("doc", MARKED)
def test_the_marked_blocks_of_a_doc_run(doc: str, tmp_path: Path) -> None:
    blocks = [code for before, code in python_blocks((ROOT / doc).read_text()) if before == MARK]
    module = tmp_path / f"test_doc_{Path(doc).stem.replace('-', '_')}.py"
    module.write_text("\n\n".join(blocks), encoding="utf-8")
    with LiveServer(create_app(ROOT / "steps", cron=False)) as server:
        args = [str(module), "-c", str(ROOT / "pyproject.toml"), "-rs"]
        result = _pytest(args, cwd=ROOT, pythonpath=ROOT, MOTIA_URL=server.url)
    assert " skipped" not in result.stdout, result.stdout[-2000:]
    # 5: no tests collected, for a doc whose blocks define none (they ran when pytest imported them).
    assert result.returncode in (0, 5), (
        f"{doc}'s examples fail:\n{result.stdout[-4000:]}{result.stderr}"
    )


def test_the_tutorial_app_builds_from_its_blocks_passes_its_tests_and_its_fix_holds(
    tmp_path: Path,
) -> None:
    project = tmp_path / "signup"
    create_project(project)
    # The tutorial's `rm -r steps/* scenarios/* tests/*`.
    for folder in ("steps", "scenarios", "tests"):
        shutil.rmtree(project / folder)
        (project / folder).mkdir()
    written = []
    tutorial = (DOCS / "tutorial.md").read_text(encoding="utf-8")
    assert FIXED_HEADER in tutorial and shlex.join(REPLAY) in tutorial
    for _, code in python_blocks(tutorial):
        header = re.match(r"# signup/(\S+)\n", code)
        if header:  # "# signup/path (the handler, fixed)" is a fragment, not a file: not matched
            (project / header[1]).parent.mkdir(parents=True, exist_ok=True)
            (project / header[1]).write_text(code, encoding="utf-8")
            written.append(header[1])
    assert "steps/models.py" in written and "tests/test_signup.py" in written, written
    result = _pytest(["tests"], cwd=project, pythonpath=project)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    assert re.search(r"\b5 passed\b", result.stdout), result.stdout[-2000:]

    # Step 5: the scenario passes without faults; the plan the tutorial shows breaks it, until the fix.
    assert "1 passed, 0 failed" in _motia_sim(project, "run", "scenarios/").stdout
    broken = _motia_sim(project, *REPLAY)
    assert broken.returncode != 0 and "at_most_one_welcome_per_user" in broken.stdout, broken.stdout
    fix = next(c for _, c in python_blocks(tutorial) if c.startswith(FIXED_HEADER))
    step = project / "steps/email/send_welcome_step.py"
    source = step.read_text(encoding="utf-8")
    step.write_text(source[: source.index("async def handler")] + fix, encoding="utf-8")
    fixed = _motia_sim(project, *REPLAY)
    assert fixed.returncode == 0 and "no invariant broke" in fixed.stdout, fixed.stdout


FIXED_HEADER = "# signup/steps/email/send_welcome_step.py (the handler, fixed)"
REPLAY = ("replay", "scenarios/signup.py::two_signups", "--seed", "0",
          "--plan", "crash step=SendWelcome run=1 after=state#1")  # fmt: skip


def _motia_sim(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "motia-sim"), *args]
    return subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=60)
