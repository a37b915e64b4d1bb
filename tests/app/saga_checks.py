"""Checks over a finished run of the order saga, shared by the app's tests."""

from __future__ import annotations

from collections import Counter
from typing import Any

from motia_rt.harness import Harness

TERMINAL = {"shipped", "payment_failed", "rejected", "blocked"}


def order(email: str = "ada@example.com", **fields: Any) -> dict[str, Any]:
    """A valid ``POST /orders`` body: two books unless told otherwise."""
    return {"email": email, "items": [{"sku": "sku-book", "quantity": 2}], **fields}


async def place(rt: Harness, body: dict[str, Any] | None = None, **kwargs: Any) -> str:
    response = await rt.post("/orders", json=body or order(), **kwargs)
    assert response.status_code == 202, response.text
    order_id: str = response.json()["orderId"]
    return order_id


async def view(rt: Harness, order_id: str) -> dict[str, Any]:
    response = await rt.get(f"/orders/{order_id}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def assert_saga_invariants(rt: Harness) -> None:
    """What must hold once the app is quiet, whatever happened: every order ended; no order was
    charged twice, and every charge of an order that did not ship was refunded; each order's
    reserved units were all released or all shipped; no customer got the same e-mail twice."""
    await rt.settle()
    assert await rt.dead_letters() == []
    order_ids = sorted((await rt.state.items("orders")).keys())
    payments, catalog = rt.services["payments"], rt.services["catalog"]
    ledger = catalog.ledger()
    for order_id in order_ids:
        status = (await view(rt, order_id))["status"]
        assert status in TERMINAL, f"{order_id} is still {status}"
        charged = payments.succeeded_charges(order_id)
        assert len(charged) <= 1, f"{order_id} charged twice: {charged}"
        if status == "shipped":
            assert charged and not charged[0]["refunded"]
        else:
            assert all(c["refunded"] for c in charged), f"{order_id} ({status}) kept the money"
        row = ledger.get(order_id, {"reserved": 0, "released": 0, "shipped": 0})
        assert row["reserved"] == row["released"] + row["shipped"], f"{order_id}: {row}"
        assert (row["shipped"] > 0) == (status == "shipped") or row["reserved"] == 0
    keys = Counter(m["idempotencyKey"] for m in rt.services["notifier"].sent)
    assert all(n == 1 for n in keys.values())
