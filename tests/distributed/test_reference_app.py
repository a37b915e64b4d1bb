"""The reference app (``steps/``) distributed for real: ``motia-rt start`` and two ``motia-rt worker``
processes on one Redis, 500 orders posted over HTTP, and one worker SIGKILLed while it holds
deliveries it has not acknowledged.

Every accepted order reaches the terminal status its rules give (the survivor reclaims what the
dead worker held), no payment is charged twice, every blocked order is refunded once, stock adds
up, nothing is dead-lettered. One order's steps run on both workers, so this holds only because
the services keep their records in the deployment's Redis (``steps/services/redis_*.py``): with
per-process fakes, Fulfillment on one worker cannot find a reservation made on the other.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from motia_rt.deployment import SharedRedis
from motia_rt.loader import load_steps
from motia_rt.testing import MotiaTestClient
from steps.models import TERMINAL_STATUSES
from steps.services import DECLINED_METHOD, RedisCatalog, RedisNotifier, RedisPaymentGateway
from tests.distributed.apps import Process
from tests.live_server import free_port

STEPS = Path(__file__).resolve().parents[2] / "steps"
ORDERS = 500
KILL_AFTER = 150
"""Accepted orders before the kill: the kill lands with the saga busy on both workers."""
TOKEN = "reference-app-test-token"
"""Opens the API's /__motia/status to the test's settle()."""
VISIBILITY = 2.0
"""Seconds before a dead worker's deliveries are reclaimed (the steps' default is 30)."""

# (cart, payment method, e-mail domain, the terminal status the rules give), by n % 10.
KINDS: list[tuple[list[dict[str, Any]], str, str, str | None]] = [
    *[([{"sku": "sku-pen", "quantity": 1}], "pm_card_visa", "example.com", "shipped")] * 5,
    ([{"sku": "sku-lamp", "quantity": 1}], "pm_card_visa", "example.com", None),  # 20 in stock
    ([{"sku": "sku-pen", "quantity": 1}], DECLINED_METHOD, "example.com", "payment_failed"),
    ([{"sku": "sku-pen", "quantity": 1}], "pm_card_visa", "risky.test", "blocked"),
    ([{"sku": "sku-book", "quantity": 2}], "pm_card_visa", "example.com", "shipped"),  # 100 units
    ([{"sku": "sku-soldout", "quantity": 1}], "pm_card_visa", "example.com", "rejected"),
]


def reference_app(root: Path) -> Path:
    """A copy of ``steps/`` whose event steps have a ``VISIBILITY`` s visibility timeout."""
    shutil.copytree(STEPS, root, ignore=shutil.ignore_patterns("__pycache__"))
    for step in root.rglob("*_step.py"):
        source = step.read_text()
        if '"type": "event"' in source:
            step.write_text(
                source + "\n\nconfig.setdefault('infrastructure', {}).setdefault('queue', {})"
                f"['visibilityTimeout'] = {VISIBILITY}\n"
            )
    return root


def order(n: int) -> dict[str, Any]:
    items, method, domain, _ = KINDS[n % len(KINDS)]
    return {"email": f"buyer{n}@{domain}", "items": items, "paymentMethod": method,
            "clientOrderId": f"c{n}"}  # fmt: skip


async def post_orders(base_url: str, accepted: dict[str, int]) -> None:
    """POST every order, 16 at a time; ``accepted`` maps each accepted order id to its ``n``."""
    gate = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:

        async def post(n: int) -> None:
            async with gate:
                response = await http.post("/orders", json=order(n))
            assert response.status_code == 202, response.text
            accepted[response.json()["orderId"]] = n

        await asyncio.gather(*(post(n) for n in range(ORDERS)))


async def held_by(client: Any, prefix: str, streams: list[tuple[str, str]], consumer: str) -> int:
    """Entries ``consumer`` has read from the standard steps' streams and not acknowledged."""
    held = 0
    for stream, group in streams:
        for entry in (await client.xpending(stream, group)).get("consumers") or []:
            name = entry["name"]
            if (name.decode() if isinstance(name, bytes) else name) == consumer:
                held += int(entry["pending"])
    return held


async def test_every_order_finishes_once_when_a_worker_is_killed(
    redis_url: str, prefix: str, client: Any, processes: list[Process], tmp_path: Path
) -> None:
    app = reference_app(tmp_path / "app")
    env = {"MOTIA_REDIS_URL": redis_url, "MOTIA_PREFIX": prefix, "MOTIA_DEV_TOKEN": TOKEN}
    port = free_port()
    api = Process("api", ["start", "--steps", str(app), "--port", str(port), "--no-cron"],
                  tmp_path, env)  # fmt: skip
    worker = ["worker", "--steps", str(app), "--shutdown-timeout", "5"]
    victim, survivor = (Process(name, worker, tmp_path, env) for name in ("victim", "survivor"))
    processes += [api, victim, survivor]
    for process in processes:
        process.start()
    await asyncio.to_thread(api.wait_for_log, "Uvicorn running", 30)
    for process in (victim, survivor):
        await asyncio.to_thread(process.wait_for_log, "consuming", 30)
    found = re.search(r"worker (\S+) consuming", victim.text())
    assert found is not None
    standard = [s for s in load_steps(app).subscriptions() if not s.fifo]
    streams = [(f"{prefix}:{kind}:{name}", s.step) for s in standard
               for kind, name in (("topic", s.topic), ("step", s.step))]  # fmt: skip

    started = time.monotonic()
    accepted: dict[str, int] = {}
    posting = asyncio.create_task(post_orders(f"http://127.0.0.1:{port}", accepted))
    watcher = Redis.from_url(redis_url)  # its own connection: the test client polls meanwhile
    async with asyncio.timeout(60):
        while len(accepted) < KILL_AFTER:
            await asyncio.sleep(0.02)
        # Killed with deliveries in hand, not between batches (see test_crash.py).
        while not await held_by(watcher, prefix, streams, found[1]):
            await asyncio.sleep(0.01)
    victim.kill()
    killed_at = len(accepted)
    await watcher.aclose()
    await posting
    posted = time.monotonic() - started

    statuses: dict[str, Any] = {}
    deadline = time.monotonic() + 90
    while len(statuses) < len(accepted) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        statuses = await client.hgetall(f"{prefix}:state:order_status")
    finished = time.monotonic() - started
    unfinished = len(set(accepted) - set(statuses))
    assert unfinished == 0, f"{unfinished} of {len(accepted)} accepted orders never finished (90 s)"
    # A terminal status is written before the saga's last steps (a release of stock, a refund, a
    # notification) have run, and the dead worker may still hold some: settle counts what Redis
    # holds, so the records are read once the whole deployment is quiet.
    async with MotiaTestClient(f"http://127.0.0.1:{port}", token=TOKEN) as remote:
        await remote.settle(timeout=max(5.0, deadline - time.monotonic()))

    shared = SharedRedis(client, prefix)
    charges = await RedisPaymentGateway(shared).charges()
    refunds = await RedisPaymentGateway(shared).refunds()
    ledger = await RedisCatalog(shared).ledger()
    sent = await RedisNotifier(shared).sent()
    status_of = {order_id: json.loads(record)["status"] for order_id, record in statuses.items()}

    assert len(accepted) == ORDERS
    assert set(status_of.values()) <= set(TERMINAL_STATUSES)
    for order_id, n in accepted.items():
        expected = KINDS[n % len(KINDS)][3]
        if expected is not None:
            assert status_of[order_id] == expected, (n, order_id)
    lamps = Counter(status_of[o] for o, n in accepted.items() if n % len(KINDS) == 5)
    assert lamps == {"shipped": 20, "rejected": ORDERS // len(KINDS) - 20}

    succeeded = Counter(c["orderId"] for c in charges if c["status"] == "succeeded")
    assert max(succeeded.values()) == 1, "an order was charged twice"
    assert len(charges) == len({c["chargeId"] for c in charges})
    paid = {o for o, s in status_of.items() if s in ("shipped", "blocked")}
    assert set(succeeded) == paid
    assert sorted(r["orderId"] for r in refunds) == sorted(
        o for o, s in status_of.items() if s == "blocked"
    ), "each blocked order refunded exactly once, no other"
    for order_id, units in ledger.items():
        assert units["reserved"] == units["released"] + units["shipped"], (order_id, units)
    assert len(sent) == len({m["idempotencyKey"] for m in sent})
    assert await client.scard(f"{prefix}:dlq-steps") == 0, "a delivery was dead-lettered"

    assert survivor.stop() == 0
    assert api.stop() == 0
    reclaimed = sum(int(n) for n in re.findall(r"reclaimed (\d+) deliveries", survivor.text()))
    leases = sum(
        int(n) for n in re.findall(r"took over (\d+) expired FIFO leases", survivor.text())
    )
    assert reclaimed + leases > 0, "the kill left nothing to reclaim"
    print(
        f"\n{ORDERS} orders, worker killed after {killed_at} accepted; posted in {posted:.1f}s, "
        f"all terminal after {finished:.1f}s; {reclaimed} deliveries reclaimed, {leases} FIFO "
        f"leases taken over; {Counter(status_of.values())}; {len(charges)} charges, "
        f"{len(refunds)} refunds"
    )
