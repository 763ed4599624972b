"""The docs stay true: every fault switch is documented, CI runs the README's two commands,
every doc page is linked from the README, the generated parts are current, and no option the
docs spell is one the suite does not take."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO
from umbrella_checks.sandbox import FAULTS, fault_table

DOCS = REPO / "docs"


def test_every_fault_is_described_where_the_docs_send_the_reader() -> None:
    """docs/sandbox.md sends the reader to the registry's own table; every switch has one."""
    page = (DOCS / "sandbox.md").read_text(encoding="utf-8")
    assert "python -m umbrella_checks sandbox --fault-table" in page
    table = fault_table()
    for name, fault in FAULTS.items():
        assert fault.effect.strip()
        assert f"`{name}" in table


def test_every_doc_page_is_linked_from_the_readme_and_every_link_resolves() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\((docs/[\w-]+\.md)\)", readme))
    assert linked == {f"docs/{page.name}" for page in DOCS.glob("*.md")}
    for page in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([\w-]+\.md)(?:#[\w-]+)?\)", page.read_text()):
            assert (DOCS / target).exists(), f"{page.name} links to missing {target}"


def test_the_readme_opens_with_the_two_commands_ci_runs() -> None:
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    block = lines[lines.index("```sh") + 1 : lines.index("```", lines.index("```sh") + 1)]
    assert len(block) == 2
    assert "pytest -m postdeploy --umbrella-sandbox" in block[0]
    for tool in ("pytest tests", "ruff check", "ruff format --check", "mypy", "lint-imports"):
        assert tool in block[1]
    assert "README.md" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_every_sandbox_fault_is_proven_by_a_self_test() -> None:
    """A fault no self-test switches on proves nothing: some check must be seen to fail on it."""
    tests = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "tests").rglob("test_*.py"))
    # The documented drift examples are self-tests too (test_contract_drift.py runs them).
    readme = (DOCS / "differences.md").read_text(encoding="utf-8")
    tests += "\n".join(
        f'"{n}"' for line in re.findall(r"^# drift: (.+)$", readme, re.M) for n in line.split()
    )
    unused = [name for name in FAULTS if not re.search(rf"[\"']{re.escape(name)}(=|[\"'])", tests)]
    assert unused == []


def test_the_options_table_lists_every_option_the_plugin_registers() -> None:
    from umbrella_checks.plugin import OPTIONS

    page = (DOCS / "configure.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(--umbrella-[\w-]+)", page, re.M))
    registered = {flag for flag, *_ in OPTIONS} | {"--umbrella-sandbox-environment"}
    assert documented == registered


def test_the_generated_parts_of_the_docs_are_current() -> None:
    """docs/checks.md's severity table, docs/sandbox.md's fault table and docs/keys.md come
    from the code; `python -m umbrella_checks docs` rewrites them (its own process: it collects
    the checks)."""
    done = subprocess.run(
        [sys.executable, "-m", "umbrella_checks", "docs", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"run `python -m umbrella_checks docs`: {done.stderr}"


def _spelled_options() -> dict[str, set[str]]:
    """Every ``--umbrella-…`` option the README, docs, tox.ini and workflows spell, by file."""
    texts = [REPO / "README.md", REPO / "tox.ini", *DOCS.glob("*.md")]
    texts += (REPO / ".github" / "workflows").glob("*.yml")
    found: dict[str, set[str]] = {}
    for path in texts:
        for flag in re.findall(r"--umbrella-[a-z0-9-]*[a-z0-9]", path.read_text(encoding="utf-8")):
            found.setdefault(flag, set()).add(path.name)
    return found


def test_every_option_the_docs_spell_is_one_the_suite_takes() -> None:
    """One spelling everywhere: the pytest tiers and the release gate take the same
    ``--umbrella-sandbox``; a flag the docs name and nothing accepts is a newcomer's dead end."""
    from umbrella_checks.plugin import OPTIONS

    taken = {flag for flag, *_ in OPTIONS} | {"--umbrella-sandbox-environment"}
    perf = subprocess.run(
        [sys.executable, "-m", "umbrella_checks", "perf", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    taken |= set(re.findall(r"--umbrella-[a-z0-9-]*[a-z0-9]", perf))
    unknown = {flag: files for flag, files in _spelled_options().items() if flag not in taken}
    assert unknown == {}


def test_the_commands_are_listed_with_what_they_do() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "umbrella_checks", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert "perf" in done.stdout
    assert "the release gate" in done.stdout


def test_the_worked_example_names_files_that_hold_what_it_says() -> None:
    """docs/design.md's worked example, followed verbatim, must land where it says: each step
    names a file and what the file holds; at most four files are written by hand."""
    page = (DOCS / "design.md").read_text(encoding="utf-8")
    example = page.split("<!-- worked example", 1)[1].split("<!-- end of worked example", 1)[0]
    steps = re.findall(r"^\d+\. \*\*[^*]+\*\* — `([^`]+)` holds `([^`]+)`", example, re.M)
    assert 1 <= len(steps) <= 4
    for path, held in steps:
        text = (REPO / path).read_text(encoding="utf-8")
        assert held in text, f"{path} does not hold {held}"
    (check,) = [path for path, _ in steps if path.startswith("checks/")]
    imports = re.findall(r"^from (umbrella_checks[\w.]*) import", (REPO / check).read_text(), re.M)
    assert set(imports) == {"umbrella_checks.api"}
