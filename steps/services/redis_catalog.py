"""The catalogue fake with its stock and reservations in Redis, shared by a deployment's processes.

Same rules and results as ``Catalog``: prices and the product list are configuration (the same in
every process); stock and reservations are records, kept in Redis. ``reserve``, ``release`` and
``commit`` are each one Lua script: atomic however many workers call at once, and all or nothing
when a worker dies mid-call. Stock starts at each product's ``stock`` the first time an order asks
for it.

Keys under ``{prefix}:svc:catalog``: ``:stock`` (hash sku -> units available), ``:reservation:{order}``
(hash: ``state`` reserved | insufficient | released | shipped, ``detail`` the items or shortages as
JSON), ``:orders`` (set of the order ids with a reservation).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from motia_rt.deployment import SharedRedis

from .catalog import (
    DEFAULT_PRODUCTS,
    PriceList,
    Product,
    ledger_row,
    quantities,
    reservation_result,
)
from .redis_codec import text

__all__ = ["RedisCatalog"]

# ARGV: the order id, the items JSON, then (sku, units, starting stock or -1 if not sold) per sku.
_RESERVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  local shortages = {}
  for i = 3, #ARGV, 3 do
    local sku, wanted, initial = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
    if initial >= 0 then redis.call('HSETNX', KEYS[2], sku, initial) end
    local available = tonumber(redis.call('HGET', KEYS[2], sku) or '0')
    if available < wanted then
      table.insert(shortages, {sku = sku, requested = wanted, available = available})
    end
  end
  if #shortages > 0 then
    redis.call('HSET', KEYS[1], 'state', 'insufficient', 'detail', cjson.encode(shortages))
  else
    for i = 3, #ARGV, 3 do redis.call('HINCRBY', KEYS[2], ARGV[i], -tonumber(ARGV[i + 1])) end
    redis.call('HSET', KEYS[1], 'state', 'reserved', 'detail', ARGV[2])
  end
  redis.call('SADD', KEYS[3], ARGV[1])
end
return redis.call('HMGET', KEYS[1], 'state', 'detail')
"""

# ARGV[1]: the state a reservation moves to; "released" also puts its units back in stock.
_SETTLE = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state or state == 'insufficient' then return 'not_reserved' end
if state ~= 'reserved' then return 'already_' .. state end
if ARGV[1] == 'released' then
  for sku, units in pairs(cjson.decode(redis.call('HGET', KEYS[1], 'detail'))) do
    redis.call('HINCRBY', KEYS[2], sku, units)
  end
end
redis.call('HSET', KEYS[1], 'state', ARGV[1])
return ARGV[1]
"""


def _entry(state: Any, detail: Any) -> dict[str, Any]:
    if text(state) == "insufficient":
        shortages = [
            {"sku": s["sku"], "requested": int(s["requested"]), "available": int(s["available"])}
            for s in json.loads(text(detail))
        ]
        return {"state": "insufficient", "shortages": sorted(shortages, key=lambda s: s["sku"])}
    return {"state": text(state), "items": json.loads(text(detail))}


class RedisCatalog(PriceList):
    """``CatalogService`` in Redis: ``Catalog``'s rules, shared by every process.

    Inspect with the async ``available()`` and ``ledger()``.
    """

    def __init__(self, shared: SharedRedis, products: Iterable[Product] = DEFAULT_PRODUCTS) -> None:
        super().__init__(products)
        self.client = shared.client
        self.p = shared.key_prefix("catalog")
        self._reserve = self.client.register_script(_RESERVE)
        self._settle = self.client.register_script(_SETTLE)

    async def reserve(self, order_id: str, items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
        """As ``Catalog.reserve``: all or nothing, the first answer for ``order_id`` for good."""
        wanted = quantities(items)
        args: list[Any] = [order_id, json.dumps(wanted)]
        for sku, units in sorted(wanted.items()):
            product = self.products.get(sku)
            args += [sku, units, product.stock if product else -1]
        keys = [f"{self.p}:reservation:{order_id}", f"{self.p}:stock", f"{self.p}:orders"]
        state, detail = await self._reserve(keys=keys, args=args)
        return reservation_result(order_id, _entry(state, detail))

    async def release(self, order_id: str) -> dict[str, Any]:
        """As ``Catalog.release``: units back to stock once; ``status`` says what happened."""
        return {"orderId": order_id, "status": await self._move(order_id, "released")}

    async def commit(self, order_id: str) -> dict[str, Any]:
        """As ``Catalog.commit``: a reservation ships once, and never after a release."""
        return {"orderId": order_id, "status": await self._move(order_id, "shipped")}

    async def _move(self, order_id: str, to: str) -> str:
        keys = [f"{self.p}:reservation:{order_id}", f"{self.p}:stock"]
        return text(await self._settle(keys=keys, args=[to]))

    async def available(self) -> dict[str, int]:
        """Units in stock per product (those nobody ordered yet at their starting stock)."""
        stock = {text(k): int(v) for k, v in (await self.client.hgetall(f"{self.p}:stock")).items()}
        return {sku: stock.get(sku, p.stock) for sku, p in self.products.items()}

    async def ledger(self) -> dict[str, dict[str, int]]:
        """As ``Catalog.ledger``: units per order, ``{"reserved", "released", "shipped"}``."""
        orders = sorted(text(o) for o in await self.client.smembers(f"{self.p}:orders"))
        out: dict[str, dict[str, int]] = {}
        for order_id in orders:
            state, detail = await self.client.hmget(
                f"{self.p}:reservation:{order_id}", ["state", "detail"]
            )
            out[order_id] = ledger_row(_entry(state, detail))
        return out
