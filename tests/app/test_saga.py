"""The order saga end to end on the in-process runtime: each path to each terminal status."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest

from motia_rt.ports import Message
from motia_rt.testing import Runtime
from motia_rt.tracing import HandlerRun
from steps.services import HealthProbe, PaymentGateway, RiskScorer
from tests.app.conftest import STEPS
from tests.app.saga_checks import assert_saga_invariants, order, place, view


async def test_happy_path_ships() -> None:
    async with Runtime(STEPS) as rt:
        order_id = await place(rt)
        shipped = await rt.wait_for_topic("fulfillment.shipped", match={"orderId": order_id})
        await rt.settle()
        got = await view(rt, order_id)
        assert got["status"] == "shipped"
        assert (got["total"], got["currency"]) == (25.0, "USD")
        assert got["payment"]["status"] == "succeeded"
        assert got["payment"]["chargeId"] == shipped.data["chargeId"]
        assert got["risk"]["decision"] == "approve"
        assert rt.services["catalog"].ledger()[order_id] == {
            "reserved": 2,
            "released": 0,
            "shipped": 2,
        }
        assert [m["template"] for m in rt.services["notifier"].sent] == ["order_shipped"]
        assert len(rt.emitted("fulfillment.shipped")) == 1, "the join acts once"
        assert {m.trace_id for m in rt.emitted()} == {got["traceId"]}
        await assert_saga_invariants(rt)


async def test_declined_card_is_compensated() -> None:
    async with Runtime(STEPS) as rt:
        order_id = await place(rt, order(paymentMethod="pm_card_declined"))
        failed = await rt.wait_for_topic("payment.failed", match={"orderId": order_id})
        assert failed.data["declineCode"] == "card_declined"
        await rt.wait_for_topic(
            "inventory.released", match={"orderId": order_id, "status": "released"}
        )
        await rt.settle()
        got = await view(rt, order_id)
        assert got["status"] == "payment_failed"
        assert got["statusDetail"] == {"status": "payment_failed", "declineCode": "card_declined"}
        assert rt.services["catalog"].ledger()[order_id] == {
            "reserved": 2,
            "released": 2,
            "shipped": 0,
        }
        assert rt.services["catalog"].available["sku-book"] == 100
        assert [m["template"] for m in rt.services["notifier"].sent] == ["payment_failed"]
        assert rt.emitted("fulfillment.shipped") == []
        await assert_saga_invariants(rt)


async def test_amount_over_the_limit_declines_even_when_risk_also_blocks() -> None:
    async with Runtime(STEPS) as rt:
        # 3 x 2500.00: over the 5000 card limit and over the 2000 risk limit.
        order_id = await place(rt, order(items=[{"sku": "sku-gold", "quantity": 3}]))
        await rt.settle()
        got = await view(rt, order_id)
        assert got["status"] == "payment_failed"
        assert got["payment"]["declineCode"] == "insufficient_funds"
        assert got["risk"]["decision"] == "block"
        assert rt.emitted("order.flagged"), "still flagged for review"
        assert rt.services["payments"].refunds == [], "nothing charged, nothing refunded"
        await assert_saga_invariants(rt)


async def test_insufficient_stock_rejects() -> None:
    async with Runtime(STEPS) as rt:
        order_id = await place(
            rt,
            order(
                items=[{"sku": "sku-book", "quantity": 1}, {"sku": "sku-soldout", "quantity": 1}]
            ),
        )
        await rt.wait_for_topic("inventory.insufficient", match={"orderId": order_id})
        await rt.settle()
        got = await view(rt, order_id)
        assert got["status"] == "rejected"
        assert got["statusDetail"]["shortages"] == [
            {"sku": "sku-soldout", "requested": 1, "available": 0}
        ]
        assert (got["total"], got["payment"], got["risk"]) == (None, "pending", "pending")
        assert rt.emitted("order.priced") == [] and rt.services["payments"].charges == []
        assert [m["template"] for m in rt.services["notifier"].sent] == ["order_rejected"]
        await assert_saga_invariants(rt)


async def test_the_last_unit_ships_once_under_concurrent_orders() -> None:
    async with Runtime(STEPS) as rt:
        bodies = [
            order(f"buyer{n}@example.com", items=[{"sku": "sku-rare", "quantity": 1}])
            for n in range(4)
        ]
        ids = await asyncio.gather(*(place(rt, body) for body in bodies))
        await rt.settle()
        statuses = sorted([(await view(rt, i))["status"] for i in ids])
        assert statuses == ["rejected", "rejected", "rejected", "shipped"]
        assert rt.services["catalog"].available["sku-rare"] == 0
        await assert_saga_invariants(rt)


async def test_risky_email_is_blocked_refunded_and_released() -> None:
    async with Runtime(STEPS) as rt:
        order_id = await place(rt, order("mallory@risky.test"))
        flagged = await rt.wait_for_topic("order.flagged", match={"orderId": order_id})
        assert flagged.data["decision"] == "block"
        await rt.settle()
        got = await view(rt, order_id)
        assert got["status"] == "blocked"
        refund = rt.services["payments"].refunds
        assert [r["chargeId"] for r in refund] == [got["payment"]["chargeId"]]
        assert got["statusDetail"]["refundId"] == refund[0]["refundId"]
        assert rt.services["catalog"].ledger()[order_id] == {
            "reserved": 2,
            "released": 2,
            "shipped": 0,
        }
        assert [m["template"] for m in rt.services["notifier"].sent] == ["order_blocked"]
        assert rt.emitted("fulfillment.shipped") == []
        await assert_saga_invariants(rt)


async def test_large_total_is_blocked_after_a_successful_charge() -> None:
    async with Runtime(STEPS) as rt:
        order_id = await place(rt, order(items=[{"sku": "sku-gold", "quantity": 1}]))
        await rt.settle()
        got = await view(rt, order_id)
        assert (got["status"], got["payment"]["status"]) == ("blocked", "succeeded")
        assert got["risk"]["reasons"] == ["order total 2500.00 exceeds 2000.00"]
        assert len(rt.services["payments"].refunds) == 1
        await assert_saga_invariants(rt)


# -- the join: payment and risk in either order ----------------------------------------------------


class GatedPayments(PaymentGateway):
    """Charges only once the test opens the gate, so risk is known first."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def charge(
        self, order_id: str, amount: float, payment_method: str, idempotency_key: str
    ) -> dict[str, Any]:
        await self.gate.wait()
        return await super().charge(order_id, amount, payment_method, idempotency_key)


class GatedRisk(RiskScorer):
    """Scores only once the test opens the gate, so the payment is known first."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def score(self, order: Mapping[str, Any]) -> dict[str, Any]:
        await self.gate.wait()
        return await super().score(order)


class RunEnded:
    """Engine observer: a future that resolves when a run of ``step`` on ``topic`` ends."""

    def __init__(self, step: str, topic: str) -> None:
        self.step, self.topic = step, topic
        self.done: asyncio.Future[HandlerRun] = asyncio.get_running_loop().create_future()

    def on_emit(self, message: Message) -> None:
        pass

    def on_run_start(self, run: HandlerRun) -> None:
        pass

    def on_run_end(self, run: HandlerRun) -> None:
        if (run.step, run.topic) == (self.step, self.topic) and not self.done.done():
            self.done.set_result(run)


@asynccontextmanager
async def joined(first: str, email: str) -> AsyncIterator[tuple[Runtime, str]]:
    """Run one order with the other half of the join held back until the first half was seen."""
    gated: Any = GatedPayments() if first == "risk" else GatedRisk()
    topic = "risk.assessed" if first == "risk" else "payment.succeeded"
    async with Runtime(STEPS, services={"payments" if first == "risk" else "risk": gated}) as rt:
        seen = RunEnded("Fulfillment", topic)
        rt.engine.add_observer(seen)
        order_id = await place(rt, order(email))
        assert (await asyncio.wait_for(seen.done, 5)).outcome == "ok"
        assert (await view(rt, order_id))["status"] == "pending", (
            "the join waits for the other half"
        )
        assert rt.emitted("fulfillment.shipped") == [] and rt.emitted("inventory.release") == []
        gated.gate.set()
        await rt.settle()
        yield rt, order_id


@pytest.mark.parametrize("first", ["risk", "payment"])
async def test_join_ships_whichever_half_arrives_first(first: str) -> None:
    async with joined(first, "ada@example.com") as (rt, order_id):
        assert (await view(rt, order_id))["status"] == "shipped"
        assert len(rt.emitted("fulfillment.shipped")) == 1
        await assert_saga_invariants(rt)


@pytest.mark.parametrize("first", ["risk", "payment"])
async def test_join_blocks_whichever_half_arrives_first(first: str) -> None:
    async with joined(first, "eve@risky.test") as (rt, order_id):
        assert (await view(rt, order_id))["status"] == "blocked"
        assert len(rt.services["payments"].refunds) == 1
        await assert_saga_invariants(rt)


# -- at-least-once: every event delivered again ---------------------------------------------------


async def test_redelivering_every_event_changes_nothing() -> None:
    async with Runtime(STEPS) as rt:
        ids = [
            await place(rt, order()),
            await place(rt, order(paymentMethod="pm_card_declined")),
            await place(rt, order("eve@risky.test")),
            await place(rt, order(items=[{"sku": "sku-soldout", "quantity": 1}])),
        ]
        await rt.settle()
        before = {g: await rt.state.items(g) for g in await rt.state.groups()}
        ledger, charges = rt.services["catalog"].ledger(), list(rt.services["payments"].charges)
        sent, refunds = list(rt.services["notifier"].sent), list(rt.services["payments"].refunds)
        for message in list(rt.emitted()):
            await rt.emit(message.topic, message.data, group_id=message.group_id)
        await rt.settle()
        assert {g: await rt.state.items(g) for g in await rt.state.groups()} == before
        assert rt.services["catalog"].ledger() == ledger
        assert rt.services["payments"].charges == charges
        assert rt.services["payments"].refunds == refunds
        assert rt.services["notifier"].sent == sent
        assert [(await view(rt, i))["status"] for i in ids] == [
            "shipped",
            "payment_failed",
            "blocked",
            "rejected",
        ]
        await assert_saga_invariants(rt)


async def test_risk_is_not_asked_twice_for_one_order() -> None:
    async with Runtime(STEPS) as rt:
        order_id = await place(rt)
        priced = await rt.wait_for_topic("order.priced", match={"orderId": order_id})
        await rt.settle()
        await rt.emit("order.priced", priced.data)
        await rt.settle()
        assert rt.services["risk"].calls == [order_id]


# -- the API --------------------------------------------------------------------------------------


async def test_duplicate_submission_with_client_order_id_starts_one_saga() -> None:
    async with Runtime(STEPS) as rt:
        body = order(clientOrderId="cart-42")
        first = await rt.post("/orders", json=body)
        second = await rt.post("/orders", json=body)
        assert first.status_code == second.status_code == 202
        assert first.json() == second.json()
        assert second.headers["idempotent-replayed"] == "true"
        await rt.settle()
        third = await rt.post("/orders", json=body)
        assert third.json() == {**first.json(), "status": "shipped"}
        assert len(rt.emitted("order.created")) == 1
        assert len(rt.services["payments"].charges) == 1
        await assert_saga_invariants(rt)


async def test_duplicate_submission_with_idempotency_key_header() -> None:
    async with Runtime(STEPS) as rt:
        headers = {"Idempotency-Key": "k-1"}
        ids = {
            (await rt.post("/orders", json=order(), headers=headers)).json()["orderId"]
            for _ in range(3)
        }
        other = await place(rt, order(), headers={"Idempotency-Key": "k-2"})
        assert len(ids) == 1 and other not in ids
        await rt.settle()
        assert len(rt.emitted("order.created")) == 2
        await assert_saga_invariants(rt)


async def test_concurrent_duplicate_submissions_charge_once() -> None:
    async with Runtime(STEPS) as rt:
        body = order(clientOrderId="double-click")
        responses = await asyncio.gather(*(rt.post("/orders", json=body) for _ in range(5)))
        assert len({r.json()["orderId"] for r in responses}) == 1
        await rt.settle()
        assert len(rt.services["payments"].charges) == 1
        await assert_saga_invariants(rt)


async def test_a_key_reused_for_a_different_order_is_a_conflict() -> None:
    async with Runtime(STEPS) as rt:
        await place(rt, order(clientOrderId="c-1"))
        response = await rt.post(
            "/orders", json=order(clientOrderId="c-1", items=[{"sku": "sku-pen", "quantity": 1}])
        )
        assert response.status_code == 409
        assert "already used" in response.json()["error"]


async def test_orders_without_a_key_are_distinct() -> None:
    async with Runtime(STEPS) as rt:
        assert await place(rt) != await place(rt)


async def test_unknown_order_is_404_json(motia_runtime: Runtime) -> None:
    response = await motia_runtime.get("/orders/ord_missing")
    assert response.status_code == 404
    assert response.json() == {"error": "order 'ord_missing' not found"}


async def test_pending_order_view_before_anything_ran() -> None:
    async with Runtime(STEPS) as rt:
        order_id = await place(rt)
        got = await view(rt, order_id)
        assert got["orderId"] == order_id and got["email"] == "ada@example.com"
        assert got["items"] == [{"sku": "sku-book", "quantity": 2}]
        assert got["paymentMethod"] == "pm_card_visa"
        await rt.settle()


async def test_bad_bodies_are_400_with_field_errors() -> None:
    async with Runtime(STEPS) as rt:
        cases = {
            "items": order(items=[]),
            "items.0.quantity": order(items=[{"sku": "sku-book", "quantity": 0}]),
            "email": order("not-an-email"),
        }
        for field, body in cases.items():
            response = await rt.post("/orders", json=body)
            assert response.status_code == 400, field
            assert [".".join(map(str, e["loc"])) for e in response.json()["errors"]] == [field]
        response = await rt.post(
            "/orders", json=order(items=[{"sku": "sku-unicorn", "quantity": 1}])
        )
        assert (response.status_code, response.json()) == (
            400,
            {"error": "unknown sku(s): sku-unicorn"},
        )
        assert rt.emitted() == []


# -- ops ------------------------------------------------------------------------------------------


async def test_health_check_is_quiet_when_healthy() -> None:
    async with Runtime(STEPS) as rt:
        run = await rt.trigger_cron("ApiHealthCheck")
        assert run.outcome == "ok"
        assert rt.emitted() == []
        assert await rt.state.get("health", "api") == {"ok": True, "latencyMs": 12.0}


async def test_health_check_reports_a_degraded_api() -> None:
    async with Runtime(STEPS, services={"health": HealthProbe.degraded(latency_ms=3000.0)}) as rt:
        run = await rt.trigger_cron("ApiHealthCheck")
        assert run.outcome == "ok"
        event = await rt.wait_for_topic("api.degraded", timeout=0)
        assert event.data == {"latencyMs": 3000.0, "reason": "health probe reported not ok"}


async def test_health_check_reports_a_probe_that_fails() -> None:
    class Down:
        async def probe(self) -> dict[str, Any]:
            raise ConnectionError("connection refused")

    async with Runtime(STEPS, services={"health": Down()}) as rt:
        assert (await rt.trigger_cron("ApiHealthCheck")).outcome == "ok"
        event = await rt.wait_for_topic("api.degraded", timeout=0)
        assert event.data["reason"] == "ConnectionError: connection refused"
