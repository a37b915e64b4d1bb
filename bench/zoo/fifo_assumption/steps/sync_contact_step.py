from typing import Any

config = {
    "type": "event",
    "name": "SyncContact",
    "subscribes": ["contact.changed"],
    "emits": [],
}


async def handler(change: dict[str, Any], context: Any) -> None:
    await context.services.crm.upsert(change["contactId"], change["fields"])
