"""Imported at every lane Python's start (``run.py`` writes the line into its ``.pth``): a
process forked while coverage measures it records its lines under the test that asked for it.

The sandbox launcher (``src/umbrella_checks/sandbox/launcher.py``) forks each sandbox after
setting the environment of the process that asked, ``MUTATION_CONTEXT`` (the running test,
``contexts.py``) among it; the launcher's own measurement names the test that started the
launcher. So the child stops the measurement it inherited and starts its own from the run's
rcfile, whose context is ``${MUTATION_CONTEXT}``; ``patch = _exit`` saves it when it ends.
"""

from __future__ import annotations

import os


def _measure_for_the_test_that_asked() -> None:
    import coverage

    inherited = coverage.Coverage.current()
    if inherited is not None:
        inherited.stop()
        coverage.process_startup(force=True)


os.register_at_fork(after_in_child=_measure_for_the_test_that_asked)
