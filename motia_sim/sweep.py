"""The single-fault sweep ``fuzz`` runs before it draws plans.

Most saga bugs need one fault in the right place: a crash between a side effect and its emit, a
message delivered twice, one service call failing, a delivery held past an expiry. Drawing plans
at random finds them only when the draw happens to land there; chaos testing finds the shallow
ones quickly and the needles rarely. The sweep visits the places themselves: every single fault at
every site the counted fault-free run reached, each (step, fault kind) pair's most telling fault
first, one pair after another, so every pair gets its first fault before any pair gets its second.
The i-th fault runs on seed i: the sites hold on every seed but for the order of concurrent runs,
and a race needs more interleavings than one. What the sweep does not reach in its share of the
examples, the drawn plans explore.
"""

from __future__ import annotations

from collections.abc import Iterator

from ._kinds import KINDS, Aim, Fault, kind_of
from .injector import FaultSites
from .strategies import FaultSpace

__all__ = ["single_faults"]

_FIRST = ("duplicate", "crash", "service", "delay", "cron", "state")
"""Kinds in the order each round visits them: the commonest causes of saga bugs first (a message
handled twice, a run dying between its side effects), a failed state operation (which mostly
fails a request with a 500) last. A kind not listed comes after these."""


def single_faults(space: FaultSpace, sites: FaultSites) -> Iterator[Fault]:
    """Single faults for ``space``'s reachable pairs in rounds: each round gives every pair its
    next fault (each pair's list is its kind's ``sweep``), each fault once, then tries again the
    round's faults whose kind ``tries`` them more than once (each try runs on another seed)."""
    aim = Aim(space, sites, counted=True)
    kinds = sorted(KINDS, key=lambda k: _FIRST.index(k.name) if k.name in _FIRST else len(_FIRST))
    queues = [
        iter(kind.sweep(where, aim)) for kind in kinds for where in sorted(kind.targets(space))
    ]
    seen: set[Fault] = set()
    while queues:
        alive, again = [], []
        for queue in queues:
            for fault in queue:
                if fault not in seen:
                    seen.add(fault)
                    yield fault
                    again.extend([fault] * (kind_of(fault).tries(fault) - 1))
                    alive.append(queue)
                    break
        yield from again
        queues = alive
