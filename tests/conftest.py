"""The self-test harness: run the real checks against the sandbox and read the verdicts."""

from __future__ import annotations

import functools
import gc
import importlib
import os
import pkgutil
import shutil
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpcore
import httpx
import pytest
from pytest_httpserver import HTTPServer

import umbrella_checks
from tests.fakes import FakeGraphQL, FakeSentry, SlackHook
from umbrella_checks.sandbox import Sandbox, parse_faults

# Imported here, once: pytester's in-process runs drop modules first imported inside them, and
# a re-imported module no longer matches the classes older ones hold (httpcore's exceptions
# mapped by httpx; the suite's CheckFailed raised by a module that `from umbrella_checks import
# x` found still attached to the package).
_KEEP_LOADED = (
    httpcore,
    httpx,
    # Imported lazily by the suite (forgery, tls, the sandbox): their native bindings must be
    # loaded once, here, not inside an inner run.
    importlib.import_module("jwt"),
    importlib.import_module("cryptography.x509"),
    importlib.import_module("cryptography.hazmat.primitives.asymmetric.rsa"),
    # Imported by every inner run (a plugin's version check; an IDNA host name): 8 ms each time.
    importlib.import_module("packaging.version"),
    importlib.import_module("encodings.idna"),
    *(
        importlib.import_module(module.name)
        for module in pkgutil.walk_packages(umbrella_checks.__path__, "umbrella_checks.")
        if not module.name.endswith("__main__")
    ),
)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before the first test that may run the suite in-process (it asks for ``pytester``):
    load SciPy, which a run compared with a baseline imports. Imported inside an inner run it
    would be dropped after it and imported again by the next — NumPy warns, and warnings are
    errors. Not at start: a process that runs no inner run (a mutant judged by a unit test)
    saves the 0.4 s it takes."""
    if "pytester" in getattr(item, "fixturenames", ()) and "scipy.stats" not in sys.modules:
        importlib.import_module("scipy.stats")
        gc.freeze()


# What is loaded so far lives as long as the worker: out of the collector's sight, it is not
# walked again after every inner run (the walks were a seventh of a worker's time).
gc.freeze()

REPO = Path(__file__).resolve().parent.parent

# Every variable the suite reads: the host's values must not leak into a self-test.
SUITE_VARIABLES = (
    "API_URL",
    "ENVIRONMENT",
    "UMBRELLA_CONFIG",
    "UMBRELLA_APP_DIR",
    "D1_SQLITE_PATH",
    "EXPECTED_VERSION",
    "UMBRELLA_USER_TOKEN",
    "SMOKE_TEST_TOKEN",
    "UMBRELLA_ADMIN_TOKEN",
    "UMBRELLA_LIMIT_TOKEN",
    "UMBRELLA_EXHAUSTED_TOKEN",
    "CLOUDFLARE_API_TOKEN",
    "CLOUDFLARE_ACCOUNT_ID",
    "D1_DATABASE_ID",
    "CLOUDFLARE_API_BASE_URL",
    "UMBRELLA_SANDBOX_FAULTS",
    "PYTEST_ADDOPTS",
    "PYTEST_BASE_URL",
)
# Whole families: a developer's Slack, Sentry, Clerk or Cloudflare credentials must never be
# used (or alerted) by a self-test.
SUITE_PREFIXES = ("SLACK_", "SENTRY_", "CLERK_", "CLOUDFLARE_", "UMBRELLA_")


# Plugins installed in the self-tests' environment that no inner run uses: pytest-httpserver
# (the harness's fakes; its werkzeug import) and the pytest plugins locust and platformdirs
# register. With anyio's (blocked by the shipped addopts) they cost each subprocess pytest 90 of
# its 270 ms.
HARNESS_ONLY = ("pytest_httpserver", "locust", "platformdirs")


def _inner_ini() -> str:
    """The project's own pytest options (pyproject.toml's [tool.pytest.ini_options]) as an ini
    file, so an inner run is configured as a user's is (``--assert=plain`` among them: the inner
    run does not rewrite the checks it copied, and ``python_files`` in tests/pytest.ini keeps the
    outer run's rewriter off them too), plus the harness's own: no cache folder,
    pytest-randomly's shuffling off, and none of the plugins installed beside the suite that it
    does not use (``HARNESS_ONLY``)."""
    shipped = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    options = dict(shipped["tool"]["pytest"]["ini_options"])
    blocked = ("cacheprovider", "randomly", *HARNESS_ONLY)
    options["addopts"] = [*options["addopts"], *(w for n in blocked for w in ("-p", f"no:{n}"))]
    lines = ["[pytest]"]
    for key, value in options.items():
        values = value if isinstance(value, list) else [value]
        words = [str(v).lower() if isinstance(v, bool) else str(v) for v in values]
        lines.append(f"{key} = " + "\n    ".join(words))  # a list: one word a line
    return "\n".join(lines) + "\n"


INNER_INI = _inner_ini()


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto`` for the self-tests: four workers per core. About half of a self-test's time
    is waiting (real sockets, sandbox processes, timeouts a check must see), and a machine busy
    with something else shares its cores by runnable process: on 2 cores with a busy loop on
    each, 4 workers took 4 min 06 s, 6 took 3 min 29 s, 8 a median 3 min 13 s; idle, 4 and 8 both
    about 2 min 35 s (docs/design.md). ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still wins."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own hook reads it
    # The cores this run may use (Linux); elsewhere (macOS, Windows) the machine's.
    affinity = getattr(os, "sched_getaffinity", None)
    cores = len(affinity(0)) if affinity else (os.cpu_count() or 1)
    return 4 * cores


@dataclass
class CheckRun:
    """The verdict of one inner run: outcome and failure text per check name."""

    outcomes: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    # Checks that failed outside their call phase (an ERROR in setup or teardown).
    errored: list[str] = field(default_factory=list)
    ret: int = 0
    output: str = ""
    # What pytest wrote to stderr: a usage error's one line.
    stderr: str = ""

    def named(self, outcome: str) -> list[str]:
        return sorted(name for name, seen in self.outcomes.items() if seen == outcome)

    def failed_names(self) -> list[str]:
        return self.named("failed")

    def passed_names(self) -> list[str]:
        return self.named("passed")

    def skipped_names(self) -> list[str]:
        return self.named("skipped")

    def message_of(self, name: str) -> str:
        return self.messages[name]


def _record(run: CheckRun, reports: list[pytest.TestReport]) -> None:
    for report in reports:
        name = report.nodeid.split("::", 1)[-1]
        if report.failed:
            run.outcomes[name] = "failed"
            run.messages[name] = report.longreprtext
            if report.when != "call":
                run.errored.append(name)
        elif report.skipped and run.outcomes.get(name) != "failed":
            run.outcomes[name] = "skipped"
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
            run.messages[name] = str(reason).removeprefix("Skipped: ")
        elif report.when == "call" and report.passed:
            run.outcomes.setdefault(name, "passed")


RunChecks = Callable[..., CheckRun]


@pytest.fixture
def suite_dir(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the suite's checks and config in a scratch folder, with a clean environment."""
    for name in SUITE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith(SUITE_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    shutil.copytree(
        REPO / "checks", pytester.path / "checks", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "umbrella.toml", pytester.path / "umbrella.toml")
    pytester.makefile(".ini", pytest=INNER_INI)
    return pytester.path


@pytest.fixture
def run_checks(pytester: pytest.Pytester, suite_dir: Path) -> RunChecks:
    """Run the real checks in-process: ``run_checks("-m", "postdeploy", faults=["hang"])``.

    Without ``target=`` the run uses ``--umbrella-sandbox`` with the given fault switches;
    ``target=""`` names no target on the command line.
    """

    def run(
        *args: str,
        faults: tuple[str, ...] | list[str] = (),
        target: str | None = None,
        config: str | None = None,
    ) -> CheckRun:
        argv = list(args)
        if target is None:
            argv.append("--umbrella-sandbox")
            argv += [f"--umbrella-sandbox-fault={fault}" for fault in faults]
        elif target:  # "": the target comes from the environment (API_URL), or nowhere
            argv.append(f"--base-url={target}")
        if config is not None:
            (suite_dir / "umbrella.toml").write_text(config, encoding="utf-8")
        result = pytester.runpytest_inprocess(*argv)
        recorder = getattr(result, "reprec", None)
        run = CheckRun(
            ret=int(result.ret or 0), output=result.stdout.str(), stderr=result.stderr.str()
        )
        if hasattr(recorder, "getreports"):  # none when the run ended in a usage error
            _record(run, recorder.getreports("pytest_runtest_logreport"))  # type: ignore[union-attr]
        return run

    return run


def assert_on_call_message(message: str, *fragments: str) -> None:
    """A failure an on-call engineer can act on: the URL, what was expected, what came back."""
    assert "http://127.0.0.1:" in message, message
    assert "expected" in message, message
    assert ", got" in message, message
    for fragment in fragments:
        assert fragment in message, message


@pytest.fixture
def sandbox_server() -> Iterator[Callable[..., Sandbox]]:
    """Start sandboxes outside the run (for checks pointed at a plain --base-url)."""
    started: list[Sandbox] = []

    def start(
        *faults: str, environment: str = "development", clerk_jwks_url: str | None = None
    ) -> Sandbox:
        sandbox = Sandbox(
            parse_faults(list(faults)), environment=environment, clerk_jwks_url=clerk_jwks_url
        ).start()
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:
        sandbox.stop()


def sandbox_requests(sandbox: Sandbox) -> int:
    """How many requests the sandbox has answered (its own count, not the suite's)."""
    counts: dict[str, int] = httpx.get(f"{sandbox.url}/__sandbox/state", timeout=5).json()["counts"]
    return counts.get("requests", 0)


def arrived_while_the_probe_waited(sandbox: Sandbox) -> list[str]:
    """The requests other than health's that reached the sandbox before it answered the
    start-of-run probe. Checks wait for the probe, so with health slowed (``slow=/v1/health:…``)
    any request here was sent ahead of them: prefetched."""
    events: list[str] = httpx.get(f"{sandbox.url}/__sandbox/state", timeout=5).json()["events"]
    probe_answered = events.index("end GET /v1/health")
    return [
        event
        for event in events[:probe_answered]
        if event.startswith("start ") and not event.endswith("/v1/health")
    ]


@pytest.fixture
def slack(httpserver: HTTPServer) -> SlackHook:
    """Slack's incoming webhook, answering as Slack does (``slack.answer(mode)``)."""
    return SlackHook(httpserver)


@pytest.fixture
def cloudflare(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGraphQL]:
    """Cloudflare's GraphQL Analytics API, with the suite's credentials pointing at it."""
    with FakeGraphQL().running() as api:
        monkeypatch.setenv("CLOUDFLARE_API_TOKEN", FakeGraphQL.TOKEN)
        monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "acc123")
        monkeypatch.setenv("CLOUDFLARE_API_BASE_URL", api.base)
        yield api


@pytest.fixture
def sentry_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSentry]:
    """Sentry's issues API, with the suite's credentials pointing at it."""
    with FakeSentry().running() as api:
        monkeypatch.setenv("SENTRY_AUTH_TOKEN", FakeSentry.TOKEN)
        monkeypatch.setenv("SENTRY_ORG", FakeSentry.ORG)
        monkeypatch.setenv("SENTRY_PROJECT", FakeSentry.PROJECT)
        monkeypatch.setenv("SENTRY_BASE_URL", api.root)
        yield api


@pytest.fixture
def static_site(tmp_path: Path) -> Iterator[str]:
    """Some other site: a static file server that answers 404 HTML for every API path."""
    (tmp_path / "index.html").write_text("<h1>Umbrella, the marketing site</h1>")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _children() -> dict[int, str]:
    """This process's live child processes (Linux /proc), by pid, with their command lines. The
    sandbox launcher lives as long as this process (``sandbox/launcher.py``): it is not one, but
    the sandboxes it forked are."""
    me = os.getpid()
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):  # twice a test: plain reads, no globbing
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue  # it ended while we looked
        if fields[0] != b"Z":  # a zombie has ended
            parents[int(name)] = int(fields[1])

    def command(pid: int) -> str:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            return ""

    children = {pid: command(pid) for pid, parent in parents.items() if parent == me}
    launchers = {pid for pid, cmd in children.items() if "umbrella_checks.sandbox.launcher" in cmd}
    forked = {pid for pid, parent in parents.items() if parent in launchers}
    return {pid: cmd for pid, cmd in children.items() if pid not in launchers} | {
        pid: "a sandbox (forked by the launcher)" for pid in forked
    }


@pytest.fixture(autouse=True)
def no_leaked_process() -> Iterator[None]:
    """A process a self-test starts must end with it: one left running (a sandbox, a Locust
    worker) would be charged to whichever test the garbage collector happens to meet it in, as
    an unrelated ``ResourceWarning``. Set up first and torn down last, this fails the test that
    started it, naming the command."""
    if not Path("/proc/self/stat").exists():  # not Linux: nothing to look at
        yield
        return
    before = set(_children())
    yield
    deadline = time.monotonic() + 5  # what a test stopped may take a moment to end
    leaked = {pid: cmd for pid, cmd in _children().items() if pid not in before}
    while leaked and time.monotonic() < deadline:
        time.sleep(0.05)
        leaked = {pid: cmd for pid, cmd in _children().items() if pid not in before}
    if leaked:
        listed = "; ".join(f"pid {pid}: {cmd[:200]}" for pid, cmd in sorted(leaked.items()))
        pytest.fail(f"this test left {len(leaked)} process(es) running: {listed}")


def eventually(condition: Callable[[], bool], within: float) -> bool:
    """Whether ``condition`` holds within ``within`` seconds, asked every few milliseconds: a
    self-test waits for the state it needs (a process gone, a thread queued), never a fixed
    sleep, which a busy machine outlasts."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
    return True


def checks_in(module: str, *, destructive: bool | None = None) -> list[str]:
    """The checks a module of ``checks/`` defines, sorted (``destructive``: only those marked
    so, or only those not): self-tests read them from the module, so a new check is never a
    list to extend by hand."""
    import ast

    tree = ast.parse((REPO / "checks" / module).read_text(encoding="utf-8"))
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            marked = any("destructive" in ast.unparse(d) for d in node.decorator_list)
            if destructive is None or marked is destructive:
                found.append(node.name)
    return sorted(found)
