"""One face over the two schema kinds a step may declare: a pydantic model class or a JSON Schema dict."""

from __future__ import annotations

import json
from collections.abc import Callable
from json import encoder as _json_encoder
from typing import Any

import jsonschema
import pydantic

from .errors import InputValidationError

__all__ = ["UNDECIDED", "Schema", "SchemaError", "encode_json", "json_encoder", "to_json"]


class SchemaError(ValueError):
    """The schema itself is unusable (not a model, not a valid JSON Schema)."""


class Schema:
    """Validates data against a pydantic model or a JSON Schema.

    ``validate`` returns the validated model instance for a pydantic model, and the data unchanged
    (a plain dict, as Motia hands it) for a JSON Schema. It raises ``InputValidationError`` whose
    ``errors`` are JSON-ready ``{"loc", "msg", "type"}`` dicts.
    """

    __slots__ = ("_json_schema", "_validator", "model", "source", "strict")

    def __init__(self, source: Any, *, strict: bool | None = None) -> None:
        self.source = source
        # None leaves it to the model's own config; True is pydantic's strict mode, where JSON
        # still gives a datetime, UUID or enum from a string but never an int from "1" or true.
        self.strict = strict
        self.model: type[pydantic.BaseModel] | None = None
        self._validator: Any = None
        if isinstance(source, type) and issubclass(source, pydantic.BaseModel):
            self.model = source
            self._json_schema: dict[str, Any] = source.model_json_schema()
        elif isinstance(source, dict):
            cls = jsonschema.validators.validator_for(source)
            try:
                cls.check_schema(source)
            except jsonschema.SchemaError as exc:
                raise SchemaError(f"invalid JSON Schema: {exc.message}") from None
            self._validator = cls(source)
            self._json_schema = source
        else:
            raise SchemaError(
                f"expected a pydantic model class or a JSON Schema dict, got {type(source).__name__}"
            )

    @property
    def json_schema(self) -> dict[str, Any]:
        return self._json_schema

    def validate_json(self, raw: bytes | str, what: str = "data") -> Any:
        """``validate(json.loads(raw))`` in one pass when pydantic can do it: a model validates
        JSON text in Rust without building the intermediate dict (about 2.5x faster), in
        pydantic's JSON mode (strict or not as the schema says).

        Returns ``UNDECIDED`` where the caller must parse ``raw`` itself and call ``validate``:
        for a JSON Schema; for text with ``NaN`` or ``Infinity`` (pydantic accepts them in float
        fields, JSON does not); and for anything pydantic calls invalid JSON (which may be UTF-16,
        or deserve the caller's own error message). Raises ``InputValidationError`` otherwise.
        """
        if self.model is None:
            return UNDECIDED
        if isinstance(raw, bytes) and (b"NaN" in raw or b"Infinity" in raw):
            return UNDECIDED
        try:
            return self.model.model_validate_json(raw, strict=self.strict)
        except pydantic.ValidationError as exc:
            errors = _pydantic_errors(exc)
            if any(e["type"] == "json_invalid" for e in errors):
                return UNDECIDED
            raise InputValidationError(what, errors) from None

    def validate(self, data: Any, what: str = "data") -> Any:
        if self.model is not None:
            try:
                return self.model.model_validate(data, strict=self.strict)
            except pydantic.ValidationError as exc:
                raise InputValidationError(what, _pydantic_errors(exc)) from None
        found = sorted(
            self._validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]
        )
        if found:
            errors = [
                {"loc": list(e.absolute_path), "msg": e.message, "type": str(e.validator)}
                for e in found
            ]
            raise InputValidationError(what, errors)
        return data


UNDECIDED: Any = type("Undecided", (), {"__repr__": lambda self: "UNDECIDED"})()
"""``Schema.validate_json`` could not decide: parse the text and call ``validate``."""


def _pydantic_errors(exc: pydantic.ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False)
    ]


def _model_default(value: Any) -> Any:
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    return _not_json(value)


def json_encoder(
    item_separator: str,
    key_separator: str,
    default: Callable[[Any], Any] | None = None,
    *,
    ascii_only: bool = True,
    sort_keys: bool = False,
    allow_nan: bool = False,
) -> Callable[[Any], str]:
    """A reusable JSON encoder: NaN and infinities refused unless ``allow_nan``, pydantic models
    dumped (or what ``default`` does with values that are not JSON), non-ASCII escaped if
    ``ascii_only``, keys sorted if ``sort_keys``.

    ``json.dumps`` with options builds an encoder per call, and ``JSONEncoder.encode`` still builds
    its C encoder per call; this builds the C encoder once. It is made without a circular-reference
    memo (a memo left dirty by a failed encode would flag later, innocent values), so a cycle
    surfaces as ``RecursionError``, which ``encode_json`` reports as not JSON.
    """
    default = default or _model_default
    c_make_encoder: Any = getattr(_json_encoder, "c_make_encoder", None)
    if c_make_encoder is None:  # pragma: no cover - CPython always has the C accelerator
        encoder = json.JSONEncoder(
            allow_nan=allow_nan,
            default=default,
            separators=(item_separator, key_separator),
            ensure_ascii=ascii_only,
            sort_keys=sort_keys,
        )
        return encoder.encode
    strings = (
        _json_encoder.encode_basestring_ascii if ascii_only else _json_encoder.encode_basestring
    )
    make = c_make_encoder(None, default, strings, None, key_separator, item_separator, sort_keys,
                          False, allow_nan)  # fmt: skip
    return lambda value: "".join(make(value, 0))


def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_encode = json_encoder(", ", ": ")
_encode_plain = json_encoder(",", ":", _not_json)


def encode_json(value: Any, *, plain: bool = False) -> str:
    """JSON text of ``value`` (pydantic models, also nested, are dumped); NaN and infinities are
    refused. Raises ``TypeError`` for anything that is not JSON.

    ``plain=True`` is the state stores' form: no spaces after ``,`` and ``:``, and pydantic models
    refused like any other non-JSON value (``context.state`` converts them before the store)."""
    try:
        return (_encode_plain if plain else _encode)(value)
    except ValueError as exc:
        raise TypeError(str(exc)) from None
    except RecursionError:
        raise TypeError("circular reference (or nesting too deep to be JSON)") from None


def to_json(value: Any) -> Any:
    """Turn pydantic models (also nested in lists/dicts) into JSON-ready data; leave the rest."""
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value
