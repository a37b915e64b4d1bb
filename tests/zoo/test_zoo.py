"""The bug zoo (``bench/zoo``): fuzz finds every bug and shrinks it to at most two faults, and
passes the same app with the bug fixed (a testing tool's false alarm is as bad as a miss).

``derandomize=True``: the same examples on every run, so these tests are deterministic. The
measured figures over many seeds are ``make bench``'s area 7 (``bench/bugfinding.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.zoo import BUGS, Bug
from motia_sim import FaultPlan, InvariantViolation, fuzz

EXAMPLES = 100
"""fuzz's default."""
FIXED_SEEDS = range(4)
"""Hypothesis seeds the fixed apps are fuzzed with: a false alarm must not hide behind one seed."""

BUGGY_MARKS: dict[str, pytest.MarkDecorator] = {}
FIXED_MARKS: dict[str, pytest.MarkDecorator] = {}


def _params(marks: dict[str, pytest.MarkDecorator]) -> list[object]:
    return [pytest.param(bug, id=bug.name, marks=marks.get(bug.name, ())) for bug in BUGS]


@pytest.mark.parametrize("bug", _params(BUGGY_MARKS))
def test_fuzz_finds_the_bug_and_shrinks_it(bug: Bug) -> None:
    with pytest.raises(InvariantViolation) as caught:
        fuzz(bug.scenario(), max_examples=EXAMPLES, report=None, derandomize=True)
    failure = caught.value
    assert failure.invariant == bug.invariant, str(failure)
    plan = FaultPlan.parse(failure.plan)
    assert 1 <= len(plan) <= 2, f"not shrunk to at most 2 faults: {plan}"


@pytest.mark.parametrize("bug", _params(FIXED_MARKS))
def test_fuzz_passes_the_fixed_app(bug: Bug, tmp_path: Path) -> None:
    steps = bug.fixed_steps(tmp_path)
    for seed in FIXED_SEEDS:
        report = fuzz(bug.scenario(), steps=steps, max_examples=EXAMPLES, report=None, seed=seed)
        assert report.examples >= EXAMPLES


def test_every_zoo_folder_is_catalogued_with_its_parts() -> None:
    folders = {p.parent.name for p in Path(BUGS[0].folder.parent).glob("*/scenario.py")}
    assert folders == {bug.name for bug in BUGS}
    for bug in BUGS:
        assert (bug.folder / "README.md").is_file(), bug.name
        fixes = list((bug.folder / "fixed").glob("*_step.py"))
        assert fixes and all((bug.steps / f.name).is_file() for f in fixes), bug.name
