"""References to module-level objects as ``path/to/file.py::name``: how a failure report names the
scenario, invariants and services a replay needs, so that what it prints runs the same run again.

A reference can only name what a fresh process can find again: an object bound to a name at the
top level of a file. ``reference_to`` refuses anything else (a lambda, a function defined inside
another, a dict of fakes built in a test) with ``NotReplayable``, which says how to declare it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["NotReplayable", "load_module", "load_object", "reference_to"]


class NotReplayable(ValueError):
    """Something ``fuzz`` was given cannot be named in a replay command; says how to declare it."""


def load_module(path: str | Path) -> ModuleType:
    """Import a Python file by path (once per process: a second load returns the same module).

    Raises ``LookupError`` when the file does not exist."""
    file = Path(path).resolve()
    if not file.is_file():
        raise LookupError(f"no file {path}")
    for module in list(sys.modules.values()):
        known = getattr(module, "__file__", None)
        if known and os.path.basename(known) == file.name and Path(known).resolve() == file:
            return module
    name = "_motia_scenarios_" + "_".join(file.with_suffix("").parts[-2:]).replace("-", "_")
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_object(ref: str) -> Any:
    """``"path/to/file.py::name"`` -> that module-level object. Raises ``LookupError`` naming the
    names the file has when ``name`` is not one of them."""
    path, sep, name = ref.partition("::")
    if not sep or not name:
        raise LookupError(f"{ref!r} is not a reference: write path/to/file.py::name")
    module = load_module(path)
    if not hasattr(module, name):
        public = ", ".join(n for n in vars(module) if not n.startswith("_")) or "none"
        raise LookupError(f"no {name!r} in {path}; names there: {public}")
    return getattr(module, name)


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
