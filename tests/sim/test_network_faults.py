"""Network faults: what each ``net`` mode does to a request on the virtual network (in virtual
time, honouring the client's timeout), and the fuzzer finding a bug only a network fault shows."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from motia_sim import FaultPlan, InvariantViolation, NetFault, SimHarness, Simulation, fuzz
from motia_sim.scenario import resolve
from tests.sim.apps import write

CALL = {
    "call_step.py": """
        import httpx

        client = httpx.AsyncClient(base_url="https://api.orders.test", timeout=10)
        config = {"type": "event", "name": "Call", "subscribes": ["call.go"], "emits": [],
                  "infrastructure": {"queue": {"maxRetries": 0}}}

        async def handler(input, context):
            loop_time = __import__("asyncio").get_running_loop().time
            started = loop_time()
            try:
                response = await client.post("/orders", json={"n": 1})
                outcome = f"{response.status_code} {response.headers.get('retry-after')}"
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            await context.state.set("outcome", "call", {
                "outcome": outcome, "waited": loop_time() - started,
            })
    """,
}


class Orders:
    """A fake API that counts the orders it applied."""

    def __init__(self) -> None:
        self.applied = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.applied += 1
        return httpx.Response(201, json={"id": self.applied})


@pytest.mark.parametrize(
    ("mode", "seconds", "status", "outcome", "applied", "waited"),
    [
        ("lost", 0, 0, "ReadError", 1, 0),
        ("refused", 0, 0, "ConnectError", 0, 0),
        ("reset", 0, 0, "ReadError", 0, 0),
        ("status", 0, 429, "429 1", 0, 0),
        ("timeout", 3600, 0, "ReadTimeout", 0, 10),  # the client's 10 s read timeout
        ("latency", 3, 0, "201 None", 1, 3),
        ("latency", 60, 0, "ReadTimeout", 1, 10),  # the API applied it; the client gave up
    ],
)
def test_each_mode_does_what_it_says(
    tmp_path: Path, mode: str, seconds: float, status: int, outcome: str, applied: int,
    waited: float,
) -> None:  # fmt: skip
    orders = Orders()

    async def call(h: SimHarness) -> Any:
        await h.emit("call.go", {})
        await h.settle()
        return await h.state.get("outcome", "call")

    fault = NetFault("api.orders.test", 1, mode, seconds, status)  # type: ignore[arg-type]
    sim = Simulation(write(tmp_path, CALL), faults=FaultPlan([fault]),
                     http={"api.orders.test": orders})  # fmt: skip
    result = sim.run(call)
    assert (result["outcome"], orders.applied) == (outcome, applied)
    assert result["waited"] == pytest.approx(waited)
    assert sim.last is not None and sim.last.fired == [fault]


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "petstore"
REF = f"{EXAMPLE / 'scenarios' / 'petstore.py'}::order_a_pet"


@pytest.fixture(scope="module")
def buggy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pet store example with the step that sends no idempotency key."""
    steps = tmp_path_factory.mktemp("buggy") / "steps"
    shutil.copytree(EXAMPLE / "steps", steps, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(EXAMPLE / "buggy" / "submit_to_store_step.py", steps / "submit_to_store_step.py")
    return steps


def test_fuzz_finds_the_order_marked_rejected_after_a_lost_response(buggy: Path) -> None:
    with pytest.raises(InvariantViolation) as caught:
        fuzz(resolve(REF), steps=buggy, report=None, derandomize=True)
    failure = caught.value
    assert failure.invariant == "no_order_the_app_lost_track_of"
    [fault] = FaultPlan.parse(failure.plan)
    # The store took the order, but the step never saw its answer and called it rejected: only
    # a response lost, or one later than the client's timeout, does that.
    assert isinstance(fault, NetFault) and fault.mode in ("lost", "latency"), fault


def test_the_example_with_its_idempotency_key_survives_the_same_fuzzing() -> None:
    report = fuzz(resolve(REF), report=None, derandomize=True)
    assert report.explored[("petstore.example.test", "net")] > 0
