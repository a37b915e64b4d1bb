"""Peak memory of one workload, measured in a fresh process:

    python -m bench.rss_probe engine|queue|fuzz|plain N

prints ``{"before_kib": ..., "peak_kib": ..., "ru_maxrss_kib": ...}``: resident memory once
everything is imported and set up, and the peak after the workload. The peak is ``VmHWM`` from
``/proc/self/status``, the high-water mark of this process image: ``getrusage``'s ``ru_maxrss``
(also printed) survives ``fork`` + ``exec`` on Linux, so in a child of a large process it reports
the parent's size instead of the workload's.

- ``engine N``: N events emitted to a no-op subscriber and left queued (nothing runs yet);
- ``queue N``: the same N payloads in a bare ``asyncio.Queue``;
- ``fuzz N``: ``fuzz(happy_path, max_examples=N)``;
- ``plain N``: N plain simulations of happy_path (seeds 0..N-1).
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
from typing import Any

from ._paths import APPS, SCENARIOS, STEPS

__all__ = ["main"]


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _rss_kib() -> int:
    return _status_kib("VmRSS")


def _peak_kib() -> int:
    return _status_kib("VmHWM")


async def _engine(n: int) -> tuple[int, int]:
    from motia_rt.loader import load_steps

    from .dispatch import engine

    e = engine(load_steps(APPS / "one_subscriber"))
    await e.start()
    before = _rss_kib()
    for i in range(n):
        await e.emit_external("bench.ping", {"i": i})
    assert e.transport.pending() == n, e.transport.pending()
    peak = _peak_kib()
    await e.close()
    return before, peak


async def _queue(n: int) -> tuple[int, int]:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    before = _rss_kib()
    for i in range(n):
        queue.put_nowait({"i": i})
    return before, _peak_kib()


def _simulations(kind: str, n: int) -> tuple[int, int]:
    from motia_rt.loader import load_steps
    from motia_sim import Simulation, fuzz
    from motia_sim.scenario import resolve

    happy = resolve(f"{SCENARIOS / 'orders.py'}::happy_path")
    registry = load_steps(STEPS)
    Simulation(registry, seed=0, invariants=happy.invariants).execute(happy.fn)  # imports, caches
    before = _rss_kib()
    if kind == "fuzz":
        fuzz(happy, max_examples=n, report=None, derandomize=True)
    else:
        for seed in range(n):
            Simulation(registry, seed=seed, invariants=happy.invariants).execute(happy.fn)
    return before, _peak_kib()


def main(argv: list[str] | None = None) -> None:
    kind, n = (argv or sys.argv[1:])[:2]
    count = int(n)
    if kind == "engine":
        before, peak = asyncio.run(_engine(count))
    elif kind == "queue":
        before, peak = asyncio.run(_queue(count))
    else:
        before, peak = _simulations(kind, count)
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"before_kib": before, "peak_kib": peak, "ru_maxrss_kib": maxrss}))


if __name__ == "__main__":
    main()
