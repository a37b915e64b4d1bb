"""The bug zoo: small apps, each with one known, realistic saga bug and the same app fixed.

Each folder holds ``steps/`` (the app with the bug), ``fixed/`` (the step files that fix it, laid
over ``steps/``), ``scenario.py`` (one ``@scenario`` with invariants that catch the bug) and a
README (the bug, the fault that exposes it, the fix). ``bench/bugfinding.py`` measures how fast
``fuzz`` finds each bug against unaimed random faults; ``tests/zoo/`` checks it is found, shrunk,
and that the fixed app passes.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from motia_sim.scenario import Scenario, load_scenarios

__all__ = ["BUGS", "ZOO", "Bug"]

ZOO = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Bug:
    """One zoo app: ``name`` is its folder; ``invariant`` what the bug breaks."""

    name: str
    invariant: str

    @property
    def folder(self) -> Path:
        return ZOO / self.name

    def scenario(self) -> Scenario:
        [found] = load_scenarios(self.folder / "scenario.py")
        return found

    @property
    def steps(self) -> Path:
        return self.folder / "steps"

    def fixed_steps(self, root: Path) -> Path:
        """The app with ``fixed/`` laid over ``steps/``, written under ``root`` (a fresh folder)."""
        target = root / self.name / "steps"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(self.steps, target, ignore=shutil.ignore_patterns("__pycache__"))
        for fix in sorted((self.folder / "fixed").glob("*.py")):
            shutil.copy(fix, target / fix.name)
        return target


BUGS: tuple[Bug, ...] = (
    Bug("double_charge", "each_order_charged_once"),
    Bug("lost_update", "every_deposit_applied"),
    Bug("skipped_compensation", "no_unpaid_room_held"),
    Bug("expiry_leak", "no_seat_blocked_by_a_dead_reservation"),
    Bug("out_of_order", "paid_orders_show_paid"),
    Bug("duplicate_cron", "no_alert_paged_twice"),
    Bug("timeout_retry", "one_label_per_order"),
    Bug("fifo_assumption", "crm_has_the_last_edit"),
)
