"""pytest plugin (entry point ``motia``): a ``motia_runtime`` fixture over the project's steps.

The steps folder is the ini option ``motia_steps``, else ``steps`` in ``[tool.motia]`` of the
project's pyproject.toml, else ``steps/``, under pytest's rootdir. The fixture is async: it needs
pytest-asyncio (installed with motia-sim) and ``asyncio_mode = "auto"`` in the pytest settings
(or ``@pytest.mark.asyncio`` on each test).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from .settings import project_settings

__all__ = ["motia_runtime", "steps_folder"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("motia_steps", "folder of the app's *_step.py files (default: [tool.motia] "
                  "steps, else steps)", default="")  # fmt: skip


def steps_folder(config: pytest.Config) -> Path:
    """The project's steps folder as this plugin sees it (ini, then ``[tool.motia]``)."""
    root = Path(str(config.rootpath))
    ini = str(config.getini("motia_steps"))
    return root / ini if ini else project_settings(root).steps or root / "steps"


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the fixture is only offered with pytest-asyncio
    pass
else:
    from .testing import Runtime

    @pytest_asyncio.fixture
    async def motia_runtime(request: pytest.FixtureRequest) -> AsyncIterator[Runtime]:
        """A started ``motia_rt.testing.Runtime`` over the project's steps (fresh per test)."""
        async with Runtime(steps_folder(request.config)) as runtime:
            yield runtime
