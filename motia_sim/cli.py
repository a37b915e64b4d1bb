"""motia-sim: run scenarios, fuzz one, replay a failure exactly.

motia-sim run scenarios/
motia-sim fuzz scenarios/orders.py::happy_path --examples 500
motia-sim replay scenarios/orders.py::happy_path --seed 7 --plan "crash step=ProcessPayment run=1"
motia-sim replay tests/test_x.py::flow --seed 7 --invariant tests/test_x.py::no_double_charge
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from .faults import FaultPlanSyntaxError
from .fuzzing import _failed, failure_message, fuzz, replay, run_scenario
from .invariants import InvariantViolation
from .references import NotReplayable
from .scenario import Scenario, load_scenarios, resolve

__all__ = ["ProgressBar", "main"]


class ProgressBar:
    """``[#####.....] 250/500 examples`` on stderr; redrawn in place on a terminal, else every 10%."""

    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.label, self.width = label, width
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self._last_decile = -1

    def __call__(self, done: int, total: int) -> None:
        done = min(done, total)
        decile = done * 10 // max(total, 1)
        if not self.tty and decile == self._last_decile:
            return
        self._last_decile = decile
        filled = self.width * done // max(total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        text = f"[{bar}] {done}/{total} {self.label} {time.monotonic() - self.started:.1f}s"
        self.stream.write(("\r" + text) if self.tty else text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="motia-sim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run every scenario once in the simulator (seed 0, no faults)")
    run.add_argument("paths", nargs="*", default=["scenarios"])
    fz = sub.add_parser("fuzz", help="fuzz one scenario with Hypothesis-drawn fault plans")
    fz.add_argument("ref", help="path/to/file.py::scenario_name")
    fz.add_argument("--examples", type=int, default=100)
    fz.add_argument("--max-faults", type=int, default=None)
    fz.add_argument("--steps", default=None, help="steps folder (default: the scenario's)")
    fz.add_argument("--derandomize", action="store_true",
                    help="draw the same examples on every run (CI, comparing runs)")  # fmt: skip
    rp = sub.add_parser("replay", help="replay one run exactly and print its timeline")
    rp.add_argument("ref", help="path/to/file.py::scenario_name")
    rp.add_argument("--seed", type=int, default=0)
    rp.add_argument("--plan", default="", help='fault plan text, e.g. "state op=3"')
    rp.add_argument("--steps", default=None, help="steps folder (default: the scenario's)")
    rp.add_argument("--invariant", action="append", default=None, metavar="FILE::NAME",
                    help="an invariant in place of the scenario's (repeatable; 'always:FILE::NAME' "
                    "for one checked after every run), as the failing fuzz() call had")  # fmt: skip
    rp.add_argument("--no-invariants", action="store_true",
                    help="check no invariant (the failing fuzz() call was given none)")  # fmt: skip
    rp.add_argument("--services", default=None, metavar="FILE::NAME",
                    help="service bindings in place of the scenario's (a mapping or a factory)")  # fmt: skip
    return parser


def _files(paths: Sequence[str]) -> list[Path]:
    found: list[Path] = []
    for p in map(Path, paths):
        found.extend(sorted(p.rglob("*.py")) if p.is_dir() else [p])
    return [f for f in found if not f.name.startswith(("_", "test_", "conftest"))]


def _run(paths: Sequence[str]) -> int:
    failures = 0
    scenarios: list[Scenario] = [s for f in _files(paths) for s in load_scenarios(f)]
    bar = ProgressBar("scenarios")
    for i, s in enumerate(scenarios, 1):
        started = time.perf_counter()
        run = run_scenario(s)
        took = (time.perf_counter() - started) * 1000
        if _failed(run):
            failures += 1
            print(f"FAIL {s.ref}\n{failure_message(s, run)[1]}\n")
        else:
            print(
                f"ok   {s.ref}  ({len(run.trace)} events, {run.virtual_seconds:g}s virtual, {took:.0f} ms)"
            )
        if len(scenarios) > 20:
            bar(i, len(scenarios))
    print(f"{len(scenarios) - failures} passed, {failures} failed")
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args.paths)
        if args.command == "fuzz":
            s = resolve(args.ref)
            bar = ProgressBar("examples")
            try:
                fuzz(s, steps=args.steps, max_examples=args.examples, max_faults=args.max_faults,
                     progress=bar, report=print, derandomize=args.derandomize)  # fmt: skip
            finally:
                bar.close()
            print(f"no invariant broke in {args.examples} examples")
            return 0
        invariants = [] if args.no_invariants else args.invariant
        run = replay(args.ref, seed=args.seed, plan=args.plan, steps=args.steps,
                     invariants=invariants, services=args.services)  # fmt: skip
        print(run.trace.timeline())
        print(f"replayed {args.ref} seed={args.seed}: no invariant broke")
        return 0
    except InvariantViolation as exc:
        print(str(exc))
        return 1
    except (LookupError, FaultPlanSyntaxError, NotReplayable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
