"""The contract of the reference app's record-keeping services (catalogue, payments, notifier), for
every implementation: the in-memory fakes and the Redis-backed ones a deployment's workers share.

An implementation's test module subclasses ``ServicesContract`` and provides ``make_deployment``: a
callable giving a fresh, empty ``Deployment`` each time. A deployment hands out the bindings of
its processes (``process(i)``): the in-memory one gives every "process" the same objects (one
process holds the whole app), the Redis one gives each its own objects on its own connection over
the same keys, as ``motia-rt worker`` processes have. Tests spread calls over processes and expect
what one process would do, and compare every answer with the in-memory reference.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steps.services import DECLINED_METHOD, Catalog, Notifier, PaymentGateway

__all__ = ["Deployment", "DeploymentFactory", "ServicesContract"]


class Deployment(Protocol):
    def process(self, index: int) -> dict[str, Any]:
        """The ``catalog``, ``payments`` and ``notifier`` bindings of process ``index``."""
        ...

    async def charges(self) -> list[dict[str, Any]]: ...

    async def refunds(self) -> list[dict[str, Any]]: ...

    async def ledger(self) -> dict[str, dict[str, int]]: ...

    async def available(self) -> dict[str, int]: ...

    async def sent(self) -> list[dict[str, Any]]: ...


DeploymentFactory: TypeAlias = Callable[[], Deployment]

_settings = settings(
    max_examples=40,
    deadline=None,
    # make_deployment is function-scoped on purpose: each example asks it for a fresh deployment.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.differing_executors],
)

LAMP = [{"sku": "sku-lamp", "quantity": 1}]

_orders = st.sampled_from(["o1", "o2", "o3"])
_items = st.lists(
    st.fixed_dictionaries(
        {
            "sku": st.sampled_from(["sku-rare", "sku-lamp", "sku-gold", "nope"]),
            "quantity": st.integers(1, 12),
        }
    ),
    max_size=3,
)


@dataclass(frozen=True)
class Call:
    """``deployment.process(process)[service].method(*args)``."""

    process: int
    service: str
    method: str
    args: tuple[Any, ...]


def _calls(service: str, methods: list[str], args: st.SearchStrategy[tuple[Any, ...]]) -> Any:
    return st.builds(Call, st.integers(0, 1), st.just(service), st.sampled_from(methods), args)


_ops = st.lists(
    st.one_of(
        _calls("catalog", ["reserve"], st.tuples(_orders, _items)),
        _calls("catalog", ["release", "commit"], st.tuples(_orders)),
        _calls(
            "payments",
            ["charge"],
            st.tuples(
                _orders,
                st.sampled_from([12.5, 5.97, 2500.0, 5000.01]),
                st.sampled_from(["pm_card_visa", DECLINED_METHOD]),
                st.sampled_from(["k1", "k2", "k3"]),
            ),
        ),
        _calls("payments", ["refund"], st.tuples(_orders, st.sampled_from(["r1", "r2"]))),
        _calls(
            "notifier",
            ["send"],
            st.tuples(
                st.just("a@x.test"),
                st.sampled_from(["t1", "t2"]),
                st.just({"n": 1}),
                st.sampled_from(["n1", "n2"]),
            ),
        ),
    ),
    max_size=25,
)
"""Operations on few orders and keys, so repeats, races for stock and refunds meet, each made by
one of two processes."""


class ServicesContract:
    """Behaviour shared by every implementation. Subclasses provide ``make_deployment``."""

    @pytest.fixture
    def deployment(self, make_deployment: DeploymentFactory) -> Deployment:
        return make_deployment()

    # -- catalogue ---------------------------------------------------------------------------

    async def test_reserve_once_per_order_whichever_process_asks(
        self, deployment: Deployment
    ) -> None:
        a, b = deployment.process(0)["catalog"], deployment.process(1)["catalog"]
        items = [{"sku": "sku-lamp", "quantity": 5}]
        first = await a.reserve("o1", items)
        assert first == {"orderId": "o1", "status": "reserved", "items": items}
        assert await b.reserve("o1", [{"sku": "sku-lamp", "quantity": 9}]) == first
        assert (await deployment.available())["sku-lamp"] == 15

    async def test_reserve_is_all_or_nothing(self, deployment: Deployment) -> None:
        catalog = deployment.process(0)["catalog"]
        items = [{"sku": "sku-book", "quantity": 1}, {"sku": "sku-rare", "quantity": 2},
                 {"sku": "x", "quantity": 1}]  # fmt: skip
        result = await catalog.reserve("o1", items)
        assert result == {"orderId": "o1", "status": "insufficient", "shortages": [
            {"sku": "sku-rare", "requested": 2, "available": 1},
            {"sku": "x", "requested": 1, "available": 0},
        ]}  # fmt: skip
        assert (await deployment.available())["sku-book"] == 100, "nothing was held"
        assert (await deployment.ledger())["o1"] == {"reserved": 0, "released": 0, "shipped": 0}
        assert (await catalog.release("o1"))["status"] == "not_reserved"
        assert (await catalog.commit("o1"))["status"] == "not_reserved"

    async def test_a_reservation_made_by_one_process_ships_from_another(
        self, deployment: Deployment
    ) -> None:
        a, b = deployment.process(0)["catalog"], deployment.process(1)["catalog"]
        await a.reserve("o1", LAMP)
        assert await b.commit("o1") == {"orderId": "o1", "status": "shipped"}
        assert await a.commit("o1") == {"orderId": "o1", "status": "already_shipped"}
        assert await a.release("o1") == {"orderId": "o1", "status": "already_shipped"}
        assert (await deployment.ledger())["o1"] == {"reserved": 1, "released": 0, "shipped": 1}
        assert (await deployment.available())["sku-lamp"] == 19

    async def test_release_returns_the_units_once_and_the_order_never_ships(
        self, deployment: Deployment
    ) -> None:
        a, b = deployment.process(0)["catalog"], deployment.process(1)["catalog"]
        await a.reserve("o1", [{"sku": "sku-rare", "quantity": 1}])
        assert (await b.release("o1"))["status"] == "released"
        assert (await a.release("o1"))["status"] == "already_released"
        assert (await b.commit("o1"))["status"] == "already_released"
        assert (await deployment.available())["sku-rare"] == 1
        assert (await a.release("never"))["status"] == "not_reserved"

    async def test_concurrent_orders_take_the_stock_exactly(self, deployment: Deployment) -> None:
        processes = [deployment.process(i)["catalog"] for i in (0, 1)]
        results = await asyncio.gather(
            *(processes[n % 2].reserve(f"o{n}", LAMP) for n in range(30))
        )
        assert sorted(r["status"] for r in results) == ["insufficient"] * 10 + ["reserved"] * 20
        assert (await deployment.available())["sku-lamp"] == 0

    async def test_prices_and_unknown_skus(self, deployment: Deployment) -> None:
        catalog = deployment.process(1)["catalog"]
        cart = [{"sku": "sku-pen", "quantity": 3}, {"sku": "sku-book", "quantity": 1}]
        assert await catalog.price(cart) == 18.47
        assert await catalog.unknown_skus(["b", "sku-pen", "a", "b"]) == ["a", "b"]

    # -- payments ----------------------------------------------------------------------------

    async def test_a_key_charges_once_under_concurrent_retries(
        self, deployment: Deployment
    ) -> None:
        processes = [deployment.process(i)["payments"] for i in (0, 1)]
        results = await asyncio.gather(
            *(processes[n % 2].charge("o1", 25.0, "pm_card_visa", "o1") for n in range(12))
        )
        assert all(r == results[0] for r in results)
        assert results[0]["status"] == "succeeded" and results[0]["amount"] == 25.0
        assert [c["orderId"] for c in await deployment.charges()] == ["o1"]

    async def test_decline_rules(self, deployment: Deployment) -> None:
        payments = deployment.process(0)["payments"]
        declined = await payments.charge("o1", 10.0, DECLINED_METHOD, "k1")
        broke = await payments.charge("o2", 5000.01, "pm_card_visa", "k2")
        assert (declined["status"], declined["declineCode"]) == ("declined", "card_declined")
        assert (broke["status"], broke["declineCode"]) == ("declined", "insufficient_funds")
        assert [c["status"] for c in await deployment.charges()] == ["declined", "declined"]

    async def test_a_charge_is_refunded_once_whichever_process_refunds(
        self, deployment: Deployment
    ) -> None:
        a, b = deployment.process(0)["payments"], deployment.process(1)["payments"]
        charge = await a.charge("o1", 25.0, "pm_card_visa", "o1")
        refunds = await asyncio.gather(*(p.refund("o1", f"r{n}") for n, p in enumerate([a, b] * 3)))
        refunded = [r for r in refunds if r["status"] == "refunded"]
        assert len(refunded) == 1
        [refund] = refunded
        assert (refund["chargeId"], refund["amount"]) == (charge["chargeId"], 25.0)
        assert isinstance(refund["amount"], float)
        key = f"r{refunds.index(refund)}"
        assert await b.refund("o1", key) == refund, "the first answer for a key is kept"
        assert await deployment.refunds() == [refund]
        assert (await a.charge("o1", 25.0, "pm_card_visa", "o1"))["refunded"] is True

    async def test_nothing_to_refund_without_a_succeeded_charge(
        self, deployment: Deployment
    ) -> None:
        payments = deployment.process(0)["payments"]
        assert await payments.refund("o1", "r1") == {"orderId": "o1", "status": "nothing_to_refund"}
        await payments.charge("o1", 10.0, DECLINED_METHOD, "o1")
        assert (await payments.refund("o1", "r2"))["status"] == "nothing_to_refund"
        assert await deployment.refunds() == []

    # -- notifier ----------------------------------------------------------------------------

    async def test_a_key_sends_once_under_concurrent_retries(self, deployment: Deployment) -> None:
        processes = [deployment.process(i)["notifier"] for i in (0, 1)]
        results = await asyncio.gather(
            *(processes[n % 2].send("a@x.test", "t", {"n": n}, "k1") for n in range(10))
        )
        assert sorted(r["status"] for r in results) == ["duplicate"] * 9 + ["sent"]
        assert len({r["messageId"] for r in results}) == 1
        [message] = await deployment.sent()
        assert (message["to"], message["template"], message["idempotencyKey"]) == (
            "a@x.test", "t", "k1",
        )  # fmt: skip

    # -- all of it, against the reference ----------------------------------------------------

    @_settings
    @given(ops=_ops)
    async def test_answers_and_records_match_the_in_memory_reference(
        self, make_deployment: DeploymentFactory, ops: list[Call]
    ) -> None:
        deployment = make_deployment()
        reference = {"catalog": Catalog(), "payments": PaymentGateway(), "notifier": Notifier()}
        for op in ops:
            got = await getattr(deployment.process(op.process)[op.service], op.method)(*op.args)
            expected = await getattr(reference[op.service], op.method)(*op.args)
            assert got == expected, op
        assert await deployment.charges() == reference["payments"].charges
        assert await deployment.refunds() == reference["payments"].refunds
        assert await deployment.ledger() == reference["catalog"].ledger()
        assert await deployment.available() == reference["catalog"].available
        assert await deployment.sent() == reference["notifier"].sent
