"""FIFO holds under every delivery fault: a duplicate or a delayed message of a FIFO subscriber
waits inside its message group, as in the in-memory and Redis transports."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motia_rt.loader import load_steps
from motia_rt.steps import StepRegistry
from motia_sim import Delay, Duplicate, FaultPlan, SimHarness, Simulation
from tests.sim.apps import write

SEQUENCER = {
    "sequencer_step.py": """
        import asyncio

        config = {
            "type": "event", "name": "Sequencer", "subscribes": ["seq.item"], "emits": [],
            "infrastructure": {"queue": {"type": "fifo"}},
        }

        async def handler(input, context):
            group, n = input["group"], input["n"]
            if await context.state.get("inflight", group):
                await context.state.set("overlap", group, n)
            await context.state.set("inflight", group, True)
            await asyncio.sleep(1)  # the work: long enough for a second delivery to start
            seen = await context.state.get("seen", group) or []
            await context.state.set("seen", group, [*seen, n])
            await context.state.set("inflight", group, False)
    """,
}
GROUPS = ("a", "b")
PER_GROUP = 5


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> StepRegistry:
    return load_steps(write(tmp_path_factory.mktemp("fifo"), SEQUENCER))


async def _feed(h: SimHarness) -> dict[str, Any]:
    for n in range(PER_GROUP):
        for group in GROUPS:
            await h.emit("seq.item", {"group": group, "n": n}, group_id=group)
    await h.settle()
    snapshot = h.state.snapshot()  # type: ignore[attr-defined]
    return {"seen": snapshot.get("seen", {}), "overlap": snapshot.get("overlap", {})}


_faults = st.one_of(
    st.builds(Duplicate, st.just("seq.item"), st.just("Sequencer"), st.integers(1, 10)),
    st.builds(Delay, st.just("seq.item"), st.just("Sequencer"), st.integers(1, 10),
              st.sampled_from([0.5, 1.0, 3.0, 30.0])),
)  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), faults=st.lists(_faults, max_size=4))
def test_a_fifo_group_never_has_two_deliveries_in_flight_nor_a_copy_ahead(
    registry: StepRegistry, seed: int, faults: list[Duplicate | Delay]
) -> None:
    result = Simulation(registry, seed=seed, faults=FaultPlan(faults)).run(_feed)
    assert result["overlap"] == {}, f"two deliveries of one group in flight: {result['overlap']}"
    for group in GROUPS:
        seen = result["seen"][group]
        assert seen == sorted(seen), f"group {group} handled out of order: {seen}"
        assert sorted(set(seen)) == list(range(PER_GROUP)), f"group {group} lost messages: {seen}"
    duplicates = sum(isinstance(f, Duplicate) for f in faults)
    assert sum(len(v) for v in result["seen"].values()) <= len(GROUPS) * PER_GROUP + duplicates


def test_a_duplicate_is_handled_right_after_its_original(registry: StepRegistry) -> None:
    plan = FaultPlan([Duplicate("seq.item", "Sequencer", 3)])  # the 3rd message: group a, n=1
    result = Simulation(registry, faults=plan).run(_feed)
    assert result["seen"]["a"] == [0, 1, 1, 2, 3, 4]
    assert result["overlap"] == {}


def test_a_held_back_message_holds_its_group_back(registry: StepRegistry) -> None:
    plan = FaultPlan([Delay("seq.item", "Sequencer", 4, 30.0)])  # group b, n=1, behind b's n=0
    sim = Simulation(registry, faults=plan)
    result = sim.run(_feed)
    assert result["seen"]["b"] == [0, 1, 2, 3, 4]
    assert sim.last is not None and sim.last.virtual_seconds >= 30
