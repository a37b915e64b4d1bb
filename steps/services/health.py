"""A fake health probe of the upstream API that the cron health check polls."""

from __future__ import annotations

from typing import Any

__all__ = ["HealthProbe"]


class HealthProbe:
    """Reports a fixed health. ``HealthProbe()`` is healthy (12 ms);
    ``HealthProbe(healthy=False)`` or ``HealthProbe.degraded()`` is not. ``probes`` counts calls."""

    def __init__(self, healthy: bool = True, latency_ms: float = 12.0) -> None:
        self.healthy = healthy
        self.latency_ms = latency_ms
        self.probes = 0

    @classmethod
    def degraded(cls, latency_ms: float = 2500.0) -> HealthProbe:
        return cls(healthy=False, latency_ms=latency_ms)

    async def probe(self) -> dict[str, Any]:
        """``{"ok": bool, "latencyMs": float}``."""
        self.probes += 1
        return {"ok": self.healthy, "latencyMs": self.latency_ms}
