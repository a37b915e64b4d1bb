"""Scenarios of the order saga in ``steps/``, with the reference invariants.

Each scenario runs three ways under pytest: ``[sim]`` (seed 0, no faults), ``[runtime]`` (the real
in-process runtime) and ``[fuzz]`` (Hypothesis-drawn fault plans). Expectations that hold only when
nothing is injected sit under ``if h.fault_free:``; the invariants must hold under every fault.
"""

from __future__ import annotations

from typing import Any

from motia_sim import World, always, eventually, scenario

TERMINAL = {"shipped", "payment_failed", "rejected", "blocked"}
BOOK = {"sku": "sku-book", "quantity": 2}


# -- invariants ------------------------------------------------------------------------------------


def _orders(world: World) -> set[str]:
    return {e.data["orderId"] for e in world.emitted("order.created")}


@eventually
def every_order_ends_terminal(world: World) -> None:
    statuses = world.group("order_status")
    for order_id in sorted(_orders(world)):
        status = statuses.get(order_id, {}).get("status", "pending")
        assert status in TERMINAL, f"order {order_id} ended {status!r}, not terminal"


@always
def no_order_charged_twice(world: World) -> None:
    payments = world.services["payments"]
    for order_id in {c["orderId"] for c in payments.charges}:
        charged = payments.succeeded_charges(order_id)
        assert len(charged) <= 1, f"order {order_id} charged {len(charged)} times: {charged}"


@always
def inventory_never_over_returned(world: World) -> None:
    for order_id, units in world.services["catalog"].ledger().items():
        assert units["released"] + units["shipped"] <= units["reserved"], (order_id, units)


@eventually
def inventory_balances(world: World) -> None:
    for order_id, units in world.services["catalog"].ledger().items():
        assert units["reserved"] == units["released"] + units["shipped"], (
            f"order {order_id}: reserved {units['reserved']} != released {units['released']} "
            f"+ shipped {units['shipped']}"
        )


@eventually
def failed_payment_is_compensated_and_notified(world: World) -> None:
    ledger = world.services["catalog"].ledger()
    notifier = world.services["notifier"]
    for charge in world.services["payments"].charges:
        if charge["status"] != "declined":
            continue
        order_id = charge["orderId"]
        units = ledger.get(order_id, {"reserved": 0, "released": 0})
        assert units["released"] == units["reserved"], f"declined {order_id} kept its stock"
        notes = [m for m in notifier.sent if m["data"].get("orderId") == order_id]
        assert notes, f"declined order {order_id} was never notified"


SAGA = [
    every_order_ends_terminal,
    no_order_charged_twice,
    inventory_never_over_returned,
    inventory_balances,
    failed_payment_is_compensated_and_notified,
]


# -- helpers ---------------------------------------------------------------------------------------


async def submit(h: Any, body: dict[str, Any], attempts: int = 5) -> dict[str, Any]:
    """POST /orders as a careful client does: retry a 5xx with the same clientOrderId."""
    for _ in range(attempts):
        response = await h.post("/orders", json=body)
        if response.status_code < 500:
            assert response.status_code == 202, response.text
            result: dict[str, Any] = response.json()
            return result
        await h.advance(1)
    raise AssertionError(f"POST /orders kept failing: {response.status_code} {response.text}")


async def status_of(h: Any, order_id: str) -> str:
    for _ in range(5):
        response = await h.get(f"/orders/{order_id}")
        if response.status_code < 500:
            status: str = response.json()["status"]
            return status
        await h.advance(1)
    raise AssertionError(f"GET /orders/{order_id} kept failing")


# -- scenarios -------------------------------------------------------------------------------------


@scenario(invariants=SAGA)
async def happy_path(h: Any) -> None:
    order = await submit(h, {"email": "ann@example.com", "items": [BOOK], "clientOrderId": "c-1"})
    await h.settle()
    if h.fault_free:
        # Under faults a client retry may find the saga already finished, so only here:
        assert order["status"] == "pending"
        shipped = await h.wait_for_topic("fulfillment.shipped", match={"orderId": order["orderId"]})
        assert shipped.trace_id == order["traceId"]
        assert await status_of(h, order["orderId"]) == "shipped"


@scenario(invariants=SAGA)
async def payment_decline_is_compensated(h: Any) -> None:
    body = {"email": "bob@example.com", "items": [BOOK], "paymentMethod": "pm_card_declined",
            "clientOrderId": "c-2"}  # fmt: skip
    order = await submit(h, body)
    await h.settle()
    if h.fault_free:
        await h.wait_for_topic("payment.failed", match={"orderId": order["orderId"]}, timeout=0)
        await h.wait_for_topic("inventory.released", match={"orderId": order["orderId"]}, timeout=0)
        assert await status_of(h, order["orderId"]) == "payment_failed"
        assert h.services["notifier"].to("bob@example.com")


@scenario(invariants=SAGA)
async def risk_block_flags_and_refunds(h: Any) -> None:
    order = await submit(h, {"email": "eve@risky.test", "items": [BOOK], "clientOrderId": "c-3"})
    await h.settle()
    if h.fault_free:
        await h.wait_for_topic("order.flagged", match={"orderId": order["orderId"]}, timeout=0)
        assert await status_of(h, order["orderId"]) == "blocked"
        assert [r["orderId"] for r in h.services["payments"].refunds] == [order["orderId"]]


@scenario(invariants=SAGA)
async def order_priced_fans_out_to_payment_and_risk(h: Any) -> None:
    order = await submit(h, {"email": "cy@example.com", "items": [BOOK], "clientOrderId": "c-4"})
    await h.settle()
    if h.fault_free:
        priced = await h.wait_for_topic("order.priced", match={"orderId": order["orderId"]})
        handled = {r.step for r in h.runs() if r.message_id == priced.id and r.outcome == "ok"}
        assert handled == {"ProcessPayment", "RiskAnalysis"}
        for topic in ("payment.succeeded", "risk.assessed"):
            event = await h.wait_for_topic(topic, match={"orderId": order["orderId"]}, timeout=0)
            assert event.trace_id == priced.trace_id == order["traceId"]


@scenario(invariants=SAGA)
async def duplicate_submission_starts_one_saga(h: Any) -> None:
    body = {"email": "dee@example.com", "items": [BOOK], "clientOrderId": "c-5"}
    first = await submit(h, body)
    second = await submit(h, body)
    assert second["orderId"] == first["orderId"]
    await h.settle()
    assert len(h.services["payments"].succeeded_charges(first["orderId"])) <= 1
    if h.fault_free:
        assert len(h.emitted("order.created")) == 1
        assert await status_of(h, first["orderId"]) == "shipped"
