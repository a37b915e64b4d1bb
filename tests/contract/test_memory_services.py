"""The services contract against the in-memory reference fakes (one process holds the app)."""

from __future__ import annotations

from typing import Any

import pytest

from steps.services import default_services
from tests.contract.services_contract import DeploymentFactory, ServicesContract


class MemoryDeployment:
    """Every "process" gets the same fakes: in memory, the app runs in one process."""

    def __init__(self) -> None:
        self.services = default_services()

    def process(self, index: int) -> dict[str, Any]:
        return self.services

    async def charges(self) -> list[dict[str, Any]]:
        return list(self.services["payments"].charges)

    async def refunds(self) -> list[dict[str, Any]]:
        return list(self.services["payments"].refunds)

    async def ledger(self) -> dict[str, dict[str, int]]:
        return dict(self.services["catalog"].ledger())

    async def available(self) -> dict[str, int]:
        return dict(self.services["catalog"].available)

    async def sent(self) -> list[dict[str, Any]]:
        return list(self.services["notifier"].sent)


class TestMemoryServices(ServicesContract):
    @pytest.fixture
    def make_deployment(self) -> DeploymentFactory:
        return MemoryDeployment
