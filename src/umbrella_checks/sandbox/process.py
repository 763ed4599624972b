"""The sandbox in a process of its own, as ``--umbrella-sandbox`` and the release gate start it.

Its own process, so the server never shares a GIL with the client that measures it (a pytest
run's concurrent requests, Locust's gevent), and so its start overlaps the caller's. It prints
one JSON line when it listens (``__main__``); ``stop()`` ends it and its temporary files.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
from typing import Any

from umbrella_checks.sandbox.faults import FAULTS_ENV

START_TIMEOUT = 30.0


class SandboxNotStarted(Exception):
    """The sandbox process did not say it was listening (one line, for the user)."""


class SandboxProcess:
    """``python -m umbrella_checks sandbox``: ``launch`` starts it setting itself up, ``ready``
    tells it the environment to report and returns its JSON line (url, environment, version,
    app_dir, d1_sqlite, tokens, faults), also kept as ``info``."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._process = process
        self.info: dict[str, Any] = {}

    @classmethod
    def launch(cls, faults: tuple[str, ...] | list[str]) -> SandboxProcess:
        """Start it with these fault switches (already validated); it waits for ``ready``."""
        args = [sys.executable, "-m", "umbrella_checks.sandbox", "--stdin-control"]
        args += [f"--fault={fault}" for fault in faults]
        # The switches are all on the command line: the variable would add them twice.
        env = {k: v for k, v in os.environ.items() if k != FAULTS_ENV}
        return cls(
            subprocess.Popen(
                args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
            )
        )

    @classmethod
    def spawn(cls, faults: tuple[str, ...] | list[str], environment: str) -> SandboxProcess:
        """``launch`` and ``ready`` at once."""
        sandbox = cls.launch(faults)
        sandbox.ready(environment)
        return sandbox

    def ready(self, environment: str) -> dict[str, Any]:
        """Tell it the environment to report and wait until it listens. Its stdin stays open:
        when this process ends, however it ends, the sandbox sees the pipe close and stops."""
        process = self._process
        assert process.stdin is not None
        assert process.stdout is not None
        try:
            process.stdin.write(environment + "\n")
            process.stdin.flush()
        except OSError:
            pass  # it has ended already: the missing line below says so
        ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT)
        line = process.stdout.readline() if ready else ""
        try:
            info = json.loads(line) if line else None
        except ValueError:
            info = None
        if not isinstance(info, dict):
            try:  # its output ended: it is ending too
                ended = process.wait(timeout=2) if ready else None
            except subprocess.TimeoutExpired:
                ended = None
            self.stop()
            why = (
                f"ended with exit status {ended} before it listened"
                if ended is not None
                else f"did not start within {START_TIMEOUT:g} s"
            )
            raise SandboxNotStarted(
                f"the sandbox {why}; run `python -m umbrella_checks sandbox` to see why"
            )
        self.info = info
        return info

    @property
    def url(self) -> str:
        return str(self.info["url"])

    def stop(self, grace: float = 10.0) -> None:
        """End it (SIGTERM: it removes its temporary app checkout and database); killed when it
        has not ended ``grace`` seconds later."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None:
                # Closing stdin flushes what it still buffers: the environment line a sandbox
                # that ended early never read is a broken pipe, not the user's problem.
                with contextlib.suppress(OSError):
                    pipe.close()
