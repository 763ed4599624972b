"""Mutation testing: are the suite's verdicts proven by its self-tests?

For every module that judges (``mutation/scope.toml``), Cosmic Ray changes one operator at a
time (``<`` to ``<=``, ``and`` to ``or``, a condition negated, a loop skipped, a number moved by
one…) and runs that module's self-tests; a mutant the self-tests still pass on is a verdict no
fault proves. Cosmic Ray mutates the files in place, so each lane is a copy of the repository
with its own ``src`` first on ``PYTHONPATH``: self-tests that run the suite in a subprocess see
the mutant too, and two lanes run side by side without seeing each other's mutants.

Each module's self-tests first run once unmutated under coverage (``mutation/contexts.py``),
recording which test executes which line; each mutant is then judged by ``mutation/judge.py``:
the tests reaching its line first, then the module's others if it survives them (not with
``--trust-coverage``).

Usage: ``python mutation/run.py [--lanes N] [--only NAME ...] [--changed [BASE]]
[--trust-coverage] [--resume] [--survivors] [--summary] [--all-operators] [--list] [--count]``
(``tox -e mutation``; a module run alone with several lanes spreads its mutants over them).
Prints Cosmic Ray's own summary per module, every survivor with its diff, and the score; exits
1 below ``[score] minimum``, or when part of the scope was not judged on the code as it is
(``--summary``).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import queue
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import tokenize
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / ".mutation"
# Cosmic Ray's commands from this interpreter's environment, whatever PATH says (a virtualenv
# that is not activated still works).
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = BIN / name
    return str(found) if found.exists() else shutil.which(name) or name


@dataclass(frozen=True)
class Target:
    """One module under mutation and the self-tests that must notice its mutants."""

    module: str
    tests: tuple[str, ...]
    only: tuple[str, ...] = ()  # top-level names whose mutants count (empty: the whole module)
    timeout: float = 180.0

    @property
    def name(self) -> str:
        return Path(self.module).stem


@dataclass(frozen=True)
class Equivalent:
    """Mutants no self-test can tell apart from the original, with the reason: ``line`` and
    ``operator`` are regular expressions over the stripped source line and the operator name
    (stable across edits elsewhere in the file); ``module`` is a path or ``*``."""

    module: str
    line: str
    operator: str
    reason: str

    def covers(self, module: str, line: str, operator: str) -> bool:
        return (
            self.module in ("*", module)
            and re.fullmatch(self.line, line) is not None
            and re.fullmatch(self.operator, operator) is not None
        )


@dataclass
class Outcome:
    target: Target
    summary: list[str] = field(default_factory=list)
    killed: int = 0
    survivors: list[str] = field(default_factory=list)
    equivalent: int = 0
    out_of_scope: int = 0
    in_messages: int = 0
    timeouts: int = 0  # killed by hanging the self-tests past the timeout
    pending: int = 0  # not judged yet (an interrupted run); -1: never run
    made: str = ""  # with --summary: when the session was last written (UTC)
    stale: bool = False  # with --summary: the module or its self-tests changed since
    trusted: bool = False  # with --summary: judged with --trust-coverage (a lower bound)
    to_run: int = 0  # with --count: the mutants that would be judged
    population: int = 0  # with --sample: the mutants the judged ones were drawn from
    baseline_failed: str | None = None
    refused: str | None = None  # --survivors on a module changed since its session: why not
    seconds: float = 0.0

    @property
    def judged(self) -> int:
        return self.killed + len(self.survivors)


MAP_NAME = "mutation/map.json"
MAP = REPO / MAP_NAME


def tests_of(module: str, mapped: dict[str, list[str]]) -> tuple[str, ...]:
    """A module's self-tests, from coverage (``mutation/map.json``, made by ``--map``): the
    test files that executed one of its lines, in-process or in a subprocess."""
    if module not in mapped:
        raise SystemExit(
            f"mutation/map.json names no self-test for {module}: run `python mutation/run.py "
            "--map` (the whole self-test suite, once, under coverage)"
        )
    return tuple(mapped[module])


def load_scope(
    path: Path, mapped: dict[str, list[str]] | None = None
) -> tuple[dict[str, Any], list[Target], list[Equivalent]]:
    """The scope; a target's self-tests are its ``tests`` when given, else the map's."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    if mapped is None:
        mapped = json.loads(MAP.read_text(encoding="utf-8"))["modules"] if MAP.exists() else {}
    targets = [
        Target(
            module=entry["module"],
            tests=tuple(entry["tests"]) if "tests" in entry else tests_of(entry["module"], mapped),
            only=tuple(entry.get("only", ())),
            timeout=float(entry.get("timeout", data["run"]["timeout"])),
        )
        for entry in data["target"]
    ]
    equivalents = [Equivalent(**entry) for entry in data.get("equivalent", [])]
    return data, targets, equivalents


def tracked() -> list[str]:
    """The repository's files (tracked, and new ones not ignored): what a lane copies."""
    return subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()


def source_stamp(leaving: tuple[str, ...] = ()) -> str:
    """A digest of every file a lane copies (but ``leaving``): a run resumes only on the code
    it started with."""
    digest = hashlib.sha256()
    for name in sorted(set(tracked()) - set(leaving)):
        if (REPO / name).is_file():
            digest.update(name.encode() + b"\0" + (REPO / name).read_bytes() + b"\0")
    return digest.hexdigest()


def make_lane(number: int) -> Path:
    """A copy of the tracked files (plus local edits) where mutants can be written freely;
    named by this process too, so two runs at once (a re-run beside a long one) never share."""
    lane = WORK / f"lane-{os.getpid()}-{number}"
    if lane.exists():
        shutil.rmtree(lane)
    for name in tracked():
        source = REPO / name
        if source.is_file():
            (lane / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, lane / name)
    # Compiled once, here: the runs in a lane write no bytecode (PYTHONDONTWRITEBYTECODE), so
    # without it every mutant's pytest compiled the whole package again (about a third of a
    # second). Checked by the source's hash, never its mtime: a mutant written in place is
    # always compiled from its own text.
    make_venv(lane)
    folders = [str(lane / f) for f in ("src", "tests", "checks", "perf") if (lane / f).is_dir()]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "checked-hash",
            *folders,
        ],
        check=True,
        capture_output=True,
    )
    return lane


def venv_of(lane: Path) -> Path:
    return lane.with_name(lane.name + "-venv")


def make_venv(lane: Path) -> Path:
    """The lane's own Python: this environment's packages, the lane's ``src`` first, and not
    this checkout's editable install. A self-test that starts Python with a scrubbed
    environment (no ``PYTHONPATH``: the watch command's, the workflow steps') would otherwise
    import the checkout's code, never the mutant, and every mutant it alone can notice would
    survive. Its ``bin`` holds this environment's commands (pytest, locust…) run by it."""
    import sysconfig
    import venv

    made = venv_of(lane)
    shutil.rmtree(made, ignore_errors=True)
    venv.EnvBuilder(with_pip=False, symlinks=True).create(made)
    theirs = Path(sysconfig.get_paths(vars={"base": str(made), "platbase": str(made)})["purelib"])
    # This interpreter's package folders (in a lane's own Python: its own and the one it reads).
    ours = [
        Path(entry)
        for entry in sys.path
        if Path(entry).name == "site-packages" and Path(entry).is_dir() and Path(entry) != theirs
    ]
    startup = dict.fromkeys(
        line
        for folder in ours
        for pth in sorted(folder.glob("*.pth"))
        if not pth.name.startswith("__editable__")
        for line in pth.read_text(encoding="utf-8").splitlines()
        if line.startswith("import ")  # coverage's start-up hook, for the baselines
    )
    # A .pth's path lines join sys.path in order, after the lane's src; its import lines run
    # in order too: coverage's start-up hook, then fork_context's.
    shutil.copy2(REPO / "mutation" / "fork_context.py", theirs / "mutation_fork_context.py")
    (theirs / "00_lane.pth").write_text(
        "\n".join([str(lane / "src"), *map(str, ours), *startup, "import mutation_fork_context"])
        + "\n",
        encoding="utf-8",
    )
    python = str(made / "bin" / "python")
    for script in BIN.iterdir():
        if script.is_symlink() or not script.is_file() or (made / "bin" / script.name).exists():
            continue
        text = script.read_bytes()
        if text.startswith(b"#!") and str(BIN).encode() in text.split(b"\n", 1)[0]:
            target = made / "bin" / script.name
            target.write_bytes(b"#!" + python.encode() + b"\n" + text.split(b"\n", 1)[1])
            target.chmod(0o755)
    return made


def changed_files(base: str) -> set[str]:
    """Files changed since the merge base of HEAD and ``base`` (committed or not, and new)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout

    candidates = [base] if base else ["origin/main", "main"]
    for candidate in candidates:
        try:
            merge_base = git("merge-base", "HEAD", candidate).strip()
            break
        except subprocess.CalledProcessError:
            continue
    else:
        raise SystemExit(f"no merge base with {' or '.join(candidates)}: pass --changed BASE")
    names = git("diff", "--name-only", merge_base).splitlines()
    names += git("ls-files", "--others", "--exclude-standard").splitlines()
    return set(names)


def lane_env(lane: Path) -> dict[str, str]:
    env = dict(os.environ)
    # The self-tests' subprocesses start `python`, `pytest`: the lane's, first.
    made = venv_of(lane)
    env["PATH"] = os.pathsep.join([str(made / "bin"), str(BIN), env.get("PATH", "")])
    env["VIRTUAL_ENV"] = str(made)
    env["PYTHONPATH"] = os.pathsep.join([str(lane / "src"), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    # A mutant may keep the source's size and mtime second: never trust a cached .pyc.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTEST_ADDOPTS", None)
    return env


def pytest_command(target: Target, tests: tuple[str, ...] | None = None) -> list[str]:
    # `python` from the lane's PATH: the lane's own Python (make_venv), whichever lane.
    return [
        "python",
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        *(target.tests if tests is None else tests),
    ]


EVERY_TEST = -1  # in a plan: a line run outside any test


def slug_of(target: Target) -> str:
    return target.module.replace("/", "_").removesuffix(".py")


def plan_path(slug: str) -> Path:
    return WORK / f"{slug}.plan.json"


def baseline(
    target: Target, lane: Path, env: dict[str, str], slug: str, confirm: bool
) -> str | None:
    """Run the module's self-tests unmutated under coverage, each test's lines recorded under its
    node id (``mutation/contexts.py``), and write the judge's plan: which tests execute which
    line of the module. Returns the output's tail if the self-tests fail unmutated."""
    import coverage

    data_file = WORK / f"{slug}.coverage"
    data_file.unlink(missing_ok=True)
    order_file = WORK / f"{slug}.order.json"
    shutil.copy2(lane / target.module, WORK / f"{slug}.pristine.py")
    for stale in WORK.glob(f"{slug}.coverage*"):
        stale.unlink()
    rcfile = WORK / f"{slug}.coveragerc"
    rcfile.write_text(
        "[run]\n"
        f"data_file = {data_file}\n"
        # The checks' self-tests run copies of checks/ in scratch folders: match any copy.
        f"include = */{target.module}\n"
        # Every Python process of the run is measured — this one and the subprocesses the
        # self-tests start (pytest runs, Locust, the sandbox, the perf command) — through
        # coverage's start-up hook (COVERAGE_PROCESS_START below), each reading this file when
        # it starts: a subprocess's lines count for the test that started it (contexts.py
        # names it in MUTATION_CONTEXT); each process writes a data file of its own.
        "parallel = true\n"
        "context = ${MUTATION_CONTEXT-}\n"
        # A sandbox is forked by its launcher: measured from the fork (fork_context.py) and
        # saved at its os._exit.
        "patch = _exit\n",
        encoding="utf-8",
    )
    measured = subprocess.run(
        [*pytest_command(target), "-p", "contexts"],
        cwd=lane,
        env={
            **env,
            "PYTHONPATH": os.pathsep.join([str(REPO / "mutation"), env["PYTHONPATH"]]),
            "MUTATION_ORDER_FILE": str(order_file),
            "COVERAGE_PROCESS_START": str(rcfile),
        },
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if measured.returncode != 0:
        # The whole output too, beside the sessions: the report shows only its end.
        (WORK / f"{slug}.baseline.txt").write_text(measured.stdout + measured.stderr, "utf-8")
        return measured.stdout[-2000:]
    subprocess.run(
        [sys.executable, "-m", "coverage", "combine", f"--rcfile={rcfile}", "-q"],
        cwd=lane,
        env=env,
        check=True,
        capture_output=True,
    )
    data = coverage.CoverageData(basename=str(data_file))
    data.read()
    write_plan(target, slug, json.loads(order_file.read_text(encoding="utf-8")), data, confirm)
    return None


def write_plan(target: Target, slug: str, ran: list[list[Any]], data: Any, confirm: bool) -> float:
    """Write the judge's plan for ``target`` from a baseline's coverage ``data`` (contexts are
    node ids) and ``ran`` (``[node id, argument, seconds, passed]`` per test, contexts.py);
    returns the seconds its tests took."""
    # The judge runs the picked tests fastest first: a mutant is usually noticed by several,
    # and the first failure ends the run.
    ran = sorted(ran, key=lambda test: test[2])
    position = {test[0]: number for number, test in enumerate(ran)}
    covered: dict[int, set[int]] = {}
    for measured_file in data.measured_files():
        if not measured_file.endswith("/" + target.module):
            continue
        for line, contexts in data.contexts_by_lineno(measured_file).items():
            # "" is no test (an import, a session fixture's start): such a line is run by
            # everything, so every test judges its mutants (judge.EVERY_TEST).
            # An unknown context (a test of an inner run, or one outside the module's list)
            # counts as no test too: never narrow the judging on a guess.
            covered.setdefault(line, set()).update(
                position.get(context, EVERY_TEST) for context in contexts
            )
    plan = {
        # Relative to the lane the judge runs in (Cosmic Ray's working directory).
        "module": target.module,
        "pristine": str(WORK / f"{slug}.pristine.py"),
        "pytest": pytest_command(target, ()),
        "tests": list(target.tests),
        "order": [test[1] for test in ran],
        "seconds": [test[2] for test in ran],
        "confirm": confirm,
        "covered": {str(line): sorted(tests) for line, tests in covered.items() if tests},
    }
    plan_path(slug).write_text(json.dumps(plan), encoding="utf-8")
    return float(sum(test[2] for test in ran))


@dataclass
class Shared:
    """The map's run as every module's baseline: the whole self-test suite, once, under
    coverage with a context per test (``--map``), made on the code as it is and passing."""

    data: Any  # coverage.CoverageData
    ran: list[list[Any]]
    lock: threading.Lock = field(default_factory=threading.Lock)

    def plan(self, target: Target, lane: Path, slug: str, confirm: bool) -> float:
        """Write ``target``'s plan from the shared run: its tests are those of its list."""
        shutil.copy2(lane / target.module, WORK / f"{slug}.pristine.py")
        files = set(_test_paths(target.tests))
        mine = [test for test in self.ran if test[1].split("::", 1)[0] in files]
        with self.lock:  # one coverage database, read by every lane's thread
            return write_plan(target, slug, mine, self.data, confirm)


def load_shared(stamp: str) -> Shared | None:
    """The map's run, when it was made on this code (``stamp``) and every test passed."""
    import coverage

    made = WORK / "map.made.json"
    if not made.exists():
        return None
    info = json.loads(made.read_text(encoding="utf-8"))
    if info.get("stamp") != stamp or info.get("failed"):
        return None
    # A copy of its own: a --map started meanwhile rewrites the map's files.
    mine = WORK / f"map.{os.getpid()}.coverage"
    shutil.copy2(WORK / "map.coverage", mine)
    data = coverage.CoverageData(basename=str(mine))
    data.read()
    return Shared(data, json.loads((WORK / "map.order.json").read_text(encoding="utf-8")))


def make_map(modules: list[str], lanes: int) -> dict[str, list[str]]:
    """Run every self-test once, unmutated, under coverage with each test's node id as its
    context (``contexts.py``; subprocesses count for the test that started them), and return,
    per module in scope, the test files that executed one of its lines."""
    # The code measured, but the map it writes (mutation/map.json): main() stamps the run with
    # the code as it is once the map is written, if nothing else changed meanwhile.
    stamp = source_stamp(leaving=(MAP_NAME,))
    lane = make_lane(0)
    data_file = WORK / "map.coverage"
    order_file = WORK / "map.order.json"
    made = WORK / "map.made.json"
    made.unlink(missing_ok=True)
    for stale in WORK.glob("map.coverage*"):
        stale.unlink()
    rcfile = WORK / "map.coveragerc"
    rcfile.write_text(
        "[run]\n"
        f"data_file = {data_file}\n"
        "include =\n" + "".join(f"    */{module}\n" for module in modules) + "parallel = true\n"
        "context = ${MUTATION_CONTEXT-}\n"
        "patch = _exit\n",  # forked sandboxes, as in baseline()
        encoding="utf-8",
    )
    env = lane_env(lane)
    try:
        subprocess.run(
            [
                "python",  # the lane's (lane_env's PATH)
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:randomly",
                "-p",
                "contexts",
                "-n",
                # Two workers per core, as the self-tests run: half their time is waiting.
                str(2 * lanes),
                "tests",
            ],
            cwd=lane,
            env={
                **env,
                "PYTHONPATH": os.pathsep.join([str(REPO / "mutation"), env["PYTHONPATH"]]),
                "COVERAGE_PROCESS_START": str(rcfile),
                "MUTATION_ORDER_FILE": str(order_file),
            },
            timeout=7200,
            check=False,
        )
        subprocess.run(
            [sys.executable, "-m", "coverage", "combine", f"--rcfile={rcfile}", "-q"],
            cwd=lane,
            env=env,
            check=True,
        )
    finally:
        shutil.rmtree(lane, ignore_errors=True)
        shutil.rmtree(venv_of(lane), ignore_errors=True)
    # The run is every module's baseline too (load_shared), on this code, if nothing failed.
    ran = json.loads(order_file.read_text(encoding="utf-8")) if order_file.exists() else []
    failed = [test[0] for test in ran if not test[3]] if ran else ["(no test ran)"]
    made.write_text(json.dumps({"stamp": stamp, "failed": failed}), encoding="utf-8")
    if failed:
        print(f"not a baseline: {len(failed)} self-test(s) failed unmutated: {failed[:5]}")
    return map_from(data_file, modules)


def map_from(data_file: Path, modules: list[str]) -> dict[str, list[str]]:
    """Per module, the test files whose node ids are the contexts of a line run only when one
    of its functions is called (``body_lines``)."""
    import coverage

    data = coverage.CoverageData(basename=str(data_file))
    data.read()
    found: dict[str, set[str]] = {module: set() for module in modules}
    for measured in data.measured_files():
        module = next((m for m in modules if measured.endswith("/" + m)), None)
        if module is None:
            continue
        body = body_lines(REPO / module)
        for line, contexts in data.contexts_by_lineno(measured).items():
            if body and line not in body:
                continue  # run on import (a def, a constant): whichever test imported it
            # A node id under the lane's tests/ folder: its file is the self-test to run.
            found[module].update(
                "tests/" + context.split("::", 1)[0].removeprefix("tests/")
                for context in contexts
                if context
            )
    return {module: sorted(tests) for module, tests in found.items()}


def body_lines(module: Path) -> set[int]:
    """The lines that run only when a function of the module is called: a test that executes
    one exercises the module; a test that only imported it did not."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for statement in node.body:
                lines.update(
                    range(statement.lineno, (statement.end_lineno or statement.lineno) + 1)
                )
    return lines


def scope_lines(module: Path, names: tuple[str, ...]) -> list[range]:
    """Line ranges of the named top-level functions and classes."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    ranges = []
    for node in tree.body:
        if (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and node.name in names
        ):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            ranges.append(range(first, (node.end_lineno or node.lineno) + 1))
    missing = set(names) - {
        n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)
    }
    if missing:
        raise SystemExit(f"mutation/scope.toml: {module} has no {', '.join(sorted(missing))}")
    return ranges


def message_spans(module: Path) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Where the f-strings are: a mutant inside one changes a message's text, which the
    self-tests check by fragment, not a verdict."""
    with module.open(encoding="utf-8") as handle:
        return [
            (token.start, token.end)
            for token in tokenize.generate_tokens(handle.readline)
            if token.type == tokenize.STRING and token.string.lstrip("rbRB").startswith(("f", "F"))
        ]


def filter_session(
    session: Path,
    lane: Path,
    target: Target,
    keep: re.Pattern[str],
    equivalents: list[Equivalent],
    outcome: Outcome,
) -> None:
    """Mark mutants of other operators, outside the judging code, or known equivalent as
    skipped, so the score counts only what the self-tests are expected to notice."""
    from cosmic_ray.work_db import use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    module = lane / target.module
    lines = module.read_text(encoding="utf-8").splitlines()
    ranges = scope_lines(module, target.only) if target.only else []
    messages = message_spans(module)
    with use_db(str(session)) as db:
        skipped = []
        for item in db.work_items:
            mutation = item.mutations[0]
            line_no = mutation.start_pos[0]
            text = lines[line_no - 1].strip()
            if not keep.fullmatch(mutation.operator_name) or (
                # Numbers move up by one only: down by one is the same test of the same line.
                mutation.operator_name == "core/NumberReplacer" and mutation.occurrence % 2
            ):
                skipped.append(item.job_id)
            elif ranges and not any(line_no in r for r in ranges):
                outcome.out_of_scope += 1
                skipped.append(item.job_id)
            elif any(start <= tuple(mutation.start_pos) < end for start, end in messages):
                outcome.in_messages += 1
                skipped.append(item.job_id)
            elif any(e.covers(target.module, text, mutation.operator_name) for e in equivalents):
                outcome.equivalent += 1
                skipped.append(item.job_id)
        if skipped:
            db.set_multiple_results(
                skipped,
                WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=None, diff=None),
            )


def sampled(jobs: list[str], percent: float, seed: str) -> set[str]:
    """A random ``percent`` of ``jobs``, at least one of any; the same for the same jobs and
    seed, whatever order they come in."""
    if not jobs:
        return set()
    size = min(len(jobs), max(1, round(len(jobs) * percent / 100)))
    return set(random.Random(seed).sample(sorted(jobs), size))


def sample_session(session: Path, target: Target, percent: float) -> int:
    """Keep a random sample of ``percent`` of the mutants left to judge (at least one), the
    others marked skipped: a quick estimate of the score over every module (random mutant
    sampling). The sample is the same for the same code (seeded by the module's name).
    Returns how many there were to sample from."""
    from cosmic_ray.work_db import use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    with use_db(str(session)) as db:
        # By what each mutant is (Cosmic Ray's job ids are new with every session).
        pending = {
            f"{item.mutations[0].operator_name}#{item.mutations[0].occurrence}": item.job_id
            for item in db.pending_work_items
        }
        kept = sampled(list(pending), percent, target.module)
        db.set_multiple_results(
            [job for key, job in pending.items() if key not in kept],
            WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output="not in the sample", diff=None),
        )
    return len(pending)


def prepare_session(
    target: Target,
    lane: Path,
    env: dict[str, str],
    config: Path,
    session: Path,
    timeout: float,
    command: str,
) -> None:
    config.write_text(
        "[cosmic-ray]\n"
        f'module-path = "{target.module}"\n'
        f"timeout = {timeout:.0f}\n"
        "excluded-modules = []\n"
        f"test-command = {command!r}\n".replace("'", '"')
        + '[cosmic-ray.distributor]\nname = "local"\n',
        encoding="utf-8",
    )
    subprocess.run(
        [tool("cosmic-ray"), "init", str(config), str(session)], cwd=lane, env=env, check=True
    )


def run_target(
    target: Target,
    lane: Path,
    keep: re.Pattern[str],
    equivalents: list[Equivalent],
    count_only: bool = False,
    confirm: bool = True,
    resume: bool = False,
    copied: float = 0.0,
    more_lanes: tuple[Path, ...] = (),
    shared: Shared | None = None,
    sample: float = 0.0,
) -> Outcome:
    from cosmic_ray.work_db import WorkDB, use_db

    outcome = Outcome(target)
    started = time.monotonic()
    env = lane_env(lane)
    slug = slug_of(target)
    config = WORK / f"{slug}.toml"
    session = WORK / f"{slug}.sqlite"
    filtered = WORK / f"{slug}.filtered.json"
    resumed = resume and session.exists() and filtered.exists() and plan_path(slug).exists()
    if resumed:
        # An interrupted run of the same code: Cosmic Ray runs only the mutants still pending.
        counts = json.loads(filtered.read_text(encoding="utf-8"))
        outcome.equivalent, outcome.in_messages, outcome.out_of_scope = counts[:3]
        outcome.population = counts[4] if len(counts) > 4 else 0
    else:
        session.unlink(missing_ok=True)
    # Each mutant is judged by mutation/judge.py: the tests covering its line first.
    command = " ".join([sys.executable, str(REPO / "mutation" / "judge.py"), str(plan_path(slug))])
    timeout = target.timeout
    if not count_only and not resumed:
        took = time.monotonic()
        if shared is not None:
            # The tests' own time in the shared run stands for the baseline's.
            took -= shared.plan(target, lane, slug, confirm)
        else:
            failed = baseline(target, lane, env, slug, confirm)
            if failed is not None:
                outcome.baseline_failed = failed
                return outcome
        # A mutant that hangs the self-tests counts as killed: never one that is merely slow
        # because both lanes are busy. The baseline ran under coverage, slower than a mutant.
        timeout = max(timeout, 3 * (time.monotonic() - took))
    if not resumed:
        prepare_session(target, lane, env, config, session, timeout, command)
        filter_session(session, lane, target, keep, equivalents, outcome)
        if sample:
            outcome.population = sample_session(session, target, sample)
        # With the time this run copied its lanes: what the session judged is the code as it
        # was then, however late the session is written.
        filtered.write_text(
            json.dumps(
                [
                    outcome.equivalent,
                    outcome.in_messages,
                    outcome.out_of_scope,
                    copied,
                    outcome.population,
                ]
            ),
            encoding="utf-8",
        )
    if count_only:
        with use_db(str(session), WorkDB.Mode.open) as db:
            outcome.to_run = sum(1 for _ in db.pending_work_items)
        return outcome
    if more_lanes:
        spread(session, config, (lane, *more_lanes))
    else:
        subprocess.run(
            [tool("cosmic-ray"), "exec", str(config), str(session)],
            cwd=lane,
            env=env,
            check=True,
            capture_output=True,
        )
    collect(outcome, session)
    outcome.seconds = time.monotonic() - started
    return outcome


def spread(session: Path, config: Path, lanes: tuple[Path, ...]) -> None:
    """Judge one module's pending mutants in several lanes at once (a module run alone with
    ``--lanes N``): each lane gets a copy of the session in which the other lanes' share is
    marked skipped, runs Cosmic Ray on it, and its results are merged back. One baseline and
    one plan serve every lane: the judge reads the plan and the pristine copy, never writes."""
    with sqlite3.connect(session) as db:
        pending = [
            row[0]
            for row in db.execute(
                "SELECT job_id FROM work_items WHERE job_id NOT IN "
                "(SELECT job_id FROM work_results) ORDER BY job_id"
            )
        ]
    shares = [pending[number :: len(lanes)] for number in range(len(lanes))]
    parts: list[tuple[Path, list[str], subprocess.Popen[bytes]]] = []
    for number, (lane, share) in enumerate(zip(lanes, shares, strict=True)):
        part = session.with_suffix(f".part{number}.sqlite")
        shutil.copy2(session, part)
        with sqlite3.connect(part) as db:
            db.executemany(
                "INSERT INTO work_results (worker_outcome, output, test_outcome, diff, job_id) "
                "VALUES ('SKIPPED', 'another lane', NULL, NULL, ?)",
                [(job,) for other in shares if other is not share for job in other],
            )
        parts.append(
            (
                part,
                share,
                subprocess.Popen(
                    [tool("cosmic-ray"), "exec", str(config), str(part)],
                    cwd=lane,
                    env=lane_env(lane),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                ),
            )
        )
    for part, share, process in parts:
        if process.wait() != 0:
            raise subprocess.CalledProcessError(process.returncode, process.args)
        with sqlite3.connect(part) as db:
            rows = db.execute(
                "SELECT worker_outcome, output, test_outcome, diff, job_id FROM work_results "
                f"WHERE job_id IN ({','.join('?' * len(share))})",
                share,
            ).fetchall()
        with sqlite3.connect(session) as db:
            db.executemany("INSERT OR REPLACE INTO work_results VALUES (?, ?, ?, ?, ?)", rows)
        part.unlink()


def listed_equivalent(
    module: str, source: list[str], mutation: Any, equivalents: list[Equivalent]
) -> bool:
    """Whether ``mutation`` (Cosmic Ray's) is one ``mutation/scope.toml`` lists as equivalent."""
    line = source[mutation.start_pos[0] - 1].strip()
    return any(e.covers(module, line, mutation.operator_name) for e in equivalents)


def _test_paths(tests: tuple[str, ...] | list[str]) -> list[str]:
    """The test files and node ids of a list (not its options, such as ``-k EXPR``)."""
    return [t for t in tests if t.endswith(".py") or "::" in t]


def rejudge_survivors(
    target: Target, lane: Path, equivalents: list[Equivalent], confirm: bool, copied: float
) -> Outcome:
    """Judge the latest session's survivors again, by the self-tests written since to kill them.

    Only while the module is the code the session judged (its pristine copy): then a mutant
    killed stays killed (self-tests were only added), and what is left to ask is whether the
    survivors live on. Each survivor is written into the lane (``cosmic-ray apply``) and judged
    by the test files of the module's list added or written since its session (with the list's
    options, such as ``-k``); unless ``confirm`` is off (``--trust-coverage``), a survivor of
    those by the whole list too — after which the session is no longer a lower bound.
    """
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    outcome = Outcome(target)
    started = time.monotonic()
    slug = slug_of(target)
    session, filtered = WORK / f"{slug}.sqlite", WORK / f"{slug}.filtered.json"
    pristine, plan_file = WORK / f"{slug}.pristine.py", plan_path(slug)
    if not all(path.exists() for path in (session, filtered, pristine, plan_file)):
        outcome.pending = -1
        return outcome
    current = (REPO / target.module).read_text(encoding="utf-8")
    if pristine.read_text(encoding="utf-8") != current:
        outcome.refused = (
            "changed since its session: --survivors judges only the code a session judged; "
            "run the module again (--only)"
        )
        return outcome
    plan = json.loads(plan_file.read_text(encoding="utf-8"))
    known = set(_test_paths(plan["tests"]))
    counts = json.loads(filtered.read_text(encoding="utf-8"))
    judged_at = counts[3] if len(counts) > 3 else session.stat().st_mtime
    # Test files added to the list since, or written since the code was judged (a file the
    # list already had, grown by the tests that kill its survivors).
    added = [
        t
        for t in _test_paths(target.tests)
        if t not in known or (REPO / t.split("::")[0]).stat().st_mtime > judged_at
    ]
    options = [t for t in target.tests if t not in _test_paths(target.tests)]
    env = lane_env(lane)
    runs: list[list[str]] = []
    if added:
        runs.append(pytest_command(target, tuple(added + options)))
    if confirm:
        runs.append(pytest_command(target))
    outcome.equivalent, outcome.in_messages, outcome.out_of_scope = counts[:3]
    if not runs:  # nothing written since the session, and the whole list not asked
        collect(outcome, session, equivalents)
        return outcome
    source = current.splitlines()
    with use_db(str(session), WorkDB.Mode.open) as db:
        survivors = [
            (item, result)
            for item, result in db.completed_work_items
            if result.worker_outcome != WorkerOutcome.SKIPPED
            and result.test_outcome == TestOutcome.SURVIVED
            and not listed_equivalent(target.module, source, item.mutations[0], equivalents)
        ]
    # The lists must pass unmutated, or a failure would say nothing about a mutant. A mutant
    # counts as killed by hanging them only past three times their unmutated time (as in a
    # run): a whole list slower than [run] timeout must never turn survivors into kills.
    timeout = target.timeout
    for command in runs:
        took = time.monotonic()
        unmutated = subprocess.run(
            command, cwd=lane, env=env, capture_output=True, text=True, timeout=1800
        )
        if unmutated.returncode != 0:
            outcome.baseline_failed = unmutated.stdout[-2000:]
            return outcome
        timeout = max(timeout, 3 * (time.monotonic() - took))
    for item, result in survivors:
        mutation = item.mutations[0]
        subprocess.run(
            [
                tool("cosmic-ray"),
                "apply",
                str(mutation.module_path),
                mutation.operator_name,
                str(mutation.occurrence),
            ],
            cwd=lane,
            env=env,
            check=True,
            capture_output=True,
        )
        verdict = None
        try:
            for command in runs:
                try:
                    ran = subprocess.run(
                        command, cwd=lane, env=env, capture_output=True, timeout=timeout
                    )
                except subprocess.TimeoutExpired:
                    verdict = "timeout"
                    break
                if ran.returncode != 0:
                    verdict = "killed by a self-test written since its session (--survivors)"
                    break
        finally:
            shutil.copy2(pristine, lane / target.module)
        if verdict is not None:
            with use_db(str(session), WorkDB.Mode.open) as db:
                db.set_result(
                    item.job_id,
                    WorkResult(
                        worker_outcome=WorkerOutcome.NORMAL,
                        output=verdict,
                        test_outcome=TestOutcome.KILLED,
                        diff=result.diff,
                    ),
                )
    # The session now stands for the self-tests as they are: its figure is not stale, and
    # after the whole list it is no longer a lower bound.
    counts[3:4] = [copied]  # (a sample's size, after it, stays)
    filtered.write_text(json.dumps(counts), encoding="utf-8")
    plan["confirm"] = plan["confirm"] or confirm
    plan["tests"] = list(target.tests)
    plan_file.write_text(json.dumps(plan), encoding="utf-8")
    collect(outcome, session, equivalents)
    outcome.seconds = time.monotonic() - started
    return outcome


def collect(outcome: Outcome, session: Path, equivalents: list[Equivalent] | None = None) -> None:
    """Cosmic Ray's summary line and the killed and surviving mutants of a session; with
    ``equivalents``, a survivor listed as equivalent since the session counts as one."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    report = subprocess.run(
        [tool("cr-report"), str(session)], capture_output=True, text=True, check=True
    ).stdout
    outcome.summary = [
        line for line in report.splitlines() if re.match(r"(total jobs|complete|surviving)", line)
    ]
    source = (REPO / outcome.target.module).read_text(encoding="utf-8").splitlines()
    with use_db(str(session), WorkDB.Mode.open) as db:
        outcome.pending = sum(1 for _ in db.pending_work_items)
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            if result.test_outcome == TestOutcome.SURVIVED:
                mutation = item.mutations[0]
                if equivalents and listed_equivalent(
                    outcome.target.module, source, mutation, equivalents
                ):
                    outcome.equivalent += 1
                    continue
                outcome.survivors.append(
                    f"{outcome.target.module}:{mutation.start_pos[0]} {mutation.operator_name}\n"
                    + "\n".join(
                        "    " + line
                        for line in (result.diff or "").splitlines()
                        if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
                    )
                )
            else:
                outcome.killed += 1
                outcome.timeouts += result.output == "timeout"


def stored(targets: list[Target], equivalents: list[Equivalent]) -> list[Outcome]:
    """The latest session of each module, as left by the runs that made them (``--summary``)."""
    outcomes = []
    for target in targets:
        slug = slug_of(target)
        session, filtered = WORK / f"{slug}.sqlite", WORK / f"{slug}.filtered.json"
        outcome = Outcome(target)
        if not (session.exists() and filtered.exists()):
            outcome.pending = -1
            outcomes.append(outcome)
            continue
        counts = json.loads(filtered.read_text(encoding="utf-8"))
        outcome.equivalent, outcome.in_messages, outcome.out_of_scope = counts[:3]
        outcome.population = counts[4] if len(counts) > 4 else 0
        collect(outcome, session, equivalents)
        plan = plan_path(slug)
        if plan.exists():
            outcome.trusted = not json.loads(plan.read_text(encoding="utf-8")).get("confirm", True)
        made = session.stat().st_mtime
        outcome.made = time.strftime("%Y-%m-%d %H:%M", time.gmtime(made))
        # The code it judged is the lanes' copy (older sessions: the run's start, its stamp).
        stamp = WORK / "source.sha256"
        copied = counts[3] if len(counts) > 3 else stamp.stat().st_mtime if stamp.exists() else made
        # (A --survivors run records when it judged again; its session file may stay older.)
        made = copied if len(counts) > 3 else min(made, copied)
        # The module or one of its self-test files changed after the session: its figure is
        # not the code's any more.
        files = [
            target.module,
            *(t.split("::")[0] for t in target.tests if t.endswith(".py") or "::" in t),
        ]
        outcome.stale = any(
            (REPO / name).exists() and (REPO / name).stat().st_mtime > made for name in files
        )
        outcomes.append(outcome)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    global WORK  # --all-operators keeps its sessions apart
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scope", type=Path, default=REPO / "mutation" / "scope.toml")
    parser.add_argument("--lanes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--only", nargs="*", default=[], help="module names or paths to run")
    parser.add_argument("--list", action="store_true", help="list the targets and stop")
    parser.add_argument("--count", action="store_true", help="count the mutants; run no tests")
    parser.add_argument(
        "--all-operators",
        action="store_true",
        help="count every Cosmic Ray operator, not only [run] operators (for comparison)",
    )
    parser.add_argument(
        "--trust-coverage",
        action="store_true",
        help="a mutant the tests executing its line all pass is a survivor, without running "
        "the module's other self-tests (faster; a test that reaches the line only in a "
        "subprocess is then not asked, so the score is a lower bound)",
    )
    parser.add_argument(
        "--summary",
        action="store_true",
        help="run nothing: the score over the latest session of each module in scope, with when "
        "each was made (modules re-run with --only since a full run are counted as re-run)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="go on with an interrupted run (same code and options): finished modules are "
        "reported, the others judge only their pending mutants",
    )
    parser.add_argument(
        "--survivors",
        action="store_true",
        help="judge only the latest session's survivors again, by the module's test files added "
        "or written since (and, without --trust-coverage, by its whole list): after writing "
        "tests that kill them; the module itself must be unchanged since its session",
    )
    parser.add_argument(
        "--changed",
        nargs="?",
        const="",
        metavar="BASE",
        help="only the modules changed since the merge base with BASE (default: origin/main, "
        "else main), uncommitted edits included: fast enough before every stop",
    )
    parser.add_argument(
        "--sample",
        type=float,
        default=0.0,
        metavar="PERCENT",
        help="judge a random PERCENT of each module's mutants (at least one; the same ones for "
        "the same code): an estimate of the score over every module, with its 95%% interval, in "
        "a fraction of a whole run's time",
    )
    parser.add_argument(
        "--map",
        action="store_true",
        help="run the whole self-test suite once under coverage and write mutation/map.json: "
        "each module's self-tests, by the lines they execute (run it after moving tests)",
    )
    args = parser.parse_args(argv)
    if args.map:
        data = tomllib.loads(args.scope.read_text(encoding="utf-8"))
        WORK.mkdir(parents=True, exist_ok=True)
        modules = [entry["module"] for entry in data["target"]]
        mapped = make_map(modules, args.lanes)
        unreached = [module for module, tests in mapped.items() if not tests]
        MAP.write_text(
            json.dumps({"made": time.strftime("%Y-%m-%d"), "modules": mapped}, indent=1) + "\n",
            encoding="utf-8",
        )
        stamped = WORK / "map.made.json"
        info = json.loads(stamped.read_text(encoding="utf-8"))
        if info["stamp"] == source_stamp(leaving=(MAP_NAME,)):
            info["stamp"] = source_stamp()  # the code measured, with the map it made
            stamped.write_text(json.dumps(info), encoding="utf-8")
        print(f"mutation/map.json: {len(mapped)} modules; no self-test reaches: {unreached}")
        return 1 if unreached else 0
    try:
        import cosmic_ray  # noqa: F401
    except ImportError as exc:
        print(
            f"cosmic-ray cannot be imported ({exc}): pip install -e '.[mutation]' "
            "(or tox -e mutation)"
        )
        return 2
    data, targets, equivalents = load_scope(args.scope)
    if args.changed is not None:
        changed = changed_files(args.changed)
        targets = [t for t in targets if t.module in changed]
        print(f"changed since the merge base: {len(targets)} module(s) in scope", flush=True)
        if not targets:
            return 0
    if args.only:
        targets = [t for t in targets if t.name in args.only or t.module in args.only]
        if not targets:
            print(f"no target named {', '.join(args.only)}: see {args.scope}")
            return 2
    if args.list:
        for target in targets:
            print(f"{target.module:45} {' '.join(target.tests)}")
        return 0
    if args.summary:
        latest = stored(targets, equivalents)
        for outcome in latest:
            print(_line(outcome), flush=True)
        return report(latest, float(data["score"]["minimum"]), 0.0)
    keep = re.compile(
        ".*"
        if args.all_operators
        else "|".join(f"(?:{pattern})" for pattern in data["run"]["operators"])
    )
    if args.all_operators:
        # Its sessions and lanes apart: a comparison never replaces the scored sessions.
        WORK = WORK / "all-operators"
    WORK.mkdir(parents=True, exist_ok=True)
    stamp = WORK / "source.sha256"
    if args.resume and (not stamp.exists() or stamp.read_text() != source_stamp()):
        print("--resume: the code changed since the interrupted run (or there was none); run again")
        return 2
    current = source_stamp()
    if not args.count and not args.survivors:
        stamp.write_text(current)
    # One baseline for every module: the map's run, when it was made on this code (--map).
    shared = None if args.count or args.survivors else load_shared(current)
    if not args.count and not args.survivors:
        print(
            "baseline: the map's run (every self-test once, on this code)"
            if shared is not None
            else "baseline: each module's self-tests under coverage, module by module (run "
            "`python mutation/run.py --map` first to share one run: faster)",
            flush=True,
        )
    copied = time.time()  # the lanes' copy of the code, recorded with each session
    lanes: queue.Queue[Path] = queue.Queue()
    # Counting runs no tests: one lane is enough.
    for number in range(1 if args.count else max(1, min(args.lanes, len(targets)))):
        lanes.put(make_lane(number))
    todo: queue.Queue[Target] = queue.Queue()
    # The quickest first (fewer self-test files): an interrupted run has judged most modules.
    for target in sorted(targets, key=lambda t: len(t.tests)):
        todo.put(target)
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    # One module run alone (a heavy one, --only NAME --lanes N): its mutants spread over the
    # lanes instead of leaving all but one idle.
    spreading = len(targets) == 1 and not args.count and not args.survivors and args.lanes > 1
    more_lanes = tuple(make_lane(number) for number in range(1, args.lanes)) if spreading else ()

    def work() -> None:
        lane = lanes.get()
        while True:
            try:
                target = todo.get_nowait()
            except queue.Empty:
                return
            done = (
                rejudge_survivors(target, lane, equivalents, not args.trust_coverage, copied)
                if args.survivors
                else run_target(
                    target,
                    lane,
                    keep,
                    equivalents,
                    args.count,
                    confirm=not args.trust_coverage,
                    resume=args.resume,
                    copied=copied,
                    more_lanes=more_lanes,
                    shared=shared,
                    sample=args.sample,
                )
            )
            with lock:
                outcomes.append(done)
                print(_line(done), flush=True)

    started = time.monotonic()
    made = list(lanes.queue)
    workers = [threading.Thread(target=work) for _ in range(lanes.qsize())]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for lane in (*made, *more_lanes):
        shutil.rmtree(lane, ignore_errors=True)
        shutil.rmtree(venv_of(lane), ignore_errors=True)
    (WORK / f"map.{os.getpid()}.coverage").unlink(missing_ok=True)  # load_shared's copy
    if args.count:
        print(f"\n== {sum(o.to_run for o in outcomes)} mutants to judge in {len(outcomes)} modules")
        return 0
    return report(outcomes, float(data["score"]["minimum"]), time.monotonic() - started)


def _line(outcome: Outcome) -> str:
    if outcome.refused is not None:
        return f"{outcome.target.module}: {outcome.refused}"
    if outcome.baseline_failed is not None:
        return f"{outcome.target.module}: its self-tests fail unmutated — fix them first"
    if outcome.pending < 0:
        return f"{outcome.target.module}: never run"
    if not outcome.summary:  # --count: nothing ran
        return f"{outcome.target.module}: {outcome.to_run} mutants to judge"
    return (
        f"{outcome.target.module}: {outcome.killed}/{outcome.judged} killed "
        f"({outcome.timeouts} by timeout; {outcome.equivalent} equivalent, "
        f"{outcome.in_messages} in message text, "
        f"{outcome.out_of_scope} outside the judging code) "
        + (f"a sample of {outcome.population}; " if outcome.population else "")
        + (f"made {outcome.made} UTC" if outcome.made else f"in {outcome.seconds:.0f} s")
        + (f"; {outcome.pending} NOT JUDGED YET" if outcome.pending else "")
        + ("; STALE: changed since" if outcome.stale else "")
        + (
            "; survivors not asked the other self-tests (--trust-coverage)"
            if outcome.trusted and outcome.survivors
            else ""
        )
    )


def report(outcomes: list[Outcome], minimum: float, seconds: float) -> int:
    print("\n== Cosmic Ray's summary per module")
    for outcome in sorted(outcomes, key=lambda o: o.target.module):
        print(f"{outcome.target.module}: " + "; ".join(outcome.summary))
    survivors = [s for o in outcomes for s in o.survivors]
    print(f"\n== survivors ({len(survivors)})")
    for survivor in survivors:
        print(survivor)
    broken = [
        o.target.module for o in outcomes if o.baseline_failed is not None or o.refused is not None
    ]
    for outcome in outcomes:
        if outcome.baseline_failed is not None:
            print(f"\n== {outcome.target.module}: self-tests fail unmutated\n")
            print(outcome.baseline_failed)
    killed = sum(o.killed for o in outcomes)
    judged = sum(o.judged for o in outcomes)
    equivalent = sum(o.equivalent for o in outcomes)
    in_messages = sum(o.in_messages for o in outcomes)
    score = 100.0 * killed / judged if judged else 0.0
    print(
        f"\n== mutation score: {killed}/{judged} mutants killed ({score:.1f}%), "
        f"{equivalent} equivalent listed in mutation/scope.toml, {in_messages} in message "
        "text (not counted), "
        f"{len(outcomes)} modules, {seconds / 60:.0f} min"
    )
    sampled = [o for o in outcomes if o.population]
    if sampled and judged:
        from scipy.stats import binomtest

        interval = binomtest(killed, judged).proportion_ci(method="wilson")
        print(
            f"an estimate: {len(sampled)} module(s) judged on a random sample "
            f"({sum(o.judged for o in sampled)} of {sum(o.population for o in sampled)} "
            f"mutants); 95% interval {100 * interval.low:.1f}–{100 * interval.high:.1f}%"
        )
        score = min(score, 100 * interval.low)  # the minimum must hold at the interval's foot
    unjudged = [o.target.module for o in outcomes if o.pending or o.stale]
    if unjudged:
        # A score over part of the scope is no score: say so rather than pass.
        print(
            f"incomplete: {len(unjudged)} module(s) not (fully) judged on the code as it is: "
            + ", ".join(unjudged)
        )
        return 1
    if broken or score < minimum:
        print(
            f"below the minimum of {minimum:.0f}%"
            if not broken
            else "not judged: self-tests failing unmutated, or a module changed since its session"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
