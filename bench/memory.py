"""Area 6, memory: peak RSS for 100,000 queued events in-process against the same payloads in a
bare ``asyncio.Queue``, and RSS growth per fuzz example against plain simulations. Each sample is
a fresh process (``bench.rss_probe``), so nothing earlier in the run is counted."""

from __future__ import annotations

import json

from ._report import Row, compare
from ._servers import python_module

__all__ = ["run"]

AREA = "6"
QUEUED = 100_000
FEW, MANY = 50, 250


def probe(kind: str, n: int) -> tuple[float, float]:
    """(MiB added by the workload over the set-up process, peak MiB of the process)."""
    proc = python_module("bench.rss_probe", kind, str(n))
    out, err = proc.communicate(timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"rss_probe {kind} {n} failed: {err.strip()[-1500:]}")
    result = json.loads(out.strip().splitlines()[-1])
    return (result["peak_kib"] - result["before_kib"]) / 1024, result["peak_kib"] / 1024


def _growth(kind: str) -> tuple[float, float]:
    """(KiB of peak RSS per extra example between FEW and MANY, peak MiB with MANY)."""
    few, _ = probe(kind, FEW)
    many, peak = probe(kind, MANY)
    return (many - few) * 1024 / (MANY - FEW), peak


def run(quick: bool = False) -> list[Row]:
    n = 1 if quick else 3
    engine, queue, engine_peak = [], [], []
    for _ in range(n):
        added, peak = probe("engine", QUEUED)
        engine.append(added)
        engine_peak.append(peak)
        queue.append(probe("queue", QUEUED)[0])
    per_event = sorted(engine)[len(engine) // 2] * 1024 * 1024 / QUEUED
    rows = [
        compare(
            AREA,
            f"RSS added by {QUEUED // 1000}k queued events",
            "MiB",
            engine,
            f"{QUEUED // 1000}k payloads in asyncio.Queue",
            queue,
            note=f"engine + memory transport, one no-op subscriber, nothing run yet; "
            f"{per_event:.0f} bytes/event; process peak {max(engine_peak):.0f} MiB "
            f"(VmHWM)",
        )
    ]
    fuzzed, plain, peaks = [], [], []
    for _ in range(n):
        growth, peak = _growth("fuzz")
        fuzzed.append(growth)
        peaks.append(peak)
        plain.append(_growth("plain")[0])
    rows.append(
        compare(
            AREA,
            "RSS growth per fuzz example",
            "KiB",
            fuzzed,
            "per plain simulation",
            plain,
            note=f"peak RSS with {FEW} vs {MANY} examples of happy_path (fresh process "
            f"each); process peak with {MANY}: {max(peaks):.0f} MiB",
        )
    )
    return rows
