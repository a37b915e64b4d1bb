"""POST /pet-orders: accept an order for a pet and hand it to the background step."""

from pydantic import BaseModel, Field


class PetOrderRequest(BaseModel):
    petId: int = Field(ge=1)
    quantity: int = Field(ge=1, le=10)
    customer: str = Field(min_length=1)


config = {
    "type": "api",
    "name": "PlacePetOrder",
    "path": "/pet-orders",
    "method": "POST",
    "bodySchema": PetOrderRequest,
    "emits": ["pet-order.requested"],
    "flows": ["petstore"],
}


async def handler(req, context):
    order: PetOrderRequest = req.body
    request_id = f"req_{context.trace_id[:12]}"
    await context.state.set("pet_orders", request_id, {"status": "requested", **order.model_dump()})
    await context.emit("pet-order.requested", {"requestId": request_id, **order.model_dump()})
    return {"status": 202, "body": {"requestId": request_id, "status": "requested"}}
