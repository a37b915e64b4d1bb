"""The bug planted for the network-fault test: any error from the pet store counts as a
rejection. When the store took the order but its answer was lost on the way back (or came after
the client's timeout), the order is marked rejected while the store ships the pet."""

import os

import httpx

PETSTORE_URL = os.environ.get("PETSTORE_URL", "https://petstore.example.test")
petstore = httpx.AsyncClient(base_url=PETSTORE_URL, timeout=10)

config = {
    "type": "event",
    "name": "SubmitToPetStore",
    "subscribes": ["pet-order.requested"],
    "emits": ["pet-order.placed", "pet-order.rejected"],
    "flows": ["petstore"],
    "infrastructure": {"queue": {"maxRetries": 5}},
}


async def handler(input, context):
    request_id = input["requestId"]
    order = {"petId": input["petId"], "quantity": input["quantity"], "status": "placed"}
    try:
        response = await petstore.post(
            "/store/order",
            json={**order, "requestId": request_id},
            headers={"Idempotency-Key": request_id},
        )
        response.raise_for_status()
    except httpx.HTTPError:
        await context.state.set("pet_orders", request_id, {"status": "rejected", **input})
        await context.emit("pet-order.rejected", {"requestId": request_id})
        return
    placed = response.json()
    await context.state.set(
        "pet_orders", request_id, {"status": "placed", "storeOrderId": placed["id"], **input}
    )
    await context.emit("pet-order.placed", {"requestId": request_id, "storeOrderId": placed["id"]})
