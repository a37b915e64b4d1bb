"""``MotiaTestClient`` against a real uvicorn serving the reference app: the Motia article's
integration test in Python, and every harness method over HTTP and the live stream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from motia_rt.server import create_app
from motia_rt.testing import MotiaTestClient, RemoteEvent, TopicTimeout
from tests.app.conftest import STEPS
from tests.live_server import CliServer, LiveServer

ORDER = {"email": "ada@example.com", "items": [{"sku": "sku-book", "quantity": 2}]}
SAGA = ["order.created", "inventory.reserved", "order.priced", "payment.succeeded",
        "risk.assessed", "fulfillment.shipped", "notification.send", "notification.sent"]  # fmt: skip


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    # One server for the module: each test filters by its own order id or trace.
    with LiveServer(create_app(STEPS, cron=False)) as live:
        yield live


async def test_the_articles_integration_test(server: LiveServer) -> None:
    async with MotiaTestClient(server.url) as client:
        response = await client.post("/orders", json=ORDER)
        assert response.status_code == 202
        order_id = response.json()["orderId"]

        paid = await client.wait_for_topic("payment.succeeded", match={"orderId": order_id})
        assert isinstance(paid, RemoteEvent)
        assert paid.data["amount"] == 25.0 and paid.source == "ProcessPayment"
        shipped = await client.wait_for_topic("fulfillment.shipped", match={"orderId": order_id})
        assert shipped.data["chargeId"] == paid.data["chargeId"]
        assert shipped.trace_id == paid.trace_id == response.json()["traceId"]

        await client.settle()
        view = (await client.get(f"/orders/{order_id}")).json()
        assert view["status"] == "shipped"
        mine = [e for e in client.emitted() if e.trace_id == shipped.trace_id]
        assert sorted(e.topic for e in mine) == sorted(SAGA), "settle() waits for the stream too"
        assert [e.data["orderId"] for e in client.emitted("payment.succeeded")] == [order_id]


async def test_wait_for_topic_with_a_predicate_and_an_event_already_seen(
    server: LiveServer,
) -> None:
    async with MotiaTestClient(server.url) as client:
        order_id = (await client.post("/orders", json=ORDER)).json()["orderId"]
        await client.settle()
        # Already emitted before the wait starts: found at once.
        event = await client.wait_for_topic(
            "risk.assessed", match=lambda d: d["orderId"] == order_id and d["score"] < 0.5
        )
        assert event.data["decision"] == "approve"


async def test_emit_starts_a_trace_that_the_client_sees(server: LiveServer) -> None:
    async with MotiaTestClient(server.url) as client:
        data = {"to": "bob@example.com", "template": "hello", "idempotencyKey": "remote-1"}
        sent = await client.emit("notification.send", data)
        assert set(sent) == {"messageId", "traceId"}
        done = await client.wait_for_topic(
            "notification.sent", match={"idempotencyKey": "remote-1"}
        )
        assert done.trace_id == sent["traceId"]
        assert client.emitted("notification.send")[0].source == "external"


async def test_emit_on_a_trace_id_the_test_chose(server: LiveServer) -> None:
    async with MotiaTestClient(server.url) as client:
        data = {"to": "eve@example.com", "template": "hello", "idempotencyKey": "remote-trace"}
        sent = await client.emit("notification.send", data, trace_id="remote-trace-1")
        assert sent["traceId"] == "remote-trace-1"
        done = await client.wait_for_topic(
            "notification.sent", match={"idempotencyKey": "remote-trace"}
        )
        assert done.trace_id == "remote-trace-1"
        with pytest.raises(httpx.HTTPStatusError, match="traceId is not a string of 1 to 200"):
            await client.emit("notification.send", data, trace_id="")


async def test_topic_timeout_lists_what_was_emitted(server: LiveServer) -> None:
    async with MotiaTestClient(server.url) as client:
        order_id = (await client.post("/orders", json=ORDER)).json()["orderId"]
        await client.settle()
        with pytest.raises(TopicTimeout) as caught:
            await client.wait_for_topic("payment.failed", match={"orderId": order_id}, timeout=0.2)
        message = str(caught.value)
        assert "'payment.failed'" in message
        assert "emitted so far" in message
        assert "payment.succeeded" in message and "fulfillment.shipped" in message
        assert ("payment.succeeded", client.emitted("payment.succeeded")[0].data) in (
            caught.value.emitted
        )


async def test_dead_letters_of_an_invalid_event(server: LiveServer) -> None:
    async with MotiaTestClient(server.url) as client:
        sent = await client.emit("order.priced", {"orderId": "not-an-order"})
        await client.settle()
        letters = [d for d in await client.dead_letters() if d["traceId"] == sent["traceId"]]
        assert sorted(d["step"] for d in letters) == ["ProcessPayment", "RiskAnalysis"]
        assert all("failed validation" in d["error"] for d in letters)
        only = await client.dead_letters("ProcessPayment")
        assert {d["step"] for d in only} == {"ProcessPayment"}


async def test_from_start_sees_what_happened_before_the_client(server: LiveServer) -> None:
    async with MotiaTestClient(server.url) as first:
        sent = await first.emit("api.degraded", {"latencyMs": 1.0, "reason": "before"})
        await first.settle()
    async with MotiaTestClient(server.url) as late:
        assert late.emitted() == [], "a client sees what happens after it enters"
    async with MotiaTestClient(server.url, from_start=True) as replay:
        await replay.settle()
        event = await replay.wait_for_topic("api.degraded", match={"reason": "before"}, timeout=1)
        assert event.trace_id == sent["traceId"]


async def test_a_server_outside_dev_mode_needs_the_token() -> None:
    with LiveServer(create_app(STEPS, cron=False, dev=False, token="s3cret")) as live:
        async with MotiaTestClient(live.url, token="s3cret") as client:
            order_id = (await client.post("/orders", json=ORDER)).json()["orderId"]
            await client.wait_for_topic("fulfillment.shipped", match={"orderId": order_id})
        for token in (None, "wrong"):
            with pytest.raises(httpx.HTTPStatusError, match=r"401 .* pass token=") as caught:
                async with MotiaTestClient(live.url, token=token):
                    pass
            assert caught.value.response.status_code == 401
    with LiveServer(create_app(STEPS, cron=False, dev=False)) as live:
        with pytest.raises(httpx.HTTPStatusError, match=r"404 .* MOTIA_DEV_TOKEN"):
            async with MotiaTestClient(live.url, token="anything"):
                pass


async def test_the_client_follows_a_server_that_restarts(tmp_path: Path) -> None:
    args = ["dev", "--steps", str(STEPS), "--no-cron", "--no-reload"]
    with CliServer(args, tmp_path / "first.log") as first:
        async with MotiaTestClient(first.url) as client:
            before = (await client.post("/orders", json=ORDER)).json()["orderId"]
            await client.wait_for_topic("fulfillment.shipped", match={"orderId": before})
            await client.settle()
            first.kill()
            # Same port, a new process: the server's record ids start again from 1.
            with CliServer(args, tmp_path / "second.log", port=first.port):
                after = (await client.post("/orders", json=ORDER)).json()["orderId"]
                await client.wait_for_topic("fulfillment.shipped", match={"orderId": after})
                await client.settle()
            shipped = [e.data["orderId"] for e in client.emitted("fulfillment.shipped")]
            assert shipped == [before, after]
