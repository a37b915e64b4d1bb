"""Submit the order to the pet store's API, through a client made at import time."""

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
    # The request id is the same on every delivery of this order: a retry after a lost
    # response gets the first order back instead of placing a second one.
    response = await petstore.post(
        "/store/order",
        json={**order, "requestId": request_id},
        headers={"Idempotency-Key": request_id},
    )
    if 400 <= response.status_code < 500 and response.status_code != 429:
        # A definite no: the store did not take the order.
        await context.state.set("pet_orders", request_id, {"status": "rejected", **input})
        await context.emit("pet-order.rejected", {"requestId": request_id})
        return
    # A 5xx, a 429, or no answer at all (raised by httpx): the store may or may not have the
    # order, so never call it failed; raise, and the retry asks again with the same key.
    response.raise_for_status()
    placed = response.json()
    await context.state.set(
        "pet_orders", request_id, {"status": "placed", "storeOrderId": placed["id"], **input}
    )
    await context.emit("pet-order.placed", {"requestId": request_id, "storeOrderId": placed["id"]})
