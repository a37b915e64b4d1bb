"""The reference StateStore: a dict of groups, holding values as JSON text so nothing is shared."""

from __future__ import annotations

from typing import Any

from ..ports import JSON
from ..ports import decode_json as _decode
from ..schema import encode_json

__all__ = ["MemoryStateStore"]


def _encode(value: Any) -> str:
    try:
        return encode_json(value, plain=True)
    except TypeError as exc:
        raise TypeError(f"state values must be JSON: {exc}") from None


class MemoryStateStore:
    """``motia_rt.ports.StateStore`` in process memory. Values are stored encoded, decoded on read."""

    def __init__(self) -> None:
        self._groups: dict[str, dict[str, str]] = {}

    async def get(self, group: str, key: str) -> JSON | None:
        raw = self._groups.get(group, {}).get(key)
        return None if raw is None else _decode(raw)

    async def set(self, group: str, key: str, value: JSON) -> JSON:
        raw = _encode(value)
        self._groups.setdefault(group, {})[key] = raw
        return _decode(raw)

    async def delete(self, group: str, key: str) -> JSON | None:
        entries = self._groups.get(group)
        raw = entries.pop(key, None) if entries is not None else None
        if entries is not None and not entries:
            del self._groups[group]
        return None if raw is None else _decode(raw)

    async def get_group(self, group: str) -> list[JSON]:
        entries = self._groups.get(group, {})
        return [_decode(entries[k]) for k in sorted(entries)]

    async def clear(self, group: str) -> None:
        self._groups.pop(group, None)

    async def items(self, group: str) -> dict[str, JSON]:
        entries = self._groups.get(group, {})
        return {k: _decode(entries[k]) for k in sorted(entries)}

    async def groups(self) -> list[str]:
        return sorted(self._groups)

    def stored_text(self, group: str, key: str) -> str:
        """The JSON text held for ``group``/``key`` (it never changes once written; KeyError if
        there is none): what a recorder can keep instead of a copy of the value."""
        return self._groups[group][key]

    def snapshot(self) -> dict[str, dict[str, JSON]]:
        """Every group and key, decoded, read synchronously (for invariants and inspection)."""
        return {
            g: {k: _decode(v) for k, v in sorted(e.items())}
            for g, e in sorted(self._groups.items())
        }
