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
import sys
import types
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .compat import install_motia_module
from .compat._builders import StepDefinition
from .compat._normalise import build_v1_step, is_v1_config, warn_unknown_keys
from .config_checker import ConfigChecker
from .cron_expression import CronExpressionError, croniter_form
from .errors import StepLoadError
from .project import make_importable, step_folders
from .settings import validation_default
from .steps import Step, StepRegistry, route_key, route_pattern

__all__ = ["load_steps"]

_KINDS = ("api", "event", "cron", "noop")
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_ARITY = {"api": ("(req, context)", 2), "event": ("(input, context)", 2), "cron": ("(context)", 1)}


def load_steps(directory: str | Path, *, errors: list[StepLoadError] | None = None) -> StepRegistry:
    """Load and validate every ``*_step.py`` under ``directory`` (recursively, sorted by path).

    ``directory`` is a steps folder; one named ``steps`` or ``src`` is searched with its sibling
    of the other name, and their parent (the project root) is put first on ``sys.path``, as Motia
    does (``motia_rt.project``). Classic steps (``type``) and Motia 1.0 steps (``triggers``) load
    side by side; unknown config keys warn (``StepConfigWarning``) naming the step and the key.

    Raises ``StepLoadError`` naming the file, the config field and the fix for: a missing or
    non-dict ``config``, an unknown ``type``, a missing or ill-typed field, an invalid schema or cron
    expression, a duplicate step name, two api steps on one method and path, and a handler that is
    missing, not ``async`` or takes the wrong arguments. Each call imports the files afresh.

    With an ``errors`` list, a broken file is skipped and its error appended instead (the dev
    server keeps serving the other steps).
    """
    given = Path(directory).resolve()
    if not given.is_dir():
        raise StepLoadError(
            given, "steps directory", "does not exist", "pass the folder of *_step.py"
        )
    project, folders = step_folders(given)
    make_importable(project)
    install_motia_module()
    steps: list[Step] = []
    names: dict[str, Path] = {}
    routes: dict[tuple[str, str], Path] = {}
    services = None
    for root in folders:
        package = _install_package(root)
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
        services = services or _services_factory(package, root)
    return StepRegistry(steps, given, services)


def _check_unique(
    file: Path, step: Step, names: dict[str, Path], routes: dict[tuple[str, str], Path]
) -> None:
    if step.name in names:
        raise StepLoadError(
            file, "name", f"step name {step.name!r} is already used by {names[step.name]}",
            "give every step a unique config['name']",
        )  # fmt: skip
    for view in step.dispatch_views():
        if view.kind != "api":
            continue
        assert view.path is not None and view.method is not None
        key = (view.method, route_key(view.path))
        if key in routes:
            raise StepLoadError(
                file, "path", f"{view.method} {view.path} is already served by {routes[key]}",
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


_CLASSIC_KEYS = frozenset({
    "type", "name", "description", "flows", "emits", "virtualEmits", "virtualSubscribes", "path",
    "method", "bodySchema", "validation", "responseSchema", "queryParams", "middleware",
    "subscribes", "input", "cron", "infrastructure", "includeFiles",
})  # fmt: skip


def _shared_fields(file: Path, config: Mapping[str, Any]) -> dict[str, Any]:
    """The ``Step`` fields classic and 1.0 configs write alike: name, flows, infrastructure."""
    check = ConfigChecker(file, config)
    infra = check.mapping("infrastructure")
    handler_infra = ConfigChecker(file, infra, "infrastructure.").mapping("handler")
    queue = ConfigChecker(file, infra, "infrastructure.").mapping("queue")
    hc = ConfigChecker(file, handler_infra, "infrastructure.handler.")
    qc = ConfigChecker(file, queue, "infrastructure.queue.")
    virtual = [*check.topics("virtualSubscribes"), *check.topics("virtual_subscribes")]
    return dict(
        name=check.text("name"), virtual_subscribes=tuple(virtual),
        flows=tuple(check.strings("flows")),
        timeout=hc.number("timeout", 30.0, positive=True),
        max_retries=qc.integer("maxRetries", 3),
        fifo=qc.choice("type", ("standard", "fifo"), "standard") == "fifo",
        delay_seconds=qc.number("delaySeconds", 0.0),
        visibility_timeout=qc.number("visibilityTimeout", 30.0, positive=True),
    )  # fmt: skip


def _build(file: Path, module: types.ModuleType) -> Step:
    config = getattr(module, "config", None)
    if is_v1_config(config) or (
        config is None and any(isinstance(v, StepDefinition) for v in vars(module).values())
    ):
        return build_v1_step(file, module, _shared_fields)
    if not isinstance(config, Mapping):
        raise StepLoadError(
            file,
            "config",
            "the module has no config dict",
            "define a module-level `config = {...}` (classic: with 'type'; Motia 1.0: with "
            "'triggers')",
        )
    check = ConfigChecker(file, config)
    kind = check.choice("type", _KINDS)
    handler = getattr(module, "handler", None)
    if kind != "noop":
        _check_handler(file, kind, handler)
    shared = _shared_fields(file, config)
    warn_unknown_keys(file, shared["name"], config, _CLASSIC_KEYS)
    # "strict" and "lax" say how request bodies validate; "motia" turns validation off (bodies,
    # responses, event input) and drops undeclared emits with a warning, as Motia does.
    validation = check.choice("validation", ("strict", "lax", "motia"), validation_default(file))
    motia = validation == "motia"
    common: dict[str, Any] = dict(
        shared, kind=kind, file=file, config=config,
        handler=handler if kind != "noop" else None,
        emits=check.topics("emits"), virtual_emits=check.topics("virtualEmits"),
        undeclared_emits="drop" if motia else "error",
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
        strict = True if validation == "strict" else None
        body = check.schema("bodySchema", strict=strict)
        schemas = {int(code): check.schema_of(f"responseSchema.{code}", s)
                   for code, s in responses.items()}  # fmt: skip
        return Step(
            **common, path=path, method=method, body=None if motia else body,
            responses={} if motia else schemas, middleware=tuple(mw),
        )  # fmt: skip
    if kind == "event":
        subscribes = check.topics("subscribes", required=True)
        if not subscribes:
            raise StepLoadError(file, "subscribes", "is empty", "list at least one topic")
        schema = check.schema("input")
        return Step(**common, subscribes=subscribes, input=None if motia else schema)
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
