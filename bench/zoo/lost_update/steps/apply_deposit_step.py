from typing import Any

config = {
    "type": "event",
    "name": "ApplyDeposit",
    "subscribes": ["deposit.received"],
    "emits": [],
}


async def handler(deposit: dict[str, Any], context: Any) -> None:
    account_id = deposit["accountId"]
    account = await context.state.get("accounts", account_id) or {"balance": 0, "applied": []}
    if deposit["depositId"] in account["applied"]:
        return  # a redelivery of a deposit already applied
    verdict = await context.services.screening.check(
        account_id, deposit["amount"], account["balance"]
    )
    if not verdict["approved"]:
        return
    await context.state.set(
        "accounts",
        account_id,
        {
            "balance": account["balance"] + deposit["amount"],
            "applied": [*account["applied"], deposit["depositId"]],
        },
    )
