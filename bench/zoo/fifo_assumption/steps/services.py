"""A CRM fake: the last fields written for each contact."""

from typing import Any


class Crm:
    def __init__(self) -> None:
        self.contacts: dict[str, dict[str, Any]] = {}

    async def upsert(self, contact_id: str, fields: dict[str, Any]) -> None:
        self.contacts[contact_id] = dict(fields)


def default_services() -> dict[str, Any]:
    return {"crm": Crm()}
