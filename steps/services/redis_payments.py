"""The payment gateway fake kept in Redis, for the processes of a distributed deployment to share.

Same rules and results as ``PaymentGateway``; each call is one Lua script, so it is atomic however
many workers call at once, and a worker that dies mid-call either recorded the charge or did not:
its retry, with the same idempotency key, gets the recorded charge back or makes the first one.

Keys under ``{prefix}:svc:payments``: ``:charge:{key}`` (the record as JSON), ``:charges`` (keys in
order), ``:succeeded:{order}`` (keys of the order's succeeded charges), ``:refunded`` (keys of
refunded charges), ``:refund:{key}`` (the refund result as JSON), ``:refunds`` (refund keys in order).
"""

from __future__ import annotations

import json
from typing import Any

from motia_rt.deployment import SharedRedis

from .payments import charge_record, refund_id
from .redis_codec import text

__all__ = ["RedisPaymentGateway"]

_CHARGE = """
local existing = redis.call('GET', KEYS[1])
if not existing then
  existing = ARGV[1]
  redis.call('SET', KEYS[1], existing)
  redis.call('RPUSH', KEYS[2], ARGV[2])
  if ARGV[3] == '1' then redis.call('RPUSH', KEYS[3], ARGV[2]) end
end
return {existing, redis.call('SISMEMBER', KEYS[4], ARGV[2])}
"""

# The order's first succeeded charge not yet refunded is refunded; SADD decides "not yet".
_REFUND = """
local existing = redis.call('GET', KEYS[1])
if existing then return existing end
local result = cjson.encode({orderId = ARGV[2], status = 'nothing_to_refund'})
for _, key in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  if redis.call('SADD', KEYS[3], key) == 1 then
    local charge = cjson.decode(redis.call('GET', ARGV[4] .. key))
    result = cjson.encode({refundId = ARGV[3], orderId = ARGV[2], chargeId = charge.chargeId,
                           amount = charge.amount, status = 'refunded'})
    redis.call('RPUSH', KEYS[4], ARGV[1])
    break
  end
end
redis.call('SET', KEYS[1], result)
return result
"""


def _refund_result(raw: Any) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(text(raw))
    if result["status"] == "nothing_to_refund":
        return {"orderId": result["orderId"], "status": "nothing_to_refund"}
    # Lua's JSON writes 25.0 as 25: amounts are floats, as the in-memory gateway gives them.
    return {
        "refundId": result["refundId"],
        "orderId": result["orderId"],
        "chargeId": result["chargeId"],
        "amount": float(result["amount"]),
        "status": "refunded",
    }


class RedisPaymentGateway:
    """``PaymentsService`` in Redis: ``PaymentGateway``'s rules, shared by every process.

    Inspect with the async ``charges()``, ``refunds()`` and ``succeeded_charges(order_id)``.
    """

    def __init__(self, shared: SharedRedis, limit: float = 5000.0) -> None:
        self.client = shared.client
        self.p = shared.key_prefix("payments")
        self.limit_cents = round(limit * 100)
        self._charge = self.client.register_script(_CHARGE)
        self._refund = self.client.register_script(_REFUND)

    async def charge(
        self, order_id: str, amount: float, payment_method: str, idempotency_key: str
    ) -> dict[str, Any]:
        """As ``PaymentGateway.charge``: the first result for ``idempotency_key``."""
        record = charge_record(order_id, amount, payment_method, idempotency_key, self.limit_cents)
        succeeded = "1" if record["status"] == "succeeded" else "0"
        keys = [f"{self.p}:charge:{idempotency_key}", f"{self.p}:charges",
                f"{self.p}:succeeded:{order_id}", f"{self.p}:refunded"]  # fmt: skip
        raw, refunded = await self._charge(
            keys=keys, args=[json.dumps(record), idempotency_key, succeeded]
        )
        first: dict[str, Any] = json.loads(text(raw))
        return {**first, "refunded": bool(int(refunded))}

    async def refund(self, order_id: str, idempotency_key: str) -> dict[str, Any]:
        """As ``PaymentGateway.refund``: idempotent by key; a charge is refunded at most once."""
        keys = [f"{self.p}:refund:{idempotency_key}", f"{self.p}:succeeded:{order_id}",
                f"{self.p}:refunded", f"{self.p}:refunds"]  # fmt: skip
        args = [idempotency_key, order_id, refund_id(idempotency_key), f"{self.p}:charge:"]
        return _refund_result(await self._refund(keys=keys, args=args))

    async def charges(self) -> list[dict[str, Any]]:
        """Every charge record (one per idempotency key, declines included), oldest first."""
        keys = [text(k) for k in await self.client.lrange(f"{self.p}:charges", 0, -1)]
        if not keys:
            return []
        records = await self.client.mget([f"{self.p}:charge:{k}" for k in keys])
        refunded = {text(k) for k in await self.client.smembers(f"{self.p}:refunded")}
        return [
            {**json.loads(text(r)), "refunded": k in refunded}
            for k, r in zip(keys, records, strict=True)
        ]

    async def refunds(self) -> list[dict[str, Any]]:
        """Every refund made (not the "nothing_to_refund" answers), oldest first."""
        keys = [text(k) for k in await self.client.lrange(f"{self.p}:refunds", 0, -1)]
        if not keys:
            return []
        return [_refund_result(r) for r in await self.client.mget(
            [f"{self.p}:refund:{k}" for k in keys])]  # fmt: skip

    async def succeeded_charges(self, order_id: str) -> list[dict[str, Any]]:
        """Succeeded charges of one order; the invariant is ``len(...) <= 1``."""
        return [c for c in await self.charges()
                if c["orderId"] == order_id and c["status"] == "succeeded"]  # fmt: skip
