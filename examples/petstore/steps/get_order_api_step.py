"""GET /pet-orders/{requestId}: where an order stands."""

config = {
    "type": "api",
    "name": "GetPetOrder",
    "path": "/pet-orders/{requestId}",
    "method": "GET",
    "emits": [],
    "flows": ["petstore"],
}


async def handler(req, context):
    order = await context.state.get("pet_orders", req.path_params["requestId"])
    if order is None:
        return {"status": 404, "body": {"error": "no such order"}}
    return {"status": 200, "body": order}
