"""A classic Motia step (``type``, ``subscribes``) beside the 1.0 ones: an audit trail."""

config = {
    "type": "event",
    "name": "AuditApprovals",
    "subscribes": ["loan.approved"],
    "emits": [],
    "flows": ["loans"],
}


async def handler(loan, context):
    await context.state.set("audit", loan["id"], {"approvedBy": loan["approvedBy"]})
