"""Repeats and percentiles: the only statistics the benchmarks need."""

from __future__ import annotations

import gc
import math
import sys
from collections.abc import Callable, Sequence

__all__ = ["paired", "percentile", "progress", "repeat"]


def progress(text: str) -> None:
    """A progress line on stderr (the table goes to stdout)."""
    print(text, file=sys.stderr, flush=True)


def repeat(fn: Callable[[], float], n: int) -> list[float]:
    """``n`` samples of ``fn()``, after one untimed warm-up call."""
    fn()
    out = []
    for _ in range(n):
        gc.collect()
        out.append(fn())
    return out


def paired(
    figure: Callable[[], float], baseline: Callable[[], float], n: int
) -> tuple[list[float], list[float]]:
    """``n`` samples of each, taken back to back and alternating which goes first, so a noisy
    neighbour slows both sides of a pair alike. One untimed warm-up of each first."""
    figure()
    baseline()
    fs: list[float] = []
    bs: list[float] = []
    sides = [(figure, fs), (baseline, bs)]
    for i in range(n):
        for fn, out in sides if i % 2 == 0 else sides[::-1]:
            gc.collect()
            out.append(fn())
    return fs, bs


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]
