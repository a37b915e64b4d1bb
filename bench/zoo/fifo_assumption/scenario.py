"""A contact edited three times, a second apart: the CRM must end with the last edit."""

from typing import Any

from motia_sim import World, eventually, scenario

EDITS = [
    {"email": "ann@example.com", "plan": "free"},
    {"email": "ann@example.com", "plan": "pro"},
    {"email": "ann@work.example", "plan": "pro"},
]


@eventually
def crm_has_the_last_edit(world: World) -> None:
    synced = world.services["crm"].contacts.get("c-1")
    assert synced == EDITS[-1], f"CRM holds {synced}, the last edit was {EDITS[-1]}"


@scenario(invariants=[crm_has_the_last_edit], steps="steps", modes=("sim", "fuzz"))
async def three_edits(h: Any) -> None:
    for fields in EDITS:
        await h.emit("contact.changed", {"contactId": "c-1", "fields": fields}, group_id="c-1")
        await h.advance(1)
    await h.settle()
