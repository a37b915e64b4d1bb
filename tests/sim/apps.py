"""Small step apps shared by the simulator tests, written to temporary folders with ``make_app``.

Each constant is ``{relative path: source}``; ``write(root, APP)`` puts it on disk and returns the
steps folder.
"""

from __future__ import annotations

from pathlib import Path

from tests.step_files import make_app

__all__ = [
    "CHAOS",
    "EPOCH",
    "ESCAPES",
    "FANOUT",
    "JOBS",
    "SEEDED",
    "SLOW",
    "SWING",
    "TICKER",
    "UNCONTROLLED",
    "write",
]

EPOCH = 1_767_225_600.0
"""``VirtualClock``'s wall time at virtual second 0: ``HandlerRun.started - EPOCH`` is virtual t."""


def write(root: Path, app: dict[str, str]) -> Path:
    return make_app(root, app)


_LEDGER = """
    import time

    class Ledger:
        \"\"\"A fake external service: records each call with the (virtual) wall time.\"\"\"

        def __init__(self):
            self.calls = []

        async def record(self, key):
            self.calls.append((key, time.time()))
            return len(self.calls)

        async def lookup(self, items):
            return sorted(items)

    def default_services():
        return {"ledger": Ledger()}
"""

JOBS = {
    "services.py": _LEDGER,
    # One side effect of each kind, in a known order: state#1, service#1, emit#1, state#2.
    "jobs/worker_step.py": """
        config = {
            "type": "event", "name": "Worker", "subscribes": ["job.created"],
            "emits": ["job.done"], "infrastructure": {"queue": {"maxRetries": 3}},
        }

        async def handler(input, context):
            await context.state.set("jobs", input["id"], {"status": "working"})
            await context.services.ledger.record(input["id"])
            await context.emit("job.done", {"id": input["id"]})
            await context.state.set("jobs", input["id"], {"status": "done"})
    """,
    # A second subscriber of the same topic, with no side effects of its own.
    "jobs/audit_step.py": """
        config = {"type": "event", "name": "Audit", "subscribes": ["job.created"], "emits": []}

        async def handler(input, context):
            return None
    """,
    "jobs/submit_step.py": """
        config = {"type": "api", "name": "Submit", "path": "/jobs", "method": "POST",
                  "emits": ["job.created"]}

        async def handler(req, context):
            await context.emit("job.created", req.body)
            return {"status": 202, "body": {"id": req.body["id"]}}
    """,
    "ops/tick_step.py": """
        config = {"type": "cron", "name": "Tick", "cron": "*/5 * * * *", "emits": []}

        async def handler(context):
            return None
    """,
}
"""Worker and Audit subscribe ``job.created``; ``Tick`` is a five-minute cron; service ``ledger``."""


TICKER = {
    "tick_step.py": """
        config = {"type": "cron", "name": "Tick", "cron": "*/5 * * * *", "emits": []}

        async def handler(context):
            return None
    """,
}

SLOW = {
    "slow_step.py": """
        import asyncio

        config = {
            "type": "event", "name": "Slow", "subscribes": ["slow.go"], "emits": [],
            "infrastructure": {"handler": {"timeout": 10}, "queue": {"maxRetries": 2}},
        }

        async def handler(input, context):
            await asyncio.sleep(1000)
    """,
}
"""A handler that always outlives its 10 s timeout: three attempts, then a dead letter."""


FANOUT = {
    "spray_step.py": """
        config = {"type": "event", "name": "Spray", "subscribes": ["spray.go"],
                  "emits": ["spray.item"]}

        async def handler(input, context):
            for i in range(input["n"]):
                await context.emit("spray.item", {"i": i})
    """,
    "sink_step.py": """
        config = {"type": "event", "name": "Sink", "subscribes": ["spray.item"], "emits": []}

        async def handler(input, context):
            return None
    """,
}
"""``Spray`` emits ``n`` messages at one virtual instant; ``Sink`` handles them."""


UNCONTROLLED = {
    "urandom_step.py": """
        import os

        config = {"type": "event", "name": "Urandom", "subscribes": ["make.urandom"],
                  "emits": ["token.urandom"]}

        async def handler(input, context):
            await context.emit("token.urandom", {"token": os.urandom(4).hex()})
    """,
    "sysrandom_step.py": """
        import random

        config = {"type": "event", "name": "SysRandom", "subscribes": ["make.sysrandom"],
                  "emits": ["token.sysrandom"]}

        async def handler(input, context):
            await context.emit("token.sysrandom", {"token": random.SystemRandom().random()})
    """,
}
"""Steps whose output the simulator does not control: the determinism check must catch them."""


SEEDED = {
    "stamp_step.py": """
        import datetime
        import random
        import time
        import uuid

        config = {"type": "event", "name": "Stamp", "subscribes": ["stamp.go"],
                  "emits": ["stamp.made"]}

        async def handler(input, context):
            await context.emit("stamp.made", {
                "uuid": str(uuid.uuid4()),
                "random": random.random(),
                "time": time.time(),
                "now": datetime.datetime.now().isoformat(),
            })
    """,
}
"""A step using only sources the sandbox controls: uuid4, random, time.time, datetime.now."""


ESCAPES = {
    "socket_step.py": """
        import socket

        config = {"type": "event", "name": "Dial", "subscribes": ["escape.socket"], "emits": [],
                  "infrastructure": {"queue": {"maxRetries": 1}}}

        async def handler(input, context):
            socket.create_connection(("example.com", 80), timeout=1)
    """,
    "thread_step.py": """
        import threading

        config = {"type": "event", "name": "Spawn", "subscribes": ["escape.thread"], "emits": [],
                  "infrastructure": {"queue": {"maxRetries": 1}}}

        async def handler(input, context):
            threading.Thread(target=print).start()
    """,
    "to_thread_step.py": """
        import asyncio

        config = {"type": "event", "name": "Offload", "subscribes": ["escape.to_thread"],
                  "emits": [], "infrastructure": {"queue": {"maxRetries": 1}}}

        async def handler(input, context):
            await asyncio.to_thread(print)
    """,
}
"""Each step reaches the real world in one way; ``maxRetries`` 1, so two attempts then a dead letter."""


SWING = {
    "flip_step.py": """
        config = {"type": "event", "name": "Flip", "subscribes": ["swing.go"],
                  "emits": ["swing.fix"]}

        async def handler(input, context):
            await context.state.set("flags", "bad", True)
            await context.emit("swing.fix", {})
    """,
    # Runs a minute after the flag went up, so the scenario returns while the state is bad.
    "fix_step.py": """
        config = {"type": "event", "name": "Fix", "subscribes": ["swing.fix"], "emits": [],
                  "infrastructure": {"queue": {"delaySeconds": 60}}}

        async def handler(input, context):
            await context.state.delete("flags", "bad")
    """,
}
"""State that is bad between ``Flip`` and ``Fix`` (60 virtual seconds) and good once quiescent."""


CHAOS = {
    "services.py": _LEDGER,
    "lookup_step.py": """
        config = {"type": "event", "name": "Lookup", "subscribes": ["lookup.go"], "emits": []}

        async def handler(input, context):
            # A generator argument: its repr holds a memory address that differs between runs.
            await context.services.ledger.lookup(s for s in input["skus"])
    """,
}
"""A service call whose argument is not JSON (a generator), as the reference CreateOrder makes."""
