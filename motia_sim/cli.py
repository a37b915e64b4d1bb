"""motia-sim: run scenarios, fuzz one, replay a failure exactly.

motia-sim run scenarios/
motia-sim fuzz scenarios/orders.py::happy_path --examples 500
motia-sim replay scenarios/orders.py::happy_path --seed 7 --plan "crash step=ProcessPayment run=1"
motia-sim replay tests/test_x.py::flow --seed 7 --invariant tests/test_x.py::no_double_charge
motia-sim new my-app

Defaults come from the flags, then [tool.motia] in the nearest pyproject.toml
(docs/project-settings.md). `motia-sim COMMAND --help` shows an example of each.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from motia_rt.cli import quiet_broken_pipe
from motia_rt.scaffold import ScaffoldError, create_project
from motia_rt.settings import ProjectSettings, SettingsError, project_settings

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
        if self.tty and self._last_decile >= 0:  # a bar was drawn: end its line
            self.stream.write("\n")


EXAMPLES = {
    "run": "motia-sim run scenarios/",
    "fuzz": "motia-sim fuzz scenarios/orders.py::happy_path --examples 500\n"
    "motia-sim fuzz scenarios/orders.py          (lists the scenarios in the file)",
    "replay": 'motia-sim replay scenarios/orders.py::happy_path --seed 7 --plan "state op=3"',
    "new": "motia-sim new my-app && cd my-app && pytest",
}


def _sub(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str
) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` ends with an example."""
    example = "\n".join("  " + line for line in EXAMPLES[name].splitlines())
    return sub.add_parser(name, help=text, description=text, epilog=f"example:\n{example}",
                          formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip


def _parser(settings: ProjectSettings | None = None) -> argparse.ArgumentParser:
    settings = settings or ProjectSettings()
    parser = argparse.ArgumentParser(prog="motia-sim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    run = _sub(sub, "run", "run every scenario once in the simulator (seed 0, no faults)")
    scenarios = os.path.relpath(settings.scenarios) if settings.scenarios else "scenarios"
    run.add_argument("paths", nargs="*", default=[scenarios],
                     help="scenario files or folders ([tool.motia] scenarios, default scenarios)")  # fmt: skip
    fz = _sub(sub, "fuzz", "fuzz one scenario with Hypothesis-drawn fault plans")
    fz.add_argument("ref", help="path/to/file.py::scenario_name (without ::NAME: list them)")
    fz.add_argument("--examples", type=int, default=settings.fuzz_examples or 100,
                    help="examples to draw ([tool.motia.fuzz] examples, default 100)")  # fmt: skip
    fz.add_argument("--max-faults", type=int, default=settings.fuzz_max_faults,
                    help="faults per plan ([tool.motia.fuzz] max_faults, default: the scenario's)")  # fmt: skip
    fz.add_argument("--steps", default=None, help="steps folder (default: the scenario's)")
    fz.add_argument("--derandomize", action="store_true",
                    help="draw the same examples on every run (CI, comparing runs)")  # fmt: skip
    rp = _sub(sub, "replay", "replay one run exactly and print its timeline")
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
    new = _sub(sub, "new", "write a new project: steps, scenarios, tests, pyproject.toml")
    new.add_argument("dir", help="the project folder (created; must be empty if it exists)")
    return parser


def _files(paths: Sequence[str]) -> list[Path]:
    found: list[Path] = []
    for p in map(Path, paths):
        found.extend(sorted(p.rglob("*.py")) if p.is_dir() else [p])
    return [f for f in found if not f.name.startswith(("_", "test_", "conftest"))]


@dataclass
class _FileTotals:
    """One row of ``motia-sim run``'s summary table."""

    scenarios: int = 0
    failed: int = 0
    events: int = 0
    virtual_seconds: float = 0.0
    wall_ms: float = 0.0


def _run(paths: Sequence[str]) -> int:
    scenarios: list[Scenario] = [s for f in _files(paths) for s in load_scenarios(f)]
    totals: dict[str, _FileTotals] = {}
    bar = ProgressBar("scenarios")
    for i, s in enumerate(scenarios, 1):
        started = time.perf_counter()
        run = run_scenario(s)
        took = (time.perf_counter() - started) * 1000
        row = totals.setdefault(s.ref.partition("::")[0], _FileTotals())
        row.scenarios += 1
        row.events += len(run.trace)
        row.virtual_seconds += run.virtual_seconds
        row.wall_ms += took
        if _failed(run):
            row.failed += 1
            print(f"FAIL {s.ref}\n{failure_message(s, run)[1]}\n")
        else:
            print(
                f"ok   {s.ref}  ({len(run.trace)} events, {run.virtual_seconds:g}s virtual, {took:.0f} ms)"
            )
        if len(scenarios) > 20:
            bar(i, len(scenarios))
    bar.close()
    failures = sum(row.failed for row in totals.values())
    if len(scenarios) > 1:
        print(_summary(totals))
    print(f"{len(scenarios) - failures} passed, {failures} failed")
    return 1 if failures else 0


def _summary(totals: dict[str, _FileTotals]) -> str:
    width = max(len(f) for f in totals)
    head = f"\n{'file':<{width}}  scenarios  failed  events    virtual      wall"
    rows = [
        f"{f:<{width}}  {t.scenarios:>9}  {t.failed:>6}  {t.events:>6}  "
        f"{t.virtual_seconds:>9.1f}s  {t.wall_ms:>5.0f} ms"
        for f, t in totals.items()
    ]
    return "\n".join([head, *rows])


def _list_scenarios(path: str) -> int:
    """``motia-sim fuzz FILE`` without ``::NAME``: what there is to fuzz, as commands."""
    found = load_scenarios(path)
    if not found:
        print(f"error: no scenario in {path}; declare one with @scenario", file=sys.stderr)
        return 2
    print(f"{len(found)} scenario{'s' if len(found) > 1 else ''} in {path}; fuzz one with:")
    for s in found:
        print(f"  motia-sim fuzz {path}::{s.name}")
    return 0


def _new(directory: str) -> int:
    try:
        written = create_project(Path(directory))
    except ScaffoldError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} files to {directory}; next:\n  cd {directory}\n  pytest")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = project_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args = _parser(settings).parse_args(argv)
    try:
        return _command(args)
    except BrokenPipeError:
        return quiet_broken_pipe()


def _command(args: argparse.Namespace) -> int:
    try:
        if args.command == "new":
            return _new(args.dir)
        if args.command == "run":
            return _run(args.paths)
        if args.command == "fuzz":
            if "::" not in args.ref:
                return _list_scenarios(args.ref)
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
