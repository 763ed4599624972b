"""The test command Cosmic Ray runs for each mutant (``mutation/run.py`` writes it into the
session's config): run first the self-tests that execute the mutated line in the unmutated
baseline, fastest first, stopping at the first failure; only if they all pass, run the module's
other self-tests (unless the run trusts coverage: ``--trust-coverage``).

So a killed mutant costs the few tests that cover it, and the verdict is the same as running the
whole list: a survivor of the picked tests is judged by every test before it counts. A changed
line no test executed in-process (module level, or reached only in a subprocess) runs the whole
list at once, fastest first.

Usage: ``python mutation/judge.py MAP.json`` from the lane, with the mutant written in place.
"""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
from pathlib import Path

# pytest's exit codes that say nothing about the mutant: a usage error (a node id no longer
# found) or nothing collected. The whole list decides instead.
INCONCLUSIVE = {4, 5}
# A plan's mark for a line executed outside any test (at import): every test may depend on it.
EVERY_TEST = -1


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


def main(argv: list[str]) -> int:
    plan = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    pristine = Path(plan["pristine"]).read_text(encoding="utf-8").splitlines()
    mutated = Path(plan["module"]).read_text(encoding="utf-8").splitlines()
    picked = picked_tests(plan["covered"], plan["order"], changed_lines(pristine, mutated))
    # A line no test executed in-process (a default, a decorator: run at import) is judged by
    # every test, still fastest first.
    first = subprocess.run([*plan["pytest"], *(picked or plan["order"])], check=False).returncode
    if first in INCONCLUSIVE:
        return subprocess.run([*plan["pytest"], *plan["tests"]], check=False).returncode
    if first != 0 or not plan["confirm"] or not picked:
        return first
    # Every other test of the list too (those that reach the line only in a subprocess, or
    # through a session fixture another test started); the picked ones have passed.
    rest = [test for test in plan["order"] if test not in set(picked)]
    return subprocess.run([*plan["pytest"], *rest], check=False).returncode if rest else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
