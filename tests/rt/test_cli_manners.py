"""How ``motia-rt`` and ``motia-sim`` behave at a shell: help, pipes, quiet clients, hints."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from motia_rt.cli import EXAMPLES as RT_EXAMPLES
from motia_rt.cli import _parser as rt_parser
from motia_rt.cli import main as rt_main
from motia_sim.cli import EXAMPLES as SIM_EXAMPLES
from motia_sim.cli import _parser as sim_parser
from motia_sim.cli import main as sim_main

from ..redis_support import real_redis_url

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def exit_code(main: Callable[[list[str]], int], args: Sequence[str]) -> int:
    try:
        return main(list(args))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1


def commands(parser_of: Callable[[], object]) -> list[str]:
    parser = parser_of()
    [sub] = [a for a in parser._subparsers._group_actions]  # type: ignore[attr-defined]
    return sorted(sub.choices)


@pytest.mark.parametrize(
    ("prog", "main", "command"),
    [("motia-rt", rt_main, c) for c in commands(rt_parser)]
    + [("motia-sim", sim_main, c) for c in commands(sim_parser)],
)
def test_every_command_has_help_with_an_example(
    prog: str, main: Callable[[list[str]], int], command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert exit_code(main, [command, "--help"]) == 0
    out = capsys.readouterr().out
    example = out.split("example:\n", 1)[1]
    assert example.lstrip().startswith(f"{prog} ") or f"{prog} {command}" in example, out


def test_every_example_names_its_own_command() -> None:
    for prog, examples in (("motia-rt", RT_EXAMPLES), ("motia-sim", SIM_EXAMPLES)):
        for command, text in examples.items():
            assert f"{prog} {command}" in text, (command, text)


@pytest.mark.parametrize(
    "command", [["motia-rt", "openapi"], ["motia-sim", "fuzz", "scenarios/orders.py"]]
)
def test_a_closed_pipe_ends_the_command_quietly(command: list[str]) -> None:
    """``motia-rt openapi | head``: the reader is gone before the first write."""
    process = subprocess.Popen([str(BIN / command[0]), *command[1:]], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141
    assert stderr == ""


@pytest.fixture
def emit_endpoint() -> Iterator[str]:
    """A server that answers every POST with ``{"ok": true}``; its base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(timeout=10)


def test_emit_prints_the_answer_and_no_log_lines(emit_endpoint: str) -> None:
    done = subprocess.run([str(BIN / "motia-rt"), "emit", "--topic", "t", "--url", emit_endpoint],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == '{"ok": true}\n'
    assert done.stderr == ""


@pytest.mark.parametrize("letter", ["not-an-id", "NoSuchStep:1700000000000-0"])
def test_redrive_errors_name_the_cli_command(
    letter: str, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = f"test-manners-{uuid.uuid4().hex[:8]}"
    args = ["redrive", letter, "--redis-url", real_redis_url(), "--prefix", prefix]
    assert rt_main(args) == 1
    err = capsys.readouterr().err
    assert f"list them with `motia-rt dead-letters --prefix {prefix}`" in err
    assert "dead_letters()" not in err


def test_fuzz_without_a_name_lists_the_scenarios(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    assert sim_main(["fuzz", "scenarios/orders.py"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("scenarios in scenarios/orders.py; fuzz one with:")
    assert "  motia-sim fuzz scenarios/orders.py::payment_decline_is_compensated" in lines


def test_fuzz_of_a_file_without_scenarios_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty.py").write_text("X = 1\n")
    assert sim_main(["fuzz", str(tmp_path / "empty.py")]) == 2
    assert "no scenario in" in capsys.readouterr().err


def test_run_ends_with_a_summary_table(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    assert sim_main(["run", "scenarios/ops.py", "scenarios/orders.py"]) == 0
    out = capsys.readouterr().out
    table = out.split("\nfile ", 1)[1].splitlines()
    assert table[0].split() == ["scenarios", "failed", "events", "virtual", "wall"]
    rows = {line.split()[0]: line.split() for line in table[1:3]}
    ok = out.count("\nok   scenarios/orders.py::") + out.startswith("ok   scenarios/orders.py::")
    assert int(rows["scenarios/orders.py"][1]) == ok
    assert rows["scenarios/orders.py"][2] == "0"
