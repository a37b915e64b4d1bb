"""References to module-level objects as ``path/to/file.py::name``: how a failure report names the
scenario, invariants and services a replay needs, so that what it prints runs the same run again.

A reference can only name what a fresh process can find again: an object bound to a name at the
top level of a file. ``reference_to`` refuses anything else (a lambda, a function defined inside
another, a dict of fakes built in a test) with ``NotReplayable``, which says how to declare it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from motia_rt.references import load_module, load_object

__all__ = ["NotReplayable", "load_module", "load_object", "reference_to"]


class NotReplayable(ValueError):
    """Something ``fuzz`` was given cannot be named in a replay command; says how to declare it."""


def reference_to(obj: Any, what: str, fix: str, *, near: object = None) -> str:
    """The ``file::name`` reference of ``obj`` (relative to the working directory when it is
    inside it), found among the top-level names of the module that defined it, of the module of
    the function it wraps, or of the module that defined ``near``. ``what`` and ``fix`` word the
    ``NotReplayable`` error."""
    for module in _candidate_modules(obj, near):
        file = getattr(module, "__file__", None)
        if not file:
            continue
        for name, value in vars(module).items():
            if value is obj and not name.startswith("__"):
                return f"{_relative(Path(file))}::{name}"
    raise NotReplayable(
        f"{what} {_describe(obj)} cannot be named in a replay command: only an object bound to a "
        f"name at the top level of a file can be found again. {fix}"
    )


def _candidate_modules(obj: Any, near: object) -> list[ModuleType]:
    inner = getattr(obj, "fn", None) or getattr(obj, "check", None)
    names = [getattr(x, "__module__", None) for x in (obj, inner, near)]
    return [sys.modules[n] for n in dict.fromkeys(names) if isinstance(n, str) and n in sys.modules]


def _describe(obj: Any) -> str:
    name = getattr(obj, "__qualname__", None)
    return repr(name) if name else f"(a {type(obj).__name__})"


def _relative(path: Path) -> Path:
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path
