"""Read a loan, for its member only (a sync middleware checks the x-member header)."""

from typing import Any

from motia import ApiRequest, ApiResponse, FlowContext, http, stateManager, step


def members_only(request: ApiRequest[Any], ctx: FlowContext[Any], next: Any) -> Any:
    if not request.headers.get("x-member"):
        return ApiResponse(status=401, body={"error": "send x-member"})
    return next()


def show_loan(request: ApiRequest[Any], ctx: FlowContext[Any]) -> ApiResponse[Any]:
    loan = stateManager.get("loans", request.path_params["id"])
    if loan is None or loan["member"] != request.headers["x-member"]:
        return ApiResponse(status=404, body={"error": "no such loan"})
    return ApiResponse(status=200, body=loan)


loan_status = step(
    {
        "name": "LoanStatus",
        "flows": ["loans"],
        "triggers": [http("GET", "/loans/:id", middleware=[members_only])],
    },
    show_loan,
)
