"""Find ``*_step.py`` files under a directory, import them as a package, validate their configs.

The steps directory is imported as a synthetic package, so step files may import sibling and nested
helper modules relatively (``from .services.pet_store import pet_store_service``), as Motia allows.
An optional ``services`` module beside the steps (``services.py`` or ``services/__init__.py``) that
defines ``default_services()`` gives the app's default service bindings.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import math
import sys
import types
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .cron_expression import CronExpressionError, croniter_form
from .errors import StepLoadError
from .schema import Schema, SchemaError
from .settings import validation_default
from .steps import Step, StepRegistry, route_key, route_pattern

__all__ = ["load_steps"]

_KINDS = ("api", "event", "cron", "noop")
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_ARITY = {"api": ("(req, context)", 2), "event": ("(input, context)", 2), "cron": ("(context)", 1)}


def load_steps(directory: str | Path, *, errors: list[StepLoadError] | None = None) -> StepRegistry:
    """Load and validate every ``*_step.py`` under ``directory`` (recursively, sorted by path).

    Raises ``StepLoadError`` naming the file, the config field and the fix for: a missing or
    non-dict ``config``, an unknown ``type``, a missing or ill-typed field, an invalid schema or cron
    expression, a duplicate step name, two api steps on one method and path, and a handler that is
    missing, not ``async`` or takes the wrong arguments. Each call imports the files afresh.

    With an ``errors`` list, a broken file is skipped and its error appended instead (the dev
    server keeps serving the other steps).
    """
    root = Path(directory).resolve()
    if not root.is_dir():
        raise StepLoadError(
            root, "steps directory", "does not exist", "pass the folder of *_step.py"
        )
    package = _install_package(root)
    steps: list[Step] = []
    names: dict[str, Path] = {}
    routes: dict[tuple[str, str], Path] = {}
    for file in sorted(root.rglob("*_step.py")):
        if any(p.startswith(".") or p == "__pycache__" for p in file.relative_to(root).parts):
            continue
        try:
            step = _build(file, _import(package, root, file))
            _check_unique(file, step, names, routes)
        except StepLoadError as exc:
            if errors is None:
                raise
            errors.append(exc)
            continue
        steps.append(step)
    return StepRegistry(steps, root, _services_factory(package, root))


def _check_unique(
    file: Path, step: Step, names: dict[str, Path], routes: dict[tuple[str, str], Path]
) -> None:
    if step.name in names:
        raise StepLoadError(
            file, "name", f"step name {step.name!r} is already used by {names[step.name]}",
            "give every step a unique config['name']",
        )  # fmt: skip
    if step.kind == "api":
        assert step.path is not None and step.method is not None
        key = (step.method, route_key(step.path))
        if key in routes:
            raise StepLoadError(
                file, "path", f"{step.method} {step.path} is already served by {routes[key]}",
                "change the path or method of one of the two steps",
            )  # fmt: skip
        routes[key] = file
    names[step.name] = file


class _FreshSourceLoader(importlib.machinery.SourceFileLoader):
    """Compiles from source every time: a cached ``.pyc`` is trusted when the source has the same
    size and modification second, so an edit saved right after a load would be missed."""

    def get_code(self, fullname: str) -> types.CodeType:
        return self.source_to_code(self.get_data(self.path), self.path)


class _StepsFinder(importlib.abc.MetaPathFinder):
    """Finds the modules of loaded steps folders (``_motia_steps_*``) with the fresh loader."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(_PREFIX):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            assert spec.origin is not None
            spec.loader = _FreshSourceLoader(fullname, spec.origin)
        return spec


_PREFIX = "_motia_steps_"
if not any(isinstance(f, _StepsFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _StepsFinder())


def _install_package(root: Path) -> str:
    """Register ``root`` as a fresh package so relative imports between step files work."""
    name = _PREFIX + hashlib.sha1(str(root).encode()).hexdigest()[:10]
    for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[mod]
    init = root / "__init__.py"
    if init.exists():
        spec = importlib.util.spec_from_file_location(
            name, init, submodule_search_locations=[str(root)]
        )
        assert spec is not None and spec.loader is not None
        package = importlib.util.module_from_spec(spec)
        sys.modules[name] = package
        spec.loader.exec_module(package)
    else:
        package = types.ModuleType(name)
        package.__path__ = [str(root)]
        package.__package__ = name
        sys.modules[name] = package
    importlib.invalidate_caches()
    return name


def _import(package: str, root: Path, file: Path) -> types.ModuleType:
    dotted = ".".join(file.relative_to(root).with_suffix("").parts)
    try:
        return importlib.import_module(f"{package}.{dotted}")
    except StepLoadError:
        raise
    except Exception as exc:
        raise StepLoadError(
            file, "module", f"importing it failed: {type(exc).__name__}: {exc}",
            "fix that error in the file; step files must import without side effects that can fail",
        ) from exc  # fmt: skip


def _services_factory(package: str, root: Path) -> Callable[[], dict[str, Any]] | None:
    if not ((root / "services.py").exists() or (root / "services" / "__init__.py").exists()):
        return None
    module = importlib.import_module(f"{package}.services")
    factory = getattr(module, "default_services", None)
    if factory is not None and not callable(factory):
        raise StepLoadError(
            root / "services.py", "default_services", "is not callable",
            "define `def default_services() -> dict[str, object]` returning fresh fakes",
        )  # fmt: skip
    return factory


def _build(file: Path, module: types.ModuleType) -> Step:
    config = getattr(module, "config", None)
    if not isinstance(config, Mapping):
        raise StepLoadError(
            file,
            "config",
            "the module has no config dict",
            "define a module-level `config = {...}`",
        )
    check = _Checker(file, config)
    kind = check.choice("type", _KINDS)
    name = check.text("name")
    handler = getattr(module, "handler", None)
    if kind != "noop":
        _check_handler(file, kind, handler)
    infra = check.mapping("infrastructure")
    handler_infra = _Checker(file, infra, "infrastructure.").mapping("handler")
    queue = _Checker(file, infra, "infrastructure.").mapping("queue")
    hc = _Checker(file, handler_infra, "infrastructure.handler.")
    qc = _Checker(file, queue, "infrastructure.queue.")
    common: dict[str, Any] = dict(
        name=name, kind=kind, file=file, config=config,
        handler=handler if kind != "noop" else None,
        emits=check.topics("emits"), virtual_emits=check.topics("virtualEmits"),
        virtual_subscribes=check.topics("virtualSubscribes"), flows=tuple(check.strings("flows")),
        timeout=hc.number("timeout", 30.0, positive=True),
        max_retries=qc.integer("maxRetries", 3),
        fifo=qc.choice("type", ("standard", "fifo"), "standard") == "fifo",
        delay_seconds=qc.number("delaySeconds", 0.0),
        visibility_timeout=qc.number("visibilityTimeout", 30.0, positive=True),
    )  # fmt: skip
    if kind == "api":
        method = check.text("method").upper()
        if method not in _METHODS:
            raise StepLoadError(file, "method", f"{method!r} is not an HTTP method",
                                f"use one of {', '.join(_METHODS)}")  # fmt: skip
        path = check.text("path")
        if not path.startswith("/"):
            raise StepLoadError(file, "path", f"{path!r} does not start with '/'",
                                f"write it as '/{path}'")  # fmt: skip
        params = route_pattern(path)[1]
        for name in params:
            if params.count(name) > 1:
                raise StepLoadError(file, "path", f"parameter {name!r} appears twice in {path!r}",
                                    "give each path parameter a distinct name")  # fmt: skip
        responses = check.mapping("responseSchema")
        for code in responses:
            if not (isinstance(code, int) or (isinstance(code, str) and code.isdigit())) or not (
                100 <= int(code) <= 599
            ):
                raise StepLoadError(file, f"responseSchema.{code}", "is not an HTTP status code",
                                    "key responseSchema by status, e.g. {200: Model}")  # fmt: skip
        mw = check.value("middleware", [])
        if not isinstance(mw, list | tuple) or not all(inspect.iscoroutinefunction(m) for m in mw):
            raise StepLoadError(file, "middleware", "must be a list of async functions",
                                "use `async def mw(req, context, next): return await next()`")  # fmt: skip
        # Request bodies validate in pydantic's strict mode unless the step or project opts out.
        strict = check.choice("validation", ("strict", "lax"), validation_default(file)) == "strict"
        return Step(
            **common, path=path, method=method,
            body=check.schema("bodySchema", strict=True if strict else None),
            responses={int(code): check.schema_of(f"responseSchema.{code}", s)
                       for code, s in responses.items()},
            middleware=tuple(mw),
        )  # fmt: skip
    if kind == "event":
        subscribes = check.topics("subscribes", required=True)
        if not subscribes:
            raise StepLoadError(file, "subscribes", "is empty", "list at least one topic")
        return Step(**common, subscribes=subscribes, input=check.schema("input"))
    if kind == "cron":
        expr = check.text("cron")
        try:
            croniter_form(expr)  # Motia's reading: six fields are seconds first
        except CronExpressionError as exc:
            raise StepLoadError(file, "cron", str(exc), exc.fix) from None
        return Step(**common, cron=expr)
    return Step(**common)


def _check_handler(file: Path, kind: str, handler: object) -> None:
    shape, arity = _ARITY[kind]
    fix = f"define `async def handler{shape}:`"
    if handler is None:
        raise StepLoadError(file, "handler", "the module has no handler", fix)
    if not inspect.iscoroutinefunction(handler):
        raise StepLoadError(file, "handler", "is not an async function", fix)
    try:
        inspect.signature(handler).bind(*range(arity))
    except TypeError:
        raise StepLoadError(
            file, "handler", f"cannot be called with {arity} argument(s) {shape}", fix
        ) from None


class _Checker:
    """Typed reads of config fields that fail with the field's dotted name and a fix."""

    def __init__(self, file: Path, config: Mapping[str, Any], prefix: str = "") -> None:
        self.file, self.config, self.prefix = file, config, prefix

    def fail(self, key: str, problem: str, fix: str) -> StepLoadError:
        return StepLoadError(self.file, self.prefix + key, problem, fix)

    def value(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)

    def text(self, key: str) -> str:
        value = self.config.get(key)
        if value is None:
            raise self.fail(key, "is missing", f"add config[{key!r}] (a string)")
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a non-empty string, got {value!r}", "use a string")
        return value

    def choice(self, key: str, options: tuple[str, ...], default: str | None = None) -> str:
        value = self.config.get(key, default)
        if value not in options:
            got = "is missing" if value is None else f"is {value!r}, not a known value"
            raise self.fail(key, got, f"use one of: {', '.join(map(repr, options))}")
        return str(value)

    def mapping(self, key: str) -> Mapping[str, Any]:
        value = self.config.get(key, {})
        if not isinstance(value, Mapping):
            raise self.fail(key, f"must be a dict, got {type(value).__name__}", "use a dict")
        return value

    def strings(self, key: str) -> list[str]:
        value = self.config.get(key, [])
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f"must be a list of strings, got {value!r}", "use ['a', 'b']")
        return list(value)

    def topics(self, key: str, required: bool = False) -> tuple[str, ...]:
        if required and key not in self.config:
            raise self.fail(key, "is missing", f"add config[{key!r}] = ['some.topic']")
        value = self.config.get(key, [])
        out: list[str] = []
        if isinstance(value, list | tuple):
            for item in value:
                topic = item.get("topic") if isinstance(item, Mapping) else item
                if not isinstance(topic, str) or not topic:
                    break
                out.append(topic)
            else:
                return tuple(out)
        raise self.fail(
            key, f"must be a list of topic names or {{'topic': ...}} dicts, got {value!r}",
            f"write config[{key!r}] = ['order.created']",
        )  # fmt: skip

    def number(self, key: str, default: float, positive: bool = False) -> float:
        value = self.config.get(key, default)
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or value < 0 or (positive and value == 0):
            kind = "a positive" if positive else "a non-negative"
            raise self.fail(key, f"must be {kind} number of seconds, got {value!r}", "use e.g. 5")
        return float(value)

    def integer(self, key: str, default: int) -> int:
        value = self.config.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise self.fail(key, f"must be a non-negative integer, got {value!r}", "use e.g. 3")
        return value

    def schema(self, key: str, *, strict: bool | None = None) -> Schema | None:
        if self.config.get(key) is None:
            return None
        return self.schema_of(key, self.config[key], strict=strict)

    def schema_of(self, key: str, source: Any, *, strict: bool | None = None) -> Schema:
        try:
            return Schema(source, strict=strict)
        except SchemaError as exc:
            raise StepLoadError(
                self.file, self.prefix + key, str(exc),
                "pass a pydantic model class (class Body(BaseModel): ...) or a JSON Schema dict",
            ) from None  # fmt: skip
