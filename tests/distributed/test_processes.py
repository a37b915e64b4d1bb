"""The deployment shape end to end: ``motia-rt start`` (HTTP) and ``motia-rt worker`` on one Redis,
dead letters listed and redriven with the CLI, and a graceful SIGTERM (status 0) for both."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from motia_rt.ports import Message
from tests.distributed.apps import Effects, Process
from tests.distributed.test_crash import publisher


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "motia_rt.cli", *args],
                          capture_output=True, text=True, timeout=30)  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_api_process_worker_and_dead_letter_cli(
    redis_url: str, prefix: str, client: Any, app: Path, processes: list[Process], tmp_path: Path
) -> None:
    env = {"EFFECTS_REDIS_URL": redis_url, "EFFECTS_PREFIX": f"{prefix}:fx",
           "MOTIA_REDIS_URL": redis_url, "MOTIA_PREFIX": prefix}  # fmt: skip
    port = free_port()
    api = Process("api", ["start", "--steps", str(app), "--port", str(port), "--no-cron"],
                  tmp_path, env)  # fmt: skip
    worker = Process("worker", ["worker", "--steps", str(app)], tmp_path, env)
    processes += [api, worker]
    api.start()
    worker.start()
    await asyncio.to_thread(api.wait_for_log, "Uvicorn running", 30)
    fx = Effects(client, f"{prefix}:fx")

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        response = await http.post("/work", json={"id": "via-http"})
    assert response.status_code == 202
    async with asyncio.timeout(20):
        while "via-http" not in await fx.effects():
            await asyncio.sleep(0.05)

    transport = await publisher(client, prefix, app)
    await transport.publish(Message("p1", "picky", {"id": "p1"}, "trace-p1", time.time()))
    async with asyncio.timeout(20):
        while not await transport.dead_letters("Picky"):
            await asyncio.sleep(0.05)
    listed = cli("dead-letters", "--redis-url", redis_url, "--prefix", prefix, "--json")
    assert listed.returncode == 0, listed.stderr
    [letter] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (letter["step"], letter["messageId"], letter["attempt"]) == ("Picky", "p1", 1)
    assert "not allowed yet" in letter["error"]

    await client.set(f"{prefix}:fx:allow", "1")
    redriven = cli("redrive", letter["id"], "--redis-url", redis_url, "--prefix", prefix)
    assert redriven.returncode == 0, redriven.stderr
    async with asyncio.timeout(20):
        while "picky-p1" not in await fx.effects():
            await asyncio.sleep(0.05)
    again = cli("redrive", letter["id"], "--redis-url", redis_url, "--prefix", prefix)
    assert again.returncode == 1 and "no dead letter" in again.stderr
    listed = cli("dead-letters", "--redis-url", redis_url, "--prefix", prefix)
    assert listed.stdout.strip() == "no dead letters"
    await transport.close()

    assert worker.stop() == 0
    assert api.stop() == 0
    assert "stopped" in worker.text()
