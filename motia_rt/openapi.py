"""OpenAPI 3.1 document generated from the api steps' schemas (served at /__motia/openapi.json)."""

from __future__ import annotations

import json
from typing import Any

from .steps import Step, StepRegistry, route_pattern

__all__ = ["openapi_document"]

_ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "traceId": {"type": "string"}},
    "required": ["error"],
}
_CLIENT_ERRORS = {
    "400": "malformed JSON or a body that fails validation",
    "413": "request body over the size limit",
    "415": "content type is not application/json",
    "500": "the handler failed (the body carries the trace id)",
    "504": "the handler timed out",
}


def _hoist(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """Move ``$defs`` into ``components/schemas`` and point ``$ref``s there."""
    text = json.dumps(schema).replace('"#/$defs/', '"#/components/schemas/')
    moved: dict[str, Any] = json.loads(text)
    for name, definition in moved.pop("$defs", {}).items():
        components.setdefault(name, definition)
    return moved


def _operation(step: Step, components: dict[str, Any]) -> dict[str, Any]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in route_pattern(step.path or "/")[1]
    ]
    for query in step.config.get("queryParams", []) or []:
        params.append({"name": query["name"], "in": "query", "required": False,
                       "schema": {"type": "string"}, "description": query.get("description", "")})  # fmt: skip
    operation: dict[str, Any] = {
        "operationId": step.name,
        "summary": step.config.get("description", step.name),
        "tags": list(step.flows) or ["default"],
        "parameters": params,
        "responses": {},
    }
    if step.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _hoist(step.body.json_schema, components)}},
        }
    for status, schema in sorted(step.responses.items()):
        operation["responses"][str(status)] = {
            "description": f"status {status}",
            "content": {"application/json": {"schema": _hoist(schema.json_schema, components)}},
        }
    if not step.responses:
        # No declared status: any 2xx the handler returns (a handler's 202 is not documented as 200).
        operation["responses"]["2XX"] = {
            "description": "the handler's response (declare responseSchema to document its status)"
        }
    errors = dict(_CLIENT_ERRORS)
    if step.body is None:
        errors.pop("413")
        errors.pop("415")
    for code, text in errors.items():
        operation["responses"].setdefault(code, {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        })  # fmt: skip
    return operation


def openapi_document(registry: StepRegistry, title: str = "motia app") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every api step (paths, bodies, responses, errors)."""
    components: dict[str, Any] = {"Error": _ERROR}
    paths: dict[str, dict[str, Any]] = {}
    for step in sorted(registry.of_kind("api"), key=lambda s: (s.path or "", s.method or "")):
        path = route_pattern(step.path or "/")[0]
        paths.setdefault(path, {})[str(step.method).lower()] = _operation(step, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1.0.0"},
        "paths": paths,
        "components": {"schemas": components},
    }
