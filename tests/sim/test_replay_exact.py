"""A failure fuzz reports replays exactly from what it prints, whatever way the scenario, its
invariants and its services were given; what a replay could not find again is refused up front."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from motia_sim import InvariantViolation, SimHarness, always, fuzz, scenario
from motia_sim.cli import main as cli
from motia_sim.invariants import World
from motia_sim.references import NotReplayable
from tests.sim.apps import JOBS, write


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("replay"), JOBS)


async def one_job(h: SimHarness) -> None:
    await h.post("/jobs", json={"id": "j1"})
    await h.settle()


declared = scenario(one_job)


def no_job_done(world: World) -> None:
    assert world.group("jobs").get("j1") != {"status": "done"}, "job j1 is done"


class StrictLedger:
    """A ledger that refuses every booking: only with it does the job fail."""

    def __init__(self) -> None:
        self.refused = 0

    async def record(self, key: str) -> int:
        self.refused += 1
        raise PermissionError("ledger refused")

    async def lookup(self, items: list[str]) -> list[str]:
        return sorted(items)


def strict_ledger() -> dict[str, Any]:
    return {"ledger": StrictLedger()}


STRICT = {"ledger": StrictLedger()}


def ledger_never_refused(world: World) -> None:
    assert getattr(world.services["ledger"], "refused", 0) == 0, "the ledger refused a booking"


with_ledger_check = scenario(one_job, invariants=[ledger_never_refused])


def _fuzz_failure(*args: Any, **kwargs: Any) -> InvariantViolation:
    with pytest.raises(InvariantViolation) as caught:
        fuzz(*args, max_examples=5, report=None, derandomize=True, **kwargs)
    return caught.value


def _replays(failure: InvariantViolation, capsys: pytest.CaptureFixture[str]) -> None:
    """Both printed ways replay the same failure."""
    message = str(failure)
    lines = message.splitlines()
    command = lines[lines.index("replay it exactly:") + 1].strip()
    capsys.readouterr()
    assert cli(shlex.split(command)[1:]) == 1, command
    assert f"invariant {failure.invariant!r} broke" in capsys.readouterr().out
    start = lines.index("or paste this test:") + 1
    source = "\n".join(line[2:] for line in lines[start:])
    name = re.match(r"def (\w+)\(", source)
    assert name is not None, source
    namespace: dict[str, Callable[[], None]] = {}
    exec(source, namespace)
    with pytest.raises(InvariantViolation) as again:
        namespace[name.group(1)]()
    assert again.value.invariant == failure.invariant
    assert str(again.value) == message


@pytest.mark.parametrize(
    ("given", "kwargs"),
    [
        (one_job, {"invariants": [no_job_done]}),  # a plain async def, invariants given
        (declared, {"invariants": [always(no_job_done)]}),  # an always-invariant made inline
        (with_ledger_check, {"services": strict_ledger}),  # a factory of fakes
        (with_ledger_check, {"services": STRICT}),  # a mapping bound in the scenario's file
        ("tests/sim/test_replay_exact.py::one_job", {"invariants": [no_job_done]}),
    ],
    ids=["plain-def", "always-inline", "services-factory", "services-mapping", "by-reference"],
)
def test_a_reported_failure_replays_from_what_is_printed(
    jobs: Path, capsys: pytest.CaptureFixture[str], given: Any, kwargs: dict[str, Any]
) -> None:
    failure = _fuzz_failure(given, steps=jobs, **kwargs)
    _replays(failure, capsys)


def test_test_names_differ_between_failures(jobs: Path) -> None:
    first = _fuzz_failure(one_job, steps=jobs, invariants=[no_job_done])
    second = _fuzz_failure(with_ledger_check, steps=jobs, services=strict_ledger)
    names = [re.search(r"def (test_\w+)\(", str(f)) for f in (first, second)]
    assert names[0] and names[1] and names[0].group(1) != names[1].group(1)


def test_what_a_replay_could_not_find_is_refused_before_any_example(jobs: Path) -> None:
    async def nested(h: SimHarness) -> None:
        await one_job(h)

    started: list[int] = []
    cases: list[tuple[Any, dict[str, Any], str]] = [
        (nested, {}, "Define the scenario at the top level"),
        (one_job, {"invariants": [lambda world: None]}, "Declare invariants on the scenario"),
        (one_job, {"services": {"ledger": StrictLedger()}}, "Declare services on the scenario"),
    ]
    for given, kwargs, advice in cases:
        with pytest.raises(NotReplayable, match=advice):
            fuzz(given, steps=jobs, max_examples=5, report=None,
                 progress=lambda done, total: started.append(done), **kwargs)  # fmt: skip
    assert started == []
