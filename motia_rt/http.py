"""The Starlette app built from api steps: routing, body limits, validation, JSON errors.

Every failure a client can cause gets a JSON body and never a traceback: malformed JSON (or an
undecodable form or text body) 400, schema violation 400 with the field errors, wrong content
type 415, body over the limit 413, unknown path 404, wrong method 405; a handler crash is a 500
carrying the trace id. A handler's ``str`` or ``bytes`` body is sent as it is, anything else as JSON.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from .engine import Engine
from .errors import BackendUnavailable, InputValidationError
from .request_body import (
    MalformedJSON,
    PayloadTooLarge,
    UnsupportedBody,
    is_json_content_type,
    parse_json,
    parse_other,
    read_body,
    reject_duplicate_keys,
)
from .schema import UNDECIDED, Schema, encode_json, json_encoder, to_json
from .steps import Step, route_key, route_pattern

__all__ = ["DEFAULT_BODY_LIMIT", "ApiRequest", "api_routes", "build_app"]

DEFAULT_BODY_LIMIT = 1024 * 1024
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Starlette's JSONResponse form (compact, UTF-8), with pydantic models dumped, encoder built once.
_to_text = json_encoder(",", ":", ascii_only=False)


def _encode_response(body: Any) -> bytes:
    if isinstance(body, BaseModel):
        # pydantic writes its own models straight to JSON bytes (inf/NaN become null).
        return body.__pydantic_serializer__.to_json(body)
    return _to_text(body).encode("utf-8")


log = logging.getLogger("motia.http")


class ApiRequest:
    """The ``req`` of an api handler: attributes, plus Motia's dict access (``req.get("body")``).

    ``raw_body`` (``req["rawBody"]``) is the body's bytes as received, for webhook signatures.
    Middleware may write to the request (``req["user"] = ...``): a Motia key sets its attribute,
    any other key is kept for the middleware and handler after it.
    """

    __slots__ = ("_extra", "body", "headers", "method", "path", "path_params", "query_params",
                 "raw_body", "trace_id")  # fmt: skip
    _KEYS = {"body": "body", "pathParams": "path_params", "queryParams": "query_params",
             "headers": "headers", "method": "method", "path": "path",
             "rawBody": "raw_body"}  # fmt: skip

    def __init__(
        self,
        body: Any,
        path_params: dict[str, str],
        query_params: dict[str, str | list[str]],
        headers: dict[str, str],
        method: str = "GET",
        path: str = "/",
        trace_id: str = "",
        raw_body: bytes = b"",
    ) -> None:
        self.body = body
        self.raw_body = raw_body
        self._extra: dict[str, Any] | None = None
        self.path_params = path_params
        self.query_params = query_params
        self.headers = headers
        self.method = method
        self.path = path
        self.trace_id = trace_id

    def __getitem__(self, key: str) -> Any:
        attribute = self._KEYS.get(key)
        if attribute is not None:
            return getattr(self, attribute)
        if self._extra is not None and key in self._extra:
            return self._extra[key]
        keys = ", ".join([*self._KEYS, *(self._extra or ())])
        raise KeyError(f"request has no {key!r}; keys: {keys}")

    def __setitem__(self, key: str, value: Any) -> None:
        attribute = self._KEYS.get(key)
        if attribute is not None:
            setattr(self, attribute, value)
        elif self._extra is None:
            self._extra = {key: value}
        else:
            self._extra[key] = value

    def get(self, key: str, default: Any = None) -> Any:
        attribute = self._KEYS.get(key)
        if attribute is not None:
            value = getattr(self, attribute)
        else:
            value = self._extra.get(key) if self._extra is not None else None
        return default if value is None else value

    def __contains__(self, key: object) -> bool:
        return key in self._KEYS or (self._extra is not None and key in self._extra)

    def __repr__(self) -> str:
        return f"ApiRequest({self.method} {self.path}, body={self.body!r})"


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    """A JSON error; one that names its ``traceId`` also carries it as the ``x-trace-id`` header."""
    response = JSONResponse({"error": message, **extra}, status_code=status)
    if "traceId" in extra:
        response.headers["x-trace-id"] = extra["traceId"]
    return response


def _query(query_string: bytes) -> dict[str, str | list[str]]:
    params = QueryParams(query_string)
    out: dict[str, str | list[str]] = {}
    for key in params:
        values = params.getlist(key)
        out[key] = values[0] if len(values) == 1 else values
    return out


class _Reply:
    """A handler's response, sent as its two ASGI messages (no Starlette ``Response``: the headers
    are written once, as bytes, in the order they are sent)."""

    __slots__ = ("body", "raw_headers", "status_code")

    def __init__(self, status: int, body: bytes, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = status
        self.body = body
        self.raw_headers = raw_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})  # fmt: skip
        await send({"type": "http.response.body", "body": self.body})


_JSON_TYPE = (b"content-type", b"application/json")
_TEXT_TYPE = (b"content-type", b"text/plain; charset=utf-8")
_BYTES_TYPE = (b"content-type", b"application/octet-stream")
_SENT_AS_IS = frozenset({str, bytes, bytearray, memoryview})


def _as_is(body: str | bytes | bytearray | memoryview) -> tuple[bytes, tuple[bytes, bytes]]:
    """A text or binary response body, sent unencoded; the content type used unless the handler
    gives its own (text as UTF-8 plain text, bytes as octet-stream)."""
    if isinstance(body, str):
        return body.encode("utf-8"), _TEXT_TYPE
    return bytes(body), _BYTES_TYPE


class _Endpoint:
    """All api steps on one path, dispatched by method; an ASGI app of its own (Starlette's
    request/response wrapper would add two await levels and a header rewrite per request)."""

    def __init__(self, engine: Engine, steps: Sequence[Step], body_limit: int) -> None:
        self.engine = engine
        self.by_method = {s.method: s for s in steps if s.method}
        if "GET" in self.by_method and "HEAD" not in self.by_method:
            self.by_method["HEAD"] = self.by_method["GET"]
        # Steps sharing a route may name its parameters differently (/a/:id vs /a/{orderId}).
        self.names = {m: route_pattern(s.path or "")[1] for m, s in self.by_method.items()}
        self.body_limit = body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handle(scope, receive)
        await response(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive) -> Response | _Reply:
        method = scope["method"]
        step = self.by_method[method]  # the route only accepts these methods
        trace_id = self.engine.new_trace_id()
        # The ASGI header list decoded as Starlette's Headers.items() does, without the wrapper.
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        raw = b""
        try:
            if method in _BODY_METHODS:
                try:
                    raw = await read_body(receive, headers.get("content-length"), self.body_limit)
                except PayloadTooLarge as exc:
                    raise _ClientError(too_large(exc)) from None
            body = self._body(raw, headers, step)
        except _ClientError as exc:
            exc.response.headers["x-trace-id"] = trace_id
            return exc.response
        path_params = scope.get("path_params", {})
        params = dict(zip(self.names[method], path_params.values(), strict=False))
        query_string = scope.get("query_string")
        query = _query(query_string) if query_string else {}
        req = ApiRequest(body, params, query, headers, method, scope["path"], trace_id, raw)
        try:
            result = await self.engine.run_api(step, req, trace_id)
        except TimeoutError:
            response: Response | _Reply = error(
                504, f"handler of {step.name} timed out after {step.timeout:g}s", traceId=trace_id
            )
        except BackendUnavailable as exc:
            # Redis stayed down as long as a request may wait: the client may retry (same key).
            response = error(503, str(exc), step=step.name, traceId=trace_id)
            response.headers["retry-after"] = str(exc.retry_after)
        except Exception:
            response = error(500, "internal error: the handler failed", step=step.name,
                             traceId=trace_id)  # fmt: skip
        else:
            response = self._response(step, result, trace_id)
        return response  # every response of a run carries x-trace-id

    def _body(self, raw: bytes, headers: Mapping[str, str], step: Step) -> Any:
        schema = step.body
        try:
            if raw.strip():
                content_type = headers.get("content-type", "")
                if is_json_content_type(content_type):
                    return _decode_body(raw, schema)
                if schema is not None:  # a bodySchema describes JSON
                    raise _ClientError(not_json_type(content_type))
                try:
                    return parse_other(raw, content_type)
                except UnsupportedBody as exc:
                    raise _ClientError(error(415, str(exc))) from None
            # No body reads as {}, as in Motia: ``req["body"].get(...)`` works on a GET.
            return schema.validate({}, "request body") if schema is not None else {}
        except MalformedJSON as exc:  # MalformedBody too: its message says form or text
            what = "malformed JSON body" if type(exc) is MalformedJSON else "malformed body"
            raise _ClientError(error(400, f"{what}: {exc}")) from None
        except InputValidationError as exc:
            raise _ClientError(error(400, "request body failed validation",
                                     errors=exc.errors)) from None  # fmt: skip

    def _response(self, step: Step, result: Any, trace_id: str) -> Response | _Reply:
        is_mapping = type(result) is dict or isinstance(result, Mapping)  # dict: no ABC check
        status = result.get("status") if is_mapping else None
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            log.error("step %s returned %r, not {'status': int, 'body': ...}", step.name, result)
            return error(500, "internal error: the handler returned no status",
                         step=step.name, traceId=trace_id)  # fmt: skip
        body = result.get("body")
        schema = step.responses.get(status)
        if schema is not None and not (schema.model is not None and type(body) is schema.model):
            # An instance of the declared model was validated when it was made.
            body = to_json(body)
            try:
                schema.validate(body, f"response body of {step.name} for status {status}")
            except InputValidationError as exc:
                log.error("%s", exc)
                return error(500, "internal error: the response did not match responseSchema",
                             step=step.name, traceId=trace_id, errors=exc.errors)  # fmt: skip
        extra = result.get("headers")
        default_type = _JSON_TYPE
        if body is None:
            content = b""
        elif type(body) in _SENT_AS_IS:
            try:
                content, default_type = _as_is(body)
            except UnicodeEncodeError:
                return error(500, "internal error: the response text is not valid Unicode",
                             step=step.name, traceId=trace_id)  # fmt: skip
        else:
            try:
                content = _encode_response(body)
            except (TypeError, ValueError):
                return error(500, "internal error: the response body is not JSON",
                             step=step.name, traceId=trace_id)  # fmt: skip
        raw: list[tuple[bytes, bytes]] = []
        if extra:
            try:
                raw = _raw_headers(extra)
            except ValueError as exc:
                log.error("step %s: %s", step.name, exc)
                return error(500, f"internal error: {exc}", step=step.name, traceId=trace_id)
        names = {k for k, _ in raw} if raw else ()
        if b"x-trace-id" not in names:
            raw.append((b"x-trace-id", trace_id.encode("latin-1")))
        if body is not None and b"content-type" not in names:
            raw.append(default_type)
        if b"content-length" not in names and status >= 200 and status not in (204, 304):
            raw.append((b"content-length", str(len(content)).encode("latin-1")))
        return _Reply(status, content, raw)


_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+")
"""A header name (RFC 9110 token), lower-cased."""


def _raw_headers(headers: Any) -> list[tuple[bytes, bytes]]:
    """A handler's ``headers`` as the ASGI list; ``ValueError`` names one that cannot be sent (a
    value with a line break would end the header block early: response splitting)."""
    if not (type(headers) is dict or isinstance(headers, Mapping)):
        raise ValueError(f"the response headers are a {type(headers).__name__}, not a dict")
    raw = []
    for k, v in headers.items():
        name, value = str(k).lower(), str(v)
        try:
            name_bytes, value_bytes = name.encode("latin-1"), value.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(f"response header {name!r} is not Latin-1 text") from None
        if not _TOKEN.fullmatch(name_bytes):
            raise ValueError(f"{name!r} is not a valid response header name")
        if b"\r" in value_bytes or b"\n" in value_bytes or b"\0" in value_bytes:
            raise ValueError(f"response header {name!r} holds a line break or NUL")
        raw.append((name_bytes, value_bytes))
    return raw


class _ClientError(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _decode_body(raw: bytes, schema: Schema | None) -> Any:
    """The parsed, validated body; ``MalformedJSON`` or ``InputValidationError`` if it is not."""
    if schema is not None and schema.model is not None:
        body = schema.validate_json(raw, "request body")  # one pass in Rust: the common case
        if body is not UNDECIDED:
            reject_duplicate_keys(raw)
            return body
        # pydantic's JSON mode also for text it left undecided (UTF-16, NaN somewhere in it).
        return schema.validate_json(encode_json(parse_json(raw)), "request body")
    body = parse_json(raw)
    return schema.validate(body, "request body") if schema is not None else body


def too_large(exc: PayloadTooLarge) -> JSONResponse:
    return error(413, str(exc), limit=exc.limit)


def not_json_type(content_type: str) -> JSONResponse:
    return error(415, f"expected Content-Type application/json, got {content_type or 'none'!r}")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error(404, f"no route for {request.method} {request.url.path}")
    if exc.status_code == 405:
        allow = (exc.headers or {}).get("Allow", "")
        response = error(405, f"method {request.method} not allowed on {request.url.path}",
                         allowed=[m.strip() for m in allow.split(",") if m.strip()])  # fmt: skip
        response.headers["allow"] = allow
        return response
    return error(exc.status_code, exc.detail)


def api_routes(engine: Engine, body_limit: int = DEFAULT_BODY_LIMIT) -> list[BaseRoute]:
    by_route: dict[str, list[Step]] = {}
    for step in engine.registry.of_kind("api"):
        assert step.path is not None
        by_route.setdefault(route_key(step.path), []).append(step)
    routes: list[BaseRoute] = []
    for _, steps in sorted(by_route.items(), key=lambda kv: _specificity(kv[0])):
        endpoint = _Endpoint(engine, steps, body_limit)
        path = route_pattern(steps[0].path or "/")[0]
        # Only the served methods: another route for the same URL may serve the rest (Starlette
        # keeps looking after a method mismatch, and answers 405 only if nothing else matches).
        routes.append(Route(path, endpoint, methods=sorted(endpoint.by_method)))
    return routes


def _specificity(path: str) -> tuple[int, str]:
    # Literal segments before parameters, so /orders/summary wins over /orders/{orderId}.
    return (path.count("{"), path)


def build_app(
    engine: Engine,
    *,
    body_limit: int = DEFAULT_BODY_LIMIT,
    extra_routes: Sequence[BaseRoute] = (),
    lifespan: Any = None,
    routes: Sequence[BaseRoute] | None = None,
) -> Starlette:
    """A Starlette app serving ``engine``'s api steps (after ``extra_routes``, e.g. dev tools), or
    exactly ``routes`` when given."""
    if routes is None:
        routes = [*extra_routes, *api_routes(engine, body_limit)]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error},
                     lifespan=lifespan)  # fmt: skip
