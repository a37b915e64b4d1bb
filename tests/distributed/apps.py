"""A tiny app for the multi-process tests, and helpers to run ``motia-rt`` processes.

The app's steps record their effects in Redis through a service, atomically and idempotently:
``Record`` (standard) appends each message id once to a list, ``Ordered`` (FIFO) applies each
group's sequence numbers once and in order, and both count every run, so the tests can tell
"handled at least once" from "effect happened exactly once" and count duplicate deliveries.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from tests.step_files import make_app

__all__ = ["APP", "Effects", "Process", "write_app"]

SERVICES = '''
import os

import redis.asyncio as aioredis

RECORD = """
redis.call('INCR', KEYS[3])
if redis.call('SET', KEYS[1], '1', 'NX') then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  return 1
end
return 0
"""

APPLY_IN_ORDER = """
redis.call('INCR', KEYS[3])
local last = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local seq = tonumber(ARGV[2])
if seq <= last then return 0 end
if seq ~= last + 1 then redis.call('RPUSH', KEYS[2], ARGV[1] .. ':' .. last .. '->' .. seq) end
redis.call('HSET', KEYS[1], ARGV[1], seq)
return 1
"""


class Effects:
    def __init__(self) -> None:
        self.url = os.environ["EFFECTS_REDIS_URL"]
        self.p = os.environ["EFFECTS_PREFIX"]
        self._client = None

    def client(self):
        if self._client is None:
            self._client = aioredis.Redis.from_url(self.url)
        return self._client

    async def record(self, message_id):
        keys = [f"{self.p}:done:{message_id}", f"{self.p}:effects", f"{self.p}:runs"]
        return await self.client().eval(RECORD, 3, *keys, message_id)

    async def allowed(self):
        return bool(await self.client().get(f"{self.p}:allow"))

    async def apply(self, group, seq):
        keys = [f"{self.p}:last-seq", f"{self.p}:out-of-order", f"{self.p}:fifo-runs"]
        return await self.client().eval(APPLY_IN_ORDER, 3, *keys, group, seq)


def default_services():
    return {"effects": Effects()}
'''

APP = {
    "services.py": SERVICES,
    "record_step.py": """
        config = {"type": "event", "name": "Record", "subscribes": ["work"],
                  "infrastructure": {"handler": {"timeout": 5},
                                     "queue": {"visibilityTimeout": 1, "maxRetries": 10}}}
        import asyncio

        async def handler(input, context):
            await asyncio.sleep(0.005)  # keep deliveries in flight, so every kill strands some
            await context.services.effects.record(input["id"])
    """,
    "ordered_step.py": """
        config = {"type": "event", "name": "Ordered", "subscribes": ["ordered"],
                  "infrastructure": {"handler": {"timeout": 5},
                                     "queue": {"type": "fifo", "visibilityTimeout": 1,
                                               "maxRetries": 10}}}
        import asyncio

        async def handler(input, context):
            await asyncio.sleep(0.005)  # hold the group's lease a while: kills land mid-run
            await context.services.effects.apply(input["group"], input["seq"])
    """,
    "intake_step.py": """
        config = {"type": "api", "name": "Intake", "path": "/work", "method": "POST",
                  "emits": ["work"]}
        async def handler(req, context):
            await context.emit({"topic": "work", "data": {"id": req.body["id"]}})
            return {"status": 202, "body": {"queued": req.body["id"]}}
    """,
    "picky_step.py": """
        config = {"type": "event", "name": "Picky", "subscribes": ["picky"],
                  "infrastructure": {"queue": {"maxRetries": 0}}}
        async def handler(input, context):
            if not await context.services.effects.allowed():
                raise ValueError("not allowed yet")
            await context.services.effects.record("picky-" + input["id"])
    """,
}


def write_app(root: Path) -> Path:
    return make_app(root, APP)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Effects:
    """The test's view of what the app's steps recorded under ``prefix``."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.p = prefix

    async def effects(self) -> list[str]:
        return [_text(v) for v in await self.client.lrange(f"{self.p}:effects", 0, -1)]

    async def count(self) -> int:
        return int(await self.client.llen(f"{self.p}:effects"))

    async def runs(self) -> int:
        return int(await self.client.get(f"{self.p}:runs") or 0)

    async def fifo(self) -> tuple[dict[str, int], list[str], int]:
        last = await self.client.hgetall(f"{self.p}:last-seq")
        bad = await self.client.lrange(f"{self.p}:out-of-order", 0, -1)
        runs = int(await self.client.get(f"{self.p}:fifo-runs") or 0)
        return {_text(k): int(v) for k, v in last.items()}, [_text(b) for b in bad], runs


class Process:
    """A ``motia-rt`` subprocess whose output goes to a log file."""

    def __init__(self, name: str, args: list[str], log_dir: Path, env: dict[str, str]) -> None:
        self.name = name
        self.args = args
        self.log = log_dir / f"{name}.log"
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._out: IO[bytes] | None = None

    def start(self) -> None:
        self._out = open(self.log, "ab")  # closed by stop() or kill()
        self._out.write(f"\n--- start {self.starts} ---\n".encode())
        self._out.flush()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "motia_rt.cli", *self.args],
            stdout=self._out, stderr=subprocess.STDOUT, env={**os.environ, **self.env},
        )  # fmt: skip
        self.starts += 1

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, needle: str, timeout: float = 20.0, after: int = 0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text()[after:]:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}):\n{self.text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no {needle!r} in its log:\n{self.text()}")
            time.sleep(0.05)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._close()

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, and the exit status (after ``timeout``: SIGKILL, and an error)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"{self.name} ignored SIGTERM for {timeout}s:\n{self.text()}"
            ) from None
        finally:
            self._close()

    def _close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
