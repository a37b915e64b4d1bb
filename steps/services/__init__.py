"""The app's external dependencies as offline, deterministic fakes (the default bindings).

The loader calls ``default_services()`` once per runtime or simulation, so every run starts from
fresh stock, no charges and no messages. Override any of them by name:
``Runtime("steps", services={"payments": PaymentGateway(limit=100.0)})``.

Under ``motia-rt start`` and ``motia-rt worker`` the app's processes share one Redis, and one
order's steps run in several of them: there the catalogue, payments and notifier keep their records
in that Redis (``RedisCatalog``, ``RedisPaymentGateway``, ``RedisNotifier``: same rules, atomic
calls), so a reservation made by one worker is there for the next. Risk and health keep no records
that another step relies on, and stay per process. See "Services shared by several workers" in
``docs/deployment.md``.
"""

from __future__ import annotations

from typing import Any

from motia_rt.deployment import SharedRedis, shared_redis

from .catalog import DEFAULT_PRODUCTS, Catalog, Product
from .health import HealthProbe
from .notifier import Notifier
from .payments import DECLINED_METHOD, PaymentGateway
from .redis_catalog import RedisCatalog
from .redis_notifier import RedisNotifier
from .redis_payments import RedisPaymentGateway
from .risk import RiskScorer

__all__ = [
    "DECLINED_METHOD",
    "DEFAULT_PRODUCTS",
    "Catalog",
    "HealthProbe",
    "Notifier",
    "PaymentGateway",
    "Product",
    "RedisCatalog",
    "RedisNotifier",
    "RedisPaymentGateway",
    "RiskScorer",
    "default_services",
    "shared_services",
]


def default_services() -> dict[str, Any]:
    """Fresh fakes: ``catalog``, ``payments``, ``risk``, ``notifier``, ``health``; the shared
    ones of ``shared_services`` when the engine is built for a Redis deployment."""
    shared = shared_redis()
    if shared is not None:
        return shared_services(shared)
    return {
        "catalog": Catalog(),
        "payments": PaymentGateway(),
        "risk": RiskScorer(),
        "notifier": Notifier(),
        "health": HealthProbe(),
    }


def shared_services(shared: SharedRedis) -> dict[str, Any]:
    """The bindings for the processes of one deployment: records in ``shared``'s Redis."""
    return {
        "catalog": RedisCatalog(shared),
        "payments": RedisPaymentGateway(shared),
        "risk": RiskScorer(),
        "notifier": RedisNotifier(shared),
        "health": HealthProbe(),
    }
