"""The Transport contract against the in-memory reference adapter."""

from __future__ import annotations

import pytest

from motia_rt.transport.memory import MemoryTransport
from tests.contract.transport_contract import TransportContract, TransportFactory


class TestMemoryTransport(TransportContract):
    @pytest.fixture
    def make_transport(self) -> TransportFactory:
        return MemoryTransport
