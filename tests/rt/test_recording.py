"""Recordings: a run against a real API is written down (secrets redacted) and served offline to
the simulator by the documented matching rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from motia_rt.recording import REDACTED, UnmatchedRequest, recording
from motia_rt.testing import Runtime
from motia_sim import Simulation
from tests.live_server import LiveServer
from tests.sim.apps import write
from tests.sim.test_network import pet_store

ADOPT = {
    "adopt_step.py": """
        import httpx

        config = {"type": "event", "name": "Adopt", "subscribes": ["pet.wanted"],
                  "emits": ["pet.adopted"], "infrastructure": {"queue": {"maxRetries": 0}}}

        async def handler(input, context):
            async with httpx.AsyncClient(base_url=input["api"]) as client:
                response = await client.post(
                    "/pets", params={"api_key": "k-123", "trace": "on"},
                    headers={"Authorization": "Bearer s3cret"}, json={"name": input["name"]},
                )
            await context.emit("pet.adopted", response.json())
    """,
}


async def adopt_two(h: Any) -> list[Any]:
    api = h.api
    await h.emit("pet.wanted", {"name": "Rex", "api": api})
    await h.emit("pet.wanted", {"name": "Ivy", "api": api})
    await h.settle()
    return sorted((m.data["id"], m.data["name"]) for m in h.emitted("pet.adopted"))


def test_a_recorded_run_replays_offline_with_secrets_redacted(tmp_path: Path) -> None:
    steps = write(tmp_path / "app", ADOPT)
    record = tmp_path / "recording"
    with LiveServer(pet_store()) as api:

        async def live(h: Any) -> list[Any]:
            h.api = api.url
            return await adopt_two(h)

        recorded = Runtime(steps, record=record).run(live)
    assert recorded == [(1, "Rex"), (2, "Ivy")] or recorded == [(1, "Ivy"), (2, "Rex")]

    files = sorted(record.glob("*.json"))
    assert [f.name.split("-", 1)[1] for f in files] == ["POST-127.0.0.1.json"] * 2
    text = "".join(f.read_text() for f in files)
    assert "s3cret" not in text and "k-123" not in text
    first = json.loads(files[0].read_text())
    assert first["request"]["headers"]["authorization"] == REDACTED
    assert (
        "api_key=%5Bredacted%5D" in first["request"]["url"]
        and "trace=on" in first["request"]["url"]
    )
    assert first["response"]["status"] == 201

    async def offline(h: Any) -> list[Any]:
        h.api = api.url  # the same address, served from the recording
        return await adopt_two(h)

    for seed in range(4):  # whatever order the seed delivers them in, each gets its answer
        assert Simulation(steps, seed=seed, http=recording(record)).run(offline) == recorded


def test_repeated_and_unmatched_requests_follow_the_rule(tmp_path: Path) -> None:
    for n, status in enumerate((500, 200), 1):
        exchange = {
            "request": {"method": "GET", "url": "https://api.status.test/v1/ping?key=[redacted]",
                        "headers": {}, "body": None},
            "response": {"status": status, "headers": {"content-type": "application/json"},
                         "body": {"json": {"n": n}}},
        }  # fmt: skip
        (tmp_path / f"{n:04d}-GET-api.status.test.json").write_text(json.dumps(exchange))
    [replayer] = recording(tmp_path)().values()
    ping = httpx.Request("GET", "https://api.status.test/v1/ping?key=anything")
    answers = [replayer(ping) for _ in range(3)]
    assert [(a.status_code, a.json()) for a in answers] == [(500, {"n": 1}), (200, {"n": 2}),
                                                            (200, {"n": 2})]  # fmt: skip
    with pytest.raises(UnmatchedRequest, match=r"closest recorded: GET https://api\.status\.test"):
        replayer(httpx.Request("GET", "https://api.status.test/v1/pong"))
    with pytest.raises(LookupError, match="no recorded exchanges"):
        recording(tmp_path / "empty")
