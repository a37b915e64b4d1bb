"""fuzz(..., seed=N) seeds Hypothesis's own draws: one seed, one sequence of examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from motia_sim import fuzz
from tests.sim.apps import JOBS, write

PLANS: list[str] = []
"""The plans ``one_job`` ran under (fuzz refuses a scenario a replay could not import, so it is
defined at the top level and records here)."""


async def one_job(h: Any) -> None:
    PLANS.append(str(h.plan))
    await h.emit("job.created", {"id": "j-1"})
    await h.settle()


def _plans(steps: Path, **options: Any) -> list[str]:
    """The fault plan of every example of a 30-example fuzz run of one job."""
    PLANS.clear()
    fuzz(one_job, steps=steps, max_examples=30, report=None, **options)
    return list(PLANS)


def test_one_seed_draws_the_same_examples_and_another_seed_others(tmp_path: Path) -> None:
    steps = write(tmp_path, JOBS)
    first = _plans(steps, seed=7)
    assert _plans(steps, seed=7) == first
    assert _plans(steps, seed=8) != first
    assert len(set(first)) > 1, "the examples all had one plan: nothing was drawn"
