"""RiskAnalysis: score a priced order for fraud, in parallel with the payment."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models import OrderPriced, RiskAssessed
from ..state_groups import RISK

if TYPE_CHECKING:
    from motia_rt import EventConfig, FlowContext

config: EventConfig = {
    "type": "event",
    "name": "RiskAnalysis",
    "description": "Score the order for fraud; flag it for manual review when blocked",
    "subscribes": ["order.priced"],
    "emits": ["risk.assessed", "order.flagged"],
    "input": OrderPriced,
    "flows": ["orders"],
}


async def handler(order: OrderPriced, context: FlowContext) -> None:
    # A real scorer (an LLM) may answer differently twice, so a redelivery reuses the stored
    # assessment rather than asking again: Fulfillment must never see the decision change.
    stored = await context.state.get(RISK, order.orderId)
    if stored is not None:
        assessment = RiskAssessed.model_validate(stored)
    else:
        result = await context.services.risk.score(
            {
                "orderId": order.orderId,
                "email": order.email,
                "total": order.total,
                "items": [i.model_dump() for i in order.items],
            }
        )
        assessment = RiskAssessed(orderId=order.orderId, email=order.email, **result)
        # Stored before the emit: Fulfillment joins payment and risk through state.
        await context.state.set(RISK, order.orderId, assessment)
    # The order id as FIFO group: Fulfillment sees one order's events one at a time.
    await context.emit(
        {"topic": "risk.assessed", "data": assessment, "messageGroupId": order.orderId}
    )
    if assessment.decision == "block":
        await context.emit({"topic": "order.flagged", "data": assessment})
    context.logger.info(
        "Risk assessed",
        {"orderId": order.orderId, "score": assessment.score, "decision": assessment.decision},
    )
