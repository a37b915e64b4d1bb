"""The ``/__motia/*`` endpoints against a real uvicorn: live stream, cursors, status, emit, state,
dead letters and redrive, traces, and the token gate outside dev mode."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from motia_rt.server import create_app
from tests.app.conftest import STEPS
from tests.live_server import LiveServer
from tests.rt.conftest import WriteSteps

ORDER = {"email": "ada@example.com", "items": [{"sku": "sku-book", "quantity": 2}]}

# A step that holds until another step opens the gate: "busy" is then certain, not a race.
GATED_APP = {
    "gate.py": """
        import asyncio
        OPEN = asyncio.Event()
    """,
    "work_step.py": """
        from .gate import OPEN
        config = {"type": "event", "name": "Work", "subscribes": ["work"], "emits": ["worked"]}
        async def handler(input, context):
            await OPEN.wait()
            await context.emit({"topic": "worked", "data": input})
    """,
    "open_step.py": """
        from .gate import OPEN
        config = {"type": "event", "name": "Open", "subscribes": ["open"], "emits": []}
        async def handler(input, context):
            OPEN.set()
    """,
}

# Fails on its first call only, with no retries: one dead letter, and a redrive that succeeds.
FLAKY_APP = {
    "flaky_step.py": """
        CALLS = []
        config = {"type": "event", "name": "Flaky", "subscribes": ["job"], "emits": ["job.done"],
                  "infrastructure": {"queue": {"maxRetries": 0}}}
        async def handler(input, context):
            CALLS.append(input)
            if len(CALLS) == 1:
                raise RuntimeError("first call fails")
            await context.emit({"topic": "job.done", "data": input})
    """,
}


@pytest.fixture
def server() -> Iterator[LiveServer]:
    with LiveServer(create_app(STEPS, cron=False)) as live:
        yield live


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client


def parse_sse(text: str) -> list[dict[str, Any]]:
    """SSE frames as ``{"epoch", "id", "event", "data"}`` (comments and ``retry:`` dropped); the
    frame id ``<epoch>:<n>`` is split in two."""
    frames = []
    for block in text.split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            name, _, value = line.partition(":")
            if name in ("id", "event", "data"):
                fields[name] = value.strip()
        if "data" in fields:
            epoch, _, number = fields["id"].partition(":")
            fields["epoch"], fields["id"] = epoch, int(number)
            fields["data"] = json.loads(fields["data"])
            frames.append(fields)
    return frames


async def read_once(http: httpx.AsyncClient, **kwargs: Any) -> list[dict[str, Any]]:
    """One batch from the stream (``once=1``): everything after the cursor, then the end."""
    params = {"once": "1", **kwargs.pop("params", {})}
    response = await http.get("/__motia/events", params=params, **kwargs)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_sse(response.text)


async def settle(http: httpx.AsyncClient, timeout: float = 10.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            status: dict[str, Any] = (await http.get("/__motia/status")).json()
            if not status["busy"]:
                return status
            await asyncio.sleep(0.01)


async def place_order(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.post("/orders", json=ORDER)
    assert response.status_code == 202, response.text
    accepted: dict[str, Any] = response.json()
    return accepted


# -- the live stream ---------------------------------------------------------------------------


async def test_stream_delivers_emits_and_runs_live_in_order(http: httpx.AsyncClient) -> None:
    frames: list[dict[str, Any]] = []
    async with http.stream("GET", "/__motia/events", params={"after": "0"}) as stream:
        assert stream.status_code == 200
        lines = stream.aiter_lines()
        first = await anext(lines)
        assert first.startswith("retry:"), "the stream opens at once, before any event"
        accepted = await place_order(http)
        block: list[str] = []
        async with asyncio.timeout(10):
            async for line in lines:
                if line:
                    block.append(line)
                    continue
                frames.extend(parse_sse("\n".join(block)))
                block = []
                if any(f["data"].get("topic") == "fulfillment.shipped" for f in frames):
                    break
    ids = [f["id"] for f in frames]
    assert ids == list(range(1, len(ids) + 1)), "ids increase by one from the start"
    assert all(f["event"] == f["data"]["kind"] and f["id"] == f["data"]["id"] for f in frames)
    assert {f["data"]["traceId"] for f in frames} == {accepted["traceId"]}
    kinds = [(f["event"], f["data"].get("step") or f["data"]["topic"]) for f in frames[:3]]
    assert kinds == [
        ("run.start", "CreateOrder"),
        ("emit", "order.created"),
        ("run.end", "CreateOrder"),
    ]
    created = frames[1]["data"]
    assert created["source"] == "CreateOrder"
    assert created["data"]["orderId"] == accepted["orderId"]
    ends = [f["data"] for f in frames if f["event"] == "run.end"]
    assert all(e["outcome"] == "ok" and e["ended"] >= e["started"] for e in ends)
    # Each event step's run starts after the emit that it handles.
    position = {f["data"].get("messageId"): f["id"] for f in frames if f["event"] == "emit"}
    for f in frames:
        if f["event"] == "run.start" and f["data"]["stepKind"] == "event":
            assert f["id"] > position[f["data"]["messageId"]]


async def test_resuming_from_a_cursor_yields_exactly_the_records_after_it(
    http: httpx.AsyncClient,
) -> None:
    await place_order(http)
    await settle(http)
    await place_order(http)
    status = await settle(http)
    everything = await read_once(http, params={"after": "0"})
    assert [f["id"] for f in everything] == list(range(1, status["cursor"] + 1))
    for cursor in (0, 1, 7, status["cursor"] - 1):
        resumed = await read_once(http, params={"after": str(cursor)})
        assert resumed == everything[cursor:]


async def test_last_event_id_header_resumes_like_a_reconnecting_browser(
    http: httpx.AsyncClient,
) -> None:
    await place_order(http)
    status = await settle(http)
    everything = await read_once(http)
    epoch = status["epoch"]
    assert {f["epoch"] for f in everything} == {epoch}
    # EventSource reconnects to the same URL and adds Last-Event-ID: the header wins.
    headers = {"last-event-id": f"{epoch}:5"}
    resumed = await read_once(http, params={"after": "0"}, headers=headers)
    assert resumed == everything[5:]
    assert resumed[-1]["id"] == status["cursor"]
    assert await read_once(http, params={"after": f"{epoch}:5"}) == everything[5:]


@pytest.mark.parametrize("stale", ["0123abcd:5", "5000", "junk"])
async def test_a_cursor_from_before_a_restart_starts_over(
    http: httpx.AsyncClient, stale: str
) -> None:
    # Ids start again from 1 in a new server: a cursor of another epoch, or one past the end of
    # the log, comes from the server's earlier life, so everything this one holds is new.
    await place_order(http)
    await settle(http)
    everything = await read_once(http)
    assert await read_once(http, headers={"last-event-id": stale}) == everything
    assert await read_once(http, params={"after": stale}) == everything


async def test_a_stream_waits_for_the_next_record_when_nothing_is_new(
    http: httpx.AsyncClient,
) -> None:
    status = await settle(http)
    waiting = asyncio.create_task(read_once(http, params={"after": str(status["cursor"])}))
    await asyncio.sleep(0.05)
    assert not waiting.done(), "nothing after the cursor yet: the stream waits"
    emitted = (await http.post("/__motia/emit", json={"topic": "api.degraded", "data": {}})).json()
    frames = await asyncio.wait_for(waiting, 5)
    assert [f["data"]["kind"] for f in frames] == ["emit"]
    assert frames[0]["data"]["traceId"] == emitted["traceId"]
    assert frames[0]["data"]["source"] == "external"


# -- status, emit ------------------------------------------------------------------------------


async def test_status_is_busy_while_a_handler_runs_and_idle_after(
    write_steps: WriteSteps,
) -> None:
    with LiveServer(create_app(write_steps(GATED_APP), cron=False)) as live:
        async with httpx.AsyncClient(base_url=live.url, timeout=10) as http:
            idle = (await http.get("/__motia/status")).json()
            assert idle == {"pending": 0, "running": 0, "busy": False, "cursor": 0,
                            "epoch": idle["epoch"]}  # fmt: skip
            await http.post("/__motia/emit", json={"topic": "work", "data": {"n": 1}})
            async with asyncio.timeout(5):
                while (status := (await http.get("/__motia/status")).json())["running"] < 1:
                    await asyncio.sleep(0.01)
            assert status["busy"] and status["pending"] >= 1
            await http.post("/__motia/emit", json={"topic": "open", "data": {}})
            done = await settle(http)
            assert done["running"] == 0 and done["pending"] == 0
            topics = [f["data"].get("topic") for f in await read_once(http)]
            assert "worked" in topics


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'"order.created"', b"{}", b'{"topic": 3}', b'{"topic": ""}'],
)
async def test_emit_rejects_a_body_without_a_topic(http: httpx.AsyncClient, body: bytes) -> None:
    response = await http.post(
        "/__motia/emit", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "topic" in response.json()["error"]
    assert (await http.get("/__motia/status")).json()["cursor"] == 0, "nothing was emitted"


async def test_emit_starts_a_trace_that_the_steps_carry_on(http: httpx.AsyncClient) -> None:
    body = {"topic": "notification.send", "data": {"to": "ada@example.com",
            "template": "hello", "idempotencyKey": "k1"}}  # fmt: skip
    response = await http.post("/__motia/emit", json=body)
    assert response.status_code == 202
    sent = response.json()
    await settle(http)
    frames = [f["data"] for f in await read_once(http)]
    assert {f["traceId"] for f in frames} == {sent["traceId"]}
    assert frames[0]["messageId"] == sent["messageId"] and frames[0]["source"] == "external"
    assert [f["topic"] for f in frames if f["kind"] == "emit"] == [
        "notification.send",
        "notification.sent",
    ]


@pytest.mark.parametrize("trace_id", ["", 7, ["t"], "x" * 201])
async def test_emit_rejects_a_trace_id_that_is_not_a_bounded_string(
    http: httpx.AsyncClient, trace_id: object
) -> None:
    body = {"topic": "work", "data": {"n": 1}, "traceId": trace_id}
    response = await http.post("/__motia/emit", json=body)
    assert response.status_code == 400
    assert "traceId is not a string of 1 to 200 characters" in response.json()["error"]
    assert (await http.get("/__motia/status")).json()["cursor"] == 0, "nothing was emitted"


async def test_emit_on_a_trace_id_the_caller_chose(http: httpx.AsyncClient) -> None:
    body = {"topic": "notification.send", "traceId": "t" * 200, "data": {"to": "ada@example.com",
            "template": "hello", "idempotencyKey": "k2"}}  # fmt: skip
    response = await http.post("/__motia/emit", json=body)
    assert response.status_code == 202 and response.json()["traceId"] == "t" * 200
    await settle(http)
    frames = [f["data"] for f in await read_once(http)]
    assert {f["traceId"] for f in frames} == {"t" * 200}
    assert [f["topic"] for f in frames if f["kind"] == "emit"] == [
        "notification.send",
        "notification.sent",
    ]


# -- flows, state, traces, dead letters --------------------------------------------------------


async def test_state_lists_groups_and_the_items_of_one(http: httpx.AsyncClient) -> None:
    assert (await http.get("/__motia/state")).json() == {"groups": []}
    accepted = await place_order(http)
    await settle(http)
    groups = (await http.get("/__motia/state")).json()["groups"]
    assert {"orders", "payments", "order_status"} <= set(groups)
    orders = (await http.get("/__motia/state/orders")).json()
    assert orders["group"] == "orders"
    assert orders["items"][accepted["orderId"]]["email"] == ORDER["email"]
    status = (await http.get("/__motia/state/order_status")).json()["items"]
    assert status[accepted["orderId"]]["status"] == "shipped"
    assert (await http.get("/__motia/state/nope")).json() == {"group": "nope", "items": {}}


async def test_traces_group_records_by_trace_newest_first(http: httpx.AsyncClient) -> None:
    first = await place_order(http)
    await settle(http)
    second = await place_order(http)
    await settle(http)
    traces = (await http.get("/__motia/traces")).json()
    assert [t["traceId"] for t in traces] == [second["traceId"], first["traceId"]]
    records = traces[0]["records"]
    assert [r["id"] for r in records] == sorted(r["id"] for r in records)
    steps = {r["step"] for r in records if r["kind"] == "run.end"}
    assert {"CreateOrder", "ProcessPayment", "RiskAnalysis", "Fulfillment"} <= steps


async def test_flows_describe_steps_topics_and_edges(http: httpx.AsyncClient) -> None:
    graph = (await http.get("/__motia/flows")).json()
    assert len(graph["steps"]) == 13
    assert "order.priced" in graph["topics"]
    edge = {"from": "RiskAnalysis", "to": "ManualReview", "topic": "order.flagged", "virtual": True}
    assert edge in graph["edges"]


async def test_dead_letters_are_listed_and_redriven(write_steps: WriteSteps) -> None:
    with LiveServer(create_app(write_steps(FLAKY_APP), cron=False)) as live:
        async with httpx.AsyncClient(base_url=live.url, timeout=10) as http:
            sent = (
                await http.post("/__motia/emit", json={"topic": "job", "data": {"n": 7}})
            ).json()
            await settle(http)
            letters = (await http.get("/__motia/dead-letters")).json()
            assert len(letters) == 1
            letter = letters[0]
            assert letter["step"] == "Flaky" and letter["topic"] == "job"
            assert letter["data"] == {"n": 7} and letter["traceId"] == sent["traceId"]
            assert letter["attempt"] == 1
            assert "RuntimeError: first call fails" in letter["error"]
            assert (await http.get("/__motia/dead-letters", params={"step": "Other"})).json() == []

            assert (
                await http.get(f"/__motia/dead-letters/{letter['id']}/redrive")
            ).status_code == 405
            redriven = await http.post(f"/__motia/dead-letters/{letter['id']}/redrive")
            assert redriven.status_code == 202
            assert redriven.json()["step"] == "Flaky"
            await settle(http)
            assert (await http.get("/__motia/dead-letters")).json() == []
            done = [
                f["data"] for f in await read_once(http) if f["data"].get("topic") == "job.done"
            ]
            assert [d["traceId"] for d in done] == [sent["traceId"]], "same trace after redrive"

            missing = await http.post("/__motia/dead-letters/nope/redrive")
            assert missing.status_code == 404
            assert "nope" in missing.json()["error"]


# -- the token gate ----------------------------------------------------------------------------

GUARDED = ["/__motia/status", "/__motia/flows", "/__motia/state", "/__motia/state/orders",
           "/__motia/dead-letters", "/__motia/traces", "/__motia/openapi.json",
           "/__motia/workbench", "/__motia/events"]  # fmt: skip


async def test_without_dev_mode_every_tool_needs_the_token() -> None:
    app = create_app(STEPS, cron=False, dev=False, token="s3cret")
    with LiveServer(app) as live:
        async with httpx.AsyncClient(base_url=live.url, timeout=10) as http:
            for path in GUARDED:
                for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "s3cret"}):
                    response = await http.get(path, headers=headers)
                    assert response.status_code == 401, (path, headers)
                    assert "token" in response.json()["error"]
                assert (await http.get(path, params={"token": "nope"})).status_code == 401
            assert (await http.post("/__motia/emit", json={"topic": "t"})).status_code == 401
            assert (await http.post("/__motia/dead-letters/x/redrive")).status_code == 401

            bearer = {"authorization": "Bearer s3cret"}
            assert (await http.get("/__motia/status", headers=bearer)).status_code == 200
            assert (
                await http.get("/__motia/status", params={"token": "s3cret"})
            ).status_code == 200
            page = await http.get("/__motia/workbench", params={"token": "s3cret"})
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            async with http.stream("GET", "/__motia/events", headers=bearer) as stream:
                assert stream.status_code == 200
            # The app itself is not gated.
            assert (await http.post("/orders", json=ORDER)).status_code == 202


async def test_without_dev_mode_or_token_the_tools_are_off() -> None:
    with LiveServer(create_app(STEPS, cron=False, dev=False)) as live:
        async with httpx.AsyncClient(base_url=live.url, timeout=10) as http:
            for path in GUARDED:
                response = await http.get(path, headers={"authorization": "Bearer anything"})
                assert response.status_code == 404, path
                assert "MOTIA_DEV_TOKEN" in response.json()["error"]
            assert (await http.post("/orders", json=ORDER)).status_code == 202


WILDCARD_APP = {
    "any_step.py": """
        config = {"type": "api", "name": "Any", "path": "/:a/:b", "method": "GET", "emits": []}
        async def handler(req, context):
            return {"status": 200, "body": {"served_by": "Any", **req.path_params}}
    """,
}


@pytest.mark.parametrize("dev", [True, False])
async def test_the_dev_tools_come_first_only_when_they_are_on(
    write_steps: WriteSteps, dev: bool
) -> None:
    # On, no api route may shadow them; off, they only say why, after the api routes, which
    # production requests are then not matched against first.
    app = create_app(write_steps(WILDCARD_APP), cron=False, dev=dev)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/__motia/status")
        assert response.status_code == 200
        assert ("served_by" in response.json()) is not dev
        assert (await http.get("/x/y")).json() == {"served_by": "Any", "a": "x", "b": "y"}
    paths = [getattr(r, "path", None) for r in app.router.routes]
    assert (paths.index("/__motia") < paths.index("/{a}/{b}")) is dev


async def test_the_workbench_page_is_self_contained(http: httpx.AsyncClient) -> None:
    response = await http.get("/__motia/workbench")
    assert response.status_code == 200
    page = response.text
    assert page.startswith("<!doctype html>") and "</html>" in page
    # No network beyond this server: no external script, stylesheet, font or image.
    for needle in ('src="http', "src='http", 'href="http', "@import", "url(http", "cdn"):
        assert needle not in page.lower()
    packaged = Path(__file__).resolve().parents[2] / "motia_rt" / "workbench.html"
    assert page == packaged.read_text(encoding="utf-8")
