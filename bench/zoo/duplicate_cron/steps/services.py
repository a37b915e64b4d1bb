"""A pager fake: records every page sent."""

from typing import Any


class Pager:
    def __init__(self) -> None:
        self.pages: list[dict[str, Any]] = []

    async def page(self, alert_id: str, text: str) -> None:
        self.pages.append({"alertId": alert_id, "text": text})


def default_services() -> dict[str, Any]:
    return {"pager": Pager()}
