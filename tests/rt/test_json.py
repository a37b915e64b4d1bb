"""The JSON fast paths: one reusable C encoder, pydantic-core's parser (and the C scanner where it
refuses) for our own text, lazy Message data."""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable
from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motia_rt.context import StateAccess
from motia_rt.errors import InputValidationError
from motia_rt.ports import UNDECODED, Message, decode_json
from motia_rt.request_body import parse_json as _parse_json
from motia_rt.schema import UNDECIDED, Schema, encode_json
from motia_rt.state.memory import MemoryStateStore

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_encode_matches_json_dumps_and_decodes_back(value: Any) -> None:
    assert encode_json(value) == json.dumps(value)
    assert encode_json(value, plain=True) == json.dumps(value, separators=(",", ":"))
    assert decode_json(encode_json(value)) == json.loads(json.dumps(value))


def _exactly(value: Any) -> Any:
    """``value`` with every float as its bits and every leaf tagged with its type, so equal means
    the same types, the same float bits (-0.0 is not 0.0) and the same key order."""
    if isinstance(value, float):
        return ("float", struct.pack("<d", value))
    if isinstance(value, list):
        return ("list", [_exactly(v) for v in value])
    if isinstance(value, dict):
        return ("dict", [(k, _exactly(v)) for k, v in value.items()])
    return (type(value).__name__, value)


# Any text a Python string can hold, lone surrogates included (the encoder escapes them).
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
EXACT_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**40), 10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=500)
@given(EXACT_VALUES, st.booleans())
def test_decode_gives_exactly_what_json_loads_gives(value: Any, plain: bool) -> None:
    text = encode_json(value, plain=plain)
    assert _exactly(decode_json(text)) == _exactly(json.loads(text))


@given(JSON_VALUES)
def test_lazy_message_data_equals_the_decoded_message(value: Any) -> None:
    raw = encode_json(value)
    lazy = Message("m1", "t", UNDECODED, "tr", 1.0, "s", None, raw)
    eager = Message("m1", "t", json.loads(raw), "tr", 1.0, "s", None, raw)
    assert lazy == eager
    assert lazy.data == eager.data
    assert repr(lazy) == repr(eager)


@pytest.mark.parametrize("text", [' {"a": 1}', '{"a": 1} ', "[1] [2]", "nul"])
def test_decode_of_foreign_text_behaves_like_json_loads(text: str) -> None:
    try:
        expected: Any = json.loads(text)
    except ValueError:
        with pytest.raises(ValueError):
            decode_json(text)
    else:
        assert decode_json(text) == expected


class Item(pydantic.BaseModel):
    sku: str


def test_models_are_dumped_unless_plain_and_non_json_is_a_type_error() -> None:
    assert encode_json({"item": Item(sku="A")}) == '{"item": {"sku": "A"}}'
    with pytest.raises(TypeError, match="not JSON serializable"):
        encode_json({"item": Item(sku="A")}, plain=True)
    with pytest.raises(TypeError, match="not JSON"):
        encode_json({"x": object()})
    with pytest.raises(TypeError, match="Out of range"):
        encode_json([math.nan])
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(TypeError, match="circular"):
        encode_json(cycle)
    # A failed encode leaves nothing behind that would fail the next one.
    assert encode_json([[1], [1]]) == "[[1], [1]]"


def test_undecoded_data_needs_raw_text() -> None:
    with pytest.raises(ValueError, match="raw"):
        Message("m1", "t", UNDECODED, "tr", 1.0)


async def test_state_access_converts_models_also_nested_and_refuses_the_rest() -> None:
    state = StateAccess(MemoryStateStore())
    assert await state.set("g", "a", Item(sku="A")) == {"sku": "A"}
    assert await state.set("g", "b", {"items": [Item(sku="B")]}) == {"items": [{"sku": "B"}]}
    assert await state.get("g", "b") == {"items": [{"sku": "B"}]}
    with pytest.raises(TypeError, match="state values must be JSON"):
        await state.set("g", "c", {"x": object()})


def _old_parse(raw: bytes) -> Any:
    """What the HTTP layer did before ``_parse_json``: the reference behaviour."""

    def reject_constant(name: str) -> Any:
        raise ValueError(name)

    body = json.loads(raw, parse_constant=reject_constant)
    json.dumps(body, ensure_ascii=False).encode("utf-8")
    return body


@given(
    st.one_of(
        JSON_VALUES.map(lambda v: json.dumps(v).encode()),
        JSON_VALUES.map(lambda v: json.dumps(v, ensure_ascii=False).encode()),
        JSON_VALUES.map(lambda v: json.dumps(v).encode("utf-16")),
        st.text().map(lambda t: json.dumps(t, ensure_ascii=False).encode("utf-8", "surrogatepass")),
        st.sampled_from(
            [b"NaN", b'{"a": Infinity}', b'"\\ud800"', b'["\\udc00x"]', b"\xed\xa0\x80"]
        ),
        st.binary(max_size=12),
    )
)
def test_request_bodies_parse_as_before(raw: bytes) -> None:
    try:
        expected = _old_parse(raw)
    except (ValueError, UnicodeError):
        with pytest.raises((ValueError, UnicodeError)):
            _parse_json(raw)
    else:
        assert _parse_json(raw) == expected


class Body(pydantic.BaseModel):
    n: int
    name: str = ""
    price: float = 0.0
    tags: list[str] = []
    item: Item | None = None


BODY_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "n": st.integers() | st.floats(allow_nan=False) | st.text(max_size=3) | st.none(),
        "name": st.text(max_size=5) | st.integers(),
        "price": st.floats(allow_nan=False) | st.integers() | st.text(max_size=3),
        "tags": st.lists(st.text(max_size=3) | st.integers(), max_size=3),
        "item": st.fixed_dictionaries({"sku": st.text(max_size=3) | st.integers()}) | st.none(),
        "extra": JSON_VALUES,
    },
)


def _outcome(decide: Callable[[], Any]) -> tuple[str, Any]:
    try:
        # Compared by repr: a price of "nan" decodes to a float NaN, and NaN != NaN.
        return ("ok", repr(decide()))
    except InputValidationError as exc:
        return ("invalid", [(e["loc"], e["type"]) for e in exc.errors])
    except (ValueError, UnicodeError):
        return ("malformed", None)


@given(
    st.one_of(
        BODY_FIELDS.map(lambda d: json.dumps(d).encode()),
        BODY_FIELDS.map(lambda d: json.dumps(d).encode("utf-16")),
        JSON_VALUES.map(lambda v: json.dumps(v).encode()),
        st.sampled_from(
            [
                b'{"n": NaN}',
                b'{"n": 1, "price": Infinity}',
                b'{"n": 1, "name": "\\ud800"}',
                b'{"n": 1',
                b'{"n": 1, "price": "NAN"}',  # lax mode reads it as a float NaN
            ]
        ),
    )
)
def test_one_pass_body_validation_decides_as_parse_then_validate(raw: bytes) -> None:
    schema = Schema(Body)

    def one_pass() -> Any:
        body = schema.validate_json(raw, "request body")
        return schema.validate(_parse_json(raw), "request body") if body is UNDECIDED else body

    assert _outcome(one_pass) == _outcome(lambda: schema.validate(_parse_json(raw), "request body"))
