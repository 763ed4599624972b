"""Stash keys shared by the entry point and the wiring (no imports of the suite's own here:
the entry point loads in every pytest run of the environment and must stay light)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from umbrella_checks.sandbox.process import SandboxProcess

# The --umbrella-sandbox process, launched before the suite's own modules load
# (``plugin._launch_sandbox``), picked up when settings resolve (``runstate.sandbox_starter``).
launched_sandbox: pytest.StashKey[SandboxProcess] = pytest.StashKey()

# Set once the run's verdict is written (``wiring/controller.py``): the entry point's cleanup
# writes ``could-not-run`` for a run that ended before one was (a usage error).
verdict_written: pytest.StashKey[bool] = pytest.StashKey()
