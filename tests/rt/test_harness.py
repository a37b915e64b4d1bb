"""The test surface: Runtime as context manager and from sync code, wait_for_topic, TopicTimeout,
emitted, state seeding, services override, and the pytest plugin's motia_runtime fixture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from motia_rt.harness import matches
from motia_rt.testing import Runtime, TopicTimeout
from tests.step_files import make_app

ECHO = {
    "echo_step.py": """
        config = {"type": "event", "name": "Echo", "subscribes": ["in"], "emits": ["out"]}
        async def handler(input, context):
            seeded = await context.state.get("config", "suffix")
            await context.emit("out", {**input, "suffix": seeded, "via": context.services.tag})
    """,
    "services.py": """
        def default_services():
            return {"tag": "default"}
    """,
}


async def test_wait_for_topic_matches_subset_or_predicate_and_sees_the_past(tmp_path: Path) -> None:
    async with Runtime(make_app(tmp_path, ECHO)) as rt:
        await rt.state.set("config", "suffix", "!")
        await rt.emit("in", {"n": 1, "nested": {"a": 1, "b": 2}})
        await rt.emit("in", {"n": 2, "nested": {"a": 3}})
        await rt.settle()
        # Already emitted before the wait starts: still found.
        second = await rt.wait_for_topic("out", match={"n": 2}, timeout=0)
        assert second.data == {"n": 2, "nested": {"a": 3}, "suffix": "!", "via": "default"}
        nested = await rt.wait_for_topic("out", match={"nested": {"b": 2}}, timeout=0)
        assert nested.data["n"] == 1
        by_predicate = await rt.wait_for_topic("out", match=lambda d: d["n"] > 1, timeout=0)
        assert by_predicate.data["n"] == 2
        assert [e.data["n"] for e in rt.emitted("out")] == [1, 2]
        assert [e.topic for e in rt.emitted()] == ["in", "in", "out", "out"]
        assert second.time == second.emitted_at and second.trace_id


async def test_wait_for_topic_waits_for_a_future_event(tmp_path: Path) -> None:
    async with Runtime(make_app(tmp_path, ECHO)) as rt:
        import asyncio

        waiter = asyncio.create_task(rt.wait_for_topic("out", match={"n": 7}, timeout=2))
        await asyncio.sleep(0)
        assert not waiter.done()
        await rt.emit("in", {"n": 7})
        assert (await waiter).data["n"] == 7


async def test_topic_timeout_lists_what_was_emitted(tmp_path: Path) -> None:
    async with Runtime(make_app(tmp_path, ECHO)) as rt:
        await rt.emit("in", {"n": 1})
        await rt.settle()
        with pytest.raises(TopicTimeout) as caught:
            await rt.wait_for_topic("out", match={"n": 99}, timeout=0.01)
        text = str(caught.value)
        assert "no event on 'out' matched {'n': 99}" in text
        assert "1 event(s) on 'out' did not match; closest:" in text
        assert "in: {'n': 1}" in text
        with pytest.raises(TopicTimeout) as never:
            await rt.wait_for_topic("never.emitted", timeout=0.01)
        assert "emitted so far" in str(never.value) and "out: " in str(never.value)


def test_runtime_runs_from_sync_code_and_returns_the_result(tmp_path: Path) -> None:
    async def scenario(rt: Runtime) -> Any:
        await rt.emit("in", {"n": 3})
        return (await rt.wait_for_topic("out")).data["n"]

    assert Runtime(make_app(tmp_path, ECHO)).run(scenario) == 3


async def test_services_override_by_name(tmp_path: Path) -> None:
    async with Runtime(make_app(tmp_path, ECHO), services={"tag": "override"}) as rt:
        await rt.emit("in", {"n": 1})
        assert (await rt.wait_for_topic("out")).data["via"] == "override"
        assert rt.services["tag"] == "override" and rt.services.tag == "override"


async def test_unknown_service_error_names_the_bound_ones(tmp_path: Path) -> None:
    async with Runtime(make_app(tmp_path, ECHO)) as rt:
        with pytest.raises(
            AttributeError, match=r"no service named 'mail'; bound services: \['tag'\]"
        ):
            rt.services.mail  # noqa: B018


@given(data=st.dictionaries(st.text(max_size=3), st.integers() | st.text(max_size=3), max_size=4))
def test_match_is_a_subset_check(data: dict[str, Any]) -> None:
    assert matches(None, data)
    assert matches(data, data)
    for key in data:
        assert matches({key: data[key]}, data)
        assert not matches({key: ["not", "there"]}, data)
    assert matches(dict(list(data.items())[:1]), data)


async def test_motia_runtime_fixture_serves_the_project_steps(motia_runtime: Runtime) -> None:
    response = await motia_runtime.post(
        "/orders", json={"email": "fix@example.com", "items": [{"sku": "sku-pen", "quantity": 1}]}
    )
    assert response.status_code == 202
    order_id = response.json()["orderId"]
    await motia_runtime.wait_for_topic("fulfillment.shipped", match={"orderId": order_id})


async def test_closing_the_harness_twice_is_harmless(tmp_path: Path) -> None:
    async with Runtime(make_app(tmp_path, {"noop_step.py": """
        config = {"type": "noop", "name": "Nothing", "virtualEmits": []}
    """})) as rt:  # fmt: skip
        await rt.aclose()  # and again on leaving the block
