"""The app's service fakes on their own: idempotency, decline and risk rules, the stock ledger."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steps.services import (
    DEFAULT_PRODUCTS,
    Catalog,
    HealthProbe,
    Notifier,
    PaymentGateway,
    RiskScorer,
    default_services,
)

T = TypeVar("T")
PRICES = {p.sku: Decimal(p.price_cents) / 100 for p in DEFAULT_PRODUCTS}
SKUS = sorted(PRICES)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def test_default_services_are_fresh_per_call() -> None:
    a, b = default_services(), default_services()
    assert sorted(a) == ["catalog", "health", "notifier", "payments", "risk"]
    assert all(a[name] is not b[name] for name in a)


# -- catalog --------------------------------------------------------------------------------------


async def test_price_sums_in_cents() -> None:
    total = await Catalog().price(
        [{"sku": "sku-pen", "quantity": 3}, {"sku": "sku-book", "quantity": 1}]
    )
    assert total == 18.47  # 3 * 1.99 + 12.50, no float drift


async def test_reserve_is_idempotent_per_order() -> None:
    catalog = Catalog()
    items = [{"sku": "sku-lamp", "quantity": 5}]
    first = await catalog.reserve("o1", items)
    again = await catalog.reserve("o1", items)
    assert first == again == {"orderId": "o1", "status": "reserved", "items": items}
    assert catalog.available["sku-lamp"] == 15


async def test_reserve_is_all_or_nothing_and_reports_shortages() -> None:
    catalog = Catalog()
    items = [
        {"sku": "sku-book", "quantity": 1},
        {"sku": "sku-rare", "quantity": 2},
        {"sku": "x", "quantity": 1},
    ]
    result = await catalog.reserve("o1", items)
    assert result["status"] == "insufficient"
    assert result["shortages"] == [
        {"sku": "sku-rare", "requested": 2, "available": 1},
        {"sku": "x", "requested": 1, "available": 0},
    ]
    assert catalog.available["sku-book"] == 100, "nothing was held"
    assert catalog.ledger()["o1"] == {"reserved": 0, "released": 0, "shipped": 0}


async def test_the_last_unit_goes_to_one_order() -> None:
    catalog = Catalog()
    results = [await catalog.reserve(o, [{"sku": "sku-rare", "quantity": 1}]) for o in ("a", "b")]
    assert [r["status"] for r in results] == ["reserved", "insufficient"]


async def test_release_and_commit_are_idempotent_and_exclusive() -> None:
    catalog = Catalog()
    await catalog.reserve("o1", [{"sku": "sku-lamp", "quantity": 2}])
    await catalog.reserve("o2", [{"sku": "sku-lamp", "quantity": 3}])
    assert (await catalog.release("o1"))["status"] == "released"
    assert (await catalog.release("o1"))["status"] == "already_released"
    assert (await catalog.commit("o1"))["status"] == "already_released"
    assert (await catalog.commit("o2"))["status"] == "shipped"
    assert (await catalog.commit("o2"))["status"] == "already_shipped"
    assert (await catalog.release("o2"))["status"] == "already_shipped"
    assert (await catalog.release("nope"))["status"] == "not_reserved"
    assert catalog.available["sku-lamp"] == 17
    assert catalog.ledger() == {
        "o1": {"reserved": 2, "released": 2, "shipped": 0},
        "o2": {"reserved": 3, "released": 0, "shipped": 3},
    }


async def test_a_redelivered_reserve_after_release_does_not_reserve_again() -> None:
    catalog = Catalog()
    items = [{"sku": "sku-lamp", "quantity": 2}]
    await catalog.reserve("o1", items)
    await catalog.release("o1")
    assert (await catalog.reserve("o1", items))["status"] == "reserved"  # the first answer
    assert catalog.available["sku-lamp"] == 20


carts = st.lists(
    st.fixed_dictionaries({"sku": st.sampled_from(SKUS), "quantity": st.integers(1, 5)}),
    min_size=1,
    max_size=8,
)


@settings(max_examples=200)
@given(cart=carts)
def test_total_is_the_sum_of_line_prices(cart: list[dict[str, Any]]) -> None:
    expected = sum(PRICES[i["sku"]] * i["quantity"] for i in cart)
    assert Decimal(str(run(Catalog().price(cart)))) == expected


ops = st.lists(
    st.tuples(st.sampled_from(["reserve", "release", "commit"]), st.sampled_from("abcde"), carts),
    max_size=30,
)


@settings(max_examples=200)
@given(plan=ops)
def test_stock_is_conserved_and_the_ledger_balances(plan: list[tuple[str, str, Any]]) -> None:
    async def scenario() -> Catalog:
        catalog = Catalog()
        for op, order, cart in plan:
            if op == "reserve":
                await catalog.reserve(order, cart)
            else:
                await getattr(catalog, op)(order)
        return catalog

    catalog = run(scenario())
    ledger = catalog.ledger()
    for row in ledger.values():
        assert row["released"] + row["shipped"] <= row["reserved"]
    held = sum(r["reserved"] - r["released"] - r["shipped"] for r in ledger.values())
    shipped = sum(r["shipped"] for r in ledger.values())
    initial = sum(p.stock for p in DEFAULT_PRODUCTS)
    assert sum(catalog.available.values()) + held + shipped == initial
    assert all(n >= 0 for n in catalog.available.values())
    # Settle every open reservation one way or the other: then reserved == released + shipped.
    for order in ledger:
        run(catalog.release(order))
    assert all(r["reserved"] == r["released"] + r["shipped"] for r in catalog.ledger().values())


# -- payments -------------------------------------------------------------------------------------


async def test_a_key_charges_once() -> None:
    gateway = PaymentGateway()
    first = await gateway.charge("o1", 25.0, "pm_card_visa", idempotency_key="o1")
    again = await gateway.charge("o1", 25.0, "pm_card_visa", idempotency_key="o1")
    assert first == again
    assert first["status"] == "succeeded" and first["chargeId"].startswith("ch_")
    assert len(gateway.charges) == 1
    assert len(gateway.succeeded_charges("o1")) == 1


@pytest.mark.parametrize(
    ("method", "amount", "status", "code"),
    [
        ("pm_card_visa", 5000.0, "succeeded", None),
        ("pm_card_visa", 5000.01, "declined", "insufficient_funds"),
        ("pm_card_declined", 1.0, "declined", "card_declined"),
    ],
)
async def test_decline_rules(method: str, amount: float, status: str, code: str | None) -> None:
    result = await PaymentGateway().charge("o1", amount, method, idempotency_key="k")
    assert (result["status"], result["declineCode"]) == (status, code)


async def test_a_declined_key_stays_declined() -> None:
    gateway = PaymentGateway()
    await gateway.charge("o1", 10.0, "pm_card_declined", idempotency_key="o1")
    retried = await gateway.charge("o1", 10.0, "pm_card_visa", idempotency_key="o1")
    assert retried["status"] == "declined"


async def test_refund_is_idempotent_and_refunds_a_charge_once() -> None:
    gateway = PaymentGateway()
    charge = await gateway.charge("o1", 40.0, "pm_card_visa", idempotency_key="o1")
    first = await gateway.refund("o1", idempotency_key="o1:refund")
    assert first["status"] == "refunded" and first["chargeId"] == charge["chargeId"]
    assert await gateway.refund("o1", idempotency_key="o1:refund") == first
    assert (await gateway.refund("o1", idempotency_key="other"))["status"] == "nothing_to_refund"
    assert (await gateway.refund("o2", idempotency_key="o2"))["status"] == "nothing_to_refund"
    assert len(gateway.refunds) == 1


# -- risk, notifier, health -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "total", "units", "decision", "score"),
    [
        ("a@example.com", 100.0, 1, "approve", 0.0),
        ("a@example.com", 100.0, 21, "approve", 0.2),
        ("a@RISKY.test", 100.0, 1, "block", 0.9),
        ("a@example.com", 2000.01, 1, "block", 0.6),
        ("a@risky.test", 2500.0, 30, "block", 1.0),
    ],
)
async def test_risk_rules(
    email: str, total: float, units: int, decision: str, score: float
) -> None:
    order = {
        "orderId": "o1",
        "email": email,
        "total": total,
        "items": [{"sku": "s", "quantity": units}],
    }
    result = await RiskScorer().score(order)
    assert (result["decision"], result["score"]) == (decision, score)
    assert bool(result["reasons"]) == (score > 0)


async def test_notifier_drops_duplicates_by_key() -> None:
    notifier = Notifier()
    first = await notifier.send("a@example.com", "t", {"n": 1}, idempotency_key="k")
    again = await notifier.send("a@example.com", "t", {"n": 1}, idempotency_key="k")
    assert (first["status"], again["status"]) == ("sent", "duplicate")
    assert first["messageId"] == again["messageId"]
    assert len(notifier.sent) == 1 and notifier.to("a@example.com", "t") == notifier.sent


async def test_health_probe_healthy_and_degraded() -> None:
    assert await HealthProbe().probe() == {"ok": True, "latencyMs": 12.0}
    degraded = HealthProbe.degraded()
    assert (await degraded.probe())["ok"] is False
    assert degraded.probes == 1
