"""The StateStore contract against the in-memory reference adapter."""

from __future__ import annotations

import pytest

from motia_rt.state.memory import MemoryStateStore
from tests.contract.state_contract import StateStoreContract, StoreFactory


class TestMemoryStateStore(StateStoreContract):
    @pytest.fixture
    def make_store(self) -> StoreFactory:
        return MemoryStateStore
