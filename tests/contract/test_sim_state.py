"""The StateStore contract against the simulator's state store (no faults planned, real loop)."""

from __future__ import annotations

import random

import pytest

from motia_rt.ports import StateStore
from motia_sim.faults import FaultPlan
from motia_sim.injector import FaultInjector
from motia_sim.ports import SimStateStore
from motia_sim.trace import Trace
from tests.contract.state_contract import StateStoreContract, StoreFactory


def _sim_store() -> StateStore:
    trace = Trace(lambda: 0.0)
    return SimStateStore(FaultInjector(FaultPlan(), random.Random(0), trace), trace)


class TestSimStateStore(StateStoreContract):
    @pytest.fixture
    def make_store(self) -> StoreFactory:
        return _sim_store
