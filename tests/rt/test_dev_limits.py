"""The dev tools' limits: the event log bounded in records and bytes, replay capped per stream,
open streams capped (503), and a flood of big emits and streams that leaves the server answering."""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motia_rt.devtools import devtools_routes
from motia_rt.eventlog import EventLog
from motia_rt.ports import UNDECODED, Message
from motia_rt.server import create_app
from motia_rt.testing import Runtime
from motia_rt.tracing import HandlerRun
from tests.app.conftest import STEPS
from tests.live_server import LiveServer
from tests.rt.conftest import WriteSteps
from tests.rt.test_devtools import parse_sse

JSON = {"content-type": "application/json"}


def message(n: int, data: Any) -> Message:
    return Message(id=f"m{n}", topic="t", data=data, trace_id=f"tr{n % 3}", emitted_at=0.0)


# -- the event log ------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 3000), max_size=60),
    texts=st.lists(st.text(max_size=20), min_size=3, max_size=3),
    capacity=st.integers(1, 20),
    max_bytes=st.integers(200, 20_000),
    cursor=st.integers(-5, 70),
)
def test_the_log_keeps_the_newest_records_within_count_and_bytes(
    sizes: list[int], texts: list[str], capacity: int, max_bytes: int, cursor: int
) -> None:
    log = EventLog(capacity, max_bytes=max_bytes, max_record_bytes=1000)
    topic, group, source = texts
    for n, size in enumerate(sizes):
        data = {"text": texts[n % 3] * (size // 20), "n": n}
        raw = json.dumps(data)  # as the engine writes it
        log.on_emit(Message(f"m{n}", topic or "t", UNDECODED, "tr", 0.0, source, group, raw))
        assert len(log) <= capacity and log.size_bytes <= max_bytes
        assert log.size_bytes == sum(e.size for e in log.entries_since(0, 10**6))
    kept = log.entries_since(0, 10**6)
    ids = [e.id for e in kept]
    assert ids == list(range(len(sizes) - len(kept) + 1, len(sizes) + 1)), "the newest, in order"
    for entry in kept:
        assert len(entry.text) <= entry.size <= 1000, "sizes are counted from above"
        assert json.loads(entry.text) == entry.record
        if "truncated" in entry.record:  # kept its short fields, and the size it had
            assert "data" not in entry.record and entry.record["truncated"] > 1000
        else:
            assert entry.record["data"]["n"] == entry.id - 1
    assert [e.id for e in log.entries_since(cursor, 7)] == [i for i in ids if i > cursor][:7]


def test_a_run_record_is_counted_from_above() -> None:
    log = EventLog()
    run = HandlerRun("Step\x00" * 10, "event", "t" * 36, 1.5e300, topic="\u2028" * 10)
    run.error, run.ended, run.outcome = "\x01" * 500, 1.0e-300, "error"
    log.on_run_end(run)
    (entry,) = log.entries_since(0)
    assert len(entry.text) <= entry.size


def test_a_record_that_is_not_json_is_kept_truncated() -> None:
    log = EventLog()
    log.on_emit(message(1, float("nan")))
    (entry,) = log.entries_since(0)
    text = entry.text  # shortened when first read
    assert entry.record["topic"] == "t" and "data" not in entry.record
    assert json.loads(text) == entry.record


# -- streams --------------------------------------------------------------------------------------


async def test_a_new_stream_replays_a_bounded_tail(write_steps: WriteSteps) -> None:
    async with Runtime(write_steps({})) as rt:
        log = EventLog()
        rt.engine.add_observer(log)
        for n in range(50):
            await rt.engine.emit_external("t", {"n": n, "pad": "x" * 100})
        routes = devtools_routes(rt.engine, log, replay_records=10, replay_bytes=1500)
        from starlette.applications import Starlette

        app = Starlette(routes=routes)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://127.0.0.1") as http:  # fmt: skip
            for headers in ({}, {"last-event-id": "1"}, {"last-event-id": "x" * 5000}):
                response = await http.get("/__motia/events", params={"once": "1"}, headers=headers)
                frames = parse_sse(response.text)
                assert 1 <= len(frames) <= 10, headers
                assert (
                    sum(len(json.dumps(f["data"], separators=(",", ":"))) for f in frames) <= 1500
                )
                assert frames[-1]["id"] == log.last_id, "the newest records, up to the last"
            response = await http.get("/__motia/events", params={"once": "1", "after": "48"})
            assert [f["id"] for f in parse_sse(response.text)] == [49, 50]


async def test_streams_over_the_cap_get_503_and_a_closed_one_frees_its_slot() -> None:
    with LiveServer(create_app(STEPS, cron=False, max_streams=3)) as live:
        async with httpx.AsyncClient(base_url=live.url, timeout=10) as http:
            async with AsyncExitStack() as streams:
                opened = [await streams.enter_async_context(http.stream("GET", "/__motia/events"))
                          for _ in range(3)]  # fmt: skip
                assert all(s.status_code == 200 for s in opened)
                refused = await http.get("/__motia/events")
                assert refused.status_code == 503 and refused.headers["retry-after"]
                assert "3 event streams" in refused.json()["error"]
                assert (await http.get("/__motia/status")).status_code == 200
            # Closed: the server sees the disconnect and gives the slots back.
            async with asyncio.timeout(10):
                while True:
                    async with http.stream("GET", "/__motia/events") as again:
                        if again.status_code == 200:
                            break
                    await asyncio.sleep(0.05)


@pytest.mark.parametrize("streams", [80])
async def test_a_flood_of_big_emits_and_streams_leaves_the_server_answering(streams: int) -> None:
    # Scaled down from the report (one 100 MB emit, 500 streams): a 20 MB emit, 20 emits just
    # under the limit, and more streams than the cap, all at once; ordinary requests are then
    # answered within the client's timeout and the log holds at most its bytes.
    app = create_app(STEPS, cron=False, max_streams=32, body_limit=256 * 1024)
    log = app.state.event_log
    limits = httpx.Limits(max_connections=streams + 10)
    with LiveServer(app) as live:
        async with httpx.AsyncClient(base_url=live.url, timeout=5, limits=limits) as http:
            huge = await http.post("/__motia/emit", content=b"[" * (20 << 20), headers=JSON)
            assert huge.status_code == 413 and huge.json()["limit"] == 256 * 1024
            big = json.dumps({"topic": "flood", "data": "x" * (250 * 1024)}).encode()
            emits = await asyncio.gather(*[
                http.post("/__motia/emit", content=big, headers=JSON) for _ in range(20)
            ])  # fmt: skip
            assert {r.status_code for r in emits} == {202}
            async with AsyncExitStack() as stack:
                opened = await asyncio.gather(*[
                    stack.enter_async_context(http.stream("GET", "/__motia/events"))
                    for _ in range(streams)
                ])  # fmt: skip
                codes = [s.status_code for s in opened]
                assert codes.count(200) == 32 and codes.count(503) == streams - 32
                # Still answering, within the client's 5 s timeout.
                assert (await http.get("/__motia/status")).status_code == 200
                order = {"email": "ada@example.com", "items": [{"sku": "sku-book", "quantity": 1}]}
                assert (await http.post("/orders", json=order)).status_code == 202
    assert log.size_bytes <= log.max_bytes
    assert all(len(e.text) <= log.max_record_bytes for e in log.entries_since(0, 10**6))
