"""ApiHealthCheck: every five minutes, probe the upstream API; report it when degraded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..models import ApiDegraded
from ..state_groups import HEALTH

if TYPE_CHECKING:
    from motia_rt import CronConfig, FlowContext

config: CronConfig = {
    "type": "cron",
    "name": "ApiHealthCheck",
    "description": "Probe the upstream API and emit api.degraded when it is not healthy",
    "cron": "*/5 * * * *",
    "emits": ["api.degraded"],
    "flows": ["ops"],
}


async def handler(context: FlowContext) -> None:
    try:
        result: dict[str, Any] = await context.services.health.probe()
    except Exception as exc:
        # A probe that cannot even answer is the clearest sign of a degraded API; a health check
        # must report it, not crash.
        result = {"ok": False, "latencyMs": 0.0, "error": f"{type(exc).__name__}: {exc}"}
    await context.state.set(HEALTH, "api", result)
    if not result["ok"]:
        reason = result.get("error", "health probe reported not ok")
        degraded = ApiDegraded(latencyMs=result["latencyMs"], reason=reason)
        await context.emit({"topic": "api.degraded", "data": degraded})
        context.logger.warn("API degraded", {"latencyMs": result["latencyMs"], "reason": reason})
    else:
        context.logger.info("API healthy", {"latencyMs": result["latencyMs"]})
