"""Request bodies: read up to a size limit, parsed as JSON that is strict about being JSON.

Api steps without a ``bodySchema`` also take form and text bodies (``parse_form``, ``parse_text``),
as Motia does; a ``bodySchema`` describes JSON, so there every other type is a 415.

The api routes and the dev tools' writes share these, so every endpoint refuses the same input
with the same 4xx: a body over the limit (413); text that is not JSON, nested more than
``MAX_JSON_DEPTH`` levels, holding ``NaN``/``Infinity``, a lone surrogate, or one key twice in an
object (400). Nothing here can raise ``RecursionError``: depth is checked before Python recurses.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import pydantic_core
from starlette.requests import ClientDisconnect
from starlette.types import Receive

__all__ = [
    "MAX_JSON_DEPTH",
    "MalformedBody",
    "MalformedJSON",
    "PayloadTooLarge",
    "UnsupportedBody",
    "is_json_content_type",
    "parse_form",
    "parse_json",
    "parse_other",
    "parse_text",
    "read_body",
    "reject_duplicate_keys",
]

MAX_JSON_DEPTH = 200
"""pydantic-core's parser stops there, so bodies with and without a model share the limit."""


class PayloadTooLarge(Exception):
    """The body is longer than ``limit`` bytes (declared or as it streamed in)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body exceeds {limit} bytes")
        self.limit = limit


class MalformedJSON(ValueError):
    """The body is not JSON this server accepts; the message says where and why."""


class MalformedBody(MalformedJSON):
    """A form or text body that cannot be decoded (not UTF-8, or not in its declared charset)."""


class UnsupportedBody(ValueError):
    """A body of a content type the route does not take (a 415); the message names the type."""


async def read_body(receive: Receive, content_length: str | None, limit: int) -> bytes:
    """The whole body of a request; ``PayloadTooLarge`` as soon as it is known to exceed ``limit``
    (from ``content-length`` before reading, or while reading a body sent without one)."""
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise PayloadTooLarge(limit)
    # The ASGI messages directly: Request.stream() is an async generator around the same loop.
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def is_json_content_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class _DuplicateKey(ValueError):
    pass


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:  # only on the error path: name the key
            if key in seen:
                raise _DuplicateKey(f"key {key!r} appears twice in one object")
            seen.add(key)
    return obj


def _reject_constant(name: str) -> Any:
    raise MalformedJSON(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise MalformedJSON(f"{text} is too large for a number (it would be Infinity)")
    return value


# One decoder for every request: json.loads with options builds a new one per call.
_DECODER = json.JSONDecoder(object_pairs_hook=_unique_pairs, parse_constant=_reject_constant)
# Only for text with a number whose exponent has 3+ digits (1e999 parses as Infinity): rare.
_FINITE_DECODER = json.JSONDecoder(
    object_pairs_hook=_unique_pairs, parse_constant=_reject_constant, parse_float=_finite_float
)
_BIG_EXPONENT = re.compile(r"[0-9][eE][+-]?[0-9]{3}")
_check_json: Callable[..., Any] = pydantic_core.from_json


def _text(raw: bytes | str) -> str:
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")  # strict: encoded surrogates fail here
    except UnicodeDecodeError:
        # UTF-16/32 bodies, which json.loads also accepts, or invalid UTF-8.
        try:
            return raw.decode(json.detect_encoding(raw))
        except UnicodeError as exc:
            raise MalformedJSON(f"the body is not UTF-8 text: {exc}") from None


def parse_json(raw: bytes | str) -> Any:
    """A request body as JSON; ``MalformedJSON`` says what is wrong with it."""
    text = _text(raw)
    try:
        # pydantic-core's parser (Rust, no Python recursion) vets the text first: its depth limit,
        # NaN/Infinity, lone surrogates (they parse, but cannot be sent back out as UTF-8).
        _check_json(text, allow_inf_nan=False)
    except ValueError as exc:
        if str(exc).startswith("recursion limit exceeded"):
            raise MalformedJSON(f"nested deeper than {MAX_JSON_DEPTH} levels ({exc})") from None
        if "NaN" in text or "Infinity" in text:
            raise MalformedJSON(f"{exc} (NaN and Infinity are not JSON)") from None
        raise MalformedJSON(str(exc)) from None
    return _decode_unique(text)


def reject_duplicate_keys(raw: bytes | str) -> None:
    """``MalformedJSON`` if an object of ``raw`` (JSON that pydantic-core accepted) has a key
    twice: parsers keep the last value silently, so two readers of one body may disagree."""
    _decode_unique(_text(raw))


def _decode_unique(text: str) -> Any:
    decoder = _FINITE_DECODER if _BIG_EXPONENT.search(text) else _DECODER
    try:
        return decoder.decode(text)
    except _DuplicateKey as exc:
        raise MalformedJSON(str(exc)) from None
    except RecursionError:  # pragma: no cover - the depth was checked before
        raise MalformedJSON(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:
        raise MalformedJSON(str(exc)) from None


def _media_and_charset(content_type: str) -> tuple[str, str | None]:
    media, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"') or None
    return media.strip().lower(), charset


def parse_form(raw: bytes) -> dict[str, str | list[str]]:
    """An ``application/x-www-form-urlencoded`` body as a dict, shaped like the query parameters:
    a field sent once is a string, a field sent several times the list of its values."""
    try:
        pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise MalformedBody(f"the form body is not percent-encoded UTF-8: {exc}") from None
    form: dict[str, str | list[str]] = {}
    for key, value in pairs:
        had = form.get(key)
        if had is None:
            form[key] = value
        elif isinstance(had, list):
            had.append(value)
        else:
            form[key] = [had, value]
    return form


def parse_text(raw: bytes, charset: str | None) -> str:
    """A ``text/*`` body as a string, decoded with its ``charset`` (UTF-8 if it names none)."""
    encoding = charset or "utf-8"
    try:
        info = codecs.lookup(encoding)
        # Python's registry is wider than charsets: bytes-to-bytes codecs (base64), and escape
        # codecs that would interpret the text.
        codec = info.name if getattr(info, "_is_text_encoding", True) else ""
    except LookupError:
        codec = ""
    if not codec or "escape" in codec or codec in _NOT_CHARSETS:
        raise UnsupportedBody(f"unknown charset {encoding!r}: send UTF-8")
    try:
        text = raw.decode(codec)
        text.encode("utf-8")  # a lone surrogate could not be sent on or stored
    except (UnicodeDecodeError, UnicodeEncodeError, LookupError) as exc:
        raise MalformedBody(f"the text body is not {encoding}: {exc}") from None
    return text


_NOT_CHARSETS = frozenset({"idna", "punycode", "utf-7", "rot-13", "mbcs", "oem"})


def parse_other(raw: bytes, content_type: str) -> str | dict[str, str | list[str]]:
    """A body that is not JSON, for a route without a ``bodySchema``: a form as a dict, text as a
    string; ``UnsupportedBody`` for any other type (multipart, binary, none given)."""
    media, charset = _media_and_charset(content_type)
    if media == "application/x-www-form-urlencoded":
        return parse_form(raw)
    if media.startswith("text/"):
        return parse_text(raw, charset)
    raise UnsupportedBody(
        "expected Content-Type application/json, application/x-www-form-urlencoded or text/*, "
        f"got {content_type or 'none'!r}"
    )
