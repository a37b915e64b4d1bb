"""The pytest plugin, run on a tiny project with ``pytester``: three items per scenario, modes,
failure reports without tracebacks, and ``--motia-examples``."""

from __future__ import annotations

import re

import pytest

from tests.step_files import make_app

from .apps import JOBS, write

pytest_plugins = ["pytester"]

GOOD = """
from motia_sim import always, eventually, scenario


@eventually
def every_job_done(world):
    jobs = world.group("jobs")
    for message in world.emitted("job.created"):
        job = message.data["id"]
        assert jobs.get(job, {}).get("status") == "done", f"job {job} not done"


@always
def worker_never_dead_lettered(world):
    assert not [d for d in world.dead_letters if d.delivery.subscription.step == "Worker"]


@scenario(invariants=[every_job_done, worker_never_dead_lettered])
async def one_job(h):
    await h.emit("job.created", {"id": "j1"})
    await h.settle()
    if h.fault_free:
        assert [r.outcome for r in h.runs("Worker")] == ["ok"]


@scenario(invariants=[every_job_done], modes=("sim", "fuzz"))
async def jobs_after_an_hour(h):
    await h.emit("job.created", {"id": "j1"})
    await h.advance(3600)
    await h.emit("job.created", {"id": "j2"})
    await h.settle()
"""

BROKEN = """
from motia_sim import eventually, scenario


@eventually
def never_holds(world):
    assert False, "this invariant never holds"


@scenario(invariants=[never_holds], modes=("sim", "fuzz"))
async def always_broken(h):
    await h.settle()
"""


def project(pytester: pytest.Pytester, ini: str = "", **scenario_files: str) -> None:
    """``steps/`` (the JOBS app) and ``scenarios/NAME.py`` for each keyword, in pytester's dir."""
    write(pytester.path / "steps", JOBS)
    make_app(pytester.path / "scenarios", {f"{n}.py": src for n, src in scenario_files.items()})
    pytester.makeini(f"[pytest]\nasyncio_default_fixture_loop_scope = function\n{ini}")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(
        "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning", *args
    )


def test_each_scenario_is_collected_once_per_mode(pytester: pytest.Pytester) -> None:
    project(pytester, jobs=GOOD)
    result = run(pytester, "--collect-only", "-q")
    items = [line for line in result.outlines if "::" in line]
    assert items == [
        "scenarios/jobs.py::one_job[sim]",
        "scenarios/jobs.py::one_job[runtime]",
        "scenarios/jobs.py::one_job[fuzz]",
        "scenarios/jobs.py::jobs_after_an_hour[sim]",
        "scenarios/jobs.py::jobs_after_an_hour[fuzz]",
    ]


def test_files_outside_scenarios_and_private_files_are_not_collected(
    pytester: pytest.Pytester,
) -> None:
    project(pytester, jobs=GOOD, _shared=BROKEN)
    make_app(pytester.path / "elsewhere", {"broken.py": BROKEN})
    result = run(pytester, "--collect-only", "-q")
    assert not [line for line in result.outlines if "broken" in line]
    assert len([line for line in result.outlines if "::" in line]) == 5


def test_a_correct_scenario_passes_in_every_mode(pytester: pytest.Pytester) -> None:
    project(pytester, jobs=GOOD)
    result = run(pytester, "--motia-examples", "10")
    result.assert_outcomes(passed=5)


def test_a_broken_invariant_is_reported_without_a_traceback(pytester: pytest.Pytester) -> None:
    project(pytester, broken=BROKEN)
    result = run(pytester, "--motia-examples", "5")
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    for item in ("always_broken[sim]", "always_broken[fuzz]"):
        assert f"FAILED scenarios/broken.py::{item}" in out
    # Once per failing item in the failure reports (with CI set, pytest's short summary repeats
    # the whole message, so count before it).
    reports = out.split("short test summary info")[0]
    assert reports.count("invariant 'never_holds' broke: this invariant never holds") == 2
    assert "fault plan:" in out and "seed:" in out and "timeline (" in out
    assert "motia-sim replay scenarios/broken.py::always_broken --seed 0 --plan ''" in out
    assert re.search(r"def test_always_broken_no_faults_[0-9a-f]{8}\(\) -> None:", out)
    assert "Traceback" not in out
    assert "pytest_plugin.py" not in out and "raise InvariantViolation" not in out


def test_a_broken_invariant_on_the_runtime_is_named_without_pytest_internals(
    pytester: pytest.Pytester,
) -> None:
    # BUG motia_sim/pytest_plugin.py ScenarioItem.repr_failure: for the [runtime] item the plain
    # AssertionError from run_on_runtime/_check goes to ``super().repr_failure``, which on a custom
    # Item does not prune pytest's own frames: ~1000 lines of _pytest/runner.py and pluggy
    # internals, and the invariant's name appears only in a source listing. Fix: in _check, raise
    # InvariantViolation(f"invariant {name!r} broke on the runtime: {exc}", ...) (already
    # rendered as text), or prune with ``excinfo.traceback.cut(path=...)`` like pytest.Function.
    project(pytester, broken=BROKEN.replace('modes=("sim", "fuzz")', 'modes=("runtime",)'))
    result = run(pytester)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    internals = [
        line for line in result.outlines if "site-packages/_pytest/" in line or "pluggy/" in line
    ]
    if internals:
        pytest.fail(f"{len(internals)} lines show pytest internals, e.g. {internals[0]!r}")
    assert "this invariant never holds" in out
    assert "invariant 'never_holds'" in out, "the report does not name the invariant"


def test_motia_examples_sets_the_number_of_fuzzed_examples(pytester: pytest.Pytester) -> None:
    project(pytester, jobs=GOOD)
    result = run(pytester, "-s", "-k", "one_job and fuzz", "--motia-examples", "5")
    result.assert_outcomes(passed=1)
    [examples] = re.findall(r"scenarios/jobs\.py::one_job: (\d+) runs", result.stdout.str())
    # Hypothesis may run a few more than asked, never the default 25.
    assert 5 <= int(examples) < 25


def test_the_ini_option_sets_the_number_of_fuzzed_examples(pytester: pytest.Pytester) -> None:
    project(pytester, ini="motia_examples = 7\n", jobs=GOOD)
    result = run(pytester, "-s", "-k", "one_job and fuzz")
    result.assert_outcomes(passed=1)
    [examples] = re.findall(r"scenarios/jobs\.py::one_job: (\d+) runs", result.stdout.str())
    assert 7 <= int(examples) < 25
