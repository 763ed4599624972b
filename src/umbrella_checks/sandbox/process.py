"""The sandbox in a process of its own, as ``--umbrella-sandbox`` and the release gate start it.

Its own process, so the server never shares a GIL with the client that measures it (a pytest
run's concurrent requests, Locust's gevent), and so its start overlaps the caller's. It prints
one JSON line when it listens (``__main__``); ``stop()`` ends it and its temporary files. It is
forked by this process's launcher (``launcher.py``), which has imported it once: the process
gets this one's environment (less the fault switches), working directory and stderr, and pipes
for its stdin and stdout, as a ``python -m umbrella_checks.sandbox`` started here would.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from typing import Any

from umbrella_checks.sandbox.faults import FAULTS_ENV
from umbrella_checks.sandbox.launcher import SIZE, exactly

START_TIMEOUT = 30.0


class SandboxNotStarted(Exception):
    """The sandbox process did not say it was listening (one line, for the user)."""


class _Launcher:
    """This process's launcher, started on first use (and again should it have ended)."""

    lock = threading.Lock()
    process: subprocess.Popen[bytes] | None = None
    channel: socket.socket | None = None

    @classmethod
    def fork(cls, request: bytes, fds: list[int]) -> int:
        """Send one request with its descriptors; the forked sandbox's pid."""
        with cls.lock:
            try:
                if cls.process is None or cls.process.poll() is not None:
                    cls._start()
                assert cls.channel is not None
                message = SIZE.pack(len(request)) + request
                sent = socket.send_fds(cls.channel, [message], fds)
                cls.channel.sendall(message[sent:])
                answer = exactly(cls.channel, SIZE.size)
                why = "" if len(answer) == SIZE.size else " (it ended)"
            except OSError as exc:  # it could not start, or it ended
                why = f" ({exc})"
        if why:
            raise SandboxNotStarted(
                f"the sandbox launcher did not answer{why}; "
                "run `python -m umbrella_checks sandbox` to see why"
            )
        pid: int = SIZE.unpack(answer)[0]
        return pid

    @classmethod
    def _start(cls) -> None:
        cls.close()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        with theirs:
            cls.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    f"from umbrella_checks.sandbox.launcher import serve; serve({theirs.fileno()})",
                ],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        ours.settimeout(START_TIMEOUT)
        cls.channel = ours

    @classmethod
    def close(cls) -> None:
        """End it: its end of the socket closes, and it leaves its loop."""
        if cls.channel is not None:
            cls.channel.close()
            cls.channel = None
        if cls.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                cls.process.wait(timeout=5)
            if cls.process.poll() is None:
                cls.process.kill()
                cls.process.wait()
            cls.process = None


atexit.register(_Launcher.close)


class SandboxProcess:
    """``python -m umbrella_checks sandbox``: ``launch`` starts it setting itself up, ``ready``
    tells it the environment to report and returns its JSON line (url, environment, version,
    app_dir, d1_sqlite, tokens, faults), also kept as ``info``."""

    def __init__(self, pid: int, to_it: int, from_it: int, status: int) -> None:
        self.pid = pid
        self.stdin = os.fdopen(to_it, "w", encoding="utf-8")
        self.stdout = os.fdopen(from_it, encoding="utf-8")
        self._status = status
        self.returncode: int | None = None
        self.info: dict[str, Any] = {}

    @classmethod
    def launch(cls, faults: tuple[str, ...] | list[str]) -> SandboxProcess:
        """Start it with these fault switches (already validated); it waits for ``ready``."""
        args = ["--stdin-control", *(f"--fault={fault}" for fault in faults)]
        # The switches are all on the command line: the variable would add them twice.
        env = {k: v for k, v in os.environ.items() if k != FAULTS_ENV}
        request = json.dumps({"args": args, "env": env, "cwd": os.getcwd()}).encode()
        its_stdin, to_it = os.pipe()
        from_it, its_stdout = os.pipe()
        status, its_status = os.pipe()
        theirs = [its_stdin, its_stdout, its_status]
        try:
            pid = _Launcher.fork(request, [its_stdin, its_stdout, 2, its_status])  # 2: stderr as is
        except SandboxNotStarted:
            for fd in (to_it, from_it, status):
                os.close(fd)
            raise
        finally:
            for fd in theirs:  # the sandbox has its own copies
                os.close(fd)
        return cls(pid, to_it, from_it, status)

    @classmethod
    def spawn(cls, faults: tuple[str, ...] | list[str], environment: str) -> SandboxProcess:
        """``launch`` and ``ready`` at once."""
        sandbox = cls.launch(faults)
        sandbox.ready(environment)
        return sandbox

    def wait(self, timeout: float | None = None) -> int | None:
        """Its exit status once it has ended; None if it has not within ``timeout`` seconds."""
        if self.returncode is None and select.select([self._status], [], [], timeout)[0]:
            said = os.read(self._status, 32)
            # Nothing said: the launcher ended first (its caller is ending too).
            self.returncode = int(said) if said else -signal.SIGKILL
            os.close(self._status)
        return self.returncode

    def ready(self, environment: str) -> dict[str, Any]:
        """Tell it the environment to report and wait until it listens. Its stdin stays open:
        when this process ends, however it ends, the sandbox sees the pipe close and stops."""
        try:
            self.stdin.write(environment + "\n")
            self.stdin.flush()
        except OSError:
            pass  # it has ended already: the missing line below says so
        ready, _, _ = select.select([self.stdout], [], [], START_TIMEOUT)
        line = self.stdout.readline() if ready else ""
        try:
            info = json.loads(line) if line else None
        except ValueError:
            info = None
        if not isinstance(info, dict):
            ended = self.wait(timeout=2) if ready else None  # its output ended: it is ending
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
        for how in (signal.SIGTERM, signal.SIGKILL):
            if self.wait(timeout=0) is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, how)
            self.wait(timeout=grace if how == signal.SIGTERM else None)
        for pipe in (self.stdin, self.stdout):
            # Closing stdin flushes what it still buffers: the environment line a sandbox
            # that ended early never read is a broken pipe, not the user's problem.
            with contextlib.suppress(OSError):
                pipe.close()
