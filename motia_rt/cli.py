"""``motia-rt``: serve the steps (``dev``), list routes."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from .errors import StepLoadError
from .loader import load_steps
from .server import create_app, describe

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="motia-rt", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="serve the steps with in-memory state and topics")
    dev.add_argument("--steps", default=os.environ.get("MOTIA_STEPS", "steps"))
    dev.add_argument("--host", default=os.environ.get("MOTIA_HOST", "127.0.0.1"))
    dev.add_argument("--port", type=int, default=int(os.environ.get("MOTIA_PORT", "3000")))
    dev.add_argument("--no-cron", action="store_true", help="do not run cron steps on schedule")
    routes = sub.add_parser("routes", help="list the HTTP routes of the api steps")
    routes.add_argument("--steps", default=os.environ.get("MOTIA_STEPS", "steps"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        registry = load_steps(args.steps)
    except StepLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "routes":
        for step in sorted(registry.of_kind("api"), key=lambda s: (s.path or "", s.method or "")):
            print(f"{step.method:<6} {step.path}  {step.name}")
        return 0
    import uvicorn

    print(describe(registry), flush=True)
    app = create_app(args.steps, cron=not args.no_cron)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
