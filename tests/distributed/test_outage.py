"""Redis itself goes away: a private redis-server (append-only file, fsync on every write) is
killed mid-run and restarted a few seconds later on the same port. The workers report the
outage, retry with backoff, and recover; nothing is lost and no effect happens twice."""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from motia_rt.ports import Message
from tests.distributed.apps import Effects, Process
from tests.distributed.test_crash import pending_everywhere, publish, publisher

aioredis = pytest.importorskip("redis.asyncio", reason="needs the redis extra: pip install redis")

EVENTS = 3_000


class RedisServer:
    """A redis-server of our own, durable across a SIGKILL (AOF with ``appendfsync always``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(self.folder), "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"redis-server did not answer on port {self.port}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def server(tmp_path: Path, redis_url: str) -> Iterator[RedisServer]:
    # redis_url: this test runs where the real-Redis tests run (and fails with them in CI).
    if shutil.which("redis-server") is None:
        pytest.skip("needs the redis-server binary on PATH to start a Redis it can kill")
    folder = tmp_path / "redis-data"
    folder.mkdir()
    server = RedisServer(folder)
    server.start()
    yield server
    server.stop()


@pytest_asyncio.fixture
async def own_client(server: RedisServer) -> AsyncIterator[Any]:
    client = aioredis.Redis.from_url(server.url, decode_responses=True)
    yield client
    await client.aclose()


async def test_workers_ride_out_a_redis_restart(
    server: RedisServer, own_client: Any, app: Path, processes: list[Process], tmp_path: Path
) -> None:
    prefix = "outage"
    env = {"EFFECTS_REDIS_URL": server.url, "EFFECTS_PREFIX": f"{prefix}:fx"}
    args = ["worker", "--steps", str(app), "--redis-url", server.url, "--prefix", prefix,
            "--concurrency", "16", "--shutdown-timeout", "5"]  # fmt: skip
    workers = [Process(name, args, tmp_path, env) for name in ("worker-1", "worker-2")]
    processes += workers
    transport = await publisher(own_client, prefix, app)
    for worker in workers:
        worker.start()
    for worker in workers:
        await asyncio.to_thread(worker.wait_for_log, "consuming", 30)
    now = time.time()
    messages = [Message(f"w{n}", "work", {"id": f"w{n}"}, f"t{n}", now) for n in range(EVENTS)]
    publishing = asyncio.create_task(publish(transport, messages, seconds=4.0))

    await asyncio.sleep(1.5)
    server.kill()  # a crash, not a shutdown: nothing gets flushed on the way out
    down_at = time.monotonic()
    await asyncio.sleep(3.0)
    server.start()
    print(f"\nRedis down for {time.monotonic() - down_at:.1f}s")
    await publishing

    fx = Effects(own_client, f"{prefix}:fx")
    async with asyncio.timeout(60):
        while await fx.count() < EVENTS:
            await asyncio.sleep(0.1)
        await transport.wait_idle()
    effects = await fx.effects()
    assert len(effects) == EVENTS and set(effects) == {m.id for m in messages}
    assert await transport.dead_letters() == []
    assert all(n == 0 for n in (await pending_everywhere(own_client, prefix)).values())
    await transport.close()
    for worker in workers:
        assert worker.stop() == 0
        log = worker.text()
        assert "Redis unreachable" in log and "Redis reachable again" in log, log[-3000:]
    print(f"{EVENTS} events, {await fx.runs() - EVENTS} duplicate runs, effects exactly once")
