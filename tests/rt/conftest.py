"""Fixtures for the runtime tests: step apps written to disk on the fly."""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import pytest


class WriteSteps(Protocol):
    def __call__(self, files: Mapping[str, str], *, folder: str | None = None) -> Path: ...


@pytest.fixture
def write_steps(tmp_path: Path) -> WriteSteps:
    """``write_steps({"a_step.py": source, "shared/models.py": source})`` -> a fresh steps folder.

    Sources are dedented, parent folders created. Each call writes a new folder under ``tmp_path``
    (``folder`` names it, relative to ``tmp_path``; it may be nested, e.g. ``".app/steps"``).
    """
    counter = itertools.count()

    def write(files: Mapping[str, str], *, folder: str | None = None) -> Path:
        root = tmp_path / (folder if folder is not None else f"steps{next(counter)}")
        root.mkdir(parents=True, exist_ok=False)
        for relative, source in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
        return root

    return write
