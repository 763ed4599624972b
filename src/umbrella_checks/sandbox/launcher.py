"""The sandbox launcher: one small process per process that starts sandboxes, which has imported
the sandbox once and forks each one from there.

A sandbox is a process of its own (``process.py`` says why); starting it as a fresh Python costs
about 0.1 s of CPU in the interpreter's start and the imports, and a process that starts many
(the self-tests start hundreds) pays that each time. Forked from this launcher, it starts with
everything imported. The launcher is a fresh Python with no threads (forking is safe), started
on first use; it ends when the process that started it does (its end of the socket closes).

A request on the Unix socket it shares with its caller is JSON with the sandbox's arguments,
environment and working directory, after its length (4 bytes), carrying four descriptors (its
stdin, stdout, stderr and a status pipe). The launcher answers with the child's pid (4 bytes)
and, when the child ends, writes its exit status (``os.waitstatus_to_exitcode``) to the status
pipe. The environment is
set in the launcher before the fork, so the child starts with it as a process started by its
caller would (its working directory, stdin and stdout as well).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import struct
import sys
import traceback
from typing import Any

# A request's length, and the answer (a pid): 4 bytes, network order.
SIZE = struct.Struct("!i")


def exactly(channel: socket.socket, size: int, start: bytes = b"") -> bytes:
    """``size`` bytes from ``channel`` (fewer only when it closed)."""
    data = start
    while len(data) < size:
        more = channel.recv(size - len(data))
        if not more:
            break
        data += more
    return data


def serve(fd: int) -> None:
    """The launcher's loop (``python -c``): fork a sandbox for each request on ``fd``."""
    from umbrella_checks.sandbox import __main__ as sandbox  # imported once, before any fork

    channel = socket.socket(fileno=fd)
    # Ctrl-C reaches the whole terminal's process group: the launcher outlives it to report
    # its sandboxes' ends; each sandbox handles it as its caller left it.
    interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a child's end wakes the select below
    statuses: dict[int, int] = {}  # running child's pid -> the write end of its status pipe
    while True:
        ready, _, _ = select.select([channel.fileno(), wake_r], [], [])
        if wake_r in ready:
            os.read(wake_r, 512)
            _report_ended(statuses)
        if channel.fileno() not in ready:
            continue
        # The descriptors come with the request's first bytes.
        head, fds, _, _ = socket.recv_fds(channel, SIZE.size, 4)
        head = exactly(channel, SIZE.size, head)
        if len(head) < SIZE.size:
            break  # the process that started it has ended
        request: dict[str, Any] = json.loads(exactly(channel, SIZE.unpack(head)[0]))
        os.environ.clear()
        os.environ.update(request["env"])
        pid = os.fork()
        if pid == 0:
            for own in (channel.fileno(), wake_r, wake_w, *statuses.values()):
                os.close(own)
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGINT, interrupt)
            _run(sandbox.main, request, fds)
        for given in fds[:3]:
            os.close(given)
        statuses[pid] = fds[3]
        channel.sendall(SIZE.pack(pid))
    # Sandboxes still running end when their own caller's pipe closes; nothing is left to
    # report their status to.
    for status in statuses.values():
        os.close(status)


def _run(main: Any, request: dict[str, Any], fds: list[int]) -> None:
    """The forked child: its stdin, stdout and stderr are the ones given, then the sandbox."""
    code: object = 1
    try:
        for target, given in enumerate(fds[:3]):
            os.dup2(given, target)
        for given in fds:
            os.close(given)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 (the process's own)
        os.chdir(request["cwd"])
        code = main(request["args"])
    except SystemExit as exc:
        code = exc.code
    except BaseException:
        traceback.print_exc()  # as Python would, before it ends with status 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code if isinstance(code, int) else 1)


def _report_ended(statuses: dict[int, int]) -> None:
    for pid, status in list(statuses.items()):
        ended, how = os.waitpid(pid, os.WNOHANG)
        if ended:
            with contextlib.suppress(OSError):  # its caller stopped listening
                os.write(status, str(os.waitstatus_to_exitcode(how)).encode())
            os.close(status)
            del statuses[pid]
