"""Who may use the dev tools: Host names in dev mode (DNS rebinding), cross-origin and non-JSON
writes, the token as header or cookie (never needed in a URL), and its redaction from the log."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from motia_rt.dev_access import TOKEN_COOKIE
from motia_rt.server import create_app
from tests.app.conftest import STEPS
from tests.live_server import LiveServer

JSON = {"content-type": "application/json"}
EMIT = b'{"topic": "api.degraded", "data": {"latencyMs": 5000, "reason": "slow"}}'
BASE = "http://127.0.0.1:3000"


async def client(**options: Any) -> httpx.AsyncClient:
    app = create_app(STEPS, cron=False, **options)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


@pytest.fixture
async def dev() -> AsyncIterator[httpx.AsyncClient]:
    async with await client(dev=True, allowed_hosts=["motia.lan"]) as http:
        yield http


# -- dev mode: the Host must be this machine's --------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1:3000", "localhost:3000", "LOCALHOST", "[::1]:3000", "127.0.0.1", "motia.lan:80"],
)
async def test_dev_tools_answer_to_loopback_bound_and_allowed_hosts(
    dev: httpx.AsyncClient, host: str
) -> None:
    assert (await dev.get("/__motia/status", headers={"host": host})).status_code == 200
    response = await dev.post("/__motia/emit", content=EMIT, headers={**JSON, "host": host})
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    "host", ["attacker.example", "attacker.example:3000", "127.0.0.1.attacker.example", "", "[::2]"]
)
async def test_dev_tools_refuse_other_hosts_dns_rebinding(
    dev: httpx.AsyncClient, host: str
) -> None:
    for method, content in (("GET", None), ("POST", EMIT)):
        response = await dev.request(
            method, "/__motia/status" if content is None else "/__motia/emit",
            content=content, headers={**JSON, "host": host},
        )  # fmt: skip
        assert response.status_code == 403, (method, host)
        assert "MOTIA_ALLOWED_HOSTS" in response.json()["error"]
    assert (await dev.get("/__motia/status")).json()["cursor"] == 0, "nothing was emitted"


async def test_the_app_itself_is_not_host_checked(dev: httpx.AsyncClient) -> None:
    response = await dev.get("/orders/ord_unknown", headers={"host": "shop.example"})
    assert response.status_code == 404 and "order" in response.text.lower()


async def test_allowed_hosts_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTIA_ALLOWED_HOSTS", "dev.example.test, 10.0.0.5")
    async with await client(dev=True) as http:
        for host in ("dev.example.test:3000", "10.0.0.5"):
            assert (await http.get("/__motia/status", headers={"host": host})).status_code == 200
        assert (await http.get("/__motia/status", headers={"host": "x.test"})).status_code == 403


# -- writes: same origin, JSON --------------------------------------------------------------------


@pytest.mark.parametrize("origin", ["http://attacker.example", "null", "https://127.0.0.1:3443",
                                    "http://127.0.0.1:5173", "http://localhost:3000", "http://127.0.0.1:3000.evil.example"])  # fmt: skip
async def test_a_cross_origin_write_is_403(dev: httpx.AsyncClient, origin: str) -> None:
    # The browser's simple request: text/plain, no preflight. Refused for its origin first.
    for content_type in ("text/plain", "application/json"):
        response = await dev.post("/__motia/emit", content=EMIT,
                                  headers={"content-type": content_type, "origin": origin})  # fmt: skip
        assert response.status_code == 403, (origin, content_type)
        assert "cross-origin" in response.json()["error"]
    redrive = await dev.post("/__motia/dead-letters/x/redrive", headers={"origin": origin})
    assert redrive.status_code == 403
    assert (await dev.get("/__motia/status")).json()["cursor"] == 0, "nothing was emitted"


async def test_a_same_origin_write_is_served(dev: httpx.AsyncClient) -> None:
    response = await dev.post("/__motia/emit", content=EMIT, headers={**JSON, "origin": BASE})
    assert response.status_code == 202, response.text


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])  # fmt: skip
async def test_a_write_that_is_not_json_is_415(
    dev: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await dev.post("/__motia/emit", content=EMIT, headers=headers)
    assert response.status_code == 415, response.text
    assert "application/json" in response.json()["error"]
    # A body-less POST (the Workbench's redrive) needs no content type.
    redrive = await dev.post("/__motia/dead-letters/nope/redrive")
    assert redrive.status_code == 404


# -- the token: a header for everything, a cookie or ?token= for reads only ---------------------


async def test_the_token_as_header_cookie_or_query() -> None:
    async with await client(dev=False, token="s3cret") as http:
        bearer = {"authorization": "Bearer s3cret"}
        assert (await http.get("/__motia/status", headers=bearer)).status_code == 200
        emitted = await http.post("/__motia/emit", content=EMIT, headers={**JSON, **bearer})
        assert emitted.status_code == 202

        page = await http.get("/__motia/workbench", params={"token": "s3cret"})
        assert page.status_code == 200
        cookie = page.headers["set-cookie"]
        assert cookie.startswith(f"{TOKEN_COOKIE}=s3cret;")
        for attribute in ("HttpOnly", "SameSite=strict", "Path=/__motia"):
            assert attribute.lower() in cookie.lower()

        as_cookie = {"cookie": f"{TOKEN_COOKIE}=s3cret"}
        http.cookies.clear()
        assert (await http.get("/__motia/status", headers=as_cookie)).status_code == 200
        assert (await http.get("/__motia/status", params={"token": "s3cret"})).status_code == 200
        # Writes need the header: a cookie rides along on requests a page did not mean to make.
        by_cookie = await http.post("/__motia/emit", content=EMIT, headers={**JSON, **as_cookie})
        by_query = await http.post("/__motia/emit", content=EMIT, headers=JSON,
                                   params={"token": "s3cret"})  # fmt: skip
        assert by_cookie.status_code == 401 and by_query.status_code == 401
        wrong = {"cookie": f"{TOKEN_COOKIE}=nope"}
        assert (await http.get("/__motia/status", headers=wrong)).status_code == 401


async def test_outside_dev_mode_hosts_are_not_checked_the_token_guards() -> None:
    async with await client(dev=False, token="s3cret") as http:
        headers = {"authorization": "Bearer s3cret", "host": "motia.example.com"}
        assert (await http.get("/__motia/status", headers=headers)).status_code == 200


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_the_token_never_reaches_the_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    lines = _Lines()
    with LiveServer(create_app(STEPS, cron=False, dev=False, token="s3cret")) as server:
        level = access.level
        access.setLevel(logging.INFO)
        access.addHandler(lines)
        try:
            for query in ("?token=s3cret", "?after=0&token=s3cret&once=1", "?TOKEN=s3cret&x=1"):
                httpx.get(server.url + "/__motia/status" + query, timeout=5)
            httpx.get(server.url + "/__motia/workbench?token=s3cret", timeout=5)
        finally:
            access.removeHandler(lines)
            access.setLevel(level)
    assert len(lines.lines) == 4, lines.lines
    assert not any("s3cret" in line for line in lines.lines), lines.lines
    assert all("token=[redacted]" in line.lower() for line in lines.lines), lines.lines
