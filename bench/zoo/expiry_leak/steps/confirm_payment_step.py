from typing import Any

config = {
    "type": "event",
    "name": "ConfirmPayment",
    "subscribes": ["payment.received"],
    "emits": [],
}


async def handler(payment: dict[str, Any], context: Any) -> None:
    reservation = await context.state.get("reservations", payment["reservationId"])
    if reservation is not None and reservation["status"] == "held":
        await context.state.set(
            "reservations", reservation["id"], {**reservation, "status": "confirmed"}
        )
