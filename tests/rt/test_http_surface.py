"""The HTTP surface Motia steps rely on: middleware writing to the request, ``rawBody``, form and
text bodies, text and binary responses sent as they are, ``{}`` as the body of a bodiless request."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from motia_rt.testing import Runtime
from tests.rt.conftest import WriteSteps

SECRET = b"whsec-test"

SURFACE_APP = {
    "enriched_step.py": """
        async def enrich(req, context, next):
            req["enriched"] = {"user": "ada"}
            req["body"] = {**req["body"], "seen": True}
            return await next()

        config = {"type": "api", "name": "Enriched", "path": "/enriched", "method": "POST",
                  "middleware": [enrich]}

        async def handler(req, context):
            return {"status": 200, "body": {
                "enriched": req["enriched"], "get": req.get("enriched"),
                "has": "enriched" in req, "missing": req.get("nothing", "default"),
                "body": req.body}}
    """,
    "webhook_step.py": """
        import hashlib, hmac

        config = {"type": "api", "name": "Webhook", "path": "/webhook", "method": "POST"}

        async def handler(req, context):
            expected = hmac.new(b"whsec-test", req["rawBody"], hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, req.headers.get("x-signature", "")):
                return {"status": 401, "body": {"error": "bad signature"}}
            return {"status": 200, "body": {"raw": req.raw_body.decode(), "body": req.body}}
    """,
    "echo_step.py": """
        config = {"type": "api", "name": "Echo", "path": "/echo", "method": "POST"}

        async def handler(req, context):
            return {"status": 200, "body": {"type": type(req.body).__name__, "body": req.body}}
    """,
    "get_step.py": """
        config = {"type": "api", "name": "Look", "path": "/look", "method": "GET"}

        async def handler(req, context):
            return {"status": 200, "body": {"body": req["body"], "get": req.get("body"),
                                             "attr": req.body, "raw": req.raw_body.decode()}}
    """,
    "page_step.py": """
        config = {"type": "api", "name": "Page", "path": "/page/:kind", "method": "GET"}

        PNG = bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 255])

        async def handler(req, context):
            kind = req.path_params["kind"]
            if kind == "html":
                return {"status": 200, "body": "<h1>caf\u00e9</h1>",
                        "headers": {"content-type": "text/html; charset=utf-8"}}
            if kind == "text":
                return {"status": 200, "body": "plain \u00e9"}
            if kind == "png":
                return {"status": 200, "body": PNG, "headers": {"content-type": "image/png"}}
            if kind == "bytes":
                return {"status": 200, "body": bytearray(PNG)}
            if kind == "surrogate":
                return {"status": 200, "body": "\\ud800"}
            return {"status": 200, "body": "{\\"already\\": \\"json\\"}",
                    "headers": {"content-type": "application/json"}}
    """,
}


@pytest.fixture
async def rt(write_steps: WriteSteps) -> AsyncIterator[Runtime]:
    async with Runtime(write_steps(SURFACE_APP)) as runtime:
        yield runtime


async def test_middleware_writes_to_the_request(rt: Runtime) -> None:
    r = await rt.post("/enriched", json={"a": 1})
    assert r.status_code == 200, r.text
    assert r.json() == {"enriched": {"user": "ada"}, "get": {"user": "ada"}, "has": True,
                        "missing": "default", "body": {"a": 1, "seen": True}}  # fmt: skip


def signed(raw: bytes) -> dict[str, str]:
    return {"content-type": "application/json",
            "x-signature": hmac.new(SECRET, raw, hashlib.sha256).hexdigest()}  # fmt: skip


async def test_raw_body_is_the_bytes_sent_so_a_signature_checks(rt: Runtime) -> None:
    raw = b'{ "b": 2,\n  "a": [1, 2.50, "\\u00e9"] }'  # spacing, order, escapes: not re-encoded
    r = await rt.post("/webhook", content=raw, headers=signed(raw))
    assert r.status_code == 200, r.text
    assert r.json() == {"raw": raw.decode(), "body": {"b": 2, "a": [1, 2.5, "\u00e9"]}}
    tampered = await rt.post("/webhook", content=raw.replace(b"2", b"3"), headers=signed(raw))
    assert tampered.status_code == 401


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=10,
    ),
    indent=st.none() | st.integers(0, 3),
    ascii_only=st.booleans(),
)
async def test_raw_body_equals_what_was_sent_however_it_is_formatted(
    rt: Runtime, value: Any, indent: int | None, ascii_only: bool
) -> None:
    raw = json.dumps(value, indent=indent, ensure_ascii=ascii_only).encode()
    r = await rt.post("/webhook", content=raw, headers=signed(raw))
    assert r.status_code == 200, r.text
    assert r.json()["raw"] == raw.decode()


async def test_a_bodiless_get_has_an_empty_dict_as_its_body(rt: Runtime) -> None:
    r = await rt.get("/look")
    assert r.status_code == 200, r.text
    assert r.json() == {"body": {}, "get": {}, "attr": {}, "raw": ""}


async def test_a_bodiless_post_without_a_schema_has_an_empty_dict_too(rt: Runtime) -> None:
    r = await rt.post("/echo")
    assert r.json() == {"type": "dict", "body": {}}


async def test_a_form_body_arrives_as_a_dict_shaped_like_query_parameters(rt: Runtime) -> None:
    r = await rt.post("/echo", content=b"name=caf%C3%A9&tag=a&tag=b&empty=&plus=a+b",
                      headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json() == {"type": "dict", "body": {"name": "caf\u00e9", "tag": ["a", "b"],
                                                  "empty": "", "plus": "a b"}}  # fmt: skip


@pytest.mark.parametrize(
    ("content_type", "raw", "text"),
    [
        ("text/plain", "hello caf\u00e9".encode(), "hello caf\u00e9"),
        ("text/plain; charset=ISO-8859-1", "caf\u00e9".encode("latin-1"), "caf\u00e9"),
        ("text/csv", b"a,b\n1,2\n", "a,b\n1,2\n"),
        ("text/plain", b'{"looks": "like json"}', '{"looks": "like json"}'),
    ],
)
async def test_a_text_body_arrives_as_a_string(
    rt: Runtime, content_type: str, raw: bytes, text: str
) -> None:
    r = await rt.post("/echo", content=raw, headers={"content-type": content_type})
    assert r.status_code == 200, r.text
    assert r.json() == {"type": "str", "body": text}


@pytest.mark.parametrize(
    ("content_type", "raw"),
    [
        ("application/x-www-form-urlencoded", b"a=%FF"),
        ("application/x-www-form-urlencoded", b"a=\xc3\xa9"),
        ("text/plain", b"\xff\xfe not utf-8"),
    ],
)
async def test_an_undecodable_form_or_text_body_is_a_json_400(
    rt: Runtime, content_type: str, raw: bytes
) -> None:
    r = await rt.post("/echo", content=raw, headers={"content-type": content_type})
    assert r.status_code == 400
    assert r.json()["error"].startswith("malformed body: ")


@pytest.mark.parametrize(
    ("kind", "content", "content_type"),
    [
        ("html", "<h1>caf\u00e9</h1>".encode(), "text/html; charset=utf-8"),
        ("text", "plain \u00e9".encode(), "text/plain; charset=utf-8"),
        ("png", bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 255]), "image/png"),
        ("bytes", bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 255]),
         "application/octet-stream"),
        ("json", b'{"already": "json"}', "application/json"),
    ],
)  # fmt: skip
async def test_text_and_bytes_responses_are_sent_as_they_are(
    rt: Runtime, kind: str, content: bytes, content_type: str
) -> None:
    r = await rt.get(f"/page/{kind}")
    assert r.status_code == 200, r.text
    assert r.content == content
    assert r.headers["content-type"] == content_type
    assert r.headers["content-length"] == str(len(content))


async def test_a_response_string_that_is_not_unicode_is_a_500(rt: Runtime) -> None:
    r = await rt.get("/page/surrogate")
    assert r.status_code == 500
    assert "not valid Unicode" in r.json()["error"]
