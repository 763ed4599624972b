"""A pytest plugin for the mutation run's baselines: each test's coverage is recorded under its
node id (``coverage run -m pytest -p contexts``), so ``mutation/judge.py`` can run, for a mutant,
first the tests that execute the changed line.

Loaded only by ``mutation/run.py``; pytester's inner runs never see it, so their lines count
for the outer test that started them. Works under xdist too (the shared baseline, ``--map``):
each worker switches contexts for its own tests; the controller, which sees every test's
report, writes the order file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import coverage
import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    current = coverage.Coverage.current()
    if current is not None:
        current.switch_context(item.nodeid)
    # Python subprocesses started now record their lines under this test (the run's rcfile
    # sets each one's static context from this variable).
    os.environ["MUTATION_CONTEXT"] = item.nodeid
    try:
        return (yield)
    finally:
        os.environ["MUTATION_CONTEXT"] = ""
        if current is not None:
            # Between tests (session fixtures' teardown, the next module's import) nothing is
            # attributed to a test: such lines make the judge run every test.
            current.switch_context("")


# Node id -> [the judge's argument for it, seconds over its phases, passed so far].
_ran: dict[str, list[object]] = {}
# The rootdir (node ids are relative to it) and the directory the run started in (the lane).
_root: list[Path] = []
_start: list[Path] = []


def pytest_configure(config: pytest.Config) -> None:
    _root.append(config.rootpath)
    _start.append(config.invocation_params.dir)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    entry = _ran.setdefault(report.nodeid, [_argument(report.nodeid), 0.0, True])
    entry[1] = float(entry[1]) + report.duration  # type: ignore[arg-type]
    entry[2] = bool(entry[2]) and not report.failed


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The tests in the order they ran, with how long each took and whether it passed, for
    the judge (on the controller only: a worker saw its share)."""
    target = os.environ.get("MUTATION_ORDER_FILE")
    if target and not hasattr(session.config, "workerinput"):
        Path(target).write_text(
            json.dumps([[nodeid, *entry] for nodeid, entry in _ran.items()]), encoding="utf-8"
        )


def _argument(nodeid: str) -> str:
    # Relative to the directory the run started in (the lane), so a resumed run may use another
    # lane: node ids are relative to the rootdir, which need not be that directory. Never to
    # the working directory when the test reports: a test that moved into a scratch folder
    # (pytester, monkeypatch.chdir) would be named through it, a path into this lane: another
    # lane's pytest, given names in both lanes, stops on the two tests/conftest.py (exit 4), and
    # the judge then ran the module's whole list.
    path, _, rest = nodeid.partition("::")
    return f"{os.path.relpath(_root[0] / path, _start[0])}::{rest}"
