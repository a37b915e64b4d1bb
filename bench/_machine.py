"""What the figures were measured on: CPU, cores, Python, package versions, load, date."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

__all__ = ["describe", "load_average"]

PACKAGES = (
    "motia-sim",
    "starlette",
    "uvicorn",
    "h11",
    "httptools",
    "uvloop",
    "pydantic",
    "pydantic-core",
    "httpx",
    "hypothesis",
    "redis",
    "anyio",
)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _tool_version(argv: list[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = (done.stdout or done.stderr).strip().splitlines()
    return first[0] if first else None


def load_average() -> tuple[float, ...] | None:
    """The 1, 5 and 15 minute load averages: above the core count, something else was running."""
    try:
        return tuple(round(x, 2) for x in os.getloadavg())
    except OSError:
        return None


def describe() -> dict[str, Any]:
    """Everything needed to compare a results file with another machine's."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "packages": {p: _version(p) for p in PACKAGES},
        "wrk": _tool_version(["wrk", "--version"]),
        "redis_server": _tool_version(["redis-server", "--version"]),
        "load_average_at_start": load_average(),
    }
