"""The trace: deferred formatting gives the text eager formatting would, and the seed-drawn turns
keep the order of ``asyncio.sleep(0)``."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from motia_rt.tracing import CURRENT_RUN, HandlerRun
from motia_sim._loop import run_simulated
from motia_sim.faults import FaultPlan
from motia_sim.injector import FaultInjector, pass_turns
from motia_sim.ports import SimStateStore, simulated_services
from motia_sim.trace import Trace, _compact, _stable_repr

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=12,
)


@given(st.one_of(_JSON, st.binary(), st.sets(st.integers(), max_size=3)))
def test_compact_is_json_dumps_with_sorted_keys(value: Any) -> None:
    try:
        expected = json.dumps(value, sort_keys=True, separators=(",", ":"), default=_stable_repr)
    except (TypeError, ValueError):
        expected = _stable_repr(value)
    assert _compact(value) == expected


def test_compact_recovers_after_a_circular_value() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    assert _compact(cycle) == _stable_repr(cycle)
    assert _compact([cycle[:0], {"a": 1}]) == '[[],{"a":1}]'


def test_deferred_lines_show_values_as_they_were_recorded() -> None:
    # A handler may change what it got back from state.set, or a list it passed to a service,
    # after the call: the trace still shows the value at the time of the call.
    class Ledger:
        async def book(self, items: list[dict[str, Any]], note: str) -> int:
            return len(items)

    async def main() -> Trace:
        trace = Trace(asyncio.get_running_loop().time)
        injector = FaultInjector(FaultPlan(), random.Random(0), trace)
        store = SimStateStore(injector, trace)
        ledger = simulated_services({"ledger": Ledger()}, injector, trace, [])["ledger"]
        token = CURRENT_RUN.set(HandlerRun("Step", "event", "t" * 8, 0.0, 1, "go", "m-1"))
        try:
            stored = await store.set("orders", "o-1", {"b": [1, 2], "a": "x"})
            stored["b"].append(3)
            items = [{"sku": "pen"}]
            await ledger.book(items, "n")
            items.append({"sku": "ink"})
            await ledger.book([], note="plain")
        finally:
            CURRENT_RUN.reset(token)
        return trace

    trace = run_simulated(main, seed=0)
    assert [e.text for e in trace.entries] == [
        'Step set orders/o-1 = {"a":"x","b":[1,2]}',  # a run the trace did not see start
        'Step ledger.book[[{"sku":"pen"}],"n"]',
        'Step ledger.book{"args":[[]],"note":"plain"}',
    ]
    assert len(trace) == 3 and trace.digest() == trace.digest()


def test_passing_turns_keeps_the_order_of_sleep_zero() -> None:
    async def order(yield_turns: Any) -> list[str]:
        seen: list[str] = []

        async def task(name: str, turns: int) -> None:
            for step in range(3):
                seen.append(f"{name}{step}")
                await yield_turns(turns)

        await asyncio.gather(*(task(n, t) for n, t in (("a", 2), ("b", 1), ("c", 2), ("d", 1))))
        return seen

    async def sleeps(turns: int) -> None:
        for _ in range(turns):
            await asyncio.sleep(0)

    assert run_simulated(lambda: order(pass_turns), seed=0) == run_simulated(
        lambda: order(sleeps), seed=0
    )
