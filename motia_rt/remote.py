"""``MotiaTestClient``: the harness methods against a running server, over HTTP and the live stream.

    async with MotiaTestClient("http://127.0.0.1:3000") as client:
        order = (await client.post("/orders", json={...})).json()
        await client.wait_for_topic("fulfillment.shipped", match={"orderId": order["orderId"]})

The server must expose ``/__motia/*`` (``motia-rt dev``, or ``start`` with ``MOTIA_DEV_TOKEN``).
"""

from __future__ import annotations

import asyncio
import json
from types import TracebackType
from typing import Any

import httpx

from .errors import TopicTimeout
from .harness import Match, matches

__all__ = ["MotiaTestClient", "RemoteEvent"]

_STREAM_TIMEOUT = httpx.Timeout(10.0, read=30.0)


class RemoteEvent:
    """An event seen on the server's stream: ``topic``, ``data``, ``trace_id``, ``time``, ``id``."""

    __slots__ = ("data", "id", "source", "time", "topic", "trace_id")

    def __init__(self, record: dict[str, Any]) -> None:
        self.topic: str = record["topic"]
        self.data: Any = record["data"]
        self.trace_id: str = record["traceId"]
        self.time: float = record["time"]
        self.id: str = record["messageId"]
        self.source: str = record["source"]

    def __repr__(self) -> str:
        return f"RemoteEvent({self.topic!r}, {self.data!r}, trace_id={self.trace_id!r})"


class MotiaTestClient:
    """Remote harness. ``token`` is sent as a bearer token for servers not in dev mode.

    Events are collected from the moment the client is entered (and, with ``from_start=True``,
    everything the server still holds), so ``wait_for_topic`` sees events emitted by requests
    made through this client even if they finish before the wait starts.
    """

    def __init__(
        self, base_url: str, token: str | None = None, *, from_start: bool = False,
        timeout: float = 10.0,
    ) -> None:  # fmt: skip
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout)
        self._from_start = from_start
        self._events: list[RemoteEvent] = []
        self._cursor = 0
        self._last_event_id = "0"  # "<epoch>:<n>": resumes the stream, even across a restart
        self._arrived: asyncio.Condition | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> MotiaTestClient:
        self._arrived = asyncio.Condition()
        try:
            status = await self._http.get("/__motia/status")
            _check_access(status)
        except BaseException:
            await self._http.aclose()
            raise
        if not self._from_start:
            now = status.json()
            self._cursor = int(now["cursor"])
            self._last_event_id = f"{now['epoch']}:{self._cursor}"
        ready = asyncio.Event()
        self._reader = asyncio.create_task(self._read(ready))
        await ready.wait()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        await self._http.aclose()

    async def _read(self, ready: asyncio.Event) -> None:
        while True:
            try:
                params = {"after": self._last_event_id}
                # The server writes at least every 15 s: silence for 30 s is a dead connection.
                async with self._http.stream("GET", "/__motia/events", params=params,
                                             timeout=_STREAM_TIMEOUT) as response:  # fmt: skip
                    response.raise_for_status()
                    ready.set()
                    await self._consume(response)
            except (httpx.HTTPError, OSError):
                ready.set()
                await asyncio.sleep(0.2)  # the server restarted or dropped us: catch up

    async def _consume(self, response: httpx.Response) -> None:
        event_id, data = "", ""
        async for line in response.aiter_lines():
            if line.startswith("id:"):
                event_id = line[3:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
            elif not line and data:
                record = json.loads(data)
                # Not max(): after a server restart the ids start again from 1.
                self._cursor, self._last_event_id, data = int(record["id"]), event_id, ""
                if record.get("kind") == "emit":
                    self._events.append(RemoteEvent(record))
                assert self._arrived is not None
                async with self._arrived:  # every record moves the cursor that settle() awaits
                    self._arrived.notify_all()

    # -- the harness surface -------------------------------------------------------------------

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return await self._http.request(method, url, **kwargs)

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    async def emit(
        self, topic: str, data: Any, *, group_id: str | None = None, trace_id: str | None = None
    ) -> dict[str, Any]:
        """Emit into the server on a new trace, or on ``trace_id`` (1 to 200 characters);
        returns ``{"messageId", "traceId"}``. A body the server refuses raises
        ``httpx.HTTPStatusError`` with its reason."""
        body = {"topic": topic, "data": data, "messageGroupId": group_id}
        if trace_id is not None:
            body["traceId"] = trace_id
        response = await self._http.post("/__motia/emit", json=body)
        if response.status_code == 400:
            raise httpx.HTTPStatusError(f"400 from {response.url}: {response.text[:300]}",
                                        request=response.request, response=response)  # fmt: skip
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def emitted(self, topic: str | None = None) -> list[RemoteEvent]:
        return [e for e in self._events if topic is None or e.topic == topic]

    async def wait_for_topic(
        self, topic: str, match: Match = None, timeout: float = 5.0
    ) -> RemoteEvent:
        """As ``Runtime.wait_for_topic``, over the server's live stream."""
        assert self._arrived is not None, "use MotiaTestClient as `async with`"

        def found() -> RemoteEvent | None:
            return next((e for e in self._events
                         if e.topic == topic and matches(match, e.data)), None)  # fmt: skip

        try:
            async with asyncio.timeout(timeout), self._arrived:
                await self._arrived.wait_for(lambda: found() is not None)
        except TimeoutError:
            seen = [(e.topic, e.data) for e in self._events]
            raise TopicTimeout(topic, timeout, match, seen) from None
        event = found()
        assert event is not None
        return event

    async def settle(self, timeout: float = 30.0, poll: float = 0.02) -> None:
        """Wait until the server reports no pending delivery and no running handler, and the
        stream has brought this client every record up to that moment (so ``emitted()`` is
        complete)."""
        assert self._arrived is not None, "use MotiaTestClient as `async with`"
        async with asyncio.timeout(timeout):
            while True:
                status = (await self._http.get("/__motia/status")).json()
                if not status["busy"]:
                    await self._catch_up(int(status["cursor"]))
                    return
                await asyncio.sleep(poll)

    async def _catch_up(self, cursor: int) -> None:
        assert self._arrived is not None
        async with self._arrived:
            await self._arrived.wait_for(lambda: self._cursor >= cursor)

    async def dead_letters(self, step: str | None = None) -> list[dict[str, Any]]:
        params = {"step": step} if step else {}
        result: list[dict[str, Any]] = (await self._http.get("/__motia/dead-letters",
                                                             params=params)).json()  # fmt: skip
        return result


def _check_access(status: httpx.Response) -> None:
    """Fail at once with the reason, rather than let the reader retry a stream it cannot get."""
    if status.status_code in (401, 404):
        hint = (
            "pass token=... (the server's MOTIA_DEV_TOKEN)"
            if status.status_code == 401
            else "run `motia-rt dev`, or start the server with MOTIA_DEV_TOKEN and pass token=..."
        )
        raise httpx.HTTPStatusError(
            f"{status.status_code} from {status.url}: {status.text[:200]}; {hint}",
            request=status.request, response=status,
        )  # fmt: skip
    status.raise_for_status()
