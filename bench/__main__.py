"""``python -m bench`` (``make bench``): run every area, print one table, write bench/results.json.

    python -m bench [--only 1,3] [--quick] [--json PATH]

``--quick`` takes fewer and shorter samples (a smoke test of the harness, not figures to quote).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from . import (
    bugfinding,
    dispatch,
    http_load,
    latency,
    memory,
    network,
    redis_transport,
    simulator,
)
from ._machine import describe, load_average
from ._measure import progress
from ._paths import BENCH
from ._report import Row, skipped, table

AREAS: dict[str, tuple[str, Callable[[bool], list[Row]]]] = {
    "1": ("simulator", simulator.run),
    "2": ("in-process dispatch", dispatch.run),
    "3": ("HTTP", http_load.run),
    "4": ("end-to-end latency", latency.run),
    "5": ("Redis transport", redis_transport.run),
    "6": ("memory", memory.run),
    "7": ("bug-finding power", bugfinding.run),
    "8": ("virtual network", network.run),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--only", default=",".join(AREAS), help="areas to run, e.g. 1,3")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter samples")
    parser.add_argument(
        "--json",
        type=Path,
        default=BENCH / "results.json",
        help="where to write the results (default bench/results.json)",
    )
    args = parser.parse_args(argv)
    machine = describe()
    started = time.perf_counter()
    rows: list[Row] = []
    timings: dict[str, float] = {}
    for key in args.only.split(","):
        name, run = AREAS[key.strip()]
        progress(f"[{key}] {name}...")
        t0 = time.perf_counter()
        try:
            rows += run(args.quick)
        except Exception as exc:
            traceback.print_exc()
            rows.append(skipped(key, name, f"error: {type(exc).__name__}: {exc}"))
        timings[name] = round(time.perf_counter() - t0, 1)
        progress(f"[{key}] {name}: {timings[name]} s")
    total = time.perf_counter() - started
    machine["load_average_at_end"] = load_average()
    print(table(rows))
    print(
        f"\n{machine['cpu']}, {machine['cores']} cores, Python {machine['python']}; "
        f"{machine['date']}; {total:.0f} s; load average at start "
        f"{machine['load_average_at_start']}, at end {machine['load_average_at_end']}"
    )
    results = {
        "machine": machine,
        "quick": args.quick,
        "seconds": round(total, 1),
        "seconds_per_area": timings,
        "rows": [r.as_dict() for r in rows],
    }
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    progress(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
