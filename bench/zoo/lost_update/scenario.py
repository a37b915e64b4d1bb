"""Three deposits to one account, two seconds apart: every deposit must end up in the balance."""

from typing import Any

from motia_sim import World, eventually, scenario

DEPOSITS = [("d-1", 100), ("d-2", 20), ("d-3", 3)]


@eventually
def every_deposit_applied(world: World) -> None:
    account = world.group("accounts").get("acc-1") or {"balance": 0, "applied": []}
    assert isinstance(account, dict)
    missing = [d for d, _ in DEPOSITS if d not in account["applied"]]
    assert not missing, f"deposits lost: {missing}; account: {account}"
    assert account["balance"] == sum(a for _, a in DEPOSITS), account


@scenario(invariants=[every_deposit_applied], steps="steps", modes=("sim", "fuzz"))
async def three_deposits(h: Any) -> None:
    for deposit_id, amount in DEPOSITS:
        data = {"accountId": "acc-1", "depositId": deposit_id, "amount": amount}
        await h.emit("deposit.received", data, group_id="acc-1")
        await h.advance(2)
    await h.settle()
