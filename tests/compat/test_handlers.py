"""Running Motia 1.0 handlers: sync and async, ctx.match, conditions, responses, module-level
calls; a sync handler runs in a worker thread on the runtime and inline in the simulator."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from motia_rt import load_steps
from motia_rt.compat import BlockingCallError, OutsideHandlerError, stateManager
from motia_rt.state.memory import MemoryStateStore
from motia_rt.testing import Runtime
from motia_sim import Simulation
from tests.step_files import make_app

THREADS = """
    import threading
    from motia import http, stateManager
    config = {"name": "Where", "triggers": [http("GET", "/where")]}
    def handler(request, ctx):
        stateManager.set("seen", "thread", threading.current_thread().name)
        return {"body": {"main": threading.current_thread() is threading.main_thread()}}
"""

GATE = """
    import threading
    from motia import http
    GATE = threading.Event()
    config = {"name": "Gate", "triggers": [http("POST", "/wait"), http("POST", "/open")]}
    def handler(request, ctx):
        if ctx.trigger.path == "/open":
            GATE.set()
            return {"status": 200, "body": "opened"}
        # Bounded: a handler that blocked the loop could never see /open, and says so.
        return {"status": 200, "body": "passed" if GATE.wait(10) else "blocked"}
"""

MATCH = """
    from motia import ApiResponse, cron, http, queue, stateManager
    def only_vip(input, ctx):
        return bool(input.headers.get("x-vip"))
    config = {"name": "Match", "enqueues": [], "triggers": [
        http("GET", "/vip", condition=only_vip), http("GET", "/plain"),
        queue("t.q"), cron("*/5 * * * *")]}
    async def handler(input, ctx):
        async def on_cron():
            stateManager.set("runs", "cron", ctx.trigger.expression)
        return await ctx.match({
            "http": lambda req: ApiResponse(status=201, body={"path": ctx.trigger.path}),
            "cron": on_cron,
            "default": lambda data: stateManager.set("runs", ctx.trigger.type, data),
        })
"""

NO_MATCH = """
    from motia import http
    config = {"name": "NoMatch", "triggers": [http("GET", "/none")]}
    def handler(input, ctx):
        return ctx.match({"queue": lambda data: None})
"""


def _app(tmp_path: Path, *sources: str) -> Path:
    return make_app(tmp_path / "steps", {f"s{i}_step.py": s for i, s in enumerate(sources)})


def test_a_sync_handler_runs_in_a_worker_thread_on_the_runtime(tmp_path: Path) -> None:
    async def scenario(rt: Runtime) -> None:
        response = await rt.get("/where")
        assert response.status_code == 200, response.text
        assert response.json() == {"main": False}
        assert await rt.state.get("seen", "thread") != threading.main_thread().name

    Runtime(_app(tmp_path, THREADS)).run(scenario)


def test_a_sync_handler_does_not_block_the_loop_on_the_runtime(tmp_path: Path) -> None:
    async def scenario(rt: Runtime) -> None:
        waiting = asyncio.create_task(rt.post("/wait"))
        while not rt.runs("Gate"):  # the waiting handler has started
            await asyncio.sleep(0.01)
        assert (await rt.post("/open")).text == "opened"  # a str body is sent as text
        assert (await waiting).text == "passed"

    Runtime(_app(tmp_path, GATE)).run(scenario)


def test_a_sync_handler_runs_inline_in_the_simulator(tmp_path: Path) -> None:
    async def scenario(sim: Any) -> None:
        response = await sim.get("/where")
        assert response.json() == {"main": True}

    Simulation(_app(tmp_path, THREADS)).run(scenario)


@pytest.mark.parametrize("harness", ["runtime", "sim"])
def test_match_conditions_and_responses(tmp_path: Path, harness: str) -> None:
    async def scenario(h: Any) -> None:
        skipped = await h.get("/vip")
        assert skipped.status_code == 204 and not skipped.content  # condition false
        vip = await h.get("/vip", headers={"x-vip": "1"})
        assert (vip.status_code, vip.json()) == (201, {"path": "/vip"})
        await h.emit("t.q", {"n": 1})
        await h.settle()
        assert await h.state.get("runs", "queue") == {"n": 1}  # the default handler
        run = await h.trigger_cron("Match")
        assert run.outcome == "ok", run.error
        assert await h.state.get("runs", "cron") == "*/5 * * * *"

    steps = _app(tmp_path, MATCH)
    if harness == "runtime":
        Runtime(steps).run(scenario)
    else:
        Simulation(steps).run(scenario)


def test_a_trigger_without_a_match_entry_fails_saying_so(tmp_path: Path) -> None:
    async def scenario(rt: Runtime) -> None:
        assert (await rt.get("/none")).status_code == 500
        (run,) = rt.runs("NoMatch")
        assert "no handler for a http trigger" in (run.error or "")

    Runtime(_app(tmp_path, NO_MATCH)).run(scenario)


def test_a_module_level_call_outside_a_handler_says_where_to_call_it() -> None:
    with pytest.raises(OutsideHandlerError, match=r"stateManager.get was called outside"):
        stateManager.get("a", "b")


class _WaitingStore(MemoryStateStore):
    """A store that must wait for every read, as Redis does."""

    async def get(self, group: str, key: str) -> Any:
        await asyncio.sleep(0.001)
        return await super().get(group, key)


def test_a_sync_call_on_the_loop_that_must_wait_fails_saying_what_to_do(tmp_path: Path) -> None:
    source = """
        from motia import http, stateManager
        config = {"name": "Async", "triggers": [http("GET", "/a")]}
        async def handler(request, ctx):
            return {"status": 200, "body": stateManager.get("g", "k")}
    """
    sync = source.replace("async def", "def").replace('"Async"', '"Sync"').replace("/a", "/s")

    async def scenario(rt: Runtime) -> None:
        assert (await rt.get("/a")).status_code == 500
        (run,) = rt.runs("Async")
        assert BlockingCallError.__name__ in (run.error or "")
        assert "Make the handler a plain `def`" in (run.error or "")
        assert (await rt.get("/s")).status_code == 200  # in a worker thread it may wait

    Runtime(_app(tmp_path, source, sync), state=_WaitingStore()).run(scenario)


def test_the_simulator_gives_the_same_trace_for_the_same_seed(tmp_path: Path) -> None:
    registry = load_steps(_app(tmp_path, MATCH, THREADS))

    async def scenario(sim: Any) -> None:
        for path in ("/vip", "/plain", "/where"):
            await sim.get(path)
        await sim.emit("t.q", {"n": 2})
        await sim.settle()

    runs = [Simulation(registry, seed=7).execute(scenario) for _ in range(2)]
    assert runs[0].trace.digest() == runs[1].trace.digest()
    # The two module-level sets (/where, the queue default) go through the simulated store.
    assert sum(e.kind == "state" for e in runs[0].trace.entries) == 2
    # Checked run by run too: the simulator's own determinism check passes.
    Simulation(registry, seed=3, check_determinism=True).run(scenario)


def test_a_one_argument_handler_and_a_dict_with_status_code(tmp_path: Path) -> None:
    source = """
        from motia import http
        config = {"name": "One", "triggers": [http("GET", "/one")]}
        def handler(request):
            return {"status_code": 203, "body": {"q": request.query_params.get("q")}}
    """

    async def scenario(rt: Runtime) -> None:
        response = await rt.get("/one?q=x")
        assert (response.status_code, response.json()) == (203, {"q": "x"})

    Runtime(_app(tmp_path, source)).run(scenario)


STATE = """
    from motia import StateTriggerInput, enqueue, http, state, stateManager
    config = {"name": "OnUser", "enqueues": ["user.changed"], "triggers": [
        state(condition=lambda change, ctx: change.group_id == "users")]}
    def handler(change: StateTriggerInput, ctx):
        enqueue({"topic": "user.changed", "data": {
            "id": change.item_id, "old": change.old_value, "new": change.new_value,
            "trigger": ctx.trigger.type}})
"""

WRITER = """
    from motia import http, stateManager
    config = {"name": "Write", "triggers": [http("POST", "/users/:id"), http("DELETE", "/users/:id")]}
    def handler(request, ctx):
        if request.method == "DELETE":
            stateManager.delete("users", request.path_params["id"])
        else:
            stateManager.set("users", request.path_params["id"], request.body)
            stateManager.set("other", request.path_params["id"], request.body)
        return {"status": 200}
"""


@pytest.mark.parametrize("harness", ["runtime", "sim"])
def test_a_state_trigger_fires_on_each_change_its_condition_accepts(
    tmp_path: Path, harness: str
) -> None:
    async def scenario(h: Any) -> None:
        await h.post("/users/u1", json={"name": "a"})
        await h.post("/users/u1", json={"name": "b"})
        await h.request("DELETE", "/users/u1")
        await h.settle()
        changes = [m.data for m in h.emitted("user.changed")]
        assert changes == [
            {"id": "u1", "old": None, "new": {"name": "a"}, "trigger": "state"},
            {"id": "u1", "old": {"name": "a"}, "new": {"name": "b"}, "trigger": "state"},
            {"id": "u1", "old": {"name": "b"}, "new": None, "trigger": "state"},
        ]
        # The group "other" changed too; the condition skipped those runs.
        assert len(h.runs("OnUser")) == 5  # 3 changes to "users", 2 to "other"

    steps = _app(tmp_path, STATE, WRITER)
    if harness == "runtime":
        Runtime(steps).run(scenario)
    else:
        Simulation(steps).run(scenario)
