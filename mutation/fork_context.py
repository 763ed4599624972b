"""Imported at every lane Python's start (``run.py`` writes the line into its ``.pth``): a
process forked while coverage measures it records its lines under the test that asked for it.

The sandbox launcher (``src/umbrella_checks/sandbox/launcher.py``) forks each sandbox after
setting the environment of the process that asked, ``MUTATION_CONTEXT`` (the running test,
``contexts.py``) among it; the launcher's own coverage context is the test that started the
launcher. coverage's ``patch = fork`` restarts measurement in the child, and ``patch = _exit``
saves it when the child ends; this hook, registered after coverage's own, names the context.
"""

from __future__ import annotations

import os


def _name_the_test() -> None:
    import coverage

    current = coverage.Coverage.current()
    if current is not None:
        current.config.context = None  # the launcher's test, not this child's
        current.switch_context(os.environ.get("MUTATION_CONTEXT", ""))


os.register_at_fork(after_in_child=_name_the_test)
