"""The notification fake kept in Redis: each idempotency key sends once, whichever process asks.

Keys under ``{prefix}:svc:notifier``: ``:message:{key}`` (the message as JSON), ``:sent`` (keys in
the order they were first sent). One Lua script per send: atomic, all or nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from motia_rt.deployment import SharedRedis

from .notifier import message_for
from .redis_codec import text

__all__ = ["RedisNotifier"]

_SEND = """
local existing = redis.call('GET', KEYS[1])
if existing then return {'duplicate', existing} end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('RPUSH', KEYS[2], ARGV[2])
return {'sent', ARGV[1]}
"""


class RedisNotifier:
    """``NotifierService`` in Redis. Inspect with the async ``sent()`` and ``to(address)``."""

    def __init__(self, shared: SharedRedis) -> None:
        self.client = shared.client
        self.p = shared.key_prefix("notifier")
        self._send = self.client.register_script(_SEND)

    async def send(
        self, to: str, template: str, data: Mapping[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        """As ``Notifier.send``: ``{"messageId", "status": "sent" | "duplicate"}``."""
        message = message_for(to, template, data, idempotency_key)
        keys = [f"{self.p}:message:{idempotency_key}", f"{self.p}:sent"]
        status, first = await self._send(keys=keys, args=[json.dumps(message), idempotency_key])
        return {"messageId": json.loads(text(first))["messageId"], "status": text(status)}

    async def sent(self) -> list[dict[str, Any]]:
        """Each distinct message once, in the order they were sent."""
        keys = [text(k) for k in await self.client.lrange(f"{self.p}:sent", 0, -1)]
        if not keys:
            return []
        messages = await self.client.mget([f"{self.p}:message:{k}" for k in keys])
        return [json.loads(text(m)) for m in messages]

    async def to(self, address: str, template: str | None = None) -> list[dict[str, Any]]:
        """Messages sent to ``address`` (optionally only of ``template``)."""
        return [
            m for m in await self.sent()
            if m["to"] == address and (template is None or m["template"] == template)
        ]  # fmt: skip
