"""The README stays true: every fault switch is documented, and CI runs its two commands."""

from __future__ import annotations

import re

from tests.conftest import REPO
from umbrella_checks.sandbox import FAULTS, fault_table


def test_the_readme_fault_table_is_the_generated_one() -> None:
    """Regenerate with `python -m umbrella_checks sandbox --fault-table`."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert fault_table() in readme


def test_the_readme_opens_with_the_two_commands_ci_runs() -> None:
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    block = lines[lines.index("```sh") + 1 : lines.index("```", lines.index("```sh") + 1)]
    assert len(block) == 2
    assert "pytest -m postdeploy --umbrella-sandbox" in block[0]
    for tool in ("pytest tests", "ruff check", "ruff format --check", "mypy"):
        assert tool in block[1]
    assert "README.md" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_every_sandbox_fault_is_proven_by_a_self_test() -> None:
    """A fault no self-test switches on proves nothing: some check must be seen to fail on it."""
    tests = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "tests").glob("test_*.py"))
    # The README's drift examples are self-tests too (tests/test_contract_drift.py runs them).
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    tests += "\n".join(
        f'"{n}"' for line in re.findall(r"^# drift: (.+)$", readme, re.M) for n in line.split()
    )
    unused = [name for name in FAULTS if not re.search(rf"[\"']{re.escape(name)}(=|[\"'])", tests)]
    assert unused == []
