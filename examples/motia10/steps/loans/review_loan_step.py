"""Short loans are approved from the queue; long ones wait for a librarian's POST."""

from typing import Any

from motia import ApiRequest, ApiResponse, FlowContext, enqueue, http, queue, stateManager
from services.catalog import MAX_AUTO_APPROVED_DAYS


def is_short(loan: Any, ctx: FlowContext[Any]) -> bool:
    return loan["days"] <= MAX_AUTO_APPROVED_DAYS


config = {
    "name": "ReviewLoan",
    "flows": ["loans"],
    "triggers": [
        queue("loan.requested", condition=is_short),
        http("POST", "/loans/:id/approve"),
    ],
    "enqueues": ["loan.approved"],
}


def _approve(loan_id: str, by: str) -> dict[str, Any] | None:
    loan = stateManager.get("loans", loan_id)
    if loan is None:
        return None
    approved = {**loan, "status": "approved", "approvedBy": by}
    stateManager.set("loans", loan_id, approved)
    enqueue({"topic": "loan.approved", "data": approved})
    return approved


def handler(input: Any, ctx: FlowContext[Any]) -> Any:
    def from_queue(loan: dict[str, Any]) -> None:
        _approve(loan["id"], by=f"queue:{ctx.trigger.topic}")

    def from_librarian(request: ApiRequest[Any]) -> ApiResponse[Any]:
        approved = _approve(request.path_params["id"], by="librarian")
        if approved is None:
            return ApiResponse(status=404, body={"error": "no such loan"})
        return ApiResponse(status=200, body=approved)

    return ctx.match({"queue": from_queue, "http": from_librarian})
