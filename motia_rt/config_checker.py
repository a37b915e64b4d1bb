"""Typed reads of step config fields that fail with ``StepLoadError`` naming the field and a fix."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import StepLoadError
from .schema import Schema, SchemaError

__all__ = ["ConfigChecker"]


class ConfigChecker:
    """Typed reads of config fields that fail with the field's dotted name and a fix."""

    def __init__(self, file: Path, config: Mapping[str, Any], prefix: str = "") -> None:
        self.file, self.config, self.prefix = file, config, prefix

    def fail(self, key: str, problem: str, fix: str) -> StepLoadError:
        return StepLoadError(self.file, self.prefix + key, problem, fix)

    def value(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)

    def text(self, key: str) -> str:
        value = self.config.get(key)
        if value is None:
            raise self.fail(key, "is missing", f"add config[{key!r}] (a string)")
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a non-empty string, got {value!r}", "use a string")
        return value

    def choice(self, key: str, options: tuple[str, ...], default: str | None = None) -> str:
        value = self.config.get(key, default)
        if value not in options:
            got = "is missing" if value is None else f"is {value!r}, not a known value"
            raise self.fail(key, got, f"use one of: {', '.join(map(repr, options))}")
        return str(value)

    def mapping(self, key: str) -> Mapping[str, Any]:
        value = self.config.get(key, {})
        if not isinstance(value, Mapping):
            raise self.fail(key, f"must be a dict, got {type(value).__name__}", "use a dict")
        return value

    def strings(self, key: str) -> list[str]:
        value = self.config.get(key, [])
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f"must be a list of strings, got {value!r}", "use ['a', 'b']")
        return list(value)

    def topics(self, key: str, required: bool = False) -> tuple[str, ...]:
        if required and key not in self.config:
            raise self.fail(key, "is missing", f"add config[{key!r}] = ['some.topic']")
        value = self.config.get(key, [])
        out: list[str] = []
        if isinstance(value, list | tuple):
            for item in value:
                topic = item.get("topic") if isinstance(item, Mapping) else item
                if not isinstance(topic, str) or not topic:
                    break
                out.append(topic)
            else:
                return tuple(out)
        raise self.fail(
            key, f"must be a list of topic names or {{'topic': ...}} dicts, got {value!r}",
            f"write config[{key!r}] = ['order.created']",
        )  # fmt: skip

    def number(self, key: str, default: float, positive: bool = False) -> float:
        value = self.config.get(key, default)
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or value < 0 or (positive and value == 0):
            kind = "a positive" if positive else "a non-negative"
            raise self.fail(key, f"must be {kind} number of seconds, got {value!r}", "use e.g. 5")
        return float(value)

    def integer(self, key: str, default: int) -> int:
        value = self.config.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise self.fail(key, f"must be a non-negative integer, got {value!r}", "use e.g. 3")
        return value

    def schema(self, key: str, *, strict: bool | None = None) -> Schema | None:
        if self.config.get(key) is None:
            return None
        return self.schema_of(key, self.config[key], strict=strict)

    def schema_of(self, key: str, source: Any, *, strict: bool | None = None) -> Schema:
        try:
            return Schema(source, strict=strict)
        except SchemaError as exc:
            raise StepLoadError(
                self.file, self.prefix + key, str(exc),
                "pass a pydantic model class (class Body(BaseModel): ...) or a JSON Schema dict",
            ) from None  # fmt: skip
