"""motia-rt: serve the steps, and tools around them.

motia-rt dev [--steps steps] [--port 3000]     dev server: in-memory, reloads on change
motia-rt routes | graph | openapi              what the steps declare
motia-rt emit --topic T --data JSON            emit into a running server
motia-rt start | worker [--redis-url URL]     distributed mode on Redis: HTTP + cron, consumers
motia-rt dead-letters | redrive ID            dead letters kept in Redis
motia-rt create DIR                            a new project: steps, scenarios, tests

Defaults come from the flags, then the MOTIA_* environment, then [tool.motia] in the nearest
pyproject.toml (docs/project-settings.md). `motia-rt COMMAND --help` shows an example of each.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import StepLoadError
from .loader import load_steps
from .network import VirtualNetwork, fakes_of, routing
from .recording import Recorder
from .references import load_object
from .server import create_app, describe
from .settings import ProjectSettings, SettingsError, project_settings

__all__ = ["main", "quiet_broken_pipe"]

Command = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    def register(fn: Command) -> Command:
        COMMANDS[name] = fn
        return fn

    return register


EXAMPLES = {
    "dev": "motia-rt dev --port 3400\nMOTIA_PORT=3400 motia-rt dev --steps steps --no-cron",
    "routes": "motia-rt routes --steps steps",
    "graph": "motia-rt graph > flow.mmd",
    "openapi": "motia-rt openapi | head -20",
    "emit": 'motia-rt emit --topic order.created --data \'{"orderId": "o1"}\'',
    "start": "MOTIA_REDIS_URL=redis://127.0.0.1:6379/0 motia-rt start --port 3000 --with-worker",
    "worker": "motia-rt worker --steps steps --concurrency 32",
    "dead-letters": "motia-rt dead-letters --step ProcessPayment",
    "redrive": "motia-rt redrive ProcessPayment:1700000000000-0",
    "create": "motia-rt create my-app && cd my-app && pytest",
}


def _sub(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str
) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` ends with an example."""
    example = "\n".join("  " + line for line in EXAMPLES.get(name, "").splitlines())
    return sub.add_parser(name, help=text, description=text, epilog=f"example:\n{example}",
                          formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip


def _steps_arg(parser: argparse.ArgumentParser, settings: ProjectSettings) -> None:
    default = os.environ.get("MOTIA_STEPS") or str(settings.steps or "steps")
    parser.add_argument("--steps", default=default, help="folder of *_step.py (env MOTIA_STEPS, "
                        "[tool.motia] steps, default steps)")  # fmt: skip


def _server_args(parser: argparse.ArgumentParser, settings: ProjectSettings) -> None:
    _steps_arg(parser, settings)
    host = os.environ.get("MOTIA_HOST") or settings.host or "127.0.0.1"
    parser.add_argument("--host", default=host, help="bind address (env MOTIA_HOST, [tool.motia] "
                        "host, default 127.0.0.1: loopback only)")  # fmt: skip
    port = os.environ.get("MOTIA_PORT") or settings.port or 3000
    parser.add_argument("--port", type=int, default=int(port),
                        help="TCP port (env MOTIA_PORT, [tool.motia] port, default 3000)")  # fmt: skip


def _parser(settings: ProjectSettings | None = None) -> argparse.ArgumentParser:
    settings = settings or ProjectSettings()
    parser = argparse.ArgumentParser(prog="motia-rt", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    dev = _sub(sub, "dev", "dev server: in-memory state and topics, reloads on change")
    _server_args(dev, settings)
    dev.add_argument("--no-cron", action="store_true", help="do not run cron steps on schedule")
    dev.add_argument("--no-reload", action="store_true", help="do not watch the steps folder")
    dev.add_argument("--http", metavar="FILE::NAME", default=None,
                     help="route the steps' outbound httpx requests by host to fakes: NAME in FILE "
                     "is a mapping {host: ASGI app or function of the request}, or a function "
                     "returning one; other hosts use the real network")  # fmt: skip
    dev.add_argument("--record", metavar="DIR", default=None,
                     help="write every outbound exchange with the real network to DIR, one JSON "
                     "file each, secrets redacted (serve it offline with recording(DIR))")  # fmt: skip
    for name, text in (("routes", "list the HTTP routes of the api steps"),
                       ("graph", "print the flow as a Mermaid diagram"),
                       ("openapi", "print the OpenAPI document of the api steps")):  # fmt: skip
        _steps_arg(_sub(sub, name, text), settings)
    emit = _sub(sub, "emit", "emit an event into a running server")
    emit.add_argument("--topic", required=True)
    emit.add_argument("--data", default="{}", help="JSON data (default {})")
    emit.add_argument("--url", default=os.environ.get("MOTIA_URL", "http://127.0.0.1:3000"))
    emit.add_argument("--token", default=os.environ.get("MOTIA_DEV_TOKEN"))
    _redis_parsers(sub, settings)
    create = _sub(sub, "create", "write a new project: steps, scenarios, tests, pyproject.toml")
    create.add_argument("dir", help="the project folder (created; must be empty if it exists)")
    for name, fn in COMMANDS.items():
        if name not in sub.choices:  # commands registered by other modules
            sub.add_parser(name, help=fn.__doc__)
    return parser


@command("dev")
def _dev(args: argparse.Namespace) -> int:
    import uvicorn

    errors: list[StepLoadError] = []
    registry = load_steps(args.steps, errors=errors)
    for error in errors:
        print(f"error: step not loaded: {error}", file=sys.stderr)
    print(describe(registry), flush=True)
    print(f"workbench: http://{args.host}:{args.port}/__motia/workbench", flush=True)
    app = create_app(registry, cron=not args.no_cron, dev=True, watch=not args.no_reload)
    try:
        fakes = fakes_of(load_object(args.http)) if args.http else {}
        network = VirtualNetwork(fakes, recorder=Recorder(args.record) if args.record else None)
    except (LookupError, ImportError) as exc:
        print(f"error: --http {args.http}: {exc}", file=sys.stderr)
        return 2
    if args.http:
        print(f"outbound HTTP to {', '.join(network.hosts) or 'no host'} goes to the fakes in "
              f"{args.http}", flush=True)  # fmt: skip
    if args.record:
        print(f"recording outbound HTTP to {args.record}", flush=True)
    # The server's tasks inherit the routing; open event streams (a Workbench tab) would hold
    # Ctrl+C forever: cut them after 2 s.
    with routing(network):
        uvicorn.run(app, host=args.host, port=args.port, log_level="info",
                    timeout_graceful_shutdown=2)  # fmt: skip
    return 0


@command("routes")
def _routes(args: argparse.Namespace) -> int:
    registry = load_steps(args.steps)
    for step in sorted(registry.of_kind("api"), key=lambda s: (s.path or "", s.method or "")):
        print(f"{step.method:<6} {step.path}  {step.name}")
    return 0


@command("graph")
def _graph(args: argparse.Namespace) -> int:
    from .graph import mermaid

    print(mermaid(load_steps(args.steps)))
    return 0


@command("openapi")
def _openapi(args: argparse.Namespace) -> int:
    from .openapi import openapi_document

    print(json.dumps(openapi_document(load_steps(args.steps)), indent=2))
    return 0


@command("emit")
def _emit(args: argparse.Namespace) -> int:
    import httpx

    try:
        data = json.loads(args.data)
    except ValueError as exc:
        print(f"error: --data is not JSON: {exc}", file=sys.stderr)
        return 2
    headers = {"authorization": f"Bearer {args.token}"} if args.token else {}
    try:
        response = httpx.post(f"{args.url}/__motia/emit", headers=headers,
                              json={"topic": args.topic, "data": data})  # fmt: skip
    except httpx.HTTPError as exc:
        print(f"error: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    print(response.text)
    return 0 if response.status_code < 300 else 1


def _redis_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], settings: ProjectSettings
) -> None:
    """``start``, ``worker``, ``dead-letters``, ``redrive``: distributed mode on Redis."""

    def redis(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--redis-url", help="env MOTIA_REDIS_URL, default redis://127.0.0.1:6379/0")
        p.add_argument("--prefix", help="key prefix of the app (env MOTIA_PREFIX, default motia)")
        return p

    def process(p: argparse.ArgumentParser) -> None:
        redis(p)
        p.add_argument("--concurrency", type=int, help="handler runs in flight per process "
                       "(env MOTIA_CONCURRENCY, default 16)")  # fmt: skip
        p.add_argument("--shutdown-timeout", type=float, help="seconds running handlers get on "
                       "SIGTERM (env MOTIA_SHUTDOWN_TIMEOUT, default 25)")  # fmt: skip

    start = _sub(sub, "start", "serve HTTP and cron on Redis; workers consume events")
    _server_args(start, settings)
    process(start)
    start.add_argument("--no-cron", action="store_true", help="do not run cron steps on schedule")
    start.add_argument("--with-worker", action="store_true", help="also consume events here")
    worker = _sub(sub, "worker", "consume events from Redis (no HTTP, no cron)")
    _steps_arg(worker, settings)
    process(worker)
    letters = redis(_sub(sub, "dead-letters", "list the dead letters kept in Redis"))
    letters.add_argument("--step", help="only this step's")
    letters.add_argument("--json", action="store_true", help="one JSON object per line")
    redrive = redis(_sub(sub, "redrive", "deliver a dead letter again, as attempt 1"))
    redrive.add_argument("id", help="a dead-letter id as `motia-rt dead-letters` prints it")


@command("start")
def _start(args: argparse.Namespace) -> int:
    from .worker import serve_api

    return serve_api(args)


@command("worker")
def _worker(args: argparse.Namespace) -> int:
    from .worker import RedisSettings, serve_worker

    load_steps(args.steps)  # a bad step file fails here, before connecting
    return serve_worker(args.steps, RedisSettings.for_command(args))


@command("dead-letters")
def _dead_letters(args: argparse.Namespace) -> int:
    from .worker import RedisSettings, print_dead_letters

    return print_dead_letters(RedisSettings.for_command(args), args.step, as_json=args.json)


@command("redrive")
def _redrive(args: argparse.Namespace) -> int:
    from .worker import RedisSettings, redrive

    return redrive(RedisSettings.for_command(args), args.id)


@command("create")
def _create(args: argparse.Namespace) -> int:
    from .scaffold import ScaffoldError, create_project

    try:
        written = create_project(Path(args.dir))
    except ScaffoldError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {len(written)} files to {args.dir}; next:\n  cd {args.dir}\n  motia-rt dev\n  pytest"
    )
    return 0


_SERVERS = ("dev", "start", "worker")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = project_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args = _parser(settings).parse_args(argv)
    # Servers log each request and handler run; a one-shot client command prints only its answer.
    level = logging.INFO if args.command in _SERVERS else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        return COMMANDS[args.command](args)
    except StepLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return quiet_broken_pipe()


def quiet_broken_pipe() -> int:
    """The reader went away (``motia-rt openapi | head``): exit as ``cat`` does, no traceback.
    stdout is pointed at /dev/null so the interpreter's final flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141  # 128 + SIGPIPE, what a shell reports for a writer killed by the pipe


if __name__ == "__main__":
    sys.exit(main())
