"""The app's external dependencies as offline, deterministic fakes (the default bindings).

The loader calls ``default_services()`` once per runtime or simulation, so every run starts from
fresh stock, no charges and no messages. Override any of them by name:
``Runtime("steps", services={"payments": PaymentGateway(limit=100.0)})``.
"""

from __future__ import annotations

from typing import Any

from .catalog import DEFAULT_PRODUCTS, Catalog, Product
from .health import HealthProbe
from .notifier import Notifier
from .payments import DECLINED_METHOD, PaymentGateway
from .risk import RiskScorer

__all__ = [
    "DECLINED_METHOD",
    "DEFAULT_PRODUCTS",
    "Catalog",
    "HealthProbe",
    "Notifier",
    "PaymentGateway",
    "Product",
    "RiskScorer",
    "default_services",
]


def default_services() -> dict[str, Any]:
    """Fresh fakes: ``catalog``, ``payments``, ``risk``, ``notifier``, ``health``."""
    return {
        "catalog": Catalog(),
        "payments": PaymentGateway(),
        "risk": RiskScorer(),
        "notifier": Notifier(),
        "health": HealthProbe(),
    }
