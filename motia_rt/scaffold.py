"""``motia-rt create DIR`` / ``motia-sim new DIR``: write a new project that runs and tests green.

The files are the templates in ``_project_template/`` (shipped in the wheel as package data):
``steps/`` with api, event and cron steps, ``scenarios/`` with a scenario and its invariants,
``tests/`` with runtime tests and a fuzz test, ``pyproject.toml`` and a README.
"""

from __future__ import annotations

import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

__all__ = ["ScaffoldError", "create_project"]

_SUFFIX = ".tmpl"
_RENAMED = {"gitignore": ".gitignore"}  # a dotfile would be left out of the wheel by some tools


class ScaffoldError(Exception):
    """The project folder cannot be written (it holds files, or is a file)."""


def create_project(directory: Path) -> list[Path]:
    """Write the project template into ``directory`` (created; if it exists it must be empty).

    Returns the files written. ``{{name}}`` in a template becomes the folder's name."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ScaffoldError(
            f"{directory} already exists and is not an empty folder; "
            "name a new folder (motia-rt create my-app)"
        )
    name = directory.resolve().name
    written: list[Path] = []
    for relative, text in _templates(resources.files(__package__) / "_project_template", ""):
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text.replace("{{name}}", name), encoding="utf-8")
        written.append(target)
    return written


def _templates(folder: Traversable, prefix: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            if not re.fullmatch(r"__pycache__|\..*", entry.name):
                found.extend(_templates(entry, f"{prefix}{entry.name}/"))
        elif entry.name.endswith(_SUFFIX):
            stem = entry.name.removesuffix(_SUFFIX)
            found.append((prefix + _RENAMED.get(stem, stem), entry.read_text(encoding="utf-8")))
    return found
