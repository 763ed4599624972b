"""Starting and stopping a sandbox process when it misbehaves: what it prints is not its
listening line, or it will not end when asked. Real processes stand in for a broken sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from umbrella_checks.sandbox.process import SandboxNotStarted, SandboxProcess


def _started(code: str) -> tuple[SandboxProcess, subprocess.Popen[str]]:
    """A process standing in for a sandbox; a thread plays the launcher's part (its exit
    status on the status pipe)."""
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdin is not None
    assert process.stdout is not None
    status, reported = os.pipe()

    def report() -> None:
        os.write(reported, str(process.wait()).encode())
        os.close(reported)

    threading.Thread(target=report, daemon=True).start()
    sandbox = SandboxProcess(
        process.pid, os.dup(process.stdin.fileno()), os.dup(process.stdout.fileno()), status
    )
    return sandbox, process


def test_a_line_that_is_not_its_listening_line_is_one_error() -> None:
    sandbox, process = _started(
        "import time; print('Traceback: something broke', flush=True); time.sleep(60)"
    )
    with pytest.raises(SandboxNotStarted, match="did not start within 30 s"):
        sandbox.ready("development")
    assert process.wait(timeout=5) is not None  # stopped, not left running
    process.communicate()


def test_a_sandbox_that_ignores_sigterm_is_killed() -> None:
    sandbox, process = _started(
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(120)\n"
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"  # SIGTERM is ignored from here on
    started = time.monotonic()
    sandbox.stop(grace=0.5)
    assert sandbox.returncode == -9
    assert process.wait(timeout=5) == -9
    process.communicate()
    assert time.monotonic() - started < 30
