"""The StateStore contract: what every adapter of ``motia_rt.ports.StateStore`` must do.

An adapter's test module subclasses ``StateStoreContract`` and provides one fixture, ``make_store``:
a callable that returns a fresh, empty store each time it is called. Property tests call it once
per Hypothesis example, so examples never see each other's state.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeAlias

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from motia_rt.ports import JSON, StateStore

__all__ = ["StateStoreContract", "StoreFactory", "json_values"]

StoreFactory: TypeAlias = Callable[[], StateStore]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
"""Arbitrary JSON: what a step may store."""

ODD_NAMES = [
    "a",
    "a:b",
    "b:c",
    "c",
    "groups",
    "state",
    "x/y",
    "with space",
    "ünïcødé",
    "💡",
    "*",
    "",
]
"""Group and key names an adapter might mangle: separators, its own key words, unicode, empty."""

names = st.sampled_from(ODD_NAMES) | st.text(max_size=6)

_contract_settings = settings(
    max_examples=50,
    deadline=None,
    # make_store is function-scoped on purpose: each example calls it for a fresh store. Each
    # adapter's subclass runs these same methods, hence "differing executors"; they share the
    # example database, so a value that broke one adapter is tried on the others too.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.differing_executors],
)

_group = st.sampled_from(["a", "a:b"])
_key = st.sampled_from(["c", "b:c"])
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("set"), _group, _key, json_values),
        st.tuples(st.just("get"), _group, _key),
        st.tuples(st.just("delete"), _group, _key),
        st.tuples(st.just("clear"), _group),
        st.tuples(st.just("get_group"), _group),
        st.tuples(st.just("items"), _group),
        st.tuples(st.just("groups")),
    ),
    max_size=30,
)
"""Operations on few names, so sets, deletes and clears hit the same keys and groups."""


def exact(value: JSON) -> str:
    """A rendering that tells apart what ``==`` does not: ``True``/``1``, ``1``/``1.0``, ``0.0``/``-0.0``."""
    return json.dumps(value, sort_keys=True)


class StateStoreContract:
    """Behaviour shared by every StateStore. Subclasses provide the ``make_store`` fixture."""

    @pytest.fixture
    def store(self, make_store: StoreFactory) -> StateStore:
        return make_store()

    # -- get / set / delete ------------------------------------------------------------------

    async def test_get_of_a_missing_key_is_none(self, store: StateStore) -> None:
        assert await store.get("g", "missing") is None
        await store.set("g", "k", 1)
        assert await store.get("g", "missing") is None
        assert await store.get("other", "k") is None

    async def test_set_returns_the_value_and_get_reads_it(self, store: StateStore) -> None:
        assert await store.set("g", "k", {"n": 1}) == {"n": 1}
        assert await store.get("g", "k") == {"n": 1}

    async def test_set_overwrites(self, store: StateStore) -> None:
        await store.set("g", "k", 1)
        assert await store.set("g", "k", [2]) == [2]
        assert await store.get("g", "k") == [2]
        assert await store.items("g") == {"k": [2]}

    @_contract_settings
    @given(value=json_values)
    async def test_json_values_round_trip_exactly(
        self, make_store: StoreFactory, value: JSON
    ) -> None:
        store = make_store()
        assert exact(await store.set("g", "k", value)) == exact(value)
        assert exact(await store.get("g", "k")) == exact(value)
        assert [exact(v) for v in await store.get_group("g")] == [exact(value)]

    async def test_values_are_copies(self, store: StateStore) -> None:
        value = {"items": [1, 2]}
        returned = await store.set("g", "k", value)
        value["items"].append(3)
        returned["items"].append(4)
        got = await store.get("g", "k")
        assert got == {"items": [1, 2]}
        got["items"].append(5)
        (await store.get_group("g"))[0]["items"].append(6)
        (await store.items("g"))["k"]["items"].append(7)
        assert await store.get("g", "k") == {"items": [1, 2]}

    async def test_delete_returns_the_old_value_then_get_is_none(self, store: StateStore) -> None:
        await store.set("g", "k", {"old": True})
        await store.set("g", "keep", 1)
        assert await store.delete("g", "k") == {"old": True}
        assert await store.get("g", "k") is None
        assert await store.get("g", "keep") == 1
        assert await store.delete("g", "k") is None
        assert await store.delete("never", "k") is None

    # -- groups ------------------------------------------------------------------------------

    @_contract_settings
    @given(entries=st.dictionaries(names, json_values, max_size=8))
    async def test_get_group_and_items_are_ordered_by_key(
        self, make_store: StoreFactory, entries: dict[str, JSON]
    ) -> None:
        store = make_store()
        for key, value in entries.items():
            await store.set("g", key, value)
        ordered = sorted(entries)
        assert [exact(v) for v in await store.get_group("g")] == [
            exact(entries[k]) for k in ordered
        ]
        items = await store.items("g")
        assert list(items) == ordered
        assert {k: exact(v) for k, v in items.items()} == {k: exact(v) for k, v in entries.items()}

    async def test_a_missing_group_is_empty(self, store: StateStore) -> None:
        assert await store.get_group("nothing") == []
        assert await store.items("nothing") == {}
        await store.clear("nothing")
        assert await store.groups() == []

    async def test_clear_empties_a_group_and_leaves_the_others(self, store: StateStore) -> None:
        await store.set("g", "a", 1)
        await store.set("g", "b", 2)
        await store.set("h", "a", 3)
        await store.clear("g")
        assert await store.get_group("g") == []
        assert await store.get("g", "a") is None
        assert await store.items("h") == {"a": 3}
        assert await store.groups() == ["h"]

    async def test_groups_lists_the_groups_holding_keys_sorted(self, store: StateStore) -> None:
        assert await store.groups() == []
        for group in ["b", "a", "c"]:
            await store.set(group, "k", group)
        assert await store.groups() == ["a", "b", "c"]
        await store.delete("b", "k")
        assert await store.groups() == ["a", "c"]
        await store.clear("c")
        assert await store.groups() == ["a"]
        await store.set("b", "k", None)
        assert await store.groups() == ["a", "b"], "a key holding null still counts"

    async def test_groups_stays_exact_under_concurrent_sets_and_deletes(
        self, store: StateStore
    ) -> None:
        lost: list[int] = []

        async def churn(worker: int) -> None:
            for _ in range(25):
                await store.set("g", f"k{worker}", worker)
                if "g" not in await store.groups():  # this worker's key is in "g" right now
                    lost.append(worker)
                await store.delete("g", f"k{worker}")
            await store.set("g", f"k{worker}", worker)

        await asyncio.gather(*(churn(worker) for worker in range(6)))
        assert lost == [], "groups() missed a group while it held a key"
        assert await store.groups() == ["g"]
        assert await store.items("g") == {f"k{w}": w for w in range(6)}

    # -- what is refused ---------------------------------------------------------------------

    @pytest.mark.parametrize(
        "bad",
        [{1, 2}, object(), b"bytes", float("nan"), float("inf"), [1, {"a": float("-inf")}]],
        ids=["set", "object", "bytes", "nan", "inf", "nested-inf"],
    )
    async def test_a_non_json_value_raises_type_error_and_stores_nothing(
        self, store: StateStore, bad: Any
    ) -> None:
        with pytest.raises(TypeError):
            await store.set("g", "k", bad)
        assert await store.get("g", "k") is None
        assert await store.groups() == []
        await store.set("g", "k", "kept")
        with pytest.raises(TypeError):
            await store.set("g", "k", bad)
        assert await store.get("g", "k") == "kept"

    # -- names -------------------------------------------------------------------------------

    async def test_names_with_separators_do_not_collide(self, store: StateStore) -> None:
        await store.set("a:b", "c", "first")
        await store.set("a", "b:c", "second")
        assert await store.get("a:b", "c") == "first"
        assert await store.get("a", "b:c") == "second"
        assert await store.items("a:b") == {"c": "first"}
        assert await store.items("a") == {"b:c": "second"}
        await store.clear("a")
        assert await store.get("a:b", "c") == "first"

    async def test_every_odd_name_works_as_group_and_as_key(self, store: StateStore) -> None:
        for group in ODD_NAMES:
            for key in ODD_NAMES:
                await store.set(group, key, [group, key])
        assert await store.groups() == sorted(ODD_NAMES)
        for group in ODD_NAMES:
            assert await store.items(group) == {key: [group, key] for key in sorted(ODD_NAMES)}
        for group in ODD_NAMES:
            await store.clear(group)
            assert group not in await store.groups()
        assert await store.groups() == []

    @_contract_settings
    @given(group=names, key=names, other_group=names, other_key=names)
    async def test_odd_names_work_and_stay_apart(
        self, make_store: StoreFactory, group: str, key: str, other_group: str, other_key: str
    ) -> None:
        store = make_store()
        await store.set(group, key, "one")
        await store.set(other_group, other_key, "two")
        same = (group, key) == (other_group, other_key)
        assert await store.get(group, key) == ("two" if same else "one")
        assert await store.get(other_group, other_key) == "two"
        assert await store.groups() == sorted({group, other_group})
        assert await store.delete(other_group, other_key) == "two"
        assert await store.get(group, key) == (None if same else "one")

    # -- everything together, against a dict -------------------------------------------------

    @_contract_settings
    @given(ops=_ops)
    async def test_operations_agree_with_a_dict_model(
        self, make_store: StoreFactory, ops: list[tuple[Any, ...]]
    ) -> None:
        store = make_store()
        model: dict[str, dict[str, str]] = {}  # group -> key -> exact(value)
        for op, *args in ops:
            if op == "set":
                group, key, value = args
                assert exact(await store.set(group, key, value)) == exact(value)
                model.setdefault(group, {})[key] = exact(value)
            elif op == "get":
                group, key = args
                # A missing key reads as None, i.e. as a stored null.
                assert exact(await store.get(group, key)) == model.get(group, {}).get(key, "null")
            elif op == "delete":
                group, key = args
                old = await store.delete(group, key)
                assert exact(old) == model.get(group, {}).pop(key, "null")
                if group in model and not model[group]:
                    del model[group]
            elif op == "clear":
                await store.clear(args[0])
                model.pop(args[0], None)
            elif op == "get_group":
                entries = model.get(args[0], {})
                got_group = await store.get_group(args[0])
                assert [exact(v) for v in got_group] == [entries[k] for k in sorted(entries)]
            elif op == "items":
                entries = model.get(args[0], {})
                got_items = await store.items(args[0])
                assert [(k, exact(v)) for k, v in got_items.items()] == sorted(entries.items())
            else:
                assert await store.groups() == sorted(model)
        assert await store.groups() == sorted(model)
