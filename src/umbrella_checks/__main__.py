"""``python -m umbrella_checks <command>``: the suite's commands besides pytest.

- ``perf``: the Locust release gate (``commands/perf.py``)
- ``monitor``: the health monitor (``commands/monitor.py``)
- ``watch``: the deploy's first 15 minutes after the gate (``commands/watch.py``)
- ``contract diff``: where the target's shape differs from the recorded one
  (``commands/contract.py``)
- ``sandbox``: the bundled sandbox on its own (``sandbox/__main__.py``; also ``umbrella-sandbox``)
- ``docs``: rewrite the docs' generated parts from the code (``wiring/catalogue.py``)
"""

from __future__ import annotations

import difflib
import importlib
import sys

# command -> (module, what it does)
COMMANDS = {
    "perf": (
        "umbrella_checks.commands.perf",
        "the release gate: the Locust profile against staging, P95 < 500 ms",
    ),
    "monitor": (
        "umbrella_checks.commands.monitor",
        "is it up: health every few minutes, Slack on 2 failures in a row",
    ),
    "watch": (
        "umbrella_checks.commands.watch",
        "after the gate: judge the deploy every minute for 15 minutes; roll back on 2 bad in a row",
    ),
    "contract": (
        "umbrella_checks.commands.contract",
        "contract diff: where the target's shape differs from umbrella.toml, read-only",
    ),
    "sandbox": (
        "umbrella_checks.sandbox.__main__",
        "the bundled sandbox on its own (--fault to switch a fault on)",
    ),
    "docs": (
        "umbrella_checks.wiring.catalogue",
        "rewrite the docs' generated parts (checks, faults, keys) from the code",
    ),
}


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    listed = "\n".join(f"  {name:<{width}}  {what}" for name, (_, what) in COMMANDS.items())
    return (
        "usage: python -m umbrella_checks <command> [options]\n\n"
        f"commands:\n{listed}\n\n"
        "Each command says more with --help; the tiers run under pytest (see the README)."
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        print(usage())
        return 0
    if not args or args[0] not in COMMANDS:
        given = args[0] if args else ""
        if not given or given.startswith("-"):
            print(f"python -m umbrella_checks: give a command\n\n{usage()}", file=sys.stderr)
            return 2
        close = difflib.get_close_matches(given, COMMANDS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; give one of {', '.join(COMMANDS)}"
        print(
            f"python -m umbrella_checks: unknown command {given!r}{hint} "
            "(python -m umbrella_checks --help lists them)",
            file=sys.stderr,
        )
        return 2
    module, _ = COMMANDS[args[0]]
    command: int = importlib.import_module(module).main(args[1:])
    return command


if __name__ == "__main__":
    sys.exit(main())
