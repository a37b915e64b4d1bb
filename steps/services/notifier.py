"""A fake e-mail sender that records messages and drops duplicates by idempotency key."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

__all__ = ["Notifier", "message_for"]


def message_for(
    to: str, template: str, data: Mapping[str, Any], idempotency_key: str
) -> dict[str, Any]:
    """The message as sent: its id is derived from the key, so every sender names it alike."""
    return {
        "messageId": "msg_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:16],
        "to": to,
        "template": template,
        "data": dict(data),
        "idempotencyKey": idempotency_key,
    }


class Notifier:
    """In-memory fake of the notification service. Offline, atomic per call.

    ``sent`` lists each distinct message once (``{"messageId", "to", "template", "data",
    "idempotencyKey"}``); a repeated idempotency key sends nothing.
    """

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self._by_key: dict[str, dict[str, Any]] = {}

    async def send(
        self, to: str, template: str, data: Mapping[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        """Send ``template`` to ``to``. Returns ``{"messageId", "status": "sent" | "duplicate"}``."""
        if idempotency_key in self._by_key:
            return {"messageId": self._by_key[idempotency_key]["messageId"], "status": "duplicate"}
        message = message_for(to, template, data, idempotency_key)
        self._by_key[idempotency_key] = message
        self.sent.append(message)
        return {"messageId": message["messageId"], "status": "sent"}

    def to(self, address: str, template: str | None = None) -> list[dict[str, Any]]:
        """Messages sent to ``address`` (optionally only of ``template``)."""
        return [
            m for m in self.sent
            if m["to"] == address and (template is None or m["template"] == template)
        ]  # fmt: skip
