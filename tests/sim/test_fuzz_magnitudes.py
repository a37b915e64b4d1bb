"""Delays are drawn at the app's own sizes: a bug that needs a payment to arrive after an hourly
expiry cron is found by ``fuzz`` at its defaults, and was out of reach of the old fixed delays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from motia_rt.loader import load_steps
from motia_sim import FaultPlan, InvariantViolation, World, always, fuzz, replay, scenario
from motia_sim.fuzzing import _INERT, run_scenario
from motia_sim.strategies import SMALL_MAGNITUDES, FaultSpace, magnitudes

from .apps import write

HOUR = 3600.0

RESERVATIONS = {
    # One item in stock, and every reservation, in one record: each handler writes it once, so a
    # crash or a failed state operation leaves it whole.
    "reserve_step.py": """
        import time

        config = {"type": "api", "name": "Reserve", "path": "/reservations", "method": "POST",
                  "emits": []}

        async def handler(req, context):
            shelf = await context.state.get("inventory", "sku-1") or {"stock": 1, "held": {}}
            rid = req.body["id"]
            if rid not in shelf["held"]:
                if shelf["stock"] < 1:
                    return {"status": 409, "body": {"error": "sold out"}}
                shelf["stock"] -= 1
                shelf["held"][rid] = {"status": "held", "at": time.time()}
                await context.state.set("inventory", "sku-1", shelf)
            return {"status": 201, "body": shelf["held"][rid]}
    """,
    # An unpaid reservation is released after 30 minutes, by a cron that runs every hour.
    "expire_step.py": """
        import time

        config = {"type": "cron", "name": "ExpireReservations", "cron": "0 * * * *", "emits": []}

        async def handler(context):
            shelf = await context.state.get("inventory", "sku-1")
            if shelf is None:
                return
            for reservation in shelf["held"].values():
                if reservation["status"] == "held" and time.time() - reservation["at"] >= 1800:
                    reservation["status"] = "released"
                    shelf["stock"] += 1
            await context.state.set("inventory", "sku-1", shelf)
    """,
    # The bug: a payment for a reservation that was released marks it paid, while its item is
    # back on the shelf (it should refund instead).
    "pay_step.py": """
        config = {"type": "event", "name": "Pay", "subscribes": ["payment.received"],
                  "emits": []}

        async def handler(input, context):
            shelf = await context.state.get("inventory", "sku-1")
            reservation = shelf["held"].get(input["id"]) if shelf else None
            if reservation is not None and reservation["status"] != "paid":
                reservation["status"] = "paid"
                await context.state.set("inventory", "sku-1", shelf)
    """,
}


@always
def no_item_both_sold_and_on_the_shelf(world: World) -> None:
    shelf = world.group("inventory").get("sku-1")
    if shelf is None:
        return
    taken = sum(1 for r in shelf["held"].values() if r["status"] in ("held", "paid"))
    assert shelf["stock"] + taken == 1, f"1 item, but {shelf['stock']} in stock and {taken} taken"


@scenario(invariants=[no_item_both_sold_and_on_the_shelf], modes=("sim", "fuzz"))
async def reserve_then_pay(h: Any) -> None:
    for _ in range(5):  # a client retries a 5xx
        response = await h.post("/reservations", json={"id": "r1"})
        if response.status_code < 500:
            break
        await h.advance(1)
    assert response.status_code == 201, response.text
    await h.emit("payment.received", {"id": "r1"})
    await h.advance(2 * HOUR)
    if h.fault_free:
        assert (await h.state.get("inventory", "sku-1"))["held"]["r1"]["status"] == "paid"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("shop") / "steps", RESERVATIONS)


def test_magnitudes_are_one_second_past_each_span_of_the_app_and_scenario(shop: Path) -> None:
    registry = load_steps(shop)
    # Default handler and visibility timeouts (30 s), retry backoffs (4 s longest, 7 s in all),
    # the hourly cron; the small fixed ones.
    assert magnitudes(registry) == (1.0, 5.0, 8.0, 30.0, 31.0, 120.0, HOUR + 1)
    assert FaultSpace.of(registry).magnitudes == magnitudes(registry)
    sites = run_scenario(reserve_then_pay, plan=_INERT, registry=registry, count_sites=True).sites
    assert sites is not None and sites.spans == (2 * HOUR,)
    narrowed = FaultSpace.of(registry).narrowed(registry, sites)
    assert narrowed.magnitudes == (*magnitudes(registry), 2 * HOUR + 1)


EXAMPLES = 100
"""fuzz's default: the single-fault sweep tries the longest delay of each message early. (Before
the sweep, half the runs of 100 examples found it, 20 of 20 runs of 300.)"""


def test_fuzz_finds_a_payment_delayed_past_the_expiry_cron(shop: Path) -> None:
    with pytest.raises(InvariantViolation) as caught:
        fuzz(reserve_then_pay, steps=shop, report=None, derandomize=True, max_examples=EXAMPLES)
    failure = caught.value
    assert failure.invariant == "no_item_both_sold_and_on_the_shelf"
    [fault] = FaultPlan.parse(failure.plan)
    assert fault.kind == "delay" and str(fault).startswith(
        "delay topic=payment.received step=Pay nth=1"
    ), fault
    assert fault.seconds > HOUR, fault  # past the first expiry tick
    with pytest.raises(InvariantViolation):
        replay(reserve_then_pay, seed=failure.seed, plan=failure.plan, steps=shop)


def test_the_old_fixed_magnitudes_never_reach_it(shop: Path) -> None:
    # The same examples with the delays fuzz drew before (1, 5, 30, 120 s): every payment lands
    # long before the first expiry tick.
    report = fuzz(reserve_then_pay, steps=shop, report=None, derandomize=True,
                  max_examples=EXAMPLES, magnitudes=SMALL_MAGNITUDES)  # fmt: skip
    assert report.explored[("Pay", "delay")] > 10
