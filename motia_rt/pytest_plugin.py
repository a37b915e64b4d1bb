"""pytest plugin (entry point ``motia``): a ``motia_runtime`` fixture over the project's steps.

The steps folder is ``steps/`` under pytest's rootdir, or the ini option ``motia_steps``.
The fixture needs pytest-asyncio (tests are ``async def``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

__all__ = ["motia_runtime"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("motia_steps", "folder of the app's *_step.py files", default="steps")


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the fixture is only offered with pytest-asyncio
    pass
else:
    from .testing import Runtime

    @pytest_asyncio.fixture
    async def motia_runtime(request: pytest.FixtureRequest) -> AsyncIterator[Runtime]:
        """A started ``motia_rt.testing.Runtime`` over the project's steps (fresh per test)."""
        steps = Path(str(request.config.rootpath)) / str(request.config.getini("motia_steps"))
        async with Runtime(steps) as runtime:
            yield runtime
