"""Area 3, HTTP: ``POST /orders`` under ``wrk`` on loopback against a bare Starlette + pydantic
endpoint, under the same uvicorn settings, for each uvicorn stack that is installed."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from ._measure import progress
from ._paths import BENCH
from ._report import Row, Stats, Target, compare, skipped
from ._servers import Server, pin, pinnable

__all__ = ["STACKS", "run"]

AREA = "3"
STACKS = (("h11", "asyncio"), ("httptools", "asyncio"), ("httptools", "uvloop"))
"""(uvicorn ``--http``, ``--loop``); h11 + asyncio is uvicorn's stack without optional extras."""
LUA = BENCH / "post_orders.lua"
WRK_CPU, SERVER_CPU = 0, 1
_PINNED = f" (wrk on core {WRK_CPU}, the server on core {SERVER_CPU})"
CONNECTIONS = 16


def wrk(url: str, seconds: int) -> dict[str, Any]:
    """One ``wrk`` run: requests, duration and latency percentiles (microseconds), errors."""
    argv = [
        "wrk",
        "-t1",
        f"-c{CONNECTIONS}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(LUA),
        f"{url}/orders",
    ]
    # wrk on core 0, the servers on core 1 (``_measure``): neither migrates nor shares a core,
    # which took most of the round-to-round noise out of these rows on a 2-core machine.
    preexec = (lambda: pin(0, WRK_CPU)) if pinnable() else None
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=seconds + 60, preexec_fn=preexec
    )
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            result: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
            result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
            return result
    raise RuntimeError(f"wrk printed no summary: {done.stdout[-500:]} {done.stderr[-500:]}")


@dataclass
class _Side:
    rps: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    errors: int = 0
    rss_mib: list[float] = field(default_factory=list)
    backlog: list[int] = field(default_factory=list)
    drain_s: list[float] = field(default_factory=list)

    def add(self, result: dict[str, Any]) -> None:
        self.rps.append(result["rps"])
        self.p50.append(result["p50_us"] / 1000)
        self.p99.append(result["p99_us"] / 1000)
        self.errors += sum(
            int(result[k]) for k in ("connect", "read", "write", "status", "timeout")
        )


VARIANTS = (
    (
        "front",
        "POST /orders, request path",
        Target("ratio", ">=", 0.7),
        "validate, state write, emit; the saga's subscribers are not bound here (in the distributed "
        "mode workers consume them)",
    ),
    (
        "motia",
        "POST /orders + saga, one process",
        None,
        "the in-memory server: each accepted order also runs its saga (7 deliveries) on the same "
        "core, so this is the sustained rate of whole sagas",
    ),
)


def _measure(
    apps: Sequence[tuple[str, tuple[str, ...]]], stack: tuple[str, str], runs: int, seconds: int
) -> dict[str, _Side]:
    """Every app of ``apps`` served side by side; ``runs`` rounds of one ``wrk`` run each, in a
    rotating order, each followed by draining the sagas it started."""
    http, loop = stack
    cpu = SERVER_CPU if pinnable() else None
    sides = {name: _Side() for name, _ in apps}
    with ExitStack() as stack_of:
        servers = [
            (name, stack_of.enter_context(Server(name, http, loop, *extra, cpu=cpu)))
            for name, extra in apps
        ]
        for _, server in servers:
            wrk(server.url, 1)
            server.drain()
        for i in range(runs):
            progress(f"    {'+'.join(stack)}: round {i + 1} of {runs} ({', '.join(sides)})")
            for name, server in servers[i % len(servers) :] + servers[: i % len(servers)]:
                side = sides[name]
                side.add(wrk(server.url, seconds))
                # Each accepted order may have started a saga in the background: let it finish
                # before anything else is measured, and record how far behind the server was.
                backlog, seconds_to_drain = server.drain()
                side.backlog.append(backlog)
                side.drain_s.append(seconds_to_drain)
                side.rss_mib.append(server.stats()["rss_kib"] / 1024)
    return sides


def _available(stack: tuple[str, str]) -> str | None:
    http, loop = stack
    for module in {http, loop} - {"h11", "asyncio"}:
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install {module})"
    return None


def _rows(
    label: str, figure: str, side: _Side, bare: _Side, target: Target | None, note: str
) -> list[Row]:
    mib = ", ".join(f"{r:.0f}" for r in side.rss_mib)
    drained = ", ".join(f"{s:.1f}" for s in side.drain_s)
    memory = (
        f"RSS after each run {mib} MiB (bare {', '.join(f'{r:.0f}' for r in bare.rss_mib)}"
        f"); deliveries pending at the end of each run {side.backlog}, drained in "
        f"{drained} s; non-2xx or socket errors {side.errors} (bare {bare.errors})"
    )
    row = compare(
        AREA,
        f"{figure} req/s, {label}",
        "req/s",
        side.rps,
        "bare Starlette+pydantic",
        bare.rps,
        target,
        f"{note}; {memory}",
    )
    row.extra = {
        "rss_mib": side.rss_mib,
        "bare_rss_mib": bare.rss_mib,
        "backlog": side.backlog,
        "drain_s": side.drain_s,
        "errors": side.errors,
        "bare_errors": bare.errors,
    }
    latency = [
        compare(AREA, f"{figure} {name}, {label}", "ms", mine, "bare Starlette+pydantic", theirs)
        for name, mine, theirs in (("p50", side.p50, bare.p50), ("p99", side.p99, bare.p99))
    ]
    return [row, *latency]


def run(quick: bool = False) -> list[Row]:
    if shutil.which("wrk") is None:
        return [skipped(AREA, "POST /orders under wrk", "wrk not found (apt-get install wrk)")]
    # Five rounds: with three, one noisy round on a shared machine moved a median ratio by 0.1.
    runs, seconds = (1, 2) if quick else (5, 4)
    apps = [(name, ()) for name, *_ in VARIANTS] + [("bare", ())]
    rows: list[Row] = []
    fronts: dict[tuple[str, str], list[float]] = {}
    for stack in STACKS:
        label = "+".join(stack)
        missing = _available(stack)
        if missing is not None:
            rows.append(skipped(AREA, f"POST /orders, {label}", missing))
            continue
        sides = _measure(apps, stack, runs, seconds)
        fronts[stack] = sides["front"].rps
        for name, figure, target, note in VARIANTS:
            rows += _rows(
                label,
                figure,
                sides[name],
                sides["bare"],
                target,
                f"wrk -t1 -c{CONNECTIONS} -d{seconds}s x{runs}{_PINNED if pinnable() else ''}; "
                f"{note}",
            )
    if not fronts:
        return rows
    ranked = sorted(fronts, key=lambda s: Stats.of(fronts[s]).median, reverse=True)
    fastest = ranked[0]
    standings = ", ".join(f"{'+'.join(s)} {Stats.of(fronts[s]).median:.0f}" for s in ranked)
    note = f"request path, median req/s: {standings}"
    if len(ranked) > 1 and min(fronts[fastest]) <= max(fronts[ranked[1]]):
        note += f"; the ranges of {'+'.join(fastest)} and {'+'.join(ranked[1])} overlap: a tie"
    if ("h11", "asyncio") in fronts:
        rows.append(
            compare(
                AREA,
                f"fastest stack: {'+'.join(fastest)}",
                "req/s",
                fronts[fastest],
                "h11+asyncio (uvicorn without extras)",
                fronts[("h11", "asyncio")],
                note=note,
            )
        )
    rows += _redis_front(fastest, runs, seconds)
    return rows


def _redis_front(stack: tuple[str, str], runs: int, seconds: int) -> list[Row]:
    from ._redis import REDIS_URL, delete_prefix, new_prefix, unavailable

    label = "+".join(stack)
    figure = "POST /orders, front on Redis"
    reason = unavailable()
    if reason is not None:
        return [skipped(AREA, f"{figure} req/s, {label}", reason)]
    prefix = new_prefix("front")
    try:
        sides = _measure(
            [("redis-front", ("--redis-url", REDIS_URL, "--prefix", prefix)), ("bare", ())],
            stack,
            runs,
            seconds,
        )
    finally:
        delete_prefix(prefix)
    return _rows(
        label,
        figure,
        sides["redis-front"],
        sides["bare"],
        None,
        "as `motia-rt start` serves: Redis state, XADD to the topic stream "
        "(RedisStreamsTransport consume=False)",
    )
