"""Random orders through the whole saga, against an oracle written from the documented rules."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from motia_rt.testing import Runtime
from steps.services import DECLINED_METHOD, DEFAULT_PRODUCTS
from tests.app.conftest import STEPS
from tests.app.saga_checks import assert_saga_invariants, place, view

PRODUCTS = {p.sku: p for p in DEFAULT_PRODUCTS}

bodies = st.fixed_dictionaries(
    {
        "email": st.sampled_from(["ada@example.com", "bob@shop.test", "eve@risky.test"]),
        "items": st.lists(
            st.fixed_dictionaries(
                {"sku": st.sampled_from(sorted(PRODUCTS)), "quantity": st.integers(1, 4)}
            ),
            min_size=1,
            max_size=5,
        ),
        "paymentMethod": st.sampled_from(["pm_card_visa", "pm_card_mastercard", DECLINED_METHOD]),
    }
)


def expected_outcome(body: dict[str, Any]) -> tuple[str, Decimal | None]:
    """Status and total by the rules in docs/reference-app.md, for a fresh catalogue."""
    wanted: dict[str, int] = {}
    for item in body["items"]:
        wanted[item["sku"]] = wanted.get(item["sku"], 0) + item["quantity"]
    if any(qty > PRODUCTS[sku].stock for sku, qty in wanted.items()):
        return "rejected", None
    total = sum(
        (Decimal(PRODUCTS[sku].price_cents) / 100 * qty for sku, qty in wanted.items()), Decimal(0)
    )
    if body["paymentMethod"] == DECLINED_METHOD or total > 5000:
        return "payment_failed", total
    if body["email"].endswith("@risky.test") or total > 2000:
        return "blocked", total
    return "shipped", total


@settings(max_examples=40, deadline=None)
@given(body=bodies)
def test_every_order_ends_as_the_rules_say(body: dict[str, Any]) -> None:
    async def scenario(rt: Runtime) -> None:
        order_id = await place(rt, body)
        await rt.settle()
        got = await view(rt, order_id)
        status, total = expected_outcome(body)
        assert got["status"] == status
        assert (None if got["total"] is None else Decimal(str(got["total"]))) == total
        await assert_saga_invariants(rt)

    Runtime(STEPS).run(scenario)


@settings(max_examples=15, deadline=None)
@given(orders=st.lists(bodies, min_size=2, max_size=6))
def test_concurrent_orders_keep_the_books_straight(orders: list[dict[str, Any]]) -> None:
    async def scenario(rt: Runtime) -> None:
        for body in orders:
            await place(rt, body)
        await assert_saga_invariants(rt)
        catalog = rt.services["catalog"]
        shipped: dict[str, int] = {}
        for order_id, row in catalog.ledger().items():
            if row["shipped"]:
                reservation = await rt.state.get("reservations", order_id)
                assert reservation is not None
                for item in reservation["items"]:
                    shipped[item["sku"]] = shipped.get(item["sku"], 0) + item["quantity"]
        for sku, product in PRODUCTS.items():
            assert catalog.available[sku] + shipped.get(sku, 0) == product.stock

    Runtime(STEPS).run(scenario)
