"""The equivalents of Motia's ``@motiadev/test`` calls that the harness adds: ``emit`` on a
caller-chosen trace id (``emit({topic, data, traceId})``) and the captured step logger (``logs``),
each on the runtime and in the simulator."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motia_rt.harness import Harness, LogEntry
from motia_rt.testing import Runtime
from motia_sim import Simulation
from tests.step_files import make_app

LOGGING_APP = {
    "relay_step.py": """
        config = {"type": "event", "name": "Relay", "subscribes": ["in"], "emits": ["out"]}
        async def handler(input, context):
            context.logger.debug("relaying", {"n": input["n"]})
            context.logger.info("relayed", {"n": input["n"]})
            await context.emit("out", input)
    """,
    "sink_step.py": """
        config = {"type": "event", "name": "Sink", "subscribes": ["out"], "emits": []}
        async def handler(input, context):
            if input["n"] < 0:
                context.logger.warn("negative", {"n": input["n"]})
            context.logger.error("sunk")
    """,
}


async def trace_and_logs(h: Harness) -> dict[str, Any]:
    sent = await h.emit("in", {"n": -1}, trace_id="trace-chosen-by-test")
    await h.emit("in", {"n": 2})
    await h.settle()
    relayed = [m for m in h.emitted("out") if m.trace_id == "trace-chosen-by-test"]
    return {
        "sent": sent.trace_id,
        "relayed": [m.data for m in relayed],
        "all": [(e.step, e.level, e.message, e.fields) for e in h.logs()],
        "relay": [e.message for e in h.logs("Relay")],
        "warn": [(e.step, e.fields, e.trace_id) for e in h.logs(level="warn")],
        "traced": sorted(e.message for e in h.logs(trace_id="trace-chosen-by-test")),
    }


def check(result: dict[str, Any]) -> None:
    assert result["sent"] == "trace-chosen-by-test"
    assert result["relayed"] == [{"n": -1}]
    # Every level is captured, debug too, whatever stdlib logging is configured to let through.
    assert sorted(result["all"], key=repr) == sorted([
        ("Relay", "debug", "relaying", {"n": -1}), ("Relay", "info", "relayed", {"n": -1}),
        ("Relay", "debug", "relaying", {"n": 2}), ("Relay", "info", "relayed", {"n": 2}),
        ("Sink", "warn", "negative", {"n": -1}), ("Sink", "error", "sunk", {}),
        ("Sink", "error", "sunk", {}),
    ], key=repr)  # fmt: skip
    assert sorted(result["relay"]) == ["relayed", "relayed", "relaying", "relaying"]
    assert result["warn"] == [("Sink", {"n": -1}, "trace-chosen-by-test")]
    assert result["traced"] == ["negative", "relayed", "relaying", "sunk"]


def test_chosen_trace_id_and_captured_logs_on_the_runtime(tmp_path: Path) -> None:
    logging.getLogger("motia.step").setLevel(logging.WARNING)  # capture must not depend on it
    check(Runtime(make_app(tmp_path, LOGGING_APP)).run(trace_and_logs))


def test_chosen_trace_id_and_captured_logs_in_the_simulator(tmp_path: Path) -> None:
    sim = Simulation(make_app(tmp_path, LOGGING_APP), seed=3)
    first = sim.run(trace_and_logs)
    check(first)
    digest = sim.last.trace.digest()
    again = Simulation(make_app(tmp_path, LOGGING_APP), seed=3)
    assert again.run(trace_and_logs) == first, "captured logs follow from the seed"
    assert again.last.trace.digest() == digest


def test_log_entries_carry_the_engine_clock_in_the_simulator(tmp_path: Path) -> None:
    async def late(h: Harness) -> list[LogEntry]:
        await h.advance(60)
        await h.emit("in", {"n": 1})
        await h.settle()
        return h.logs("Sink")

    [entry] = Simulation(make_app(tmp_path, LOGGING_APP), seed=0).run(late)
    assert entry.level == "error"
    assert entry.time >= 60 + 1767225600.0  # the virtual epoch, 2026-01-01T00:00:00Z, plus 60 s


async def test_two_runtimes_capture_only_their_own_logs(tmp_path: Path) -> None:
    app = make_app(tmp_path, LOGGING_APP)
    async with Runtime(app) as first, Runtime(app) as second:
        await first.emit("in", {"n": 1})
        await first.settle()
        assert [e.fields for e in first.logs("Relay", "info")] == [{"n": 1}]
        assert second.logs() == []
    # After the runtime closes, nothing more is captured and the watcher is gone.
    assert len(first.logs()) == 3


async def test_bad_arguments_say_what_is_allowed(tmp_path: Path) -> None:
    async with Runtime(make_app(tmp_path, LOGGING_APP)) as rt:
        with pytest.raises(ValueError, match="debug, info, warn, error"):
            rt.logs(level="warning")
        with pytest.raises(ValueError, match="non-empty string"):
            await rt.emit("in", {"n": 1}, trace_id="")
        assert rt.emitted() == []


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_app(tmp_path_factory.mktemp("tester"), LOGGING_APP)


@settings(max_examples=25, deadline=None)
@given(trace_id=st.text(min_size=1, max_size=64))
def test_any_trace_id_reaches_every_event_and_log_of_the_trace(
    app_dir: Path, trace_id: str
) -> None:
    async def scenario(h: Harness) -> tuple[set[str], set[str]]:
        await h.emit("in", {"n": 5}, trace_id=trace_id)
        await h.settle()
        return {m.trace_id for m in h.emitted()}, {e.trace_id for e in h.logs()}

    events, logs = Simulation(app_dir, seed=1).run(scenario)
    assert events == {trace_id} and logs == {trace_id}
