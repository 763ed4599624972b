"""``umbrella-sandbox`` / ``python -m umbrella_checks sandbox``: run the sandbox on its own.

Prints one JSON line (URL, tokens, app dir, database file) and serves until interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading

from umbrella_checks import ENVIRONMENTS
from umbrella_checks.sandbox.faults import FAULTS, FAULTS_ENV, fault_table, parse_faults
from umbrella_checks.sandbox.server import Sandbox
from umbrella_checks.sandbox.switches import FaultError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="umbrella-sandbox",
        description="A local Umbrella API on real SQLite, with fault switches.",
        epilog="faults: " + "; ".join(fault.usage(name) for name, fault in FAULTS.items()),
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=0, help="port (0 = any free port)")
    parser.add_argument("--environment", default="development", choices=ENVIRONMENTS)
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help=f"inject a fault (repeatable; also ${FAULTS_ENV}, comma-separated)",
    )
    parser.add_argument(
        "--fault-table",
        action="store_true",
        help="print the fault table (docs/sandbox.md) and exit",
    )
    parser.add_argument(
        "--real-minutes",
        action="store_true",
        help="Violet's limiter clock never skips to the end of its minute (a check waiting for "
        "the next minute then waits up to 60 s, as against a real service)",
    )
    parser.add_argument(
        "--stdin-control",
        action="store_true",
        help="set up, then read the environment to report from stdin's first line before "
        "printing the JSON line; stop when stdin closes (the process that started it ended)",
    )
    parser.add_argument(
        "--clerk-jwks-url",
        metavar="URL",
        help="also accept Clerk session JWTs signed by this instance's keys",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.fault_table:
        print(fault_table())
        return 0
    if not args.host.startswith("127.") and args.host not in ("localhost", "::1"):
        parser.error("the sandbox binds loopback addresses only (127.0.0.0/8, ::1)")
    try:
        faults = parse_faults(args.fault, os.environ)
    except FaultError as exc:
        parser.error(str(exc))
    sandbox = Sandbox(
        faults,
        environment=args.environment,
        host=args.host,
        port=args.port,
        clerk_jwks_url=args.clerk_jwks_url,
        quick_minutes=not args.real_minutes,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.stdin_control and not _take_environment(sandbox):
        sandbox.stop()
        return 2
    print(json.dumps(sandbox.describe()), flush=True)
    try:
        sandbox.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        sandbox.stop()
    return 0


def _take_environment(sandbox: Sandbox) -> bool:
    """--stdin-control: the environment arrives once the starting process has resolved it;
    then a watcher ends the sandbox when that process's end closes the pipe."""
    environment = sys.stdin.readline().strip()
    if environment not in ENVIRONMENTS:
        return False  # the starting process ended (or sent nonsense) before it was ready
    sandbox.environment = environment

    def watch() -> None:
        sys.stdin.read()
        # Ends the serving loop from here (no signal to wait on): main's ``finally`` then
        # stops the sandbox and removes its app checkout and database.
        sandbox.shutdown()

    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()
    return True


if __name__ == "__main__":
    raise SystemExit(main())
