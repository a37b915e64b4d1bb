"""A rule-based fraud scorer standing in for the article's LLM risk analysis."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["RiskScorer"]


class RiskScorer:
    """Deterministic fake of the risk service. Offline, atomic per call.

    Rules (weights add up, capped at 1.0; ``score >= threshold`` blocks, default 0.5):
    - email domain in ``blocked_domains`` (default ``risky.test``): +0.9
    - order total over ``max_total`` (default 2000.00): +0.6
    - more than 20 units in the cart: +0.2 (raises the score, never blocks on its own)
    ``calls`` lists the order ids scored, in order.
    """

    def __init__(
        self,
        blocked_domains: tuple[str, ...] = ("risky.test",),
        max_total: float = 2000.0,
        threshold: float = 0.5,
    ) -> None:
        self.blocked_domains = blocked_domains
        self.max_total = max_total
        self.threshold = threshold
        self.calls: list[str] = []

    async def score(self, order: Mapping[str, Any]) -> dict[str, Any]:
        """Score ``{"orderId", "email", "total", "items": [{"sku", "quantity"}]}``. Returns
        ``{"score": float, "decision": "approve" | "block", "reasons": [str]}``."""
        self.calls.append(str(order.get("orderId", "")))
        score, reasons = 0.0, []
        domain = str(order.get("email", "")).rpartition("@")[2].lower()
        if domain in self.blocked_domains:
            score += 0.9
            reasons.append(f"email domain {domain} is on the blocklist")
        total = float(order.get("total", 0.0))
        if total > self.max_total:
            score += 0.6
            reasons.append(f"order total {total:.2f} exceeds {self.max_total:.2f}")
        units = sum(int(i.get("quantity", 0)) for i in order.get("items", []))
        if units > 20:
            score += 0.2
            reasons.append(f"{units} units in one order")
        score = round(min(score, 1.0), 2)
        decision = "block" if score >= self.threshold else "approve"
        return {"score": score, "decision": decision, "reasons": reasons}
