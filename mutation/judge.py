"""The test command Cosmic Ray runs for each mutant (``mutation/run.py`` writes it into the
session's config): run first the self-tests that execute the mutated line in the unmutated
baseline, fastest first, stopping at the first failure; only if they all pass, run the module's
other self-tests (unless the run trusts coverage: ``--trust-coverage``).

So a killed mutant costs the few tests that cover it, and the verdict is the same as running the
whole list: a survivor of the picked tests is judged by every test before it counts. A changed
line no test executed in-process (module level, or reached only in a subprocess) runs the whole
list at once, fastest first.

Each test may take at most ``SLOWER`` times the slowest of the tests run (their baseline time,
under coverage, so already slower than a mutant's) plus ``GRACE`` seconds (pytest-timeout's
``--timeout``): a mutant that makes a test that long has hung it, and is killed, within a
minute or so, not after the module's whole-list timeout (a pacing mutant that only slows the
burst kept a lane for half an hour).

Usage: ``python mutation/judge.py MAP.json`` from the lane, with the mutant written in place.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

# pytest's exit codes that say nothing about the mutant: a usage error (a node id no longer
# found) or nothing collected. The whole list decides instead.
INCONCLUSIVE = {4, 5}
# A plan's mark for a line executed outside any test (at import): every test may depend on it.
EVERY_TEST = -1
# A test slower than this many times the slowest of its run's baselines, plus the grace, hangs.
SLOWER = 3.0
GRACE = 20.0


def changed_lines(pristine: list[str], mutated: list[str]) -> set[int]:
    """Line numbers (1-based, in the pristine file) the mutant changed or removed; an insertion
    counts as the line it follows."""
    lines: set[int] = set()
    matcher = difflib.SequenceMatcher(a=pristine, b=mutated, autojunk=False)
    for tag, first, last, _, _ in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            lines.update(range(first + 1, last + 1))
        elif tag == "insert":
            lines.add(max(first, 1))
    return lines


def picked_tests(covered: dict[str, list[int]], order: list[str], lines: set[int]) -> list[str]:
    """The tests executing any of ``lines``, in the baseline's order; empty when a line was
    executed by no test, or outside any test (run them all)."""
    picked: set[int] = set()
    for line in lines:
        tests = covered.get(str(line))
        if not tests or EVERY_TEST in tests:
            return []
        picked.update(tests)
    return [order[index] for index in sorted(picked)]


def per_test_limit(plan: dict[str, Any], tests: list[str]) -> float:
    """Seconds any one of ``tests`` may take before it counts as hung (``SLOWER``, the plan's
    grace or ``GRACE``); a test the baseline did not time (a file's name) is allowed the slowest
    of the plan's."""
    seconds: dict[str, float] = dict(zip(plan["order"], plan.get("seconds", ()), strict=False))
    untimed = max(seconds.values(), default=0.0)
    slowest = max(seconds.get(test, untimed) for test in tests)
    grace: float = plan.get("grace", GRACE)
    return SLOWER * slowest + grace


def run(plan: dict[str, Any], tests: list[str]) -> int:
    # A plan written before tests were timed sets no limit (the module's timeout still holds).
    limit = [f"--timeout={per_test_limit(plan, tests):g}"] if plan.get("seconds") else []
    command = [*plan["pytest"], *limit, *tests]
    # A session of its own: whatever the mutant left running when pytest ended (a sandbox
    # launcher mutated never to leave its loop, spinning a core) ends with it, not beside the
    # mutants judged next.
    with subprocess.Popen(command, start_new_session=True) as tested:
        code = tested.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(tested.pid, signal.SIGKILL)
    return code


def main(argv: list[str]) -> int:
    plan = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    pristine = Path(plan["pristine"]).read_text(encoding="utf-8").splitlines()
    mutated = Path(plan["module"]).read_text(encoding="utf-8").splitlines()
    picked = picked_tests(plan["covered"], plan["order"], changed_lines(pristine, mutated))
    # A line no test executed in-process (a default, a decorator: run at import) is judged by
    # every test, still fastest first.
    first = run(plan, picked or plan["order"])
    if first in INCONCLUSIVE:
        return run(plan, plan["tests"])
    if first != 0 or not plan["confirm"] or not picked:
        return first
    # Every other test of the list too (those that reach the line only in a subprocess, or
    # through a session fixture another test started); the picked ones have passed.
    rest = [test for test in plan["order"] if test not in set(picked)]
    return run(plan, rest) if rest else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
