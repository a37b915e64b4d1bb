"""``MotiaTestClient.settle()`` against a Redis deployment waits for work a dead worker held:
a worker is SIGKILLed holding deliveries, and settle returns only once another worker has
reclaimed and handled them (``/__motia/status`` counts what Redis holds, not what the API
process itself holds)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from motia_rt.testing import MotiaTestClient
from tests.distributed.apps import APP, SERVICES, Effects, Process
from tests.distributed.test_processes import free_port
from tests.step_files import make_app

SLOW_APP = {
    "services.py": SERVICES,
    "intake_step.py": APP["intake_step.py"],  # POST /work emits work {id}
    "slow_step.py": """
        config = {"type": "event", "name": "Slow", "subscribes": ["work"],
                  "infrastructure": {"handler": {"timeout": 10},
                                     "queue": {"visibilityTimeout": 2, "maxRetries": 3}}}
        import asyncio

        async def handler(input, context):
            await asyncio.sleep(0.5)  # long enough to be killed holding it
            await context.services.effects.record(input["id"])
    """,
}
WORK = 5
TOKEN = "settle-test-token"


async def held(client: Any, prefix: str) -> int:
    return int((await client.xpending(f"{prefix}:topic:work", "Slow"))["pending"])


async def test_settle_waits_for_deliveries_a_killed_worker_held(
    redis_url: str, prefix: str, client: Any, processes: list[Process], tmp_path: Path
) -> None:
    app = make_app(tmp_path / "app", SLOW_APP)
    env = {"EFFECTS_REDIS_URL": redis_url, "EFFECTS_PREFIX": f"{prefix}:fx",
           "MOTIA_REDIS_URL": redis_url, "MOTIA_PREFIX": prefix, "MOTIA_DEV_TOKEN": TOKEN}  # fmt: skip
    port = free_port()
    api = Process("api", ["start", "--steps", str(app), "--port", str(port), "--no-cron"],
                  tmp_path, env)  # fmt: skip
    victim = Process("victim", ["worker", "--steps", str(app)], tmp_path, env)
    survivor = Process("survivor", ["worker", "--steps", str(app)], tmp_path, env)
    processes += [api, victim, survivor]
    api.start()
    victim.start()
    await asyncio.to_thread(api.wait_for_log, "Uvicorn running", 30)
    await asyncio.to_thread(victim.wait_for_log, "consuming", 30)
    found = re.search(r"worker (\S+) consuming", victim.text())
    assert found is not None
    fx = Effects(client, f"{prefix}:fx")

    async with MotiaTestClient(f"http://127.0.0.1:{port}", token=TOKEN) as remote:
        for n in range(WORK):
            response = await remote.post("/work", json={"id": f"w{n}"})
            assert response.status_code == 202
        async with asyncio.timeout(10):  # the victim took them all and is running them
            while await held(client, prefix) < WORK:
                await asyncio.sleep(0.01)
        victim.kill()
        assert await fx.count() == 0, "handled before the kill: nothing left to wait for"
        survivor.start()  # reclaims them once the visibility timeout (2 s) passed
        await remote.settle(timeout=60)
        assert sorted(await fx.effects()) == [f"w{n}" for n in range(WORK)]
        assert await held(client, prefix) == 0

    assert survivor.stop() == 0
    assert api.stop() == 0
    assert "reclaimed" in survivor.text()
