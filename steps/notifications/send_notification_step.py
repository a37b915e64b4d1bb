"""SendNotification: deliver a customer e-mail, once per idempotency key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models import NotificationRequest, NotificationSent

if TYPE_CHECKING:
    from motia_rt import EventConfig, FlowContext

config: EventConfig = {
    "type": "event",
    "name": "SendNotification",
    "description": "Send a templated e-mail; duplicates are dropped by idempotency key",
    "subscribes": ["notification.send"],
    "emits": ["notification.sent"],
    "input": NotificationRequest,
    "flows": ["orders"],
}


async def handler(note: NotificationRequest, context: FlowContext) -> None:
    result = await context.services.notifier.send(
        note.to, note.template, note.data, idempotency_key=note.idempotencyKey
    )
    sent = NotificationSent(
        to=note.to, template=note.template, idempotencyKey=note.idempotencyKey,
        messageId=result["messageId"], duplicate=result["status"] == "duplicate",
    )  # fmt: skip
    await context.emit({"topic": "notification.sent", "data": sent})
    context.logger.info(
        "Notification sent", {"template": note.template, "duplicate": sent.duplicate}
    )
