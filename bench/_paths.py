"""Where the benchmarked app and the benchmarks' own step folders live."""

from __future__ import annotations

from pathlib import Path

__all__ = ["APPS", "BENCH", "ROOT", "SCENARIOS", "STEPS"]

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
STEPS = ROOT / "steps"
"""The order saga: the app every end-to-end figure runs."""
SCENARIOS = ROOT / "scenarios"
APPS = BENCH / "apps"
"""Minimal step folders (a no-op subscriber, a fan-out to two) for the dispatch figures."""
