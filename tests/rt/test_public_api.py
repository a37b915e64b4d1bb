"""Each package's ``__all__`` is sorted, complete, and importable (as httpx checks its own)."""

from __future__ import annotations
import __future__

import importlib
import types

import pytest

PACKAGES = ["motia_rt", "motia_sim"]


def public_names(package: types.ModuleType) -> list[str]:
    """Names the package ``__init__`` binds that are not private, submodules or modules."""
    return sorted(
        name
        for name, value in vars(package).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and not isinstance(value, __future__._Feature)
    )


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_complete(name: str) -> None:
    package = importlib.import_module(name)
    public = public_names(package)
    exported = getattr(package, "__all__", None)
    if exported is None:
        assert public == [], f"{name} binds public names {public} but defines no __all__"
        return
    assert isinstance(exported, list)
    assert exported == sorted(exported), f"{name}.__all__ is not sorted"
    assert len(exported) == len(set(exported)), f"{name}.__all__ lists a name twice"
    assert sorted(exported) == public, (
        f"{name}.__all__ differs from its public names: "
        f"missing {sorted(set(public) - set(exported))}, "
        f"extra {sorted(set(exported) - set(public))}"
    )


@pytest.mark.parametrize("name", PACKAGES)
def test_every_listed_name_is_importable(name: str) -> None:
    package = importlib.import_module(name)
    for member in getattr(package, "__all__", []):
        namespace: dict[str, object] = {}
        exec(f"from {name} import {member}", namespace)
        assert namespace[member] is getattr(package, member)
        assert not isinstance(namespace[member], types.ModuleType), f"{name}.{member} is a module"
