"""The product catalogue and stock: prices, all-or-nothing reservations, a per-order ledger."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = [
    "DEFAULT_PRODUCTS",
    "Catalog",
    "Product",
    "ledger_row",
    "quantities",
    "reservation_result",
    "to_cents",
]


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    name: str
    price_cents: int
    stock: int


def to_cents(price: str | Decimal) -> int:
    return int(Decimal(price) * 100)


DEFAULT_PRODUCTS: tuple[Product, ...] = (
    Product("sku-book", "Paperback book", to_cents("12.50"), 100),
    Product("sku-pen", "Ballpoint pen", to_cents("1.99"), 1000),
    Product("sku-lamp", "Desk lamp", to_cents("49.00"), 20),
    Product("sku-rare", "Signed first edition", to_cents("250.00"), 1),
    Product("sku-gold", "Gold bar", to_cents("2500.00"), 5),
    Product("sku-soldout", "Last season's mug", to_cents("9.00"), 0),
)
"""``sku-rare`` has one unit (a second order is rejected); ``sku-soldout`` has none; one
``sku-gold`` passes the payment limit but trips the risk rule (total over 2000)."""


def quantities(items: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Units per sku. A cart may list one sku twice; stock is checked against the sum."""
    out: dict[str, int] = {}
    for item in items:
        out[str(item["sku"])] = out.get(str(item["sku"]), 0) + int(item["quantity"])
    return out


def reservation_result(order_id: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    """What ``reserve`` answers for a recorded reservation ``{"state", "items" | "shortages"}``
    (every catalogue implementation answers through here, so they answer alike)."""
    if entry["state"] == "insufficient":
        return {"orderId": order_id, "status": "insufficient", "shortages": entry["shortages"]}
    items = [{"sku": s, "quantity": q} for s, q in sorted(entry["items"].items())]
    return {"orderId": order_id, "status": "reserved", "items": items}


def ledger_row(entry: Mapping[str, Any]) -> dict[str, int]:
    """A recorded reservation's units: ``{"reserved", "released", "shipped"}``."""
    units = sum(entry.get("items", {}).values())
    state = entry["state"]
    return {
        "reserved": units,
        "released": units if state == "released" else 0,
        "shipped": units if state == "shipped" else 0,
    }


class PriceList:
    """What every catalogue knows without records: the products it sells and their prices (the
    same configuration in every process)."""

    def __init__(self, products: Iterable[Product] = DEFAULT_PRODUCTS) -> None:
        self.products: dict[str, Product] = {p.sku: p for p in products}

    async def unknown_skus(self, skus: Iterable[str]) -> list[str]:
        """The skus (sorted, unique) that the catalogue does not sell."""
        return sorted({s for s in skus if s not in self.products})

    async def price(self, items: Iterable[Mapping[str, Any]]) -> float:
        """Total price in USD, summed in integer cents. Raises ``KeyError`` for an unknown sku."""
        cents = sum(self.products[s].price_cents * q for s, q in quantities(items).items())
        return cents / 100


class Catalog(PriceList):
    """In-memory fake of the catalogue service. Deterministic, offline.

    Every method finishes without awaiting, so under asyncio each call is atomic. Items are plain
    dicts ``{"sku": str, "quantity": int}``. Reservations are keyed by order id and idempotent:
    the first ``reserve`` for an order decides its result for good, so a redelivered
    ``order.created`` (even after the order was released or shipped) never reserves twice.
    """

    def __init__(self, products: Iterable[Product] = DEFAULT_PRODUCTS) -> None:
        super().__init__(products)
        self.available: dict[str, int] = {p.sku: p.stock for p in self.products.values()}
        self._reservations: dict[str, dict[str, Any]] = {}

    async def reserve(self, order_id: str, items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
        """Reserve every item or none. Returns ``{"orderId", "status": "reserved", "items"}`` or
        ``{"orderId", "status": "insufficient", "shortages": [{"sku", "requested", "available"}]}``
        (an unknown sku is short with 0 available). Idempotent per ``order_id``."""
        if order_id in self._reservations:
            return self._result(order_id)
        wanted = quantities(items)
        shortages = [
            {"sku": sku, "requested": qty, "available": self.available.get(sku, 0)}
            for sku, qty in sorted(wanted.items())
            if self.available.get(sku, 0) < qty
        ]
        if shortages:
            self._reservations[order_id] = {"state": "insufficient", "shortages": shortages}
        else:
            for sku, qty in wanted.items():
                self.available[sku] -= qty
            self._reservations[order_id] = {"state": "reserved", "items": wanted}
        return self._result(order_id)

    async def release(self, order_id: str) -> dict[str, Any]:
        """Return a reservation's units to stock. Idempotent; ``status`` says what happened:
        "released", "already_released", "already_shipped" (nothing to do) or "not_reserved"."""
        entry = self._reservations.get(order_id)
        if entry is None or entry["state"] == "insufficient":
            return {"orderId": order_id, "status": "not_reserved"}
        if entry["state"] != "reserved":
            return {"orderId": order_id, "status": f"already_{entry['state']}"}
        for sku, qty in entry["items"].items():
            self.available[sku] += qty
        entry["state"] = "released"
        return {"orderId": order_id, "status": "released"}

    async def commit(self, order_id: str) -> dict[str, Any]:
        """Mark a reservation shipped (its units leave stock for good). Idempotent; ``status`` is
        "shipped", "already_shipped", "already_released" or "not_reserved" (both: cannot ship)."""
        entry = self._reservations.get(order_id)
        if entry is None or entry["state"] == "insufficient":
            return {"orderId": order_id, "status": "not_reserved"}
        if entry["state"] != "reserved":
            return {"orderId": order_id, "status": f"already_{entry['state']}"}
        entry["state"] = "shipped"
        return {"orderId": order_id, "status": "shipped"}

    def ledger(self) -> dict[str, dict[str, int]]:
        """Units per order: ``{"reserved", "released", "shipped"}``. When every saga has finished,
        ``reserved == released + shipped`` for each order; at any time, ``released + shipped <=
        reserved``. Orders rejected for stock appear with all zeros."""
        return {
            order_id: ledger_row(entry) for order_id, entry in sorted(self._reservations.items())
        }

    def _result(self, order_id: str) -> dict[str, Any]:
        return reservation_result(order_id, self._reservations[order_id])
