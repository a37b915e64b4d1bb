from typing import Any

config = {
    "type": "event",
    "name": "ChargeTrip",
    "subscribes": ["room.held"],
    "emits": ["trip.confirmed", "payment.declined"],
}


async def handler(trip: dict[str, Any], context: Any) -> None:
    charge = await context.services.cards.charge(
        trip["tripId"], trip["amount"], trip["card"], idempotency_key=trip["tripId"]
    )
    topic = "trip.confirmed" if charge["status"] == "succeeded" else "payment.declined"
    await context.emit(topic, {"tripId": trip["tripId"]})
