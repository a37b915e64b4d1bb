"""An app's layout as Motia sees it: step folders ``steps/`` and ``src/`` under a project root,
and that root importable by steps (Motia puts it on ``PYTHONPATH``)."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["STEP_FOLDERS", "make_importable", "step_folders"]

STEP_FOLDERS = ("steps", "src")


def step_folders(directory: Path) -> tuple[Path, list[Path]]:
    """The project root and the step folders for ``directory``.

    ``directory`` may be a step folder named ``steps`` or ``src`` (its parent is the root and
    both folders there are searched), a project root holding such folders, or any other folder of
    steps (its parent is the root, and only it is searched).
    """
    if directory.name in STEP_FOLDERS:
        root = directory.parent
        others = [root / n for n in STEP_FOLDERS if n != directory.name and (root / n).is_dir()]
        return root, [directory, *others]
    inside = [directory / n for n in STEP_FOLDERS if (directory / n).is_dir()]
    if inside:
        return directory, inside
    return directory.parent, [directory]


_ROOTS: set[Path] = set()
"""Every project root put on ``sys.path`` so far (this process)."""


def make_importable(root: Path) -> None:
    """Put ``root`` first on ``sys.path``, and forget modules that another app's root provided
    under a name this root provides too (two apps may both have a ``services`` package: the
    second must not get the first's)."""
    text = str(root)
    if text in sys.path:
        sys.path.remove(text)
    sys.path.insert(0, text)
    others = [r for r in _ROOTS if r != root and not root.is_relative_to(r)]
    _ROOTS.add(root)
    if not others:
        return
    # The working directory's own modules are never forgotten: they are the running program's
    # (its ``tests`` package under pytest, its ``steps``), not another app's.
    home = Path.cwd().resolve()
    for entry in root.iterdir():
        name = entry.stem if entry.suffix == ".py" else entry.name
        module = sys.modules.get(name)
        # Only names this root provides too: the cached one would shadow this app's module.
        if (
            module is not None
            and not _provided_by(module, home)
            and any(_provided_by(module, r) for r in others)
        ):
            for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
                del sys.modules[mod]


def _provided_by(module: object, root: Path) -> bool:
    places = [getattr(module, "__file__", None), *getattr(module, "__path__", ())]
    return any(p is not None and Path(p).resolve().is_relative_to(root) for p in places)
