"""``[tool.motia] validation = "motia"``: Motia's own behaviour for a project migrating in (nothing
validated, an undeclared emit logged and dropped), with a step able to opt back into strictness."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from motia_rt.testing import Runtime
from motia_sim import Simulation
from tests.step_files import make_app

APP = {
    "steps/create_step.py": """
        from pydantic import BaseModel

        class Order(BaseModel):
            quantity: int

        config = {"type": "api", "name": "Create", "path": "/orders", "method": "POST",
                  "bodySchema": Order, "emits": ["order.created"]}

        async def handler(req, context):
            body = req.body if isinstance(req.body, dict) else req.body.model_dump()
            await context.emit("order.created", body)
            await context.emit("order.audited", body)  # not declared
            return {"status": 202, "body": {"got": body}}
    """,
    "steps/strict_step.py": """
        from pydantic import BaseModel

        class Order(BaseModel):
            quantity: int

        config = {"type": "api", "name": "Strict", "path": "/strict", "method": "POST",
                  "bodySchema": Order, "emits": [], "validation": "strict"}

        async def handler(req, context):
            return {"status": 200, "body": {}}
    """,
    "steps/record_step.py": """
        from pydantic import BaseModel

        class Created(BaseModel):
            quantity: int

        config = {"type": "event", "name": "Record", "subscribes": ["order.created"],
                  "emits": [], "input": Created}

        async def handler(input, context):
            value = input if isinstance(input, dict) else input.model_dump()
            await context.state.set("orders", "last", value)
    """,
    "steps/audit_step.py": """
        config = {"type": "event", "name": "Audit", "subscribes": ["order.audited"], "emits": []}

        async def handler(input, context):
            await context.state.set("audits", "last", input)
    """,
}


def _project(root: Path, validation: str | None) -> Path:
    make_app(root, APP)
    if validation is not None:
        (root / "pyproject.toml").write_text(f'[tool.motia]\nvalidation = "{validation}"\n')
    return root / "steps"


async def _flow(h: Any) -> dict[str, Any]:
    created = await h.post("/orders", json={"quantity": "two"})  # not an int
    strict = await h.post("/strict", json={"quantity": "two"})
    await h.settle()
    return {
        "created": created.status_code, "strict": strict.status_code,
        "recorded": await h.state.get("orders", "last"),
        "audited": await h.state.get("audits", "last"),
        "emitted": sorted({m.topic for m in h.emitted()}),
    }  # fmt: skip


@pytest.mark.parametrize("harness", ["runtime", "sim"])
def test_motia_mode_validates_nothing_and_drops_undeclared_emits(
    tmp_path: Path, harness: str, caplog: pytest.LogCaptureFixture
) -> None:
    steps = _project(tmp_path, "motia")
    with caplog.at_level(logging.WARNING, logger="motia"):
        result = (Runtime(steps) if harness == "runtime" else Simulation(steps, quiet=False)).run(
            _flow
        )
    assert result == {
        "created": 202, "strict": 400,  # the step that opted back in stays strict
        "recorded": {"quantity": "two"}, "audited": None, "emitted": ["order.created"],
    }  # fmt: skip
    assert "emitted 'order.audited', which its config does not declare: dropped" in caplog.text


def test_the_default_stays_strict(tmp_path: Path) -> None:
    steps = _project(tmp_path, None)

    async def flow(h: Any) -> tuple[int, list[str]]:
        created = await h.post("/orders", json={"quantity": "two"})
        valid = await h.post("/orders", json={"quantity": 2})
        await h.settle()
        return created.status_code, [valid.status_code, *(r.outcome for r in h.runs("Create"))]

    assert Runtime(steps).run(flow) == (400, [500, "error"])  # EmitNotDeclared fails the run
