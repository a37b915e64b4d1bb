"""Project settings: the ``[tool.motia]`` table of the project's ``pyproject.toml``.

```toml
[tool.motia]
steps = "steps"          # the steps folder, relative to pyproject.toml (or ["steps"])
scenarios = "scenarios"  # the scenario folder pytest collects
port = 3000              # motia-rt dev / start
validation = "strict"    # "strict" (pydantic strict mode), "lax", or "motia" (Motia's behaviour)

[tool.motia.fuzz]
examples = 100           # motia-sim fuzz and pytest's [fuzz] items
max_faults = 3           # motia-sim fuzz
```

The project is the nearest ``pyproject.toml`` at or above a folder (the working directory for the
CLIs, pytest's rootdir for the plugin, the steps folder for the loader). A command-line flag beats
an environment variable, which beats the table, which beats the built-in default.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["ProjectSettings", "SettingsError", "project_settings", "validation_default"]

_KEYS = ("steps", "scenarios", "port", "host", "validation", "fuzz")
_FUZZ_KEYS = ("examples", "max_faults")


_TOML_NAMES = {int: "an integer", str: 'a string ("...")', dict: "a table"}


class SettingsError(ValueError):
    """A ``[tool.motia]`` value that is unknown or of the wrong type; the message names the fix."""


@dataclass(frozen=True)
class ProjectSettings:
    """What ``[tool.motia]`` sets; ``None`` where it says nothing (the caller's default applies)."""

    root: Path | None = None
    """The folder of the ``pyproject.toml`` read (``None``: no project file found)."""
    steps: Path | None = None
    scenarios: Path | None = None
    port: int | None = None
    host: str | None = None
    validation: Literal["strict", "lax", "motia"] | None = None
    fuzz_examples: int | None = None
    fuzz_max_faults: int | None = None


def project_settings(start: str | Path = ".") -> ProjectSettings:
    """The settings of the project holding ``start``: its nearest ``pyproject.toml`` upward.

    Raises ``SettingsError`` for a file that is not TOML, an unknown key or an ill-typed value."""
    path = _nearest_pyproject(Path(start).resolve())
    if path is None:
        return ProjectSettings()
    return _read(path, path.stat().st_mtime_ns)


def validation_default(steps_file: Path) -> Literal["strict", "lax", "motia"]:
    """The project's default ``validation`` for its steps (``"strict"`` unless the table says):
    ``"motia"`` validates nothing and drops an undeclared emit with a warning, as Motia does."""
    return project_settings(steps_file.parent).validation or "strict"


def _nearest_pyproject(folder: Path) -> Path | None:
    for candidate in (folder, *folder.parents):
        if (candidate / "pyproject.toml").is_file():
            return candidate / "pyproject.toml"
    return None


@functools.lru_cache(maxsize=32)
def _read(path: Path, mtime_ns: int) -> ProjectSettings:
    """Parsed once per file version (the loader asks for every api step)."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read it as TOML: {exc}") from None
    table = document.get("tool", {}).get("motia", {})
    check = _Table(path, "tool.motia", table, _KEYS)
    fuzz = _Table(path, "tool.motia.fuzz", check.get("fuzz", dict) or {}, _FUZZ_KEYS)
    root = path.parent
    steps, scenarios = _one_folder(check, "steps"), check.get("scenarios", str)
    validation = check.get("validation", str)
    if validation not in (None, "strict", "lax", "motia"):
        raise check.error("validation", f"is {validation!r}", 'use "strict", "lax" or "motia"')
    port = check.get("port", int)
    if port is not None and not 0 < port < 65536:
        raise check.error("port", f"is {port}", "use a TCP port from 1 to 65535")
    return ProjectSettings(
        root=root,
        steps=root / steps if steps else None,
        scenarios=root / scenarios if scenarios else None,
        port=port,
        host=check.get("host", str),
        validation=validation,
        fuzz_examples=fuzz.get("examples", int, positive=True),
        fuzz_max_faults=fuzz.get("max_faults", int, positive=True),
    )


def _one_folder(check: _Table, key: str) -> str | None:
    """``steps = "steps"``, or Motia's list form with one folder: ``steps = ["steps"]``."""
    value = check.table.get(key)
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return value[0]
    if isinstance(value, list) and len(value) > 1:
        raise check.error(key, f"names {len(value)} folders",
                          "one steps folder is supported: keep the steps under one folder")  # fmt: skip
    return check.get(key, str)  # type: ignore[no-any-return]


class _Table:
    def __init__(self, path: Path, name: str, table: Any, keys: tuple[str, ...]) -> None:
        self.path, self.name = path, name
        if not isinstance(table, dict):
            raise self.error("", "is not a table", f"write it as [{name}]")
        unknown = sorted(set(table) - set(keys))
        if unknown:
            raise self.error(unknown[0], "is not a setting", f"known keys: {', '.join(keys)}")
        self.table: dict[str, Any] = table

    def error(self, key: str, problem: str, fix: str) -> SettingsError:
        where = f"[{self.name}]" + (f" {key}" if key else "")
        return SettingsError(f"{self.path}: {where} {problem}; {fix}")

    def get(self, key: str, kind: type, positive: bool = False) -> Any:
        value = self.table.get(key)
        if value is None:
            return None
        if not isinstance(value, kind) or isinstance(value, bool):
            raise self.error(key, f"is {value!r}", f"it takes {_TOML_NAMES[kind]}")
        if positive and self.table[key] < 1:
            raise self.error(key, f"is {value}", "use a number of 1 or more")
        return value
