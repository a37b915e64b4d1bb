"""The ApiHealthCheck cron over one simulated day: 288 ticks of five minutes, in virtual time.

The upstream API is down for one hour (09:00-10:00 UTC) of the simulated day, so twelve ticks
must report ``api.degraded``. Time travel has no real-time equivalent, so this scenario runs in
the simulator only (``modes``): plain and fuzzed (cron ticks late or missed, probe failures).
"""

from __future__ import annotations

import time
from typing import Any

from motia_sim import World, always, eventually, scenario

DAY = 86_400.0


class OneHourOutage:
    """A health probe whose upstream is down from 09:00 to 10:00 UTC. Reads the (virtual) wall
    clock, which the simulator controls, so it is deterministic."""

    async def probe(self) -> dict[str, Any]:
        hour = time.gmtime(time.time()).tm_hour
        return {"ok": hour != 9, "latencyMs": 2500.0 if hour == 9 else 12.0}


def services() -> dict[str, Any]:
    return {"health": OneHourOutage()}


@always
def every_tick_has_its_own_trace(world: World) -> None:
    ticks = [r for r in world.runs if r.step == "ApiHealthCheck"]
    assert len({r.trace_id for r in ticks}) == len(ticks), "two ticks share a trace id"


@eventually
def degraded_only_during_the_outage_or_a_failed_probe(world: World) -> None:
    for event in world.emitted("api.degraded"):
        hour = time.gmtime(event.emitted_at).tm_hour
        failed_probe = "Error" in event.data.get("reason", "")
        assert hour == 9 or failed_probe, f"api.degraded at {hour}:00 without a cause: {event.data}"


@scenario(invariants=[every_tick_has_its_own_trace, degraded_only_during_the_outage_or_a_failed_probe],
          services=services, modes=("sim", "fuzz"))  # fmt: skip
async def health_check_over_one_day(h: Any) -> None:
    # Ticks fire at 00:05, 00:10, ... 24:00: one second past the day includes the last one.
    await h.advance(DAY + 1)
    ticks = h.runs("ApiHealthCheck")
    if h.fault_free:
        assert len(ticks) == 288, len(ticks)
        assert all(r.outcome == "ok" for r in ticks)
        assert len(h.emitted("api.degraded")) == 12
        assert (await h.state.get("health", "api"))["ok"] is True
