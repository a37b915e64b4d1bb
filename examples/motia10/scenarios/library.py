"""Scenarios of the Motia 1.0 example (examples/motia10): each runs in the simulator and on the
runtime, the steps unchanged."""

from __future__ import annotations

from typing import Any

from motia_sim import World, scenario

DDIA = "978-1449373320"
KR = "978-0131103627"


def audits_only_approved_loans(world: World) -> None:
    """The classic audit step records a loan only once the 1.0 review step approved it."""
    loans = world.group("loans")
    for loan_id in world.group("audit"):
        assert loans.get(loan_id, {}).get("status") == "approved", (
            f"audit holds {loan_id}, which is {loans.get(loan_id)}"
        )


@scenario(steps="../steps", invariants=[audits_only_approved_loans], modes=("sim", "runtime"))
async def borrow_review_remind(h: Any) -> None:
    short = await h.post("/loans", json={"member": "ada", "isbn": DDIA, "days": 14})
    assert short.status_code == 202, short.text
    long = await h.post("/loans", json={"member": "ada", "isbn": KR, "days": 60})
    assert long.status_code == 202, long.text
    missing = await h.post("/loans", json={"member": "ada", "isbn": "000", "days": 3})
    assert missing.status_code == 404, missing.text
    invalid = await h.post("/loans", json={"member": "ada", "isbn": KR})
    assert invalid.status_code == 400, invalid.text
    short_id, long_id = short.json()["id"], long.json()["id"]
    await h.settle()

    # The queue trigger's condition approved the short loan and skipped the long one.
    seen = await h.get(f"/loans/{short_id}", headers={"x-member": "ada"})
    assert seen.status_code == 200, seen.text
    assert seen.json()["status"] == "approved"
    assert seen.json()["approvedBy"] == "queue:loan.requested"
    waiting = await h.get(f"/loans/{long_id}", headers={"x-member": "ada"})
    assert waiting.json()["status"] == "requested"
    assert (await h.get(f"/loans/{long_id}")).status_code == 401  # the middleware

    # The same step's http trigger: a librarian approves the long loan.
    approved = await h.post(f"/loans/{long_id}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["approvedBy"] == "librarian"
    assert (await h.post("/loans/loan-nope/approve")).status_code == 404
    await h.settle()

    notes = await h.get("/members/ada/notifications")
    assert notes.status_code == 200, notes.text
    assert sorted(n["loan"] for n in notes.json()) == sorted([short_id, long_id])
    assert set(await h.state.items("audit")) == {short_id, long_id}
    # The state trigger saw each status change (and not the sweep's `reminded` flag below).
    assert await h.state.get("history", long_id) == ["none->requested", "requested->approved"]

    # Cron: the sweep reminds each approved loan once; a paused sweep is skipped.
    run = await h.trigger_cron("OverdueSweep")
    assert run.outcome == "ok", run.error
    await h.settle()
    assert set(await h.state.items("reminders")) == {short_id, long_id}
    await h.state.set("settings", "sweep-paused", True)
    await h.state.delete("reminders", short_id)
    await h.state.set("loans", short_id, {**seen.json(), "reminded": False})
    await h.trigger_cron("OverdueSweep")
    await h.settle()
    assert set(await h.state.items("reminders")) == {long_id}
    assert await h.state.get("history", short_id) == ["none->requested", "requested->approved"]


def history_follows_the_loan(world: World) -> None:
    """A loan's recorded history ends in the status the loan has (once all is quiet)."""
    loans, history = world.group("loans"), world.group("history")
    for loan_id, steps in history.items():
        if loan_id in loans:
            assert steps[-1].endswith("->" + loans[loan_id]["status"]), (loan_id, steps, loans)


@scenario(
    steps="../steps",
    invariants=[audits_only_approved_loans, history_follows_the_loan],
    modes=("sim", "fuzz"),
)
async def borrow_under_faults(h: Any) -> None:
    """Only invariants: crashes, duplicates and delays may land anywhere in the 1.0 steps."""
    for days in (7, 40):
        for _ in range(5):  # a client retries a 5xx (a crash in the api step)
            response = await h.post("/loans", json={"member": "bo", "isbn": DDIA, "days": days})
            if response.status_code < 500:
                break
            await h.advance(1)
    await h.settle()
    await h.trigger_cron("OverdueSweep")
    await h.settle()
