"""Engine behaviour through the in-process harness: fan-out, emits, validation, retries, DLQ, FIFO."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motia_rt.engine import RetryPolicy
from motia_rt.testing import Runtime
from motia_rt.tracing import HandlerRun
from tests.step_files import make_app

FANOUT = {
    "a_step.py": """
        import asyncio
        config = {"type": "event", "name": "A", "subscribes": ["t"], "emits": ["a.done"]}
        async def handler(input, context):
            await asyncio.sleep(0.05)
            await context.emit({"topic": "a.done", "data": input})
    """,
    "b_step.py": """
        import asyncio
        config = {"type": "event", "name": "B", "subscribes": ["t"], "emits": ["b.done"]}
        async def handler(input, context):
            await asyncio.sleep(0.05)
            await context.emit("b.done", input)
    """,
}


async def test_fan_out_runs_subscribers_concurrently(tmp_path: Path) -> None:
    async with Runtime(make_app(tmp_path, FANOUT)) as rt:
        sent = await rt.emit("t", {"n": 1})
        await rt.settle()
        a = await rt.wait_for_topic("a.done", timeout=0)
        b = await rt.wait_for_topic("b.done", timeout=0)
        assert a.data == b.data == {"n": 1}
        assert a.trace_id == b.trace_id == sent.trace_id
        runs = {r.step: r for r in rt.runs()}
        # Concurrent: each run started before the other ended.
        assert runs["A"].started < runs["B"].ended  # type: ignore[operator]
        assert runs["B"].started < runs["A"].ended  # type: ignore[operator]


async def test_undeclared_emit_raises_in_handler_and_dead_letters(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"x_step.py": """
        from motia_rt import EmitNotDeclared
        config = {"type": "event", "name": "X", "subscribes": ["in"], "emits": ["ok"]}
        seen = []
        async def handler(input, context):
            try:
                await context.emit("secret", {})
            except EmitNotDeclared as exc:
                seen.append(str(exc))
                raise
    """})  # fmt: skip
    async with Runtime(app) as rt:
        await rt.emit("in", {})
        await rt.settle()
        [letter] = await rt.dead_letters()
        assert "EmitNotDeclared" in letter.error and "'secret'" in letter.error
        assert [r.attempt for r in rt.runs("X")] == [1], "a programming error is not retried"
        assert rt.emitted("secret") == []


async def test_an_error_merely_named_like_an_undeclared_emit_is_retried(tmp_path: Path) -> None:
    # The dead-letter decision follows the exception's type, not the text of the error.
    app = make_app(tmp_path, {"x_step.py": """
        class EmitNotDeclaredYet(Exception):
            pass

        config = {"type": "event", "name": "X", "subscribes": ["in"], "emits": [],
                  "infrastructure": {"queue": {"maxRetries": 2}}}

        async def handler(input, context):
            raise EmitNotDeclaredYet("the partner API is not ready")
    """})  # fmt: skip
    async with Runtime(app) as rt:
        await rt.emit("in", {})
        await rt.settle()
        assert [r.attempt for r in rt.runs("X")] == [1, 2, 3]


async def test_invalid_input_goes_straight_to_dead_letters(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"v_step.py": """
        from pydantic import BaseModel
        class In(BaseModel):
            orderId: str
            amount: float
        config = {"type": "event", "name": "V", "subscribes": ["in"], "input": In}
        got = []
        async def handler(input, context):
            got.append(input)
    """})  # fmt: skip
    async with Runtime(app) as rt:
        await rt.emit("in", {"orderId": "o1", "amount": "not a number"})
        await rt.emit("in", {"orderId": "o2", "amount": 3})
        await rt.settle()
        [letter] = await rt.dead_letters("V")
        assert letter.delivery.message.data["orderId"] == "o1"
        assert "amount" in letter.error
        outcomes = sorted(r.outcome for r in rt.runs("V"))
        assert outcomes == ["invalid", "ok"]


FLAKY = {
    "flaky_step.py": """
        config = {"type": "event", "name": "Flaky", "subscribes": ["job"], "emits": ["job.done"],
                  "infrastructure": {"queue": {"maxRetries": 3}}}
        attempts = {}
        async def handler(input, context):
            n = attempts[input["id"]] = attempts.get(input["id"], 0) + 1
            if n <= input["fail_times"]:
                raise RuntimeError(f"boom {n}")
            await context.emit("job.done", {"id": input["id"], "attempts": n})
    """,
}


async def test_failing_handler_is_retried_with_backoff_then_succeeds(tmp_path: Path) -> None:
    async with Runtime(make_app(tmp_path, FLAKY), seed=1) as rt:
        await rt.emit("job", {"id": "j", "fail_times": 2})
        done = await rt.wait_for_topic("job.done", match={"id": "j"})
        assert done.data["attempts"] == 3
        runs = rt.runs("Flaky")
        assert [(r.attempt, r.outcome) for r in runs] == [(1, "error"), (2, "error"), (3, "ok")]
        assert runs[0].error == "RuntimeError: boom 1"
        # Backoff grows: the wait before attempt 3 is longer than the nominal first delay.
        gap1 = runs[1].started - runs[0].ended  # type: ignore[operator]
        assert gap1 >= 0.01 * 0.5 - 0.002


async def test_exhausted_retries_dead_letter_then_redrive_delivers_again(tmp_path: Path) -> None:
    async with Runtime(make_app(tmp_path, FLAKY)) as rt:
        await rt.emit("job", {"id": "k", "fail_times": 4})
        await rt.settle()
        [letter] = await rt.dead_letters()
        assert "boom 4" in letter.error and "gave up after 4 attempts" in letter.error
        assert [r.attempt for r in rt.runs("Flaky")] == [1, 2, 3, 4]
        redriven = await rt.redrive(letter.id)
        assert redriven.attempt == 1
        done = await rt.wait_for_topic("job.done", match={"id": "k"})
        assert done.data["attempts"] == 5
        await rt.settle()
        assert await rt.dead_letters() == []
        with pytest.raises(KeyError):
            await rt.redrive(letter.id)


async def test_timed_out_handler_is_retried_and_recorded(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"slow_step.py": """
        import asyncio
        config = {"type": "event", "name": "Slow", "subscribes": ["go"],
                  "infrastructure": {"handler": {"timeout": 0.02}, "queue": {"maxRetries": 1}}}
        async def handler(input, context):
            await asyncio.sleep(10)
    """})  # fmt: skip
    async with Runtime(app) as rt:
        await rt.emit("go", {})
        await rt.settle()
        assert [(r.attempt, r.outcome) for r in rt.runs("Slow")] == [(1, "timeout"), (2, "timeout")]
        [letter] = await rt.dead_letters()
        assert "timed out after 0.02s" in letter.error


FIFO = {
    "fifo_step.py": """
        config = {"type": "event", "name": "Ordered", "subscribes": ["seq"], "emits": ["seq.out"],
                  "infrastructure": {"queue": {"type": "fifo", "maxRetries": 5}}}
        failures = {}
        async def handler(input, context):
            key = (input["group"], input["n"])
            if failures.get(key, 0) < input.get("fail", 0):
                failures[key] = failures.get(key, 0) + 1
                raise RuntimeError("transient")
            await context.emit({"topic": "seq.out", "data": input,
                                "messageGroupId": input["group"]})
    """,
}


@settings(max_examples=15, deadline=None)
@given(
    plan=st.lists(
        st.tuples(st.sampled_from(["g1", "g2", "g3"]), st.integers(0, 2)), min_size=1, max_size=12
    )
)
def test_fifo_keeps_order_within_a_group_under_failures(tmp_path_factory: pytest.TempPathFactory,
                                                        plan: list[tuple[str, int]]) -> None:  # fmt: skip
    app = make_app(tmp_path_factory.mktemp("fifo"), FIFO)

    async def scenario(rt: Runtime) -> None:
        for n, (group, fail) in enumerate(plan):
            await rt.emit("seq", {"group": group, "n": n, "fail": fail}, group_id=group)
        await rt.settle()
        out = [(e.data["group"], e.data["n"]) for e in rt.emitted("seq.out")]
        assert sorted(out) == sorted((g, n) for n, (g, _) in enumerate(plan)), "nothing lost"
        for group in {g for g, _ in plan}:
            ns = [n for g, n in out if g == group]
            assert ns == sorted(ns), f"group {group} out of order: {ns}"

    Runtime(app, retry=RetryPolicy(base=0.001, cap=0.004)).run(scenario)


async def test_fifo_blocks_group_while_head_is_retried_then_dead_lettered(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"f_step.py": """
        config = {"type": "event", "name": "F", "subscribes": ["s"], "emits": ["s.out"],
                  "infrastructure": {"queue": {"type": "fifo", "maxRetries": 1}}}
        async def handler(input, context):
            if input["n"] == 0:
                raise RuntimeError("poison")
            await context.emit("s.out", input)
    """})  # fmt: skip
    async with Runtime(app) as rt:
        for n in range(3):
            await rt.emit("s", {"n": n}, group_id="g")
        await rt.settle()
        assert [e.data["n"] for e in rt.emitted("s.out")] == [1, 2]
        [letter] = await rt.dead_letters()
        assert letter.delivery.message.data == {"n": 0}
        first_ok = next(r for r in rt.runs("F") if r.outcome == "ok")
        last_fail = [r for r in rt.runs("F") if r.outcome == "error"][-1]
        assert first_ok.started >= last_fail.ended  # type: ignore[operator]


async def test_trace_id_flows_through_every_emit_it_causes(tmp_path: Path) -> None:
    app = make_app(tmp_path, {
        "api_step.py": """
            config = {"type": "api", "name": "Start", "path": "/start", "method": "POST",
                      "emits": ["one"]}
            async def handler(req, context):
                await context.emit("one", {})
                return {"status": 202, "body": {"traceId": context.trace_id}}
        """,
        "one_step.py": """
            config = {"type": "event", "name": "One", "subscribes": ["one"], "emits": ["two"]}
            async def handler(input, context):
                await context.emit("two", {"seen": context.trace_id})
        """,
    })  # fmt: skip
    async with Runtime(app) as rt:
        first = (await rt.post("/start")).json()["traceId"]
        second = (await rt.post("/start")).json()["traceId"]
        assert first != second
        await rt.settle()
        for trace in (first, second):
            two = await rt.wait_for_topic("two", match={"seen": trace}, timeout=0)
            assert two.trace_id == trace
        assert {r.trace_id for r in rt.runs("One")} == {first, second}


async def test_state_values_are_json_copies(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"s_step.py": """
        config = {"type": "event", "name": "S", "subscribes": ["s"]}
        async def handler(input, context):
            value = {"items": [1]}
            await context.state.set("g", "k", value)
            value["items"].append(2)
    """})  # fmt: skip
    async with Runtime(app) as rt:
        await rt.state.set("seed", "x", {"a": 1})
        await rt.emit("s", {})
        await rt.settle()
        assert await rt.state.get("g", "k") == {"items": [1]}
        assert await rt.state.get("seed", "x") == {"a": 1}


async def test_non_json_emit_is_a_clear_error(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"j_step.py": """
        config = {"type": "event", "name": "J", "subscribes": ["j"], "emits": ["out"],
                  "infrastructure": {"queue": {"maxRetries": 0}}}
        async def handler(input, context):
            await context.emit("out", {"when": object()})
    """})  # fmt: skip
    async with Runtime(app) as rt:
        await rt.emit("j", {})
        await rt.settle()
        [letter] = await rt.dead_letters()
        assert "must be JSON" in letter.error and "'out'" in letter.error


async def test_settle_waits_for_retries_and_chains(tmp_path: Path) -> None:
    async with Runtime(make_app(tmp_path, FLAKY)) as rt:
        await rt.emit("job", {"id": "s", "fail_times": 1})
        await rt.settle()
        assert rt.engine.transport.pending() == 0
        assert [e.data["id"] for e in rt.emitted("job.done")] == ["s"]


async def test_settle_timeout_reports_what_is_pending(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"w_step.py": """
        import asyncio
        config = {"type": "event", "name": "W", "subscribes": ["w"]}
        async def handler(input, context):
            await asyncio.sleep(5)
    """})  # fmt: skip
    async with Runtime(app) as rt:
        await rt.emit("w", {})
        await asyncio.sleep(0)
        with pytest.raises(TimeoutError, match="1 deliveries pending"):
            await rt.settle(timeout=0.05)


def test_retry_policy_grows_exponentially_within_jitter() -> None:
    import random

    policy = RetryPolicy(base=1.0, factor=2.0, cap=10.0, jitter=0.5)
    rng = random.Random(0)
    for attempt, nominal in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (9, 10.0)]:
        delay = policy.delay(attempt, rng)
        assert nominal * 0.5 <= delay <= nominal


@pytest.mark.parametrize("group", [{"a": 1}, ["x"], 5, True])
def test_an_emit_with_a_group_id_that_is_not_a_string_fails_the_run_and_queues_nothing(
    tmp_path: Path, group: object
) -> None:
    steps = make_app(tmp_path, {
        "a_step.py": """
            config = {"type": "event", "name": "A", "subscribes": ["go"], "emits": ["fifo.t"],
                      "infrastructure": {"queue": {"maxRetries": 0}}}

            async def handler(input, context):
                await context.emit({"topic": "fifo.t", "data": {}, "messageGroupId": input["g"]})
        """,
        "b_step.py": """
            config = {"type": "event", "name": "B", "subscribes": ["fifo.t"], "emits": [],
                      "infrastructure": {"queue": {"type": "fifo"}}}

            async def handler(input, context):
                pass
        """,
    })  # fmt: skip

    async def scenario(rt: Runtime) -> list[HandlerRun]:
        await rt.emit("go", {"g": group})
        await rt.settle(timeout=5)  # nothing left queued that can never settle
        return rt.runs()

    (run,) = Runtime(steps).run(scenario)
    assert run.step == "A" and run.error is not None
    assert run.error.startswith(
        "TypeError: messageGroupId of the emit to 'fifo.t' must be a string"
    )
