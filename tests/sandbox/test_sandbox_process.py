"""``--umbrella-sandbox`` runs the sandbox in a process of its own: it starts, reports, and never
outlives the run that started it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.conftest import eventually
from umbrella_checks.sandbox.process import SandboxNotStarted, SandboxProcess

STARTER = """
import json, time
from umbrella_checks.sandbox.process import SandboxProcess, _Launcher
sandbox = SandboxProcess.spawn(("health-500",), "staging")
launcher = _Launcher.process.pid
print(json.dumps({"pid": sandbox.pid, "launcher": launcher, **sandbox.info}), flush=True)
time.sleep(120)
"""


def _parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _gone(pid: int) -> bool:
    # An ended process may linger as a zombie until someone reaps it: that counts as ended.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True
    return state in ("Z", "X")


def test_it_reports_the_environment_and_faults_it_was_given() -> None:
    sandbox = SandboxProcess.spawn(("health-500",), "staging")
    try:
        assert sandbox.info["environment"] == "staging"
        assert sandbox.info["faults"] == ["health-500"]
        assert httpx.get(f"{sandbox.url}/v1/health", timeout=5).status_code == 500
    finally:
        sandbox.stop()
    assert not Path(sandbox.info["app_dir"]).exists()


def test_it_ends_when_the_process_that_started_it_is_killed() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", STARTER], stdout=subprocess.PIPE, text=True
    ) as run:
        assert run.stdout is not None
        info = json.loads(run.stdout.readline())
        assert not _gone(info["pid"])
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=10)
    # Each sees its caller's end on its own (the sandbox its stdin, the launcher its socket), so
    # either may be the last to leave: wait for both.
    eventually(lambda: _gone(info["pid"]) and _gone(info["launcher"]), within=10)
    assert _gone(info["pid"]), "the sandbox outlived the run that started it"
    assert not Path(info["app_dir"]).exists()
    assert _gone(info["launcher"]), "the launcher outlived the run that started it"


def test_sandboxes_are_forked_by_one_launcher_that_ends_with_its_process() -> None:
    first = SandboxProcess.spawn((), "development")
    second = SandboxProcess.spawn(("health-500",), "development")
    try:
        assert _parent_of(second.pid) == _parent_of(first.pid) != os.getpid()
        assert httpx.get(f"{second.url}/v1/health", timeout=5).status_code == 500
    finally:
        first.stop()
        second.stop()
    assert (first.returncode, second.returncode) == (0, 0)


LAUNCHER_DIES = """
import os, sys
if any("sandbox.launcher" in arg for arg in sys.orig_argv):
    os._exit(5)
"""

UNANSWERED = """
import os
from umbrella_checks.sandbox.process import SandboxNotStarted, SandboxProcess
before = len(os.listdir("/proc/self/fd"))
try:
    SandboxProcess.launch(())
except SandboxNotStarted as exc:
    print(exc)
print(len(os.listdir("/proc/self/fd")) - before)
"""


def test_a_launcher_that_cannot_start_is_one_line_and_leaves_nothing_open(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(LAUNCHER_DIES, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    said = subprocess.run(
        [sys.executable, "-c", UNANSWERED], env=env, capture_output=True, text=True, timeout=60
    ).stdout.splitlines()
    assert said[0].startswith("the sandbox launcher did not answer")
    assert said[0].endswith("; run `python -m umbrella_checks sandbox` to see why")
    # Its pipes are closed again (the socket to the launcher is kept, to start it again).
    assert said[1:] == ["1"], said


SANDBOX_CRASHES = """
import os, sys
def crash(args):
    raise RuntimeError("the sandbox broke")
def broken():
    sys.modules["umbrella_checks.sandbox.__main__"].main = crash
if any("sandbox.launcher" in arg for arg in sys.orig_argv):
    os.register_at_fork(after_in_child=broken)
"""

LAUNCH_AND_WAIT = """
from umbrella_checks.sandbox.process import SandboxProcess
print(SandboxProcess.launch(()).wait(timeout=30))
"""


def test_a_sandbox_that_crashes_ends_with_status_1_and_its_traceback(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(SANDBOX_CRASHES, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    ended = subprocess.run(
        [sys.executable, "-c", LAUNCH_AND_WAIT], env=env, capture_output=True, text=True, timeout=60
    )
    assert ended.stdout.strip() == "1", ended.stderr
    assert "RuntimeError: the sandbox broke" in ended.stderr


def test_sandboxes_still_stop_when_their_launcher_was_killed() -> None:
    first = SandboxProcess.spawn((), "development")
    second = SandboxProcess.spawn((), "development")
    launcher = _parent_of(first.pid)
    os.kill(launcher, signal.SIGKILL)
    # Nobody is left to report the first's end: stopping it must not wait on the second, which
    # runs on (a sandbox holds no other sandbox's status pipe).
    stopping = threading.Thread(target=first.stop, kwargs={"grace": 1}, daemon=True)
    stopping.start()
    stopping.join(timeout=10)
    hung = stopping.is_alive()
    second.stop()
    stopping.join()
    assert not hung, "stopping a sandbox waited for another one"
    assert first.returncode == -signal.SIGKILL  # what the launcher's end says of it
    assert eventually(lambda: not Path(first.info["app_dir"]).exists(), within=10)


def test_the_launcher_outlives_a_ctrl_c_to_its_process_group() -> None:
    # Ctrl-C in a terminal reaches every process of the run's group, the launcher among them:
    # it must go on serving (and reporting its sandboxes' ends), not die with a traceback.
    first = SandboxProcess.spawn((), "development")
    launcher = _parent_of(first.pid)
    os.kill(launcher, signal.SIGINT)
    second = SandboxProcess.spawn((), "development")
    try:
        assert _parent_of(second.pid) == launcher
    finally:
        first.stop()
        second.stop()
    assert (first.returncode, second.returncode) == (0, 0)


def test_one_that_cannot_start_says_so_in_one_line() -> None:
    sandbox = SandboxProcess.launch(())
    with pytest.raises(
        SandboxNotStarted, match=r"^the sandbox ended with exit status 2 before it listened"
    ):
        sandbox.ready("nowhere")  # not an environment: it refuses to serve
    assert sandbox.returncode == 2


def test_it_ended_before_being_told_the_environment_is_one_line() -> None:
    """A sandbox that died at once (here: a fault it does not know) closed its stdin: telling
    it the environment must not raise a broken pipe at the user."""
    sandbox = SandboxProcess.launch(("no-such-fault",))
    assert sandbox.wait(timeout=30) == 2
    with pytest.raises(SandboxNotStarted, match=r"ended with exit status 2 before it listened"):
        sandbox.ready("development")


def test_the_switches_come_from_the_arguments_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variable the sandbox reads its switches from is not passed on: a run's own
    ``--umbrella-sandbox-fault`` list is the whole list, and the rest of the environment is kept."""
    monkeypatch.setenv("UMBRELLA_SANDBOX_FAULTS", "health-500")
    sandbox = SandboxProcess.spawn((), "development")
    try:
        assert sandbox.info["faults"] == []
        assert httpx.get(f"{sandbox.url}/v1/health", timeout=5).status_code == 200
    finally:
        sandbox.stop()
    assert sandbox.stdin.closed
    assert sandbox.stdout.closed
    assert sandbox.returncode == 0


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_a_run_stopped_from_outside_takes_its_sandbox_along(
    pytester: pytest.Pytester, suite_dir: Path, signal_name: str
) -> None:
    (suite_dir / "checks" / "test_wait.py").write_text(
        "import json, time\n"
        "def test_wait(settings):\n"
        "    print(json.dumps({'app_dir': str(settings.app_dir)}), flush=True)\n"
        "    time.sleep(120)\n",
        encoding="utf-8",
    )
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-s", "-q", "--umbrella-sandbox", "checks/test_wait.py"],
        cwd=suite_dir,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        # Ctrl-C as a terminal delivers it: a self-test run started in the background (`&`,
        # nohup) inherits SIGINT ignored, and Python then never turns it into an interrupt.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert run.stdout is not None
        line = next(line for line in run.stdout if line.startswith("{"))
        app_dir = Path(json.loads(line)["app_dir"])
        assert app_dir.exists()
        run.send_signal(getattr(signal, signal_name))
        # Generous: under coverage (mutation testing) every process of the run is traced.
        run.communicate(timeout=90)
    finally:
        # A run that did not stop fails this test, not a later one with its ResourceWarning.
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert eventually(lambda: not app_dir.exists(), within=30), (
        "the sandbox outlived the run that started it"
    )
