"""A pytest plugin for the mutation run's baseline: each test's coverage is recorded under its
node id (``coverage run -m pytest -p contexts``), so ``mutation/judge.py`` can run, for a mutant,
first the tests that execute the changed line.

Loaded only by ``mutation/run.py``; pytester's inner runs never see it, so their lines count
for the outer test that started them.
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


_seconds: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _seconds[report.nodeid] = _seconds.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The tests in the order they ran, with how long each took, for the judge."""
    target = os.environ.get("MUTATION_ORDER_FILE")
    if target:
        Path(target).write_text(
            # Node ids are relative to the rootdir, which need not be the working directory:
            # the judge passes each test by its file's path from the working directory.
            json.dumps(
                [
                    [item.nodeid, _argument(item), _seconds.get(item.nodeid, 0.0)]
                    for item in session.items
                ]
            ),
            encoding="utf-8",
        )


def _argument(item: pytest.Item) -> str:
    # Relative to the lane (the working directory), so a resumed run may use another lane.
    return f"{os.path.relpath(item.path)}::{item.nodeid.partition('::')[2]}"
