"""``motia-rt dev`` as a developer runs it (a real process), reload with ``create_app(watch=True)``
under a real uvicorn, and the ``routes`` and ``emit`` commands."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from motia_rt.cli import main
from motia_rt.loader import load_steps
from motia_rt.server import create_app
from motia_rt.steps import StepRegistry
from tests.app.conftest import STEPS
from tests.live_server import CliServer, LiveServer, wait_until
from tests.rt.conftest import WriteSteps

HELLO = """
    config = {{"type": "api", "name": "Hello", "path": "/hello", "method": "GET", "emits": []}}
    async def handler(req, context):
        return {{"status": 200, "body": {{"version": {version}}}}}
"""
COUNT = """
    config = {{"type": "api", "name": "Count", "path": "/count", "method": "{method}",
              "emits": ["counted"]}}
    async def handler(req, context):
        n = (await context.state.get("counter", "n") or 0) + 1
        await context.state.set("counter", "n", n)
        await context.emit({{"topic": "counted", "data": {{"n": n}}}})
        return {{"status": 200, "body": {{"n": n}}}}
"""
APP = {
    "hello_step.py": HELLO.format(version=1),
    "count_step.py": COUNT.format(method="POST"),
    "listen_step.py": """
        config = {"type": "event", "name": "Listen", "subscribes": ["counted"], "emits": []}
        async def handler(input, context):
            pass
    """,
    "tick_step.py": """
        config = {"type": "cron", "name": "Tick", "cron": "*/5 * * * *", "emits": []}
        async def handler(context):
            pass
    """,
}


def rewrite(folder: Path, name: str, source: str) -> None:
    (folder / name).write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")


def get_json(url: str) -> object:
    response = httpx.get(url, timeout=5)
    return response.json() if response.status_code == 200 else response.status_code


def count(url: str) -> object:
    response = httpx.post(url + "/count", timeout=5)
    return response.json()["n"] if response.status_code == 200 else response.status_code


def edit_until_served(url: str, folder: Path, version: int) -> None:
    """Edit Hello to ``version`` until the server serves it. Rewriting on each poll covers an
    edit made before the watcher started (which no watcher can see)."""

    def served() -> bool:
        rewrite(folder, "hello_step.py", HELLO.format(version=version))
        return get_json(url + "/hello") == {"version": version}

    wait_until(served, interval=0.1, what=f"Hello version {version} to serve")


def test_motia_rt_dev_prints_what_it_loaded_reloads_and_keeps_state(
    write_steps: WriteSteps, tmp_path: Path
) -> None:
    folder = write_steps(APP)
    with CliServer(["dev", "--steps", str(folder), "--no-cron"], tmp_path / "dev.log") as dev:
        log = dev.log()
        assert "loaded 4 steps" in log
        assert "route  GET    /hello  -> Hello" in log
        assert "route  POST   /count  -> Count" in log
        assert "topic  counted  -> Listen" in log
        assert "cron   */5 * * * *  -> Tick" in log
        assert f"workbench: http://127.0.0.1:{dev.port}/__motia/workbench" in log

        assert [count(dev.url), count(dev.url)] == [1, 2]
        edit_until_served(dev.url, folder, version=2)
        assert count(dev.url) == 3, "state survives the reload"
        assert "reloaded" in dev.log()

        # A broken step is reported with file, field and fix; the others keep serving.
        rewrite(folder, "count_step.py", COUNT.format(method="FETCH"))
        wait_until(lambda: "step not loaded" in dev.log(), what="the load error in the log")
        error = next(line for line in dev.log().splitlines() if "step not loaded" in line)
        assert str(folder / "count_step.py") in error
        assert ": method:" in error and "Fix:" in error
        assert get_json(dev.url + "/hello") == {"version": 2}
        assert count(dev.url) == 404

        rewrite(folder, "count_step.py", COUNT.format(method="POST"))
        wait_until(lambda: count(dev.url) == 4, what="the fixed step to serve, state kept")


def test_ctrl_c_stops_the_dev_server_even_with_a_workbench_open(tmp_path: Path) -> None:
    args = ["dev", "--steps", str(STEPS), "--no-cron", "--no-reload"]
    with CliServer(args, tmp_path / "dev.log") as dev:
        with httpx.stream("GET", dev.url + "/__motia/events", timeout=5) as stream:
            assert stream.status_code == 200
            process = dev.process
            started = time.monotonic()
            process.send_signal(signal.SIGINT)
            assert process.wait(8) == 0
            assert time.monotonic() - started < 6


def test_watch_reload_in_process_keeps_state_and_skips_a_broken_file(
    write_steps: WriteSteps, caplog: pytest.LogCaptureFixture
) -> None:
    folder = write_steps(APP)
    caplog.set_level(logging.INFO, logger="motia.server")
    with LiveServer(create_app(folder, cron=False, watch=True)) as live:
        assert count(live.url) == 1
        edit_until_served(live.url, folder, version=2)
        rewrite(folder, "hello_step.py", "config = {\n")  # a syntax error
        rewrite(folder, "count_step.py", COUNT.format(method="POST").replace('"n": n}', '"n": -n}'))

        def negated() -> int:  # the edited Count answers -n; each call counts one more
            n = count(live.url)
            assert isinstance(n, int)
            return -n if n < 0 else 0

        assert wait_until(negated, what="the edited step to serve") >= 2, "state survives"
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert any(str(folder / "hello_step.py") in e and "Fix:" in e for e in errors), errors
        assert get_json(live.url + "/hello") == 404
        flows = httpx.get(live.url + "/__motia/flows").json()
        assert sorted(s["name"] for s in flows["steps"]) == ["Count", "Listen", "Tick"]


def test_motia_rt_routes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", "--steps", str(STEPS)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split() for line in lines] == [
        ["POST", "/orders", "CreateOrder"],
        ["GET", "/orders/:orderId", "GetOrder"],
    ]


def emit_args(url: str, topic: str, data: str, *extra: str) -> list[str]:
    return ["emit", "--url", url, "--topic", topic, "--data", data, *extra]


def test_motia_rt_emit_into_a_running_server(capsys: pytest.CaptureFixture[str]) -> None:
    with LiveServer(create_app(STEPS, cron=False)) as live:
        data = '{"to": "cli@example.com", "template": "hi", "idempotencyKey": "cli-1"}'
        assert main(emit_args(live.url, "notification.send", data)) == 0
        trace_id = json.loads(capsys.readouterr().out)["traceId"]

        def delivered() -> bool:
            events = httpx.get(live.url + "/__motia/events", params={"once": "1"}).text
            return '"notification.sent"' in events and trace_id in events

        wait_until(delivered, what="the emitted event to be handled")

        assert main(emit_args(live.url, "x", "{not json")) == 2
        assert "--data is not JSON" in capsys.readouterr().err
        assert main(emit_args(live.url, "", "{}")) == 1
        assert "topic" in capsys.readouterr().out

    assert main(emit_args(live.url, "x", "{}")) == 1, "the server is gone now"
    assert f"cannot reach {live.url}" in capsys.readouterr().err


def test_motia_rt_emit_with_a_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MOTIA_DEV_TOKEN", raising=False)
    with LiveServer(create_app(STEPS, cron=False, dev=False, token="s3cret")) as live:
        assert main(emit_args(live.url, "api.degraded", "{}")) == 1
        assert "token" in capsys.readouterr().out
        assert main(emit_args(live.url, "api.degraded", "{}", "--token", "s3cret")) == 0
        monkeypatch.setenv("MOTIA_DEV_TOKEN", "s3cret")
        assert main(emit_args(live.url, "api.degraded", "{}")) == 0, "read from the environment"


def test_reload_serves_an_edit_saved_within_the_same_second(
    write_steps: WriteSteps, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # as on a developer's machine
    folder = write_steps({"hello_step.py": HELLO.format(version=1)})
    first = load_steps(folder)
    before = os.stat(folder / "hello_step.py")
    rewrite(folder, "hello_step.py", HELLO.format(version=2))  # same size
    os.utime(folder / "hello_step.py", ns=(before.st_atime_ns, before.st_mtime_ns + 1))
    second = load_steps(folder)
    assert version(first) == 1
    assert version(second) == 2


def version(registry: StepRegistry) -> Any:
    handler: Any = registry["Hello"].handler
    return asyncio.run(handler(None, None))["body"]["version"]
