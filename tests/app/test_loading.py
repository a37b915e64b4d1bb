"""The reference app loads, and its topic map is closed: nothing emitted goes nowhere unplanned."""

from __future__ import annotations

from motia_rt.loader import load_steps
from tests.app.conftest import STEPS

TERMINAL_TOPICS = {
    "fulfillment.shipped",
    "inventory.released",
    "notification.sent",
    "api.degraded",
    "review.completed",
}
"""Emitted (or virtually emitted) and consumed by no step, on purpose: see docs/reference-app.md."""


def test_every_step_loads() -> None:
    registry = load_steps(STEPS)
    by_kind = {
        kind: sorted(s.name for s in registry.of_kind(kind))
        for kind in ("api", "event", "cron", "noop")
    }
    assert by_kind == {
        "api": ["CreateOrder", "GetOrder"],
        "event": [
            "CalculatePrice",
            "CompensateFailedPayment",
            "Fulfillment",
            "ProcessPayment",
            "RejectOrder",
            "ReleaseInventory",
            "ReserveInventory",
            "RiskAnalysis",
            "SendNotification",
        ],
        "cron": ["ApiHealthCheck"],
        "noop": ["ManualReview"],
    }
    nested = {s.file.parent.name for s in registry}
    assert nested >= {
        "orders",
        "inventory",
        "payments",
        "risk",
        "fulfillment",
        "notifications",
        "ops",
    }


def test_every_step_is_in_a_flow() -> None:
    registry = load_steps(STEPS)
    assert {s.name: s.flows for s in registry if s.flows != ("orders",)} == {
        "ApiHealthCheck": ("ops",)
    }


def test_every_emitted_topic_has_a_subscriber_or_is_terminal() -> None:
    registry = load_steps(STEPS)
    subscribed = {t for s in registry for t in (*s.subscribes, *s.virtual_subscribes)}
    emitted = {t for s in registry for t in (*s.emits, *s.virtual_emits)}
    assert emitted - subscribed == TERMINAL_TOPICS
    assert subscribed <= emitted, "every subscription is fed by some step"


def test_the_join_step_is_fifo_and_both_halves_feed_it() -> None:
    registry = load_steps(STEPS)
    fulfillment = registry["Fulfillment"]
    assert fulfillment.fifo
    assert set(fulfillment.subscribes) == {"payment.succeeded", "risk.assessed"}


def test_default_services_come_with_the_app() -> None:
    registry = load_steps(STEPS)
    assert sorted(registry.default_services()) == [
        "catalog",
        "health",
        "notifier",
        "payments",
        "risk",
    ]
