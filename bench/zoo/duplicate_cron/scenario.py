"""Two alerts raised before the hourly tick: each pages the on-call engineer at most once."""

from collections import Counter
from typing import Any

from motia_sim import World, always, scenario


@always
def no_alert_paged_twice(world: World) -> None:
    pages = Counter(p["alertId"] for p in world.services["pager"].pages)
    twice = {alert: n for alert, n in pages.items() if n > 1}
    assert not twice, f"alerts paged more than once: {twice}"


@scenario(invariants=[no_alert_paged_twice], steps="steps", modes=("sim", "fuzz"))
async def alerts_before_the_hour(h: Any) -> None:
    await h.emit("alert.raised", {"alertId": "a-1", "text": "disk 91% full on db-1"})
    await h.emit("alert.raised", {"alertId": "a-2", "text": "p99 latency 2.3 s on checkout"})
    await h.advance(3600 + 60)
    await h.settle()
    if h.fault_free:
        assert len(h.runs("SendAlerts")) == 1
