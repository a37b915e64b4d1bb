"""Hostile input over the whole HTTP surface, api routes and dev endpoints: every response is a
JSON error below 500 or a success, and the server is never left busy.

The catalogue holds every input once reported to give a plain-text 500 or to wedge the server
(JSON nested 999 deep, NaN, data nested 5,000 deep, a 5,000-digit ``Last-Event-ID``, a
non-string ``messageGroupId`` on a FIFO topic, duplicate keys, ``true`` and ``"1"`` for an
integer); Hypothesis mixes them with generated JSON, bytes, headers and path segments.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from motia_rt.server import create_app
from motia_rt.state.memory import MemoryStateStore
from tests.rt.conftest import WriteSteps

ASGIApp = Callable[..., Coroutine[Any, Any, None]]
BODY_LIMIT = 16 * 1024

APP = {
    "models.py": """
        from pydantic import BaseModel

        class Item(BaseModel):
            sku: str
            quantity: int
    """,
    "items_step.py": """
        from .models import Item
        config = {"type": "api", "name": "CreateItem", "path": "/items", "method": "POST",
                  "bodySchema": Item, "emits": []}
        async def handler(req, context):
            return {"status": 201, "body": req.body}
    """,
    "lax_items_step.py": """
        from .models import Item
        config = {"type": "api", "name": "CreateLaxItem", "path": "/lax-items", "method": "POST",
                  "bodySchema": Item, "validation": "lax", "emits": []}
        async def handler(req, context):
            return {"status": 201, "body": req.body}
    """,
    "json_items_step.py": """
        config = {"type": "api", "name": "CreateJsonItem", "path": "/json-items",
                  "method": "POST", "emits": [],
                  "bodySchema": {"type": "object", "required": ["quantity"],
                                 "properties": {"quantity": {"type": "integer"}}}}
        async def handler(req, context):
            return {"status": 201, "body": req.body}
    """,
    "raw_step.py": """
        config = {"type": "api", "name": "Raw", "path": "/raw", "method": "POST",
                  "emits": ["work"]}
        async def handler(req, context):
            await context.state.set("raw", "last", req.body)
            return {"status": 200, "body": {"body": req.body}}
    """,
    "get_item_step.py": """
        config = {"type": "api", "name": "GetItem", "path": "/items/:id", "method": "GET",
                  "emits": []}
        async def handler(req, context):
            return {"status": 200, "body": {"id": req.path_params["id"],
                                             "query": req.query_params}}
    """,
    "work_step.py": """
        config = {"type": "event", "name": "Work", "subscribes": ["work"], "emits": [],
                  "infrastructure": {"queue": {"type": "fifo", "maxRetries": 0}}}
        async def handler(input, context):
            await context.state.set("work", "last", input)
    """,
}


def nested(depth: int, leaf: bytes = b"1") -> bytes:
    return b"[" * depth + leaf + b"]" * depth


# JSON-ish text that once broke something, or sits on a boundary.
HOSTILE_JSON = [
    b"", b" ", b"null", b"{", b"}", b"[1,]", b"nul", b"\xff\xfe\x00", b"\xed\xa0\x80",
    nested(999), nested(201), nested(199), nested(5000),
    b"NaN", b"-Infinity", b"[NaN]", b"1e999", b"-1e999", b"[1E+400]", b"1" * 5000,
    b'"\\ud800"', b'{"\\udc00": 1}', b'{"a": 1, "a": 2}', b'[{"b": 1, "c": {"b": 2, "b": 3}}]',
    b'{"sku": "a", "quantity": true}', b'{"sku": "a", "quantity": "1"}',
    b'{"sku": "a", "quantity": 1.5}', b'{"sku": "a", "quantity": 1, "sku": "b"}',
    b'{"quantity": 1}', b'{"sku": 1, "quantity": 1}', b'"\\u0000"', b"x" * (BODY_LIMIT + 1),
    json.dumps({"sku": "\x00" * 10, "quantity": 10**30}).encode(),
    json.dumps("\U0001f600" * 100).encode("utf-16"),
]  # fmt: skip
GROUP_IDS = [b"5", b"0", b"true", b'""', b"[]", b'{"g": 1}', b"null", b'"g1"', b'"g2"', b"1e999"]
CONTENT_TYPES = [None, "application/json", "text/plain", "application/json; charset=utf-16",
                 "application/problem+json", "multipart/form-data; boundary=x", "json",
                 "application/x-www-form-urlencoded", "text/plain; charset=utf-16",
                 "text/plain; charset=unicode_escape", "text/csv; charset=nope"]  # fmt: skip
CURSORS = ["9" * 5000, "-1", "abc", ":", "0123abcd:", "deadbeef:1", "1:2:3", "9" * 19, "\u00e9"]

_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)  # fmt: skip
BODIES = st.one_of(
    st.sampled_from(HOSTILE_JSON),
    _JSON_VALUES.map(lambda v: json.dumps(v, allow_nan=True).encode()),
    st.binary(max_size=40),
)
SEGMENTS = st.one_of(
    st.text(st.characters(exclude_characters="/?#", codec="utf-8"), min_size=1, max_size=20),
    st.sampled_from(["x" * 5000, "..", "%2F", "\u0000", "nope", "raw", "work"]),
)
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=30)


@st.composite
def hostile_requests(draw: st.DrawFn) -> tuple[str, str, str, dict[str, str], bytes]:
    """(method, path, query, headers, body) for any endpoint of the app."""
    segment = draw(SEGMENTS)
    method, path = draw(st.sampled_from([
        ("POST", "/items"), ("POST", "/lax-items"), ("POST", "/json-items"), ("POST", "/raw"),
        ("GET", f"/items/{segment}"), ("POST", "/__motia/emit"), ("GET", "/__motia/status"),
        ("GET", f"/__motia/state/{segment}"), ("GET", "/__motia/state"),
        ("GET", "/__motia/events"), ("POST", f"/__motia/dead-letters/{segment}/redrive"),
        ("GET", "/__motia/dead-letters"), ("GET", "/__motia/traces"), ("GET", "/__motia/flows"),
        ("PUT", "/items"), ("DELETE", "/__motia/status"), ("GET", f"/{segment}"),
    ]))  # fmt: skip
    body = draw(BODIES)
    if path == "/__motia/emit" and draw(st.booleans()):
        topic = draw(st.sampled_from([b'"work"', b'"nobody.listens"', b"3", b'""', b"null"]))
        group = draw(st.sampled_from(GROUP_IDS))
        body = b'{"topic": ' + topic + b', "data": ' + body + b', "messageGroupId": ' + group + b"}"
    headers: dict[str, str] = {}
    content_type = draw(st.sampled_from(CONTENT_TYPES))
    if content_type is not None:
        headers["content-type"] = content_type
    if draw(st.booleans()):
        headers["last-event-id"] = draw(st.sampled_from(CURSORS) | HEADER_TEXT)
    query = draw(st.sampled_from(["", "once=1", "after=" + "9" * 5000, "step=x&step=y", "a=%ff"]))
    if draw(st.integers(0, 9)) == 0:
        headers["origin"] = draw(st.sampled_from(["null", "http://evil.example"]))
    return method, path, query, headers, body


async def call(
    app: ASGIApp, method: str, path: str, query: str, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, str], bytes]:
    """One request straight into the ASGI app, as uvicorn on 127.0.0.1:3000 would send it. An
    event stream is read up to its response start and first chunk, then dropped."""
    raw_headers = [(b"host", b"127.0.0.1:3000"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode("utf-8", "surrogatepass"),
        "query_string": query.encode("latin-1"), "root_path": "", "headers": raw_headers,
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 3000),
    }  # fmt: skip
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    disconnected = asyncio.Event()
    start: dict[str, Any] = {}
    chunks: list[bytes] = []
    first_chunk = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            first_chunk.set()

    task = asyncio.create_task(app(scope, receive, send))
    waiter = asyncio.create_task(first_chunk.wait())
    async with asyncio.timeout(10):
        await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
        reply = {k.decode(): v.decode("latin-1") for k, v in start.get("headers", [])}
        if not task.done() and reply.get("content-type", "").startswith("text/event-stream"):
            disconnected.set()  # the client goes away, as a browser tab closing
        await task
    waiter.cancel()
    return start["status"], reply, b"".join(chunks)


def assert_answered_well(status: int, headers: dict[str, str], body: bytes, what: str) -> None:
    assert status < 500, (what, status, body[:300])
    assert b"Traceback" not in body, what
    if status >= 400:
        assert headers.get("content-type", "").startswith("application/json"), (what, headers)
        error = json.loads(body)
        assert isinstance(error, dict) and isinstance(error.get("error"), str), what


def test_every_hostile_request_gets_a_json_answer_below_500(write_steps: WriteSteps) -> None:
    app = create_app(write_steps(APP), cron=False, dev=True, body_limit=BODY_LIMIT)
    engine = app.state.engine
    with asyncio.Runner() as runner:
        runner.run(engine.start())
        try:

            @settings(max_examples=400, deadline=None,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
            @given(request=hostile_requests())
            def check(request: tuple[str, str, str, dict[str, str], bytes]) -> None:
                method, path, query, headers, body = request
                what = f"{method} {path}?{query[:40]} {headers} {body[:80]!r}"
                status, reply, content = runner.run(call(app, *request))
                assert_answered_well(status, reply, content, what)

                async def idle() -> None:
                    async with asyncio.timeout(10):  # not busy forever, whatever was emitted
                        await engine.settle()

                runner.run(idle())

            check()
        finally:
            runner.run(engine.close())


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/items", b'{"sku": "a", "quantity": true}', 400),
        ("/items", b'{"sku": "a", "quantity": "1"}', 400),
        ("/items", b'{"sku": "a", "quantity": 1.0}', 400),
        ("/items", b'{"sku": "a", "quantity": 1}', 201),
        ("/lax-items", b'{"sku": "a", "quantity": "1"}', 201),
        ("/lax-items", b'{"sku": "a", "quantity": true}', 201),
        ("/json-items", b'{"quantity": true}', 400),
        ("/json-items", b'{"quantity": "1"}', 400),
        ("/json-items", b'{"quantity": 1}', 201),
        ("/items", b'{"sku": "a", "quantity": 1, "quantity": 2}', 400),
        ("/lax-items", b'{"sku": "a", "sku": "b", "quantity": 1}', 400),
        ("/json-items", b'{"quantity": 1, "quantity": 2}', 400),
        ("/raw", b'{"a": {"b": 1, "b": 1}}', 400),
        ("/raw", nested(999), 400),
        ("/items", nested(999), 400),
        ("/raw", nested(200), 200),
        ("/raw", nested(201), 400),
    ],
)
async def test_strict_bodies_duplicate_keys_and_depth(
    write_steps: WriteSteps, path: str, body: bytes, status: int
) -> None:
    app = create_app(write_steps(APP), cron=False, dev=True)
    result = await call(app, "POST", path, "", {"content-type": "application/json"}, body)
    assert result[0] == status, result
    assert_answered_well(*result, what=path)
    if status == 201:
        assert json.loads(result[2])["quantity"] == 1, "lax mode converts, strict never does"
    if status == 400 and b'"quantity": 1' in body and b'quantity": 2' in body:
        assert b"appears twice" in result[2]


async def test_strict_mode_still_reads_dates_and_uuids_from_json_strings(
    write_steps: WriteSteps,
) -> None:
    app = create_app(write_steps({
        "when_step.py": """
            import datetime, uuid
            from pydantic import BaseModel
            class When(BaseModel):
                at: datetime.datetime
                id: uuid.UUID
            config = {"type": "api", "name": "When", "path": "/when", "method": "POST",
                      "bodySchema": When, "emits": []}
            async def handler(req, context):
                return {"status": 200, "body": {"year": req.body.at.year, "v": req.body.id.version}}
        """,
    }), cron=False)  # fmt: skip
    body = b'{"at": "2026-12-06T05:00:00Z", "id": "a8098c1a-f86e-41da-bd5e-ab1e2c3d4e5f"}'
    status, _, content = await call(
        app, "POST", "/when", "", {"content-type": "application/json"}, body
    )
    assert status == 200, content
    assert json.loads(content) == {"year": 2026, "v": 4}


class _CorruptStore(MemoryStateStore):
    """A store that hands back what a Redis hash with ``NaN`` or a broken value would decode to."""

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value

    async def items(self, group: str) -> dict[str, Any]:
        if group == "broken":
            if isinstance(self.value, Exception):
                raise self.value
            return {"k": self.value}
        return await super().items(group)


@pytest.mark.parametrize(
    "value", [float("nan"), ValueError("Expecting value: line 1 column 1"), {"x": object()}]
)
async def test_a_stored_value_that_is_not_json_is_a_json_error(
    write_steps: WriteSteps, value: Any
) -> None:
    app = create_app(write_steps(APP), cron=False, state=_CorruptStore(value))
    status, headers, content = await call(app, "GET", "/__motia/state/broken", "", {}, b"")
    assert_answered_well(status, headers, content, "state")
    assert status == 422 and b"broken" in content
    assert (await call(app, "GET", "/__motia/state/fine", "", {}, b""))[0] == 200


async def test_a_non_string_group_id_is_400_and_the_fifo_topic_keeps_flowing(
    write_steps: WriteSteps,
) -> None:
    app = create_app(write_steps(APP), cron=False)
    engine = app.state.engine
    await engine.start()
    try:
        json_type = {"content-type": "application/json"}
        for group in (b"5", b"[]", b'{"a": 1}', b"true", b'""'):
            body = b'{"topic": "work", "data": 1, "messageGroupId": ' + group + b"}"
            result = await call(app, "POST", "/__motia/emit", "", json_type, body)
            assert result[0] == 400 and b"messageGroupId" in result[2], result
        good = b'{"topic": "work", "data": 2, "messageGroupId": "g"}'
        assert (await call(app, "POST", "/__motia/emit", "", json_type, good))[0] == 202
        async with asyncio.timeout(10):
            await engine.settle()
        status = json.loads((await call(app, "GET", "/__motia/status", "", {}, b""))[2])
        assert status["busy"] is False
        assert await engine.state.get("work", "last") == 2
    finally:
        await engine.close()
