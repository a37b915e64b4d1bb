"""``motia-sim`` in-process: run, fuzz, replay, and the exits and messages for failures and errors."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from pathlib import Path

import pytest

from motia_sim.cli import main
from motia_sim.scenario import load_scenarios

from .apps import JOBS, write

ROOT = Path(__file__).resolve().parents[2]
ORDERS = "scenarios/orders.py"

BROKEN = """
from motia_sim import eventually, scenario


@eventually
def never_holds(world):
    assert False, "this invariant never holds"


@scenario(invariants=[never_holds], modes=("sim", "fuzz"))
async def always_broken(h):
    await h.settle()
"""


def cli(args: Sequence[str]) -> int:
    """``main(args)``; an argparse exit counts as its code."""
    try:
        return main(list(args))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.fixture
def broken_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose one scenario breaks an invariant on every run; the working directory."""
    write(tmp_path / "steps", JOBS)
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "broken.py").write_text(BROKEN)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_run_prints_ok_for_each_scenario(in_repo: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["run", "scenarios"]) == 0
    out = capsys.readouterr().out
    files = sorted(f for f in Path("scenarios").rglob("*.py") if not f.name.startswith("_"))
    refs = [f"{f}::{s.name}" for f in files for s in load_scenarios(f)]
    assert len(refs) >= 5
    ok = re.findall(r"^ok +(\S+)  \(\d+ events, ", out, flags=re.M)
    assert ok == refs
    assert f"{len(refs)} passed, 0 failed" in out
    assert "FAIL" not in out


def test_fuzz_prints_the_coverage_table(in_repo: None, capsys: pytest.CaptureFixture[str]) -> None:
    # Derandomized: 20 freshly drawn examples may, now and then, fire no fault at all.
    assert cli(["fuzz", f"{ORDERS}::happy_path", "--examples", "20", "--derandomize"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(line for line in lines if "crash" in line)
    assert header.split() == ["crash", "state", "duplicate", "delay", "service", "cron"]
    rows = {line.split()[0] for line in lines[lines.index(header) + 1 :] if line.strip()}
    assert {"ProcessPayment", "Fulfillment", "payments", "catalog"} <= rows
    summary = re.search(
        rf"{ORDERS}::happy_path: (\d+) runs \(sweep, generation, targeting, shrinking\); explored (\d+) of (\d+)",
        out,
    )
    assert summary is not None
    examples, explored, possible = map(int, summary.groups())
    assert examples >= 20 and 0 < explored <= possible
    assert "no invariant broke in 20 examples" in out


def test_fuzz_progress_goes_to_the_current_stderr(
    in_repo: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # BUG motia_sim/cli.py ProgressBar.__init__: ``stream: TextIO = sys.stderr`` is bound when the
    # module is imported, so redirecting sys.stderr later (capsys, contextlib.redirect_stderr)
    # does not catch the bar. Fix: ``stream: TextIO | None = None`` and ``stream or sys.stderr``.
    assert cli(["fuzz", f"{ORDERS}::happy_path", "--examples", "5"]) == 0
    assert "5/5 examples" in capsys.readouterr().err


def test_replay_prints_the_timeline_with_the_fault(
    in_repo: None, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = "duplicate topic=order.priced step=ProcessPayment nth=1"
    assert cli(["replay", f"{ORDERS}::happy_path", "--seed", "3", "--plan", plan]) == 0
    out = capsys.readouterr().out
    [fault] = [line for line in out.splitlines() if re.match(r"^ +\d+\.\d{3}s  fault ", line)]
    assert f"fault  {plan} -- " in fault
    runs = [
        line
        for line in out.splitlines()
        if re.search(r"run    ProcessPayment#\d <- order.priced", line)
    ]
    assert len(runs) == 2
    assert f"replayed {ORDERS}::happy_path seed=3: no invariant broke" in out


def test_run_of_a_broken_scenario_exits_1_with_a_replay_command(
    broken_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["run", "scenarios"]) == 1
    out = capsys.readouterr().out
    assert "FAIL scenarios/broken.py::always_broken" in out
    assert "invariant 'never_holds' broke: this invariant never holds" in out
    assert "replay it exactly:" in out
    assert "motia-sim replay scenarios/broken.py::always_broken --seed 0" in out
    assert "0 passed, 1 failed" in out


def test_fuzz_of_a_broken_scenario_exits_1_and_its_command_replays_it(
    broken_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["fuzz", "scenarios/broken.py::always_broken", "--examples", "10"]) == 1
    out = capsys.readouterr().out
    assert "invariant 'never_holds' broke" in out
    lines = out.splitlines()
    command = lines[lines.index("replay it exactly:") + 1].strip()
    assert command.startswith("motia-sim replay scenarios/broken.py::always_broken --seed ")
    assert "def test_always_broken_no_faults_" in out
    # The printed command is the replay: it fails the same way.
    assert cli(shlex.split(command)[1:]) == 1
    again = capsys.readouterr().out
    assert "invariant 'never_holds' broke" in again and command in again


@pytest.mark.parametrize("command", ["fuzz", "replay"])
def test_an_unknown_scenario_exits_2_listing_the_names(
    in_repo: None, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    assert cli([command, f"{ORDERS}::no_such_scenario"]) == 2
    err = capsys.readouterr().err
    assert "no scenario 'no_such_scenario'" in err
    for s in load_scenarios(ROOT / ORDERS):
        assert s.name in err


@pytest.mark.parametrize(
    ("plan", "names"),
    [
        ("explode step=X", "unknown fault kind 'explode'"),
        ("crash step=X run=one", "'one'"),
        ("crash step=X after=state#q", "state#q"),
    ],
)
def test_a_malformed_plan_exits_non_zero_with_a_message(
    in_repo: None, capsys: pytest.CaptureFixture[str], plan: str, names: str
) -> None:
    # BUG motia_sim/cli.py main: FaultPlanSyntaxError (a ValueError) from replay(..., plan=...) is
    # not caught, so a typo in --plan ends in a traceback. Fix: parse --plan with
    # ``type=FaultPlan.parse`` in argparse (exit 2 with the message), or catch
    # FaultPlanSyntaxError in main and print ``error: --plan: ...`` to stderr, returning 2.
    try:
        code = cli(["replay", f"{ORDERS}::happy_path", "--plan", plan])
    except Exception as exc:
        pytest.fail(f"main() raised {type(exc).__name__}: {exc}")
    assert code != 0
    captured = capsys.readouterr()
    assert names in captured.err + captured.out


@pytest.mark.parametrize("args", [["fuzz", "no_such_file.py::x"], ["run", "no_such_dir"]])
def test_a_missing_scenario_file_exits_2_with_a_message(
    in_repo: None, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    # BUG motia_sim/cli.py main / scenario.load_scenarios: a path that does not exist raises
    # FileNotFoundError (fuzz/replay) or ImportError (run) out of main. Fix: check the path in
    # load_scenarios and raise LookupError("no scenario file ...") (main prints it, exit 2).
    try:
        code = cli(args)
    except Exception as exc:
        pytest.fail(f"main() raised {type(exc).__name__}: {exc}")
    assert code == 2
    assert "no_such_" in capsys.readouterr().err
