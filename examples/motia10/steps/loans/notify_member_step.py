"""Tell members about approved loans; members read their notifications over HTTP."""

from typing import Any

from motia import ApiRequest, ApiResponse, FlowContext, Stream, http, multi_trigger_step, queue

notifications: Stream[dict[str, Any]] = Stream("notifications")


def on_approved(loan: dict[str, Any], ctx: FlowContext[Any]) -> None:
    notifications.set(
        loan["member"], loan["id"], {"loan": loan["id"], "text": f"{loan['title']} is yours"}
    )


async def list_notifications(request: ApiRequest[Any], ctx: FlowContext[Any]) -> ApiResponse[Any]:
    items = notifications.get_group(request.path_params["member"])
    return ApiResponse(status=200, body=sorted(items, key=lambda n: n["loan"]))


notify_member = (
    multi_trigger_step(
        {
            "name": "NotifyMember",
            "flows": ["loans"],
            "triggers": [queue("loan.approved"), http("GET", "/members/:member/notifications")],
        }
    )
    .on_queue(on_approved)
    .on_http(list_notifications)
    .handlers()
)
