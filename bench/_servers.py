"""Subprocesses the HTTP and Redis figures drive: start, wait until ready, stop."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from types import TracebackType
from typing import IO, Any

import httpx

from ._paths import ROOT

__all__ = ["Server", "free_port", "pin", "pinnable", "python_module"]


def pinnable() -> bool:
    """Whether load generator and server can each have a core of their own here."""
    return hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2


def pin(pid: int, cpu: int) -> None:
    """Keep process ``pid`` (0: this one) on core ``cpu``."""
    os.sched_setaffinity(pid, {cpu})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def python_module(
    module: str, *args: str, stdin: int | None = None, log: IO[str] | None = None
) -> subprocess.Popen[str]:
    """``python -m module args`` from the repository root, in this interpreter. Output goes to a
    pipe, or to ``log`` (a file, so a chatty process can never block on a full pipe)."""
    out = subprocess.PIPE if log is None else log
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        text=True,
        stdin=stdin,
        stdout=out,
        stderr=out,
    )


class Server:
    """``python -m bench.serve app`` on a free loopback port, until the ``with`` block ends."""

    def __init__(self, app: str, http: str, loop: str, *extra: str, cpu: int | None = None) -> None:
        self.app, self.http, self.loop, self.extra = app, http, loop, extra
        self.cpu = cpu
        """The core the server is pinned to (``pin``), or None to let the scheduler place it."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[str] | None = None
        self.log = tempfile.TemporaryFile("w+")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def __enter__(self) -> Server:
        self.process = python_module(
            "bench.serve",
            self.app,
            "--port",
            str(self.port),
            "--http",
            self.http,
            "--loop",
            self.loop,
            *self.extra,
            log=self.log,
        )
        if self.cpu is not None:
            pin(self.process.pid, self.cpu)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.app} server exited: {self.output().strip()[-2000:]}")
            try:
                self.stats()
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError(f"{self.app} server did not answer within 30 s")

    def stats(self) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/__bench/stats", timeout=5)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def drain(self, timeout: float = 120.0) -> tuple[int, float]:
        """Wait until the sagas started by a load test have finished: (deliveries pending when
        called, seconds it took)."""
        start = time.monotonic()
        first = self.stats()["pending"]
        pending = first
        while pending and time.monotonic() - start < timeout:
            time.sleep(0.05)
            pending = self.stats()["pending"]
        return first, time.monotonic() - start

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
