"""motia_sim: run Motia-style steps in a deterministic simulator with virtual time and fault plans."""

from ._loop import Deadlock, VirtualClock, run_simulated
from ._sandbox import SimulationEscape
from .faults import (
    Crash,
    CronFault,
    Delay,
    Duplicate,
    Fault,
    FaultPlan,
    FaultPlanSyntaxError,
    InjectedFault,
    InjectedServiceError,
    InjectedStoreError,
    NetFault,
    ServiceFault,
    StateFault,
)
from .fuzzing import FuzzReport, fuzz, replay
from .invariants import Invariant, InvariantViolation, World, always, eventually
from .references import NotReplayable
from .scenario import Scenario, load_scenarios, scenario
from .simulation import NondeterminismError, SimHarness, SimRun, Simulation
from .trace import Trace

__all__ = [
    "Crash",
    "CronFault",
    "Deadlock",
    "Delay",
    "Duplicate",
    "Fault",
    "FaultPlan",
    "FaultPlanSyntaxError",
    "FuzzReport",
    "InjectedFault",
    "InjectedServiceError",
    "InjectedStoreError",
    "Invariant",
    "InvariantViolation",
    "NetFault",
    "NondeterminismError",
    "NotReplayable",
    "Scenario",
    "ServiceFault",
    "SimHarness",
    "SimRun",
    "Simulation",
    "SimulationEscape",
    "StateFault",
    "Trace",
    "VirtualClock",
    "World",
    "always",
    "eventually",
    "fuzz",
    "load_scenarios",
    "replay",
    "run_simulated",
    "scenario",
]
