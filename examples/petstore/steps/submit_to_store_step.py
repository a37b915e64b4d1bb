"""Submit the order to the pet store's API, through a client made at import time."""

import os

import httpx

PETSTORE_URL = os.environ.get("PETSTORE_URL", "https://petstore.example.test")
petstore = httpx.AsyncClient(base_url=PETSTORE_URL, timeout=10)

config = {
    "type": "event",
    "name": "SubmitToPetStore",
    "subscribes": ["pet-order.requested"],
    "emits": ["pet-order.placed"],
    "flows": ["petstore"],
    "infrastructure": {"queue": {"maxRetries": 3}},
}


async def handler(input, context):
    response = await petstore.post(
        "/store/order",
        json={"petId": input["petId"], "quantity": input["quantity"], "status": "placed"},
        # The request id is the same on every delivery of this order: a retry after a lost
        # response gets the first order back instead of placing a second one.
        headers={"Idempotency-Key": input["requestId"]},
    )
    response.raise_for_status()
    placed = response.json()
    await context.state.set(
        "pet_orders",
        input["requestId"],
        {"status": "placed", "storeOrderId": placed["id"], **input},
    )
    await context.emit(
        "pet-order.placed", {"requestId": input["requestId"], "storeOrderId": placed["id"]}
    )
