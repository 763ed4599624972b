"""The design's rules that a reviewer would otherwise count by hand: modules stay small enough
to hold one concern, and the self-tests mirror the package (docs/design.md › Layout and
layers; the import layers themselves are lint-imports' in CI)."""

from __future__ import annotations

from tests.conftest import REPO

SRC = REPO / "src" / "umbrella_checks"
LONGEST = 450


def test_no_module_is_over_450_lines() -> None:
    """A module past 450 lines has grown a second concern: split it where that one lives."""
    long = {
        str(path.relative_to(REPO)): count
        for path in [*SRC.rglob("*.py"), *(REPO / "checks").glob("*.py")]
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > LONGEST
    }
    assert long == {}


def test_the_self_tests_mirror_the_package() -> None:
    """Each package of src/umbrella_checks has a folder of self-tests of the same name."""
    packages = {p.parent.name for p in SRC.glob("*/__init__.py")}
    folders = {p.parent.name for p in (REPO / "tests").glob("*/__init__.py")}
    assert packages - folders == set()


def test_every_thread_a_self_test_starts_is_a_daemon() -> None:
    """A thread a self-test starts must not keep its pytest alive: when the code under test
    breaks (a mutant that never grants a place), the test fails on its ``join`` timeout, and
    a non-daemon thread still waiting would then block the interpreter's exit for good —
    a mutation lane once waited 20 minutes on one."""
    import ast

    found = []
    for path in (REPO / "tests").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and ast.unparse(node.func) in ("threading.Thread", "Thread")
                and not any(
                    k.arg == "daemon" and ast.unparse(k.value) == "True" for k in node.keywords
                )
            ):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert found == [], "start it with daemon=True: " + ", ".join(found)
