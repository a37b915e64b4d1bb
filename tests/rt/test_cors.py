"""CORS on the api routes: off by default, answered as Motia answers it when turned on, and never
on the dev tools."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from motia_rt.server import create_app
from tests.rt.conftest import WriteSteps

HELLO = {
    "hello_step.py": """
        config = {"type": "api", "name": "Hello", "path": "/hello", "method": "GET"}
        async def handler(req, context):
            return {"status": 200, "body": {"hello": "world"}}
    """,
}
SITE = "https://app.example.com"
PREFLIGHT = {"origin": SITE, "access-control-request-method": "GET",
             "access-control-request-headers": "content-type, x-api-key"}  # fmt: skip


@asynccontextmanager
async def served(write_steps: WriteSteps, **options: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(write_steps(HELLO), cron=False, **options)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            yield http


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOTIA_CORS_ORIGINS", raising=False)


@pytest.mark.parametrize("options", [{}, {"dev": False}, {"cors": False}])
async def test_cors_is_off_by_default(write_steps: WriteSteps, options: dict[str, Any]) -> None:
    async with served(write_steps, **options) as http:
        r = await http.get("/hello", headers={"origin": SITE})
        assert r.status_code == 200
        assert not [h for h in r.headers if h.startswith("access-control-")]
        preflight = await http.options("/hello", headers=PREFLIGHT)
        assert preflight.status_code == 405, "no preflight answer: the browser blocks the call"
        assert preflight.json()["error"].startswith("method OPTIONS not allowed")
        assert "access-control-allow-origin" not in preflight.headers


async def test_any_origin_gets_a_preflight_answer_and_allow_origin(
    write_steps: WriteSteps,
) -> None:
    async with served(write_steps, cors=True) as http:
        preflight = await http.options("/hello", headers=PREFLIGHT)
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "*"
        assert "GET" in preflight.headers["access-control-allow-methods"]
        assert preflight.headers["access-control-allow-headers"] == "content-type, x-api-key"
        r = await http.get("/hello", headers={"origin": "https://anywhere.example"})
        assert r.json() == {"hello": "world"}
        assert r.headers["access-control-allow-origin"] == "*"
        assert r.headers["access-control-expose-headers"] == "x-trace-id"
        same_origin = await http.get("/hello")
        assert "access-control-allow-origin" not in same_origin.headers


async def test_listed_origins_only(write_steps: WriteSteps) -> None:
    async with served(write_steps, cors=[SITE]) as http:
        r = await http.get("/hello", headers={"origin": SITE})
        assert r.headers["access-control-allow-origin"] == SITE
        assert r.headers["vary"] == "Origin"
        other = await http.get("/hello", headers={"origin": "https://evil.example"})
        assert other.status_code == 200
        assert "access-control-allow-origin" not in other.headers
        refused = await http.options(
            "/hello", headers={**PREFLIGHT, "origin": "https://evil.example"}
        )
        assert refused.status_code == 403
        assert "not allowed by CORS" in refused.json()["error"]


async def test_the_environment_turns_it_on(
    write_steps: WriteSteps, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTIA_CORS_ORIGINS", f"{SITE}/, https://other.example")
    async with served(write_steps) as http:
        r = await http.get("/hello", headers={"origin": SITE})
        assert r.headers["access-control-allow-origin"] == SITE


async def test_the_dev_tools_never_answer_cross_origin(write_steps: WriteSteps) -> None:
    async with served(write_steps, cors=True) as http:
        r = await http.get("/__motia/status", headers={"origin": SITE})
        assert r.status_code == 200
        assert "access-control-allow-origin" not in r.headers
        preflight = await http.options("/__motia/state", headers=PREFLIGHT)
        assert "access-control-allow-origin" not in preflight.headers
