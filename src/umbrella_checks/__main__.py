"""``python -m umbrella_checks <command>``: the suite's commands besides pytest.

- ``perf``: the Locust release gate (``operations/perf.py``)
- ``monitor``: the health monitor (``operations/monitor.py``)
- ``contract diff``: where the target's shape differs from the recorded one (``target/contract.py``)
- ``sandbox``: the bundled sandbox on its own (``sandbox/__main__.py``; also ``umbrella-sandbox``)
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "perf": "umbrella_checks.operations.perf",
    "monitor": "umbrella_checks.operations.monitor",
    "contract": "umbrella_checks.target.contract",
    "sandbox": "umbrella_checks.sandbox.__main__",
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in COMMANDS:
        given = f"unknown command {args[0]!r}; " if args and not args[0].startswith("-") else ""
        print(
            f"python -m umbrella_checks: {given}give one of {', '.join(COMMANDS)} "
            "(e.g. python -m umbrella_checks perf --help)",
            file=sys.stderr,
        )
        return 2
    command: int = importlib.import_module(COMMANDS[args[0]]).main(args[1:])
    return command


if __name__ == "__main__":
    sys.exit(main())
