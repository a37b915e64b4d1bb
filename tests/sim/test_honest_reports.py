"""What the simulator reports is what happened: errors as themselves, traces free of addresses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from motia_rt.errors import TopicTimeout, describe_error
from motia_sim import InvariantViolation, SimHarness, Simulation
from motia_sim.invariants import World
from tests.sim.apps import JOBS, write

DIAL = {
    "dial_step.py": """
        import anyio

        config = {"type": "event", "name": "Dial", "subscribes": ["dial.go"], "emits": [],
                  "infrastructure": {"queue": {"maxRetries": 0}}}

        async def handler(input, context):
            # anyio dials an IP address inside a task group (happy eyeballs): a refused connect
            # comes out wrapped in an ExceptionGroup.
            await anyio.connect_tcp(input["host"], 9)
    """,
}


async def _wait_for_nothing(h: SimHarness) -> None:
    await h.post("/jobs", json={"id": "j1"})
    await h.wait_for_topic("job.never", timeout=5)


def test_a_wait_for_topic_timeout_is_reported_as_the_topic_timeout(tmp_path: Path) -> None:
    sim = Simulation(write(tmp_path, JOBS))
    with pytest.raises(TopicTimeout) as caught:
        sim.run(_wait_for_nothing)
    assert "job.never" in str(caught.value) and "job.created" in str(caught.value)
    assert sim.last is not None
    assert sim.last.trace.entries[-1].text.startswith("TopicTimeout: no event on 'job.never'")


@pytest.mark.parametrize("host", ["127.0.0.1", "api.example.test"])
def test_real_io_in_a_handler_is_recorded_as_the_simulation_escape(
    tmp_path: Path, host: str
) -> None:
    async def dial(h: SimHarness) -> None:
        await h.emit("dial.go", {"host": host})
        await h.settle()

    sim = Simulation(write(tmp_path, DIAL))
    sim.run(dial)
    (run,) = sim.last.world.runs if sim.last else ()
    assert run.error is not None and run.error.startswith("SimulationEscape: loop.")
    assert "inside a simulation" in run.error and "ExceptionGroup" not in run.error


def test_describe_error_opens_nested_groups() -> None:
    group = ExceptionGroup("outer", [ValueError("a"), ExceptionGroup("inner", [KeyError("b")])])
    assert describe_error(group) == "ValueError: a; KeyError: 'b'"
    assert describe_error(RuntimeError("plain")) == "RuntimeError: plain"


def two_jobs(world: World) -> None:
    # Rewritten by pytest (this is a test module): the message shows the repr of the bound
    # method ``world.group``, the World's address included.
    assert len(world.group("jobs")) == 2


async def _one_job(h: SimHarness) -> None:
    await h.post("/jobs", json={"id": "j1"})
    await h.settle()


def test_an_invariant_failing_with_pytest_assertion_text_stays_deterministic(
    tmp_path: Path,
) -> None:
    sim = Simulation(write(tmp_path, JOBS), invariants=[two_jobs], check_determinism=True)
    with pytest.raises(InvariantViolation) as caught:
        sim.run(_one_job)  # raises NondeterminismError if the two runs' traces differ
    assert sim.last is not None
    assert "where" in str(caught.value)  # pytest's explanation is kept...
    address = re.compile(r" at 0x[0-9a-fA-F]+")
    assert not address.search(sim.last.trace.timeline())  # ...without addresses
    assert not address.search(str(caught.value))


async def _two_jobs_concurrently(h: SimHarness) -> None:
    await h.emit("job.created", {"id": "j1"})
    await h.emit("job.created", {"id": "j2"})
    await h.settle()
    await h.state.get("jobs", "j1")


@pytest.mark.parametrize("seed", range(6))
def test_every_state_and_call_row_names_the_run_that_issued_it(tmp_path: Path, seed: int) -> None:
    sim = Simulation(write(tmp_path, JOBS), seed=seed)
    sim.run(_two_jobs_concurrently)
    assert sim.last is not None
    running: set[str] = set()
    named = 0
    for entry in sim.last.trace.entries:
        label = entry.text.split(" ", 1)[0]
        if entry.kind == "run":
            running.add(label)
        elif entry.kind == "end":
            running.remove(label)
        elif entry.kind in ("state", "call"):
            assert label in running or label == "scenario", entry.line()
            assert label == "scenario" or label.startswith(f"{entry.step}#"), entry.line()
            named += label != "scenario"
    assert named >= 6  # two Worker runs: state, call, state each
    assert sim.last.trace.entries[-1].text == "scenario get jobs/j1"
