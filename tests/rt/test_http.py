"""The HTTP layer through ``Runtime``: routing, request shape, JSON errors, middleware."""

from __future__ import annotations

import asyncio
import json
import string
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from textwrap import dedent
from typing import Any

import httpx
import jsonschema
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from motia_rt.testing import Runtime

WriteSteps = Callable[..., Path]

ECHO_REQUEST = """
    async def handler(req, context):
        return {"status": 200, "body": {
            "pathParams": req["pathParams"], "path_params": req.path_params,
            "queryParams": req.get("queryParams"), "query_params": req.query_params,
            "headers": req.headers, "method": req.method, "path": req.path,
        }}
"""

ROUTING_APP = {
    "order_step.py": dedent("""
        config = {"type": "api", "name": "GetOrder", "path": "/orders/:orderId", "method": "GET"}
    """)
    + dedent(ECHO_REQUEST),
    "user_order_step.py": dedent("""
        config = {"type": "api", "name": "GetUserOrder",
                  "path": "/users/{userId}/orders/:orderId", "method": "GET"}
    """)
    + dedent(ECHO_REQUEST),
    "traced_step.py": """
        config = {"type": "api", "name": "Traced", "path": "/traced", "method": "POST"}

        async def handler(req, context):
            assert req.trace_id == context.trace_id
            return {"status": 202, "body": {"traceId": context.trace_id},
                    "headers": {"x-custom": "yes", "cache-control": "no-store"}}
    """,
}


def assert_json_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is ``status`` with a JSON body holding "error", and no traceback."""
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]
    return body


async def test_colon_and_brace_path_params_reach_the_handler(write_steps: WriteSteps) -> None:
    async with Runtime(write_steps(ROUTING_APP)) as rt:
        r = await rt.get("/orders/o-42")
        assert r.status_code == 200, r.text
        assert r.json()["pathParams"] == r.json()["path_params"] == {"orderId": "o-42"}
        r = await rt.get("/users/u1/orders/o2")
        assert r.status_code == 200, r.text
        assert r.json()["pathParams"] == {"userId": "u1", "orderId": "o2"}
        assert r.json()["path"] == "/users/u1/orders/o2"
        assert r.json()["method"] == "GET"


async def test_query_params_single_is_str_repeated_is_list(write_steps: WriteSteps) -> None:
    async with Runtime(write_steps(ROUTING_APP)) as rt:
        r = await rt.get("/orders/1?tag=a&tag=b&q=x&empty=")
        body = r.json()
        assert (
            body["queryParams"]
            == body["query_params"]
            == {
                "tag": ["a", "b"],
                "q": "x",
                "empty": "",
            }
        )
        r = await rt.get("/orders/1")
        assert r.json()["queryParams"] == {}


async def test_request_headers_are_lowercased(write_steps: WriteSteps) -> None:
    async with Runtime(write_steps(ROUTING_APP)) as rt:
        r = await rt.get("/orders/1", headers={"X-Custom-Header": "Value", "AUTHORIZATION": "t"})
        headers = r.json()["headers"]
        assert headers["x-custom-header"] == "Value"
        assert headers["authorization"] == "t"
        assert all(key == key.lower() for key in headers)


async def test_handler_status_body_headers_and_trace_id_are_honoured(
    write_steps: WriteSteps,
) -> None:
    async with Runtime(write_steps(ROUTING_APP)) as rt:
        r = await rt.post("/traced")
        assert r.status_code == 202, r.text
        assert r.headers["x-custom"] == "yes"
        assert r.headers["cache-control"] == "no-store"
        trace_id = r.json()["traceId"]
        assert trace_id and r.headers["x-trace-id"] == trace_id
        (run,) = rt.runs("Traced")
        assert (run.trace_id, run.outcome, run.kind) == (trace_id, "ok", "api")
        other = await rt.post("/traced")
        assert other.headers["x-trace-id"] != trace_id


HEADERS_APP = {
    "headers_step.py": """
        import json
        config = {"type": "api", "name": "Headers", "path": "/headers", "method": "POST"}

        async def handler(req, context):
            # The body says which headers to answer with: {"pairs": [[name, value], ...]} or
            # {"raw": <anything>} for a headers value that is not a dict.
            body = req.body
            headers = dict(body["pairs"]) if "pairs" in body else body["raw"]
            return {"status": 200, "body": {"ok": True}, "headers": headers}
    """,
}


@pytest.mark.parametrize(
    "body, complaint",
    [
        ({"pairs": [["x-split", "a\r\nset-cookie: stolen=1"]]}, "line break"),
        ({"pairs": [["x-split", "a\nb"]]}, "line break"),
        ({"pairs": [["x-nul", "a\u0000b"]]}, "NUL"),
        ({"pairs": [["x-arrow", "\u2192"]]}, "Latin-1"),
        ({"pairs": [["bad name", "v"]]}, "header name"),
        ({"pairs": [["x-colon:", "v"]]}, "header name"),
        ({"raw": [["x-list", "v"]]}, "not a dict"),
    ],
)
async def test_a_header_that_cannot_be_sent_is_a_json_500(
    write_steps: WriteSteps, body: dict[str, object], complaint: str
) -> None:
    async with Runtime(write_steps(HEADERS_APP)) as rt:
        r = await rt.post("/headers", json=body)
        assert r.status_code == 500, r.text
        assert complaint in r.json()["error"]
        assert r.json()["traceId"] == r.headers["x-trace-id"]
        assert "set-cookie" not in r.headers


_HEADER_NAME = st.from_regex(r"\A[a-z0-9][a-z0-9!#$%&'*+.^_`|~-]{0,20}\Z").filter(
    lambda n: n not in ("content-length", "content-type", "x-trace-id", "transfer-encoding")
)
# Latin-1 text without controls; the ends stripped, as an HTTP client strips them.
_HEADER_VALUE = st.text(
    st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"), max_size=40
).map(str.strip)


def test_any_sendable_header_is_sent_as_given(write_steps: WriteSteps) -> None:
    runtime = Runtime(write_steps(HEADERS_APP))
    with asyncio.Runner() as runner:
        rt = runner.run(runtime.__aenter__())
        try:

            @settings(max_examples=60, deadline=None)
            @given(pairs=st.dictionaries(_HEADER_NAME, _HEADER_VALUE, max_size=4))
            def check(pairs: dict[str, str]) -> None:
                r = runner.run(rt.post("/headers", json={"pairs": list(pairs.items())}))
                assert r.status_code == 200, r.text
                sent = dict(r.headers.raw)  # bytes: httpx would decode values as UTF-8 first
                for name, value in pairs.items():
                    assert sent[name.encode()] == value.encode("latin-1")

            check()
        finally:
            runner.run(runtime.__aexit__(None, None, None))


async def test_head_is_served_by_the_get_step(write_steps: WriteSteps) -> None:
    async with Runtime(write_steps(ROUTING_APP)) as rt:
        r = await rt.request("HEAD", "/orders/1")
        assert r.status_code == 200
        assert rt.runs("GetOrder")


# -- bad input and failing handlers: JSON errors, never a traceback ----------------------------

ERRORS_APP = {
    "models.py": """
        from pydantic import BaseModel

        class Pet(BaseModel):
            name: str
            age: int

        class Receipt(BaseModel):
            id: str
    """,
    "pets_step.py": """
        from pydantic import BaseModel
        from .models import Pet
        config = {"type": "api", "name": "CreatePet", "path": "/pets", "method": "POST",
                  "bodySchema": Pet}

        async def handler(req, context):
            return {"status": 201, "body": {"type": type(req.body).__name__,
                                             "isModel": isinstance(req.body, BaseModel),
                                             "name": req.body.name, "pet": req.body}}
    """,
    "json_pets_step.py": """
        config = {"type": "api", "name": "CreateJsonPet", "path": "/json-pets", "method": "POST",
                  "bodySchema": {"type": "object",
                                 "properties": {"name": {"type": "string"},
                                                "age": {"type": "integer"}},
                                 "required": ["name", "age"]}}

        async def handler(req, context):
            return {"status": 201, "body": {"type": type(req.body).__name__,
                                             "name": req.body.get("name"), "pet": req.body}}
    """,
    "raw_step.py": """
        config = {"type": "api", "name": "Raw", "path": "/raw", "method": "POST"}

        async def handler(req, context):
            return {"status": 200, "body": {"body": req.body}}
    """,
    "boom_step.py": """
        config = {"type": "api", "name": "Boom", "path": "/boom", "method": "GET"}

        async def handler(req, context):
            raise RuntimeError("kaboom in handler")
    """,
    "slow_step.py": """
        import asyncio
        config = {"type": "api", "name": "Slow", "path": "/slow", "method": "GET",
                  "infrastructure": {"handler": {"timeout": 0.05}}}

        async def handler(req, context):
            await asyncio.sleep(5)
            return {"status": 200, "body": {}}
    """,
    "returns_step.py": """
        config = {"type": "api", "name": "Returns", "path": "/returns/:what", "method": "GET"}

        RESULTS = {
            "string": "ok",
            "none": None,
            "list": [200, {}],
            "no-status": {"body": {"a": 1}},
            "str-status": {"status": "200", "body": {}},
            "float-status": {"status": 200.0, "body": {}},
            "bool-status": {"status": True, "body": {}},
            "not-json": {"status": 200, "body": {"when": object()}},
            "no-body": {"status": 204},
        }

        async def handler(req, context):
            return RESULTS[req.path_params["what"]]
    """,
    "receipt_step.py": """
        from .models import Receipt
        config = {"type": "api", "name": "Receipt", "path": "/receipts/:kind", "method": "GET",
                  "responseSchema": {200: Receipt, 201: {"type": "object", "required": ["id"]}}}

        async def handler(req, context):
            if req.path_params["kind"] == "good":
                return {"status": 200, "body": Receipt(id="r1")}
            if req.path_params["kind"] == "bad-model":
                return {"status": 200, "body": {"id": 5, "extra": True}}
            return {"status": 201, "body": {"no": "id"}}
    """,
}


@pytest.fixture
async def rt(write_steps: WriteSteps) -> AsyncIterator[Runtime]:
    async with Runtime(write_steps(ERRORS_APP), body_limit=1024) as runtime:
        yield runtime


JSON = {"content-type": "application/json"}


async def test_malformed_json_is_400(rt: Runtime) -> None:
    for raw in (b'{"name": ', b"{'name': 'x'}", b"[1, 2", b"\xff\xfe{}", b'{"a": 1} trailing'):
        for url in ("/pets", "/raw"):
            body = assert_json_error(await rt.post(url, content=raw, headers=JSON), 400)
            assert "JSON" in body["error"]
    assert rt.runs() == []


async def test_non_standard_json_constants_are_malformed_400(rt: Runtime) -> None:
    # Regression (fixed): json.loads accepts NaN/Infinity (not JSON); the body reaches the handler and the reply
    # then fails to serialise, so the client gets a 500 for its own bad input.
    for raw in (b'{"body": NaN}', b'{"body": Infinity}', b'{"body": -Infinity}'):
        assert_json_error(await rt.post("/raw", content=raw, headers=JSON), 400)


async def test_lone_surrogate_escape_in_body_is_400_not_500(rt: Runtime) -> None:
    # Regression (fixed): '"\\ud800"' is parsed into a str that cannot be encoded as UTF-8; echoing it makes the
    # response fail to serialise, so a client's bad input becomes a 500.
    raw = b'{"name": "\\ud800", "age": 1}'
    r = await rt.post("/raw", content=raw, headers=JSON)
    assert r.status_code == 400, r.text


@pytest.mark.parametrize(
    ("url", "payload", "locs"),
    [
        ("/pets", {"name": "Rex", "age": "old"}, [["age"]]),
        ("/pets", {"name": "Rex"}, [["age"]]),
        ("/pets", {}, [["age"], ["name"]]),
        ("/pets", [1, 2], [[]]),
        ("/json-pets", {"name": "Rex", "age": "old"}, [["age"]]),
        ("/json-pets", {"name": 3, "age": 1}, [["name"]]),
        ("/json-pets", {"age": 1}, [[]]),
        ("/json-pets", "a string", [[]]),
    ],
)
async def test_schema_violation_is_400_with_field_errors(
    rt: Runtime, url: str, payload: Any, locs: list[list[str]]
) -> None:
    body = assert_json_error(await rt.post(url, json=payload), 400)
    errors = body["errors"]
    assert isinstance(errors, list) and errors
    assert all(isinstance(e["loc"], list) and isinstance(e["msg"], str) for e in errors)
    assert sorted(e["loc"] for e in errors) == locs
    assert rt.runs() == []


async def test_missing_body_with_a_schema_is_400(rt: Runtime) -> None:
    body = assert_json_error(await rt.post("/pets"), 400)
    assert {tuple(e["loc"]) for e in body["errors"]} == {("name",), ("age",)}


async def test_pydantic_body_schema_gives_the_handler_a_model_instance(rt: Runtime) -> None:
    r = await rt.post("/pets", json={"name": "Rex", "age": 3})
    assert r.status_code == 201, r.text
    assert r.json() == {
        "type": "Pet",
        "isModel": True,
        "name": "Rex",
        "pet": {"name": "Rex", "age": 3},
    }


async def test_json_schema_body_schema_gives_the_handler_a_plain_dict(rt: Runtime) -> None:
    r = await rt.post("/json-pets", json={"name": "Rex", "age": 3, "extra": [1]})
    assert r.status_code == 201, r.text
    assert r.json() == {
        "type": "dict",
        "name": "Rex",
        "pet": {"name": "Rex", "age": 3, "extra": [1]},
    }


@pytest.mark.parametrize(
    ("path", "request_kwargs"),
    [
        pytest.param(
            "/pets",
            {"content": b'{"name": "x"}', "headers": {"content-type": "text/plain"}},
            id="text/plain with a bodySchema",
        ),
        pytest.param("/pets", {"data": {"name": "x", "age": "1"}}, id="form with a bodySchema"),
        pytest.param(
            "/raw", {"files": {"f": ("a.json", b"{}", "application/json")}}, id="multipart"
        ),
        pytest.param("/raw", {"content": b'{"name": "x"}'}, id="no content-type"),
        pytest.param(
            "/raw",
            {"content": b"{}", "headers": {"content-type": "application/jsonx"}},
            id="application/jsonx",
        ),
        pytest.param(
            "/raw",
            {"content": b"x", "headers": {"content-type": "text/plain; charset=unicode_escape"}},
            id="a codec that is no charset",
        ),
    ],
)
async def test_wrong_content_type_is_415(
    rt: Runtime, path: str, request_kwargs: dict[str, Any]
) -> None:
    body = assert_json_error(await rt.post(path, **request_kwargs), 415)
    assert "application/json" in body["error"] or "send UTF-8" in body["error"]


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON",
     "application/vnd.api+json"],
)  # fmt: skip
async def test_json_content_types_are_accepted(rt: Runtime, content_type: str) -> None:
    r = await rt.post("/raw", content=b'{"a": 1}', headers={"content-type": content_type})
    assert r.status_code == 200, r.text
    assert r.json() == {"body": {"a": 1}}


async def test_body_over_the_limit_is_413(rt: Runtime) -> None:
    body = assert_json_error(await rt.post("/raw", json={"pad": "x" * 2000}), 413)
    assert body.get("limit") == 1024
    assert rt.runs() == []


async def test_body_at_the_limit_is_accepted(rt: Runtime) -> None:
    payload = json.dumps({"pad": "x" * (1024 - len('{"pad": ""}'))}).encode()
    assert len(payload) == 1024
    r = await rt.post("/raw", content=payload, headers=JSON)
    assert r.status_code == 200, r.text


async def test_streamed_body_over_the_limit_without_content_length_is_413(rt: Runtime) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"pad": "'
        for _ in range(64):
            yield b"x" * 100
        yield b'"}'

    r = await rt.post("/raw", content=chunks(), headers=JSON)
    assert_json_error(r, 413)
    assert "content-length" not in r.request.headers
    assert r.request.headers.get("transfer-encoding") == "chunked"


async def test_streamed_body_under_the_limit_is_read_whole(rt: Runtime) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for piece in (b'{"a"', b": [1, ", b"2]}"):
            yield piece

    r = await rt.post("/raw", content=chunks(), headers=JSON)
    assert r.status_code == 200, r.text
    assert r.json() == {"body": {"a": [1, 2]}}


async def test_unknown_path_is_404_json(rt: Runtime) -> None:
    for url in ("/nope", "/pets/1/extra", "/"):
        body = assert_json_error(await rt.get(url), 404)
        assert url in body["error"]


async def test_wrong_method_is_405_with_allow_header(rt: Runtime) -> None:
    r = await rt.get("/pets")
    body = assert_json_error(r, 405)
    assert r.headers["allow"] == "POST"
    assert body["allowed"] == ["POST"]
    r = await rt.request("DELETE", "/boom")
    assert_json_error(r, 405)
    assert set(r.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}


async def test_handler_exception_is_500_with_the_trace_id_of_the_recorded_run(
    rt: Runtime,
) -> None:
    r = await rt.get("/boom")
    body = assert_json_error(r, 500)
    assert "kaboom" not in body["error"]
    (run,) = rt.runs("Boom")
    assert run.outcome == "error"
    assert run.error is not None and "kaboom in handler" in run.error
    assert body["traceId"] == run.trace_id == r.headers["x-trace-id"]


async def test_handler_timeout_is_504_with_trace_id(rt: Runtime) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    r = await rt.get("/slow")
    body = assert_json_error(r, 504)
    assert loop.time() - started < 2
    (run,) = rt.runs("Slow")
    assert run.outcome == "timeout"
    assert body["traceId"] == run.trace_id == r.headers["x-trace-id"]


@pytest.mark.parametrize(
    "what", ["string", "none", "list", "no-status", "str-status", "float-status", "not-json"]
)
async def test_handler_returning_no_valid_response_is_500_json(rt: Runtime, what: str) -> None:
    r = await rt.get(f"/returns/{what}")
    body = assert_json_error(r, 500)
    (run,) = rt.runs("Returns")
    assert body["traceId"] == run.trace_id == r.headers["x-trace-id"]


async def test_handler_returning_bool_status_is_500_json(rt: Runtime) -> None:
    # Regression (fixed): isinstance(True, int) holds, so {"status": True} passes the status check in
    # http.py _response and is sent as HTTP status "True"/1 instead of a 500.
    assert_json_error(await rt.get("/returns/bool-status"), 500)


async def test_handler_returning_no_body_sends_an_empty_response(rt: Runtime) -> None:
    r = await rt.get("/returns/no-body")
    assert r.status_code == 204
    assert r.content == b""
    assert r.headers["x-trace-id"]


async def test_response_not_matching_response_schema_is_500_json(rt: Runtime) -> None:
    good = await rt.get("/receipts/good")
    assert good.status_code == 200 and good.json() == {"id": "r1"}
    for kind in ("bad-model", "bad-json-schema"):
        r = await rt.get(f"/receipts/{kind}")
        body = assert_json_error(r, 500)
        assert body["errors"] and body["traceId"] == r.headers["x-trace-id"]


# -- middleware ----------------------------------------------------------------------------------

MIDDLEWARE_APP = {
    "secret_step.py": """
        async def trail(req, context, next):
            req.headers["x-trail"] = req.headers.get("x-trail", "") + "trail,"
            result = await next()
            result["headers"] = {**result.get("headers", {}), "x-wrapped": "trail"}
            result["body"]["wrapped"] = True
            return result

        async def auth(req, context, next):
            if req.headers.get("authorization") != "Bearer good":
                return {"status": 401, "body": {"error": "unauthorized"}}
            req.headers["x-trail"] += "auth,"
            return await next()

        config = {"type": "api", "name": "Secret", "path": "/secret", "method": "GET",
                  "middleware": [trail, auth]}

        async def handler(req, context):
            return {"status": 200, "body": {"trail": req.headers["x-trail"] + "handler"}}
    """,
}


async def test_middleware_runs_in_order_and_can_modify_the_result(
    write_steps: WriteSteps,
) -> None:
    async with Runtime(write_steps(MIDDLEWARE_APP)) as rt:
        r = await rt.get("/secret", headers={"authorization": "Bearer good"})
        assert r.status_code == 200, r.text
        assert r.json() == {"trail": "trail,auth,handler", "wrapped": True}
        assert r.headers["x-wrapped"] == "trail"


async def test_middleware_can_short_circuit(write_steps: WriteSteps) -> None:
    async with Runtime(write_steps(MIDDLEWARE_APP)) as rt:
        r = await rt.get("/secret")
        assert r.status_code == 401
        # the outer middleware still wrapped the short-circuited response
        assert r.json() == {"error": "unauthorized", "wrapped": True}
        assert r.headers["x-wrapped"] == "trail"


# -- route specificity and method dispatch -----------------------------------------------------

SUMMARY = """
    config = {"type": "api", "name": "Summary", "path": "/orders/summary", "method": "GET"}

    async def handler(req, context):
        return {"status": 200, "body": {"step": "Summary", "params": req.path_params}}
"""
BY_ID = """
    config = {"type": "api", "name": "ById", "path": "/orders/:orderId", "method": "GET"}

    async def handler(req, context):
        return {"status": 200, "body": {"step": "ById", "params": req.path_params}}
"""


@pytest.mark.parametrize(
    "files",
    [
        {"a_step.py": SUMMARY, "b_step.py": BY_ID},
        {"a_step.py": BY_ID, "b_step.py": SUMMARY},
        {"z/summary_step.py": SUMMARY, "a/by_id_step.py": BY_ID},
    ],
    ids=["literal-first", "param-first", "nested"],
)
async def test_literal_route_wins_over_parameter_route_regardless_of_file_order(
    write_steps: WriteSteps, files: dict[str, str]
) -> None:
    async with Runtime(write_steps(files)) as rt:
        assert (await rt.get("/orders/summary")).json() == {"step": "Summary", "params": {}}
        assert (await rt.get("/orders/42")).json() == {"step": "ById", "params": {"orderId": "42"}}


async def test_same_route_with_different_param_names_dispatches_by_method(
    write_steps: WriteSteps,
) -> None:
    # Regression (fixed): http.api_routes groups steps by the Starlette path *string*, so "/orders/{id}" (GET) and
    # "/orders/{orderId}" (POST) become two Routes on one URL; the first one catches every
    # request and answers POST with 405, so the POST step is unreachable.
    files = {
        "get_step.py": """
            config = {"type": "api", "name": "Get", "path": "/orders/:id", "method": "GET"}
            async def handler(req, context):
                return {"status": 200, "body": req.path_params}
        """,
        "post_step.py": """
            config = {"type": "api", "name": "Post", "path": "/orders/:orderId", "method": "POST"}
            async def handler(req, context):
                return {"status": 201, "body": req.path_params}
        """,
    }
    async with Runtime(write_steps(files)) as rt:
        assert (await rt.get("/orders/1")).json() == {"id": "1"}
        r = await rt.post("/orders/1")
        assert r.status_code == 201, r.text
        assert r.json() == {"orderId": "1"}


async def test_method_not_served_by_literal_route_falls_through_to_parameter_route(
    write_steps: WriteSteps,
) -> None:
    # Regression (fixed; routing semantics): every Route is registered for all methods, so GET /orders/summary
    # swallows POST /orders/summary with a 405 although POST /orders/:orderId serves that URL.
    # Express (Motia) and Starlette's own method-restricted Routes both fall through here.
    files = {
        "summary_step.py": SUMMARY,
        "update_step.py": """
            config = {"type": "api", "name": "Update", "path": "/orders/:orderId",
                      "method": "POST"}
            async def handler(req, context):
                return {"status": 200, "body": req.path_params}
        """,
    }
    async with Runtime(write_steps(files)) as rt:
        r = await rt.post("/orders/summary")
        assert r.status_code == 200, r.text
        assert r.json() == {"orderId": "summary"}


# -- Hypothesis: route matching ------------------------------------------------------------------

_IDENT = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
_VALUE = st.text(alphabet=string.ascii_letters + string.digits + "-._~", min_size=1, max_size=8)
_VALUE = _VALUE.filter(lambda v: set(v) != {"."})  # "." and ".." are dot-segments, normalised away
_LITERAL = _VALUE
_SEGMENT = st.one_of(
    _LITERAL.map(lambda s: ("literal", s, s)),
    st.tuples(_IDENT, st.booleans()).map(
        lambda t: ("param", t[0], f":{t[0]}" if t[1] else "{" + t[0] + "}")
    ),
)


def _unique_params(segments: list[tuple[str, str, str]]) -> bool:
    params = [name for kind, name, _ in segments if kind == "param"]
    return len(params) == len(set(params))


ROUTE_STEP = """
    config = {{"type": "api", "name": "Route", "path": {path!r}, "method": "GET"}}

    async def handler(req, context):
        return {{"status": 200, "body": {{"pathParams": req["pathParams"]}}}}
"""


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # each example writes a new app
)
@given(
    segments=st.lists(_SEGMENT, min_size=1, max_size=5).filter(_unique_params),
    data=st.data(),
)
def test_generated_routes_match_exactly_their_concrete_paths(
    write_steps: WriteSteps, segments: list[tuple[str, str, str]], data: st.DataObject
) -> None:
    template = "/" + "/".join(written for _, _, written in segments)
    values = {name: data.draw(_VALUE, label=name) for kind, name, _ in segments if kind == "param"}
    concrete = [values[name] if kind == "param" else name for kind, name, _ in segments]
    extra = data.draw(_VALUE, label="extra segment")
    root = write_steps({"route_step.py": ROUTE_STEP.format(path=template)})

    async def scenario(rt: Runtime) -> None:
        r = await rt.get("/" + "/".join(concrete))
        assert r.status_code == 200, (template, r.text)
        assert r.json() == {"pathParams": values}
        for wrong in ([*concrete, extra], concrete[:-1]):
            assert_json_error(await rt.get("/" + "/".join(wrong)), 404)

    Runtime(root).run(scenario)


# -- Hypothesis: request bodies ------------------------------------------------------------------

BODY_APP = {
    "pet_step.py": """
        from pydantic import BaseModel, ConfigDict

        class Pet(BaseModel):
            model_config = ConfigDict(strict=True, extra="forbid")
            name: str
            age: int
            tags: list[str]
            weight: float

        config = {"type": "api", "name": "EchoPet", "path": "/pets", "method": "POST",
                  "bodySchema": Pet}

        async def handler(req, context):
            assert isinstance(req.body, Pet)
            return {"status": 200, "body": req.body}
    """,
    "json_pet_step.py": """
        config = {"type": "api", "name": "EchoJsonPet", "path": "/json-pets", "method": "POST",
                  "bodySchema": {"type": "object", "additionalProperties": False,
                                 "properties": {"name": {"type": "string"},
                                                "age": {"type": "integer"},
                                                "tags": {"type": "array",
                                                         "items": {"type": "string"}},
                                                "weight": {"type": "number"}},
                                 "required": ["name", "age", "tags", "weight"]}}

        async def handler(req, context):
            assert type(req.body) is dict
            return {"status": 200, "body": req.body}
    """,
}

_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=10)
_NUMBER = st.integers() | st.floats(allow_nan=False, allow_infinity=False)
_JSON = st.recursive(
    st.none() | st.booleans() | _NUMBER | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)
_VALID_PET = st.fixed_dictionaries(
    {"name": _TEXT, "age": st.integers(), "tags": st.lists(_TEXT, max_size=3), "weight": _NUMBER}
)
_NEAR_PET = st.fixed_dictionaries(
    {"name": _TEXT | _JSON, "age": st.integers() | _JSON, "tags": st.lists(_TEXT) | _JSON},
    optional={"weight": _NUMBER | _JSON, "extra": _JSON},
)


def _expected_echo(schema: Any, body: Any) -> tuple[bool, Any]:
    """(valid, what the handler echoes): the model's JSON dump, or the dict itself."""
    if isinstance(schema, type) and issubclass(schema, pydantic.BaseModel):
        try:
            return True, schema.model_validate(body).model_dump(mode="json")
        except pydantic.ValidationError:
            return False, None
    return bool(jsonschema.validators.validator_for(schema)(schema).is_valid(body)), body


def test_generated_bodies_are_echoed_when_valid_and_400_when_not(write_steps: WriteSteps) -> None:
    root = write_steps(BODY_APP)
    runtime = Runtime(root)
    with asyncio.Runner() as runner:
        rt = runner.run(runtime.__aenter__())
        try:
            schemas = {
                "/pets": rt.engine.registry["EchoPet"].body,
                "/json-pets": rt.engine.registry["EchoJsonPet"].body,
            }

            @settings(max_examples=100, deadline=None)
            @given(body=st.one_of(_VALID_PET, _NEAR_PET, _JSON))
            def check(body: Any) -> None:
                raw = json.dumps(body, ensure_ascii=False).encode()
                for url, schema in schemas.items():
                    assert schema is not None
                    r = runner.run(rt.post(url, content=raw, headers=JSON))
                    valid, echo = _expected_echo(schema.source, body)
                    if valid:
                        assert r.status_code == 200, r.text
                        assert r.json() == echo
                        if url == "/json-pets" or isinstance(body["weight"], float):
                            assert r.json() == body  # strict model: nothing was coerced
                    else:
                        errors = assert_json_error(r, 400)["errors"]
                        assert errors and all("loc" in e and "msg" in e for e in errors)

            check()
            assert {r.outcome for r in rt.runs()} <= {"ok"}
        finally:
            runner.run(runtime.__aexit__(None, None, None))
