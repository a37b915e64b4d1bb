"""Fixtures for the reference app's tests: the steps folder, whatever the working directory."""

from __future__ import annotations

from pathlib import Path

STEPS = Path(__file__).resolve().parents[2] / "steps"
