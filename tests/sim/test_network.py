"""The virtual network: steps' outbound httpx requests, module-level clients included, go to fakes
chosen by host, in the simulator and on the runtime; an unrouted host is a clear error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from motia_rt.network import VirtualNetwork, routing
from motia_rt.testing import Runtime
from motia_sim import SimHarness, Simulation
from tests.sim.apps import write

PETS = {
    "pets_step.py": """
        import httpx

        # Created at import time, as real steps do: the virtual network still routes it.
        client = httpx.AsyncClient(base_url="https://api.pets.test", timeout=10)
        directory = httpx.Client(base_url="https://directory.test")

        config = {"type": "event", "name": "AdoptPet", "subscribes": ["pet.wanted"],
                  "emits": ["pet.adopted"], "infrastructure": {"queue": {"maxRetries": 0}}}

        async def handler(input, context):
            owner = directory.get(f"/owners/{input['owner']}").json()
            response = await client.post("/pets", json={"name": input["name"], "owner": owner})
            response.raise_for_status()
            pet = response.json()
            await context.state.set("pets", str(pet["id"]), pet)
            await context.emit("pet.adopted", pet)
    """,
}


def pet_store() -> Starlette:
    """A fake pet store API: an ordinary Starlette app holding its records."""
    pets: list[dict[str, Any]] = []

    async def create(request: Request) -> JSONResponse:
        body = await request.json()
        pet = {"id": len(pets) + 1, **body}
        pets.append(pet)
        return JSONResponse(pet, status_code=201)

    app = Starlette(routes=[Route("/pets", create, methods=["POST"])])
    app.state.pets = pets
    return app


def directory(request: httpx.Request) -> httpx.Response:
    """A fake owner directory: a plain function of the request (sync client, sync fake)."""
    return httpx.Response(200, json={"name": request.url.path.rsplit("/", 1)[-1].title()})


def fakes() -> dict[str, Any]:
    return {"api.pets.test": pet_store(), "directory.test": directory}


@pytest.fixture(scope="module")
def pets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("pets"), PETS)


async def adopt(h: Any) -> Any:
    await h.emit("pet.wanted", {"name": "Rex", "owner": "ann"})
    return (await h.wait_for_topic("pet.adopted", timeout=5)).data


def test_module_level_clients_reach_the_fakes_in_the_simulator(pets: Path) -> None:
    sim = Simulation(pets, http=fakes, check_determinism=True)
    assert sim.run(adopt) == {"id": 1, "name": "Rex", "owner": {"name": "Ann"}}
    assert sim.last is not None
    net = [e.text for e in sim.last.trace.entries if e.kind == "net"]
    assert net == [
        "AdoptPet#1 GET https://directory.test/owners/ann -> 200",
        "AdoptPet#1 POST https://api.pets.test/pets -> 201",
    ]


def test_a_factory_gives_every_run_fresh_fakes(pets: Path) -> None:
    ids = [Simulation(pets, seed=seed, http=fakes).run(adopt)["id"] for seed in range(3)]
    assert ids == [1, 1, 1]


def test_the_runtime_routes_the_same_fakes(pets: Path) -> None:
    assert Runtime(pets, http=fakes).run(adopt) == {
        "id": 1,
        "name": "Rex",
        "owner": {"name": "Ann"},
    }


def test_a_host_without_a_fake_is_a_clear_error_naming_host_and_step(pets: Path) -> None:
    async def adopt_and_settle(h: SimHarness) -> None:
        await h.emit("pet.wanted", {"name": "Rex", "owner": "ann"})
        await h.settle()

    sim = Simulation(pets, http={"directory.test": directory})
    sim.run(adopt_and_settle)
    assert sim.last is not None
    (run,) = sim.last.world.runs
    assert run.error is not None
    assert run.error.startswith(
        "SimulationEscape: httpx.request(POST https://api.pets.test/pets) was called"
    )
    for part in ("'api.pets.test'", "step AdoptPet", "http={'api.pets.test': fake}"):
        assert part in run.error, part


def test_requests_is_refused_naming_the_host_and_httpx(tmp_path: Path) -> None:
    steps = write(tmp_path, {
        "legacy_step.py": """
            import requests

            config = {"type": "event", "name": "Legacy", "subscribes": ["go"], "emits": [],
                      "infrastructure": {"queue": {"maxRetries": 0}}}

            async def handler(input, context):
                requests.get("https://api.legacy.test/status", timeout=1)
        """,
    })  # fmt: skip

    async def go(h: SimHarness) -> None:
        await h.emit("go", {})
        await h.settle()

    sim = Simulation(steps)
    sim.run(go)
    assert sim.last is not None
    (run,) = sim.last.world.runs
    assert run.error is not None and "for host 'api.legacy.test'" in run.error
    assert "with httpx" in run.error


def test_a_sync_client_reaches_an_asgi_fake_and_an_async_function_fake() -> None:
    async def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=request.content)

    network = VirtualNetwork({"api.pets.test": pet_store(), "echo.test:8080": echo})
    with routing(network), httpx.Client() as client:
        created = client.post("https://api.pets.test/pets", json={"name": "Rex"})
        echoed = client.post("http://echo.test:8080/", content=b"hi")
    assert (created.status_code, created.json()) == (201, {"id": 1, "name": "Rex"})
    assert echoed.content == b"hi"


def test_a_fake_that_returns_no_response_is_named() -> None:
    network = VirtualNetwork({"bad.test": lambda request: {"ok": True}})
    with routing(network), httpx.Client() as client, pytest.raises(TypeError, match=r"bad\.test"):
        client.get("https://bad.test/")
