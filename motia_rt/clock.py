"""The real clock: asyncio's loop time for durations, ``time.time()`` for timestamps."""

from __future__ import annotations

import asyncio
import time

__all__ = ["AsyncioClock"]


class AsyncioClock:
    """``motia_rt.ports.Clock`` on the running asyncio loop."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
