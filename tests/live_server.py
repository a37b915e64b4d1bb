"""Real servers for tests: uvicorn on a free loopback port, in a thread or as a ``motia-rt``
subprocess, started and stopped by a context manager.

    with LiveServer(create_app(STEPS)) as server:
        httpx.get(server.url + "/__motia/status")

The thread form binds the socket itself (port 0), so there is no race for the port. The
subprocess form runs the real command line (``motia-rt dev ...``) and writes its output to a file
the test can read while the server runs.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import uvicorn

__all__ = ["CliServer", "LiveServer", "free_port", "wait_until"]


def free_port() -> int:
    """A loopback port that was free a moment ago (for servers that bind it themselves)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    predicate: Any, timeout: float = 10.0, interval: float = 0.02, what: str = ""
) -> Any:
    """Poll ``predicate()`` until it returns something truthy; return it, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"not true within {timeout}s: {what or predicate}")
        time.sleep(interval)


class LiveServer:
    """Serve an ASGI app with a real uvicorn in a background thread (its own event loop).

    Stopping it cancels open event streams but leaves their sockets open (the thread's loop ends
    before it closes them): to model a server that dies, use ``CliServer.kill``.
    """

    def __init__(self, app: Any, *, startup_timeout: float = 10.0) -> None:
        self.app = app
        # proto=IPPROTO_TCP, or asyncio does not set TCP_NODELAY on accepted connections, and each
        # response (headers and body written apart) waits 40 ms for a delayed ACK.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # Open event streams would hold a graceful shutdown forever: cut them after a second.
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True,
            name=f"uvicorn:{self.port}",
        )  # fmt: skip
        self._startup_timeout = startup_timeout

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("uvicorn exited during startup (see the log above)")
            if time.monotonic() > deadline:
                raise TimeoutError(f"uvicorn did not start within {self._startup_timeout}s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Shut uvicorn down (as on Ctrl+C) and release the port; safe to call twice."""
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()
        assert not self._thread.is_alive(), "uvicorn did not stop within 10s"

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class CliServer:
    """Run ``motia-rt <args> --port <port>`` as a subprocess until the server answers.

    ``port`` defaults to a free one. ``output`` is the file that receives the process's stdout and
    stderr; ``log()`` reads it. ``kill()`` ends it as a crash would (SIGKILL).
    """

    def __init__(
        self, args: list[str], output: Path, *, env: dict[str, str] | None = None,
        cwd: Path | None = None, port: int | None = None, startup_timeout: float = 20.0,
    ) -> None:  # fmt: skip
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [sys.executable, "-m", "motia_rt.cli", *args, "--port", str(self.port)]
        self.output = output
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.cwd = cwd
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None

    def log(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def _answers(self) -> bool:
        assert self._process is not None
        if self._process.poll() is not None:
            raise RuntimeError(f"{self.args} exited with {self._process.returncode}:\n{self.log()}")
        try:
            httpx.get(self.url + "/__motia/status", timeout=1.0)
        except httpx.TransportError:
            return False
        return True

    def __enter__(self) -> CliServer:
        with self.output.open("wb") as out:
            self._process = subprocess.Popen(
                self.args, stdout=out, stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd
            )
        try:
            wait_until(self._answers, self._startup_timeout, 0.05, f"{self.url} to answer")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    @property
    def process(self) -> subprocess.Popen[bytes]:
        assert self._process is not None, "enter the CliServer first"
        return self._process

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._process is not None
        if self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(5)
