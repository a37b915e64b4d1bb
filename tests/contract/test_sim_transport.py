"""The Transport contract against the simulator's transport (no faults planned, real loop)."""

from __future__ import annotations

import random

import pytest

from motia_rt.ports import Clock, Transport
from motia_sim.faults import FaultPlan
from motia_sim.injector import FaultInjector
from motia_sim.ports import SimTransport
from motia_sim.trace import Trace
from tests.contract.transport_contract import TransportContract, TransportFactory


def _sim_transport(clock: Clock) -> Transport:
    rng = random.Random(0)
    trace = Trace(clock.monotonic)
    return SimTransport(clock, FaultInjector(FaultPlan(), rng, trace), rng, trace)


class TestSimTransport(TransportContract):
    @pytest.fixture
    def make_transport(self) -> TransportFactory:
        return _sim_transport
