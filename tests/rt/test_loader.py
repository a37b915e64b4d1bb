"""load_steps: discovery, relative imports, Motia's Python style, and errors that teach."""

from __future__ import annotations

import logging
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from motia_rt import StepLoadError, load_steps
from motia_rt.testing import Runtime

WriteSteps = Callable[..., Path]

API_HANDLER = "async def handler(req, context):\n    return {'status': 200, 'body': {}}\n"
EVENT_HANDLER = "async def handler(input, context):\n    return None\n"
CRON_HANDLER = "async def handler(context):\n    return None\n"
_HANDLERS = {"api": API_HANDLER, "event": EVENT_HANDLER, "cron": CRON_HANDLER, "noop": ""}


def step_source(config: object, handler: str | None = None) -> str:
    """A step file whose config is ``config`` (written with repr) and a handler fitting its type."""
    kind = config.get("type") if isinstance(config, dict) else None
    body = _HANDLERS.get(str(kind), API_HANDLER) if handler is None else handler
    return f"config = {config!r}\n\n{body}"


def api(**fields: Any) -> dict[str, Any]:
    return {"type": "api", "name": "Api", "path": "/things", "method": "GET", **fields}


def event(**fields: Any) -> dict[str, Any]:
    return {"type": "event", "name": "Ev", "subscribes": ["thing.created"], **fields}


def cron(**fields: Any) -> dict[str, Any]:
    return {"type": "cron", "name": "Tick", "cron": "*/5 * * * *", **fields}


def names(directory: Path) -> list[str]:
    return [step.name for step in load_steps(directory)]


# -- discovery ---------------------------------------------------------------------------------


def test_discovers_step_files_recursively_sorted_and_ignores_other_modules(
    write_steps: WriteSteps,
) -> None:
    root = write_steps(
        {
            "zeta_step.py": step_source({"type": "noop", "name": "Zeta"}),
            "orders/nested/deep_step.py": step_source({"type": "noop", "name": "Deep"}),
            "orders/create_step.py": step_source({"type": "noop", "name": "Create"}),
            "alpha_step.py": step_source({"type": "noop", "name": "Alpha"}),
            "not_a_step.py.txt": "raise RuntimeError('never imported')",
            "steps_helpers.py": "raise RuntimeError('not a step file, never imported')",
            "orders/step.py": "raise RuntimeError('no _step suffix, never imported')",
        }
    )
    by_file = sorted((s.file.relative_to(root.resolve()).parts, s.name) for s in load_steps(root))
    assert names(root) == [name for _, name in by_file]
    assert names(root) == ["Alpha", "Create", "Deep", "Zeta"]


def test_registry_order_is_the_same_on_every_load(write_steps: WriteSteps) -> None:
    files = {
        f"s{i}/x{9 - i}_step.py": step_source({"type": "noop", "name": f"N{i}"}) for i in range(6)
    }
    root = write_steps(files)
    assert names(root) == names(root) == [f"N{i}" for i in range(6)]


def test_sibling_relative_import(write_steps: WriteSteps) -> None:
    root = write_steps(
        {
            "helpers.py": "NAME = 'FromSibling'\n",
            "a_step.py": """
                from .helpers import NAME
                config = {"type": "noop", "name": NAME}
            """,
        }
    )
    assert names(root) == ["FromSibling"]


def test_nested_step_imports_shared_model_with_parent_relative_import(
    write_steps: WriteSteps,
) -> None:
    root = write_steps(
        {
            "shared/models.py": """
                from pydantic import BaseModel

                class Order(BaseModel):
                    id: str
            """,
            "orders/create_step.py": """
                from ..shared.models import Order
                config = {"type": "api", "name": "CreateOrder", "path": "/orders",
                          "method": "POST", "bodySchema": Order}
                async def handler(req, context):
                    return {"status": 201, "body": req.body}
            """,
        }
    )
    step = load_steps(root)["CreateOrder"]
    assert step.body is not None and step.body.model is not None
    assert step.body.model.__name__ == "Order"
    assert step.body.model.__module__.endswith(".shared.models")


def test_playground_style_services_subfolder_without_init(write_steps: WriteSteps) -> None:
    root = write_steps(
        {
            "services/pet_store.py": """
                class PetStore:
                    def name(self) -> str:
                        return "PetStoreStep"
                pet_store_service = PetStore()
            """,
            "pets_step.py": """
                from .services.pet_store import pet_store_service
                config = {"type": "noop", "name": pet_store_service.name()}
            """,
        }
    )
    assert not (root / "services" / "__init__.py").exists()
    assert names(root) == ["PetStoreStep"]


def test_steps_folder_that_is_a_package(write_steps: WriteSteps) -> None:
    root = write_steps(
        {
            "__init__.py": "PREFIX = 'Pkg'\n",
            "helpers.py": "from . import PREFIX\nNAME = PREFIX + 'Step'\n",
            "a_step.py": """
                from .helpers import NAME
                config = {"type": "noop", "name": NAME}
            """,
        }
    )
    assert names(root) == ["PkgStep"]


def test_loading_twice_gives_fresh_modules(write_steps: WriteSteps) -> None:
    root = write_steps(
        {
            "counter.py": "hits: list[str] = []\n",
            "a_step.py": """
                from . import counter
                counter.hits.append("imported")
                config = {"type": "api", "name": "A", "path": "/a", "method": "GET"}
                async def handler(req, context):
                    return {"status": 200, "body": counter.hits}
            """,
        }
    )
    first, second = load_steps(root)["A"], load_steps(root)["A"]
    assert first.handler is not second.handler
    assert first.handler is not None and second.handler is not None
    first_counter = first.handler.__globals__["counter"]
    second_counter = second.handler.__globals__["counter"]
    assert first_counter is not second_counter
    assert first_counter.hits == second_counter.hits == ["imported"]


def test_loading_again_sees_files_added_since(write_steps: WriteSteps) -> None:
    root = write_steps({"a_step.py": step_source({"type": "noop", "name": "A"})})
    assert names(root) == ["A"]
    (root / "b_step.py").write_text(step_source({"type": "noop", "name": "B"}))
    assert names(root) == ["A", "B"]


def test_steps_folder_inside_a_hidden_directory_is_loaded(write_steps: WriteSteps) -> None:
    # Regression (fixed): the hidden-part filter looks at the absolute path, so every step under e.g. ~/.apps/
    # or a checkout in /home/u/.work/ is silently skipped and the app has no steps.
    root = write_steps(
        {"a_step.py": step_source({"type": "noop", "name": "A"})}, folder=".hidden/steps"
    )
    assert names(root) == ["A"]


def test_hidden_folders_and_pycache_inside_the_steps_folder_are_skipped(
    write_steps: WriteSteps,
) -> None:
    root = write_steps(
        {
            "a_step.py": step_source({"type": "noop", "name": "A"}),
            ".backup/a_step.py": step_source({"type": "noop", "name": "A"}),
            "__pycache__/b_step.py": "raise RuntimeError('never imported')",
        }
    )
    assert names(root) == ["A"]


def test_missing_steps_folder_is_a_step_load_error(tmp_path: Path) -> None:
    with pytest.raises(StepLoadError) as info:
        load_steps(tmp_path / "nope")
    assert info.value.fix


# -- Motia's Python style, end to end ------------------------------------------------------------

MOTIA_STYLE_APP = {
    "signup_step.py": """
        config = {
            "type": "api",
            "name": "SignUp",
            "path": "/users",
            "method": "POST",
            "bodySchema": {
                "type": "object",
                "properties": {"email": {"type": "string"}, "plan": {"type": "string"}},
                "required": ["email"],
            },
            "emits": [{"topic": "user.created", "label": "new user"}],
            "flows": ["users"],
        }

        async def handler(req, context):
            body = req.get("body", {})
            context.logger.info("Creating user", {"email": body.get("email")})
            user = {"email": body["email"], "plan": body.get("plan", "free")}
            await context.state.set("users", user["email"], user)
            await context.emit({"topic": "user.created", "data": user})
            return {"status": 201, "body": user}
    """,
    "welcome_step.py": """
        config = {
            "type": "event",
            "name": "SendWelcome",
            "subscribes": ["user.created"],
            "emits": ["welcome.sent"],
            "input": {
                "type": "object",
                "properties": {"email": {"type": "string"}},
                "required": ["email"],
            },
            "flows": ["users"],
        }

        async def handler(input_data, context):
            email = input_data.get("email")
            context.logger.info("Welcoming", {"email": email})
            await context.state.set("welcome", email, {"input": type(input_data).__name__})
            await context.emit({"topic": "welcome.sent", "data": {"email": email}})
    """,
}


async def test_motia_python_style_app_runs_end_to_end(
    write_steps: WriteSteps, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="motia.step")
    async with Runtime(write_steps(MOTIA_STYLE_APP)) as rt:
        response = await rt.post("/users", json={"email": "ada@example.com"})
        assert response.status_code == 201, response.text
        assert response.json() == {"email": "ada@example.com", "plan": "free"}
        sent = await rt.wait_for_topic("welcome.sent", match={"email": "ada@example.com"})
        await rt.settle()
        assert sent.trace_id == response.headers["x-trace-id"]
        assert await rt.state.get("users", "ada@example.com") == {
            "email": "ada@example.com",
            "plan": "free",
        }
        assert await rt.state.get("welcome", "ada@example.com") == {"input": "dict"}
        assert [r.outcome for r in rt.runs()] == ["ok", "ok"]
    logged = [r for r in caplog.records if r.name == "motia.step.SignUp"]
    assert logged and "Creating user" in logged[0].getMessage()
    assert getattr(logged[0], "fields", None) == {"email": "ada@example.com"}


# -- errors that name the file, the field and the fix -------------------------------------------

MIDDLEWARE_NOT_ASYNC = f"""
def auth(req, context, next):
    return next()

config = {{**{api()!r}, "middleware": [auth]}}

{API_HANDLER}"""

ERROR_CASES: list[tuple[str, dict[str, str], str, str]] = [
    ("no config", {"x_step.py": API_HANDLER}, "x_step.py", "config"),
    ("config not a dict", {"x_step.py": "config = ['api']\n" + API_HANDLER}, "x_step.py", "config"),
    ("unknown type", {"x_step.py": step_source(api(type="stream"))}, "x_step.py", "type"),
    ("missing type", {"x_step.py": step_source({"name": "X"})}, "x_step.py", "type"),
    ("missing name", {"x_step.py": step_source({"type": "noop"})}, "x_step.py", "name"),
    ("empty name", {"x_step.py": step_source(api(name=" "))}, "x_step.py", "name"),
    ("missing path", {"x_step.py": step_source({**api(), "path": None})}, "x_step.py", "path"),
    (
        "missing method",
        {"x_step.py": step_source({**api(), "method": None})},
        "x_step.py",
        "method",
    ),
    ("invalid method", {"x_step.py": step_source(api(method="FETCH"))}, "x_step.py", "method"),
    ("path without /", {"x_step.py": step_source(api(path="orders"))}, "x_step.py", "path"),
    (
        "missing subscribes",
        {"x_step.py": step_source({"type": "event", "name": "E"})},
        "x_step.py",
        "subscribes",
    ),
    (
        "empty subscribes",
        {"x_step.py": step_source(event(subscribes=[]))},
        "x_step.py",
        "subscribes",
    ),
    (
        "cron in words",
        {"x_step.py": step_source(cron(cron="every 5 minutes"))},
        "x_step.py",
        "cron",
    ),
    ("cron 3 fields", {"x_step.py": step_source(cron(cron="*/5 * *"))}, "x_step.py", "cron"),
    (
        "missing cron",
        {"x_step.py": step_source({"type": "cron", "name": "C"})},
        "x_step.py",
        "cron",
    ),
    ("handler missing", {"x_step.py": step_source(api(), handler="")}, "x_step.py", "handler"),
    (
        "handler not async",
        {"x_step.py": step_source(api(), handler="def handler(req, context):\n    pass\n")},
        "x_step.py",
        "handler",
    ),
    (
        "handler not a function",
        {"x_step.py": step_source(api(), handler="handler = 42\n")},
        "x_step.py",
        "handler",
    ),
    (
        "api handler with one parameter",
        {"x_step.py": step_source(api(), handler="async def handler(req):\n    pass\n")},
        "x_step.py",
        "handler",
    ),
    (
        "cron handler with two required parameters",
        {"x_step.py": step_source(cron(), handler="async def handler(a, context):\n    pass\n")},
        "x_step.py",
        "handler",
    ),
    (
        "event handler with three required parameters",
        {"x_step.py": step_source(event(), handler="async def handler(a, b, c):\n    pass\n")},
        "x_step.py",
        "handler",
    ),
    ("bodySchema 42", {"x_step.py": step_source(api(bodySchema=42))}, "x_step.py", "bodySchema"),
    (
        "bodySchema invalid JSON Schema",
        {"x_step.py": step_source(api(bodySchema={"type": "nope"}))},
        "x_step.py",
        "bodySchema",
    ),
    (
        "input invalid JSON Schema",
        {"x_step.py": step_source(event(input={"type": "nope"}))},
        "x_step.py",
        "input",
    ),
    (
        "responseSchema invalid",
        {"x_step.py": step_source(api(responseSchema={200: "a string"}))},
        "x_step.py",
        "responseSchema.200",
    ),
    *[
        (
            f"timeout {value!r}",
            {"x_step.py": step_source(event(infrastructure={"handler": {"timeout": value}}))},
            "x_step.py",
            "infrastructure.handler.timeout",
        )
        for value in (0, -1, -0.5, "5", True)
    ],
    *[
        (
            f"maxRetries {value!r}",
            {"x_step.py": step_source(event(infrastructure={"queue": {"maxRetries": value}}))},
            "x_step.py",
            "infrastructure.queue.maxRetries",
        )
        for value in (-1, True, 1.5, "3")
    ],
    (
        "queue type lifo",
        {"x_step.py": step_source(event(infrastructure={"queue": {"type": "lifo"}}))},
        "x_step.py",
        "infrastructure.queue.type",
    ),
    (
        "infrastructure not a dict",
        {"x_step.py": step_source(event(infrastructure=["handler"]))},
        "x_step.py",
        "infrastructure",
    ),
    (
        "module raises on import",
        {"x_step.py": "raise RuntimeError('boom at import')\n"},
        "x_step.py",
        "module",
    ),
    (
        "module has a syntax error",
        {"x_step.py": "config = {\n"},
        "x_step.py",
        "module",
    ),
    (
        "helper it imports is missing",
        {"x_step.py": "from .missing_helper import thing\n"},
        "x_step.py",
        "module",
    ),
    *[
        (
            f"emits {value!r}",
            {"x_step.py": step_source(api(emits=value))},
            "x_step.py",
            "emits",
        )
        for value in ("a.topic", [1], [{"label": "x"}], [{"topic": 3}], [""], {"topic": "a"})
    ],
    (
        "subscribes not a list",
        {"x_step.py": step_source(event(subscribes="thing.created"))},
        "x_step.py",
        "subscribes",
    ),
    (
        "nested file error names the nested file",
        {
            "ok_step.py": step_source({"type": "noop", "name": "Ok"}),
            "deep/er/x_step.py": step_source(api(method="FETCH")),
        },
        "deep/er/x_step.py",
        "method",
    ),
    (
        "middleware not async",
        {"x_step.py": MIDDLEWARE_NOT_ASYNC},
        "x_step.py",
        "middleware",
    ),
]


def assert_teaches(exc: StepLoadError, file: Path, field: str) -> None:
    assert Path(exc.file).resolve() == file.resolve()
    assert exc.field == field
    assert exc.fix.strip()
    message = str(exc)
    assert exc.file in message
    assert field in message
    assert exc.fix in message


@pytest.mark.parametrize(
    ("files", "bad_file", "field"),
    [pytest.param(files, bad, field, id=case) for case, files, bad, field in ERROR_CASES],
)
def test_bad_step_file_raises_step_load_error_naming_file_field_and_fix(
    write_steps: WriteSteps, files: dict[str, str], bad_file: str, field: str
) -> None:
    root = write_steps(files)
    with pytest.raises(StepLoadError) as info:
        load_steps(root)
    assert_teaches(info.value, root / bad_file, field)


def test_nan_timeout_is_rejected(write_steps: WriteSteps) -> None:
    source = step_source(event()).replace(
        "config = {", "config = {'infrastructure': {'handler': {'timeout': float('nan')}}, ", 1
    )
    root = write_steps({"x_step.py": source})
    with pytest.raises(StepLoadError) as info:
        load_steps(root)
    assert_teaches(info.value, root / "x_step.py", "infrastructure.handler.timeout")


def test_import_error_keeps_the_original_exception_and_message(write_steps: WriteSteps) -> None:
    root = write_steps({"x_step.py": "raise RuntimeError('boom at import')\n"})
    with pytest.raises(StepLoadError) as info:
        load_steps(root)
    assert "boom at import" in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)


def test_duplicate_step_name_names_both_files(write_steps: WriteSteps) -> None:
    root = write_steps(
        {
            "a/first_step.py": step_source(api(name="Same", path="/one")),
            "b/second_step.py": step_source(event(name="Same")),
        }
    )
    with pytest.raises(StepLoadError) as info:
        load_steps(root)
    assert_teaches(info.value, root / "b/second_step.py", "name")
    assert str((root / "a/first_step.py").resolve()) in str(info.value)
    assert "Same" in str(info.value)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("/orders", "/orders"),
        ("/orders/:id", "/orders/:orderId"),
        ("/orders/{orderId}", "/orders/:orderId"),
        ("/orders/:id/items/{n}", "/orders/{x}/items/:y"),
    ],
)
def test_two_api_steps_on_one_route_name_both_files(
    write_steps: WriteSteps, first: str, second: str
) -> None:
    root = write_steps(
        {
            "a_step.py": step_source(api(name="A", path=first, method="POST")),
            "b_step.py": step_source(api(name="B", path=second, method="post")),
        }
    )
    with pytest.raises(StepLoadError) as info:
        load_steps(root)
    assert_teaches(info.value, root / "b_step.py", "path")
    assert str((root / "a_step.py").resolve()) in str(info.value)


def test_same_path_with_different_methods_loads(write_steps: WriteSteps) -> None:
    root = write_steps(
        {
            "a_step.py": step_source(api(name="A", path="/orders/:id", method="GET")),
            "b_step.py": step_source(api(name="B", path="/orders/:id", method="DELETE")),
        }
    )
    assert names(root) == ["A", "B"]


def test_duplicate_path_parameter_name_is_a_step_load_error(write_steps: WriteSteps) -> None:
    # Regression (fixed): the loader accepts it; Starlette then raises a bare ValueError("Duplicated param name")
    # when the Runtime/server builds its routes, naming neither the step file nor a fix.
    root = write_steps({"x_step.py": step_source(api(path="/a/:id/b/:id"))})
    with pytest.raises(StepLoadError) as info:
        load_steps(root)
    assert_teaches(info.value, root / "x_step.py", "path")


def test_response_schema_with_non_numeric_status_key_is_a_step_load_error(
    write_steps: WriteSteps,
) -> None:
    root = write_steps({"x_step.py": step_source(api(responseSchema={"ok": {"type": "object"}}))})
    with pytest.raises(StepLoadError) as info:
        load_steps(root)
    assert_teaches(info.value, root / "x_step.py", "responseSchema.ok")


# -- what does load ----------------------------------------------------------------------------


def test_noop_step_loads_without_handler(write_steps: WriteSteps) -> None:
    root = write_steps(
        {
            "review_step.py": step_source(
                {
                    "type": "noop",
                    "name": "ManualReview",
                    "virtualSubscribes": ["order.flagged"],
                    "virtualEmits": [{"topic": "order.approved", "label": "approve"}],
                }
            )
        }
    )
    step = load_steps(root)["ManualReview"]
    assert step.kind == "noop"
    assert step.handler is None
    assert step.virtual_subscribes == ("order.flagged",)
    assert step.virtual_emits == ("order.approved",)
    assert step.subscribes == ()


def test_emits_accepts_topic_dicts_with_labels(write_steps: WriteSteps) -> None:
    root = write_steps(
        {
            "x_step.py": step_source(
                api(emits=[{"topic": "a", "label": "x"}, "b", {"topic": "c", "conditional": True}])
            )
        }
    )
    assert load_steps(root)["Api"].emits == ("a", "b", "c")


def test_handler_with_defaults_or_varargs_is_accepted(write_steps: WriteSteps) -> None:
    root = write_steps(
        {
            "a_step.py": step_source(api(), handler="async def handler(*args):\n    pass\n"),
            "c_step.py": step_source(
                cron(), handler="async def handler(context, extra=None):\n    pass\n"
            ),
        }
    )
    assert names(root) == ["Api", "Tick"]


def test_step_fields_and_infrastructure_defaults(write_steps: WriteSteps) -> None:
    root = write_steps(
        {
            "a_step.py": step_source(api(method="post", flows=["f"])),
            "e_step.py": step_source(
                event(
                    infrastructure={
                        "handler": {"timeout": 2.5},
                        "queue": {"type": "fifo", "maxRetries": 0, "delaySeconds": 1},
                    }
                )
            ),
        }
    )
    registry = load_steps(root)
    a, e = registry["Api"], registry["Ev"]
    assert (a.kind, a.method, a.path, a.flows, a.timeout, a.max_retries) == (
        "api", "POST", "/things", ("f",), 30.0, 3,
    )  # fmt: skip
    assert (e.timeout, e.fifo, e.max_retries, e.delay_seconds) == (2.5, True, 0, 1.0)
    assert a.file == (root / "a_step.py").resolve()


def test_registry_lookups(write_steps: WriteSteps) -> None:
    root = write_steps(
        {
            "a_step.py": step_source(api(name="Create", emits=["order.created"])),
            "b_step.py": step_source(event(name="Price", subscribes=["order.created"])),
            "c_step.py": step_source(
                event(name="Audit", subscribes=["order.created", "order.priced"])
            ),
            "d_step.py": step_source(
                {"type": "noop", "name": "Review", "virtualEmits": ["order.approved"]}
            ),
        }
    )
    registry = load_steps(root)
    assert len(registry) == 4
    assert registry["Create"].kind == "api"
    assert "Price" in registry and "Nope" not in registry
    with pytest.raises(KeyError) as info:
        registry["Nope"]
    message = str(info.value)
    assert "Nope" in message
    assert all(name in message for name in ("Audit", "Create", "Price", "Review"))
    assert [s.name for s in registry.subscribers("order.created")] == ["Price", "Audit"]
    assert [s.name for s in registry.subscribers("order.priced")] == ["Audit"]
    assert registry.subscribers("nobody.listens") == []
    assert registry.topics() == ["order.approved", "order.created", "order.priced"]
    assert [s.name for s in registry.of_kind("event")] == ["Price", "Audit"]
    assert {(sub.step, sub.topic) for sub in registry.subscriptions()} == {
        ("Price", "order.created"),
        ("Audit", "order.created"),
        ("Audit", "order.priced"),
    }


# -- Hypothesis: any valid config loads and is mirrored by the Step ----------------------------

_IDENT = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
_SAFE = string.ascii_letters + string.digits + "-_~"
_LITERAL = st.text(alphabet=_SAFE, min_size=1, max_size=8)
_SEGMENT = st.one_of(_LITERAL, _IDENT.map(lambda n: ":" + n), _IDENT.map(lambda n: "{" + n + "}"))
_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1)
_NAME = _TEXT.filter(lambda s: s.strip() != "")
_TOPIC = st.text(alphabet=string.ascii_lowercase + ".-_", min_size=1, max_size=12)
_TOPICS = st.lists(_TOPIC, max_size=4)
_EMITS = st.lists(
    st.one_of(_TOPIC, st.builds(lambda t: {"topic": t}, _TOPIC),
              st.builds(lambda t, label: {"topic": t, "label": label}, _TOPIC, _TEXT)),
    max_size=4,
)  # fmt: skip
_METHOD = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]).flatmap(
    lambda m: st.sampled_from([m, m.lower(), m.title()])
)
_CRON = st.sampled_from(["*/5 * * * *", "0 * * * *", "0 9 * * 1-5", "30 2 1 * *", "* * * * *"])


def _unique_params(segments: list[str]) -> bool:
    params = [s.strip(":{}") for s in segments if s.startswith((":", "{"))]
    return len(params) == len(set(params))


_PATH = (
    st.lists(_SEGMENT, min_size=0, max_size=5)
    .filter(_unique_params)
    .map(lambda segments: "/" + "/".join(segments))
)
_INFRA = st.fixed_dictionaries(
    {},
    optional={
        "handler": st.fixed_dictionaries(
            {}, optional={"timeout": st.floats(0.001, 600) | st.integers(1, 600)}
        ),
        "queue": st.fixed_dictionaries(
            {},
            optional={
                "type": st.sampled_from(["standard", "fifo"]),
                "maxRetries": st.integers(0, 50),
                "delaySeconds": st.floats(0, 60) | st.integers(0, 60),
                "visibilityTimeout": st.floats(0.001, 600),
            },
        ),
    },
)


def _topic_names(emits: list[Any]) -> tuple[str, ...]:
    return tuple(e["topic"] if isinstance(e, dict) else e for e in emits)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # write_steps makes fresh dirs
)
@given(
    step_names=st.lists(_NAME, min_size=4, max_size=4, unique=True),
    path=_PATH,
    method=_METHOD,
    api_emits=_EMITS,
    subscribes=st.lists(_TOPIC, min_size=1, max_size=4),
    event_emits=_EMITS,
    infra=_INFRA,
    cron_expr=_CRON,
    flows=st.lists(_TEXT, max_size=3),
    virtual=_TOPICS,
)
def test_generated_valid_configs_load_and_steps_mirror_them(
    write_steps: WriteSteps,
    step_names: list[str],
    path: str,
    method: str,
    api_emits: list[Any],
    subscribes: list[str],
    event_emits: list[Any],
    infra: dict[str, Any],
    cron_expr: str,
    flows: list[str],
    virtual: list[str],
) -> None:
    api_name, event_name, cron_name, noop_name = step_names
    configs = {
        "api_step.py": {"type": "api", "name": api_name, "path": path, "method": method,
                        "emits": api_emits, "flows": flows},
        "event_step.py": {"type": "event", "name": event_name, "subscribes": subscribes,
                          "emits": event_emits, "infrastructure": infra},
        "cron_step.py": {"type": "cron", "name": cron_name, "cron": cron_expr},
        "noop_step.py": {"type": "noop", "name": noop_name, "virtualEmits": virtual,
                         "virtualSubscribes": virtual},
    }  # fmt: skip
    registry = load_steps(write_steps({f: step_source(c) for f, c in configs.items()}))

    assert sorted(s.name for s in registry) == sorted(step_names)
    a = registry[api_name]
    assert (a.kind, a.path, a.method) == ("api", path, method.upper())
    assert a.emits == _topic_names(api_emits)
    assert a.flows == tuple(flows)
    e = registry[event_name]
    assert e.kind == "event"
    assert e.subscribes == tuple(subscribes)
    assert e.emits == _topic_names(event_emits)
    handler_infra, queue = infra.get("handler", {}), infra.get("queue", {})
    assert e.timeout == handler_infra.get("timeout", 30.0)
    assert e.max_retries == queue.get("maxRetries", 3)
    assert e.fifo == (queue.get("type") == "fifo")
    assert e.delay_seconds == queue.get("delaySeconds", 0.0)
    assert e.visibility_timeout == queue.get("visibilityTimeout", 30.0)
    assert [s.topic for s in e.subscriptions()] == list(subscribes)
    c = registry[cron_name]
    assert (c.kind, c.cron) == ("cron", cron_expr)
    n = registry[noop_name]
    assert (n.kind, n.handler) == ("noop", None)
    assert n.virtual_emits == n.virtual_subscribes == tuple(virtual)
    for step in registry:
        assert step.config == configs[step.file.name]
    assert set(registry.topics()) == {
        *_topic_names(api_emits), *subscribes, *_topic_names(event_emits), *virtual
    }  # fmt: skip
