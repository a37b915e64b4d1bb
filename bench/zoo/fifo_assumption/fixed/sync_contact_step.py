from typing import Any

config = {
    "type": "event",
    "name": "SyncContact",
    "subscribes": ["contact.changed"],
    "emits": [],
    # Snapshots of one contact (its messageGroupId) one at a time, in the order sent.
    "infrastructure": {"queue": {"type": "fifo"}},
}


async def handler(change: dict[str, Any], context: Any) -> None:
    await context.services.crm.upsert(change["contactId"], change["fields"])
