"""Schemathesis hooks for ``tests/rt/test_openapi.py`` (loaded by the ``st`` subprocess through
``SCHEMATHESIS_HOOKS``): steer some requests at data the reference app knows, so the fuzzer gets
past "unknown sku" and "order not found" into the saga and every order view."""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis
from hypothesis import strategies as st

CATALOGUE = ["sku-book", "sku-pen", "sku-lamp", "sku-rare", "sku-gold", "sku-soldout"]
KNOWN_ORDERS: list[str] = json.loads(os.environ.get("MOTIA_KNOWN_ORDERS", "[]"))


@schemathesis.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        return st.just(body)
    # Always: the coverage phase (which runs no hooks) already sends the unknown SKUs.
    skus = st.lists(st.sampled_from(CATALOGUE), min_size=len(items), max_size=len(items))
    return skus.map(
        lambda s: {**body, "items": [{**i, "sku": k} for i, k in zip(items, s, strict=True)]}
    )


@schemathesis.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, params: Any
) -> st.SearchStrategy[Any]:
    if not isinstance(params, dict) or "orderId" not in params or not KNOWN_ORDERS:
        return st.just(params)
    known = st.sampled_from(KNOWN_ORDERS).map(lambda o: {**params, "orderId": o})
    return st.one_of(st.just(params), known)
