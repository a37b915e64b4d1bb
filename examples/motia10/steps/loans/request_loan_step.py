"""A member asks to borrow a book: recorded as requested, then reviewed from the queue."""

from typing import Any

from motia import ApiRequest, ApiResponse, FlowContext, enqueue, http, logger, stateManager
from pydantic import BaseModel
from services.catalog import title_of


class LoanRequest(BaseModel):
    member: str
    isbn: str
    days: int


config = {
    "name": "RequestLoan",
    "description": "Record a loan request and queue it for review",
    "flows": ["loans"],
    "triggers": [http("POST", "/loans", body_schema=LoanRequest)],
    "enqueues": ["loan.requested"],
}


async def handler(request: ApiRequest[LoanRequest], ctx: FlowContext[Any]) -> ApiResponse[Any]:
    body = request.body
    title = title_of(body.isbn)
    if title is None:
        return ApiResponse(status=404, body={"error": f"no book with ISBN {body.isbn}"})
    loan_id = f"loan-{ctx.trace_id[:8]}"
    loan = {"id": loan_id, "member": body.member, "isbn": body.isbn, "title": title,
            "days": body.days, "status": "requested"}  # fmt: skip
    stateManager.set("loans", loan_id, loan)
    enqueue({"topic": "loan.requested", "data": loan})
    logger.info("loan requested", {"loan": loan_id, "via": ctx.trigger.path})
    return ApiResponse(status=202, body={"id": loan_id, "status": "requested"})
