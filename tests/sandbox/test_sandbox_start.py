"""Starting and stopping a sandbox process when it misbehaves: what it prints is not its
listening line, or it will not end when asked. Real processes stand in for a broken sandbox."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from umbrella_checks.sandbox.process import SandboxNotStarted, SandboxProcess


def _started(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_a_line_that_is_not_its_listening_line_is_one_error() -> None:
    process = _started(
        "import time; print('Traceback: something broke', flush=True); time.sleep(60)"
    )
    with pytest.raises(SandboxNotStarted, match="did not start within 30 s"):
        SandboxProcess(process).ready("development")
    assert process.poll() is not None  # stopped, not left running


def test_a_sandbox_that_ignores_sigterm_is_killed() -> None:
    process = _started(
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(120)\n"
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"  # SIGTERM is ignored from here on
    started = time.monotonic()
    SandboxProcess(process).stop(grace=0.5)
    assert process.poll() == -9
    assert time.monotonic() - started < 30
