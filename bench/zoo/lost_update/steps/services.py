"""A deposit screening fake (limits, sanctions): approves everything after 1.5 s, records what it
saw."""

import asyncio
from typing import Any

SCREENING_SECONDS = 1.5
"""How long a check takes: less than the two seconds between deposits in the scenario."""


class Screening:
    def __init__(self) -> None:
        self.checked: list[tuple[str, int, int]] = []

    async def check(self, account_id: str, amount: int, balance: int) -> dict[str, Any]:
        await asyncio.sleep(SCREENING_SECONDS)
        self.checked.append((account_id, amount, balance))
        return {"approved": True}


def default_services() -> dict[str, Any]:
    return {"screening": Screening()}
