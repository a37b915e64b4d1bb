"""Reading Redis replies whether the client decodes them (tests) or not (``motia-rt`` processes)."""

from __future__ import annotations

from typing import Any

__all__ = ["text"]


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
