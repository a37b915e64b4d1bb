"""Module-level objects named by reference, ``path/to/file.py::name``: how a command line names a
scenario, an invariant, service bindings or HTTP fakes that live in a Python file."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["load_module", "load_object"]


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
