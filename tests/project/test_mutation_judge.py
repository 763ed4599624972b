"""The mutation run's judge: the tests that execute a mutated line first, then, if they all
pass, every test of the module — so picking tests only ever saves time, never a verdict."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import eventually

REPO = Path(__file__).resolve().parents[2]


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"mutation_{name}", REPO / "mutation" / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered first: its dataclasses look their module up while they are made.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


judge = _load("judge")
run = _load("run")


@pytest.mark.parametrize(
    ("mutated", "lines"),
    [
        pytest.param(["a", "B", "c", "d"], {2}, id="one-line-replaced"),
        pytest.param(["a", "c", "d"], {2}, id="decorator-removed"),
        pytest.param(["a", "b", "x", "c", "d"], {2}, id="line-inserted"),
        pytest.param(["a", "b", "c", "d"], set(), id="unchanged"),
    ],
)
def test_the_changed_lines_are_numbered_as_in_the_pristine_file(
    mutated: list[str], lines: set[int]
) -> None:
    assert judge.changed_lines(["a", "b", "c", "d"], mutated) == lines


def test_the_tests_covering_the_lines_are_picked_in_run_order() -> None:
    covered = {"3": [2, 0], "4": [1]}
    order = ["t0", "t1", "t2", "t3"]
    assert judge.picked_tests(covered, order, {3}) == ["t0", "t2"]
    assert judge.picked_tests(covered, order, {3, 4}) == ["t0", "t1", "t2"]


def test_a_line_no_test_executed_picks_none_so_all_run() -> None:
    assert judge.picked_tests({"3": [0]}, ["t0"], {3, 9}) == []


def test_a_line_run_outside_any_test_picks_none_so_all_run() -> None:
    # An import-time line (a default, a decorator): every test depends on it.
    assert judge.picked_tests({"3": [0, judge.EVERY_TEST]}, ["t0"], {3}) == []


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A module, two tests (one covers ``double``, one ``half``) and the judge's plan."""
    (tmp_path / "calc.py").write_text(
        "def double(x):\n    return x * 2\n\n\ndef half(x):\n    return x // 2\n"
    )
    (tmp_path / "pristine.py").write_text((tmp_path / "calc.py").read_text())
    (tmp_path / "test_calc.py").write_text(
        "from calc import double, half\n\n"
        "def test_double():\n    assert double(3) == 6\n\n"
        "def test_half():\n    assert half(9) == 4\n"
    )
    tests = [f"{tmp_path}/test_calc.py::test_double", f"{tmp_path}/test_calc.py::test_half"]
    plan = {
        "module": str(tmp_path / "calc.py"),
        "pristine": str(tmp_path / "pristine.py"),
        "pytest": [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"],
        "tests": [str(tmp_path / "test_calc.py")],
        "order": tests,
        "covered": {"2": [0], "6": [1]},
        "confirm": True,
    }
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    return tmp_path


def _judge(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "mutation" / "judge.py"), str(project / "plan.json")],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_mutant_the_picked_test_notices_is_killed_by_it_alone(project: Path) -> None:
    source = (project / "calc.py").read_text()
    (project / "calc.py").write_text(source.replace("x * 2", "x / 2"))
    judged = _judge(project)
    assert judged.returncode == 1
    assert "1 failed in" in judged.stdout  # only the covering test ran: none passed


def _misplan(project: Path, **changes: object) -> None:
    """The plan says (wrongly) that only test_double covers half()."""
    plan = json.loads((project / "plan.json").read_text())
    plan.update({"covered": {"2": [0], "6": [0]}, **changes})
    (project / "plan.json").write_text(json.dumps(plan))
    source = (project / "calc.py").read_text()
    (project / "calc.py").write_text(source.replace("x // 2", "x / 2"))


def test_a_survivor_of_the_picked_tests_is_judged_by_the_others(project: Path) -> None:
    # As if test_half reached half() only in a subprocess: it still notices, as it would have
    # without picking, and test_double is not run twice.
    _misplan(project)
    judged = _judge(project)
    assert judged.returncode == 1
    assert "1 passed in" in judged.stdout  # the picked test_double passed…
    assert "1 failed in" in judged.stdout  # …and test_half, run next on its own, failed


def test_trusting_coverage_asks_only_the_picked_tests(project: Path) -> None:
    _misplan(project, confirm=False)
    judged = _judge(project)
    assert judged.returncode == 0
    assert "failed" not in judged.stdout


def test_an_unmutated_module_survives(project: Path) -> None:
    assert _judge(project).returncode == 0


def test_what_a_mutant_leaves_running_ends_with_its_judging(project: Path) -> None:
    # A mutated sandbox launcher that never leaves its loop outlived the tests that started it,
    # spinning a core through the rest of the run.
    (project / "test_calc.py").write_text(
        "import subprocess, sys\n"
        "from calc import double, half\n\n"
        "def test_double():\n"
        "    left = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "    open('left.pid', 'w').write(str(left.pid))\n"
        "    assert double(3) == 6\n\n"
        "def test_half():\n    assert half(9) == 4\n"
    )
    assert _judge(project).returncode == 0
    pid = int((project / "left.pid").read_text())
    assert eventually(lambda: not Path(f"/proc/{pid}").exists(), within=10)


def test_a_mutant_that_only_slows_a_test_is_killed_at_the_tests_limit(project: Path) -> None:
    # A pacing mutant slows the burst instead of breaking it: the test is stopped at a few times
    # its baseline's time (pytest-timeout), not after the module's whole-list timeout.
    plan = json.loads((project / "plan.json").read_text())
    plan.update(seconds=[0.5, 0.5], grace=1)
    (project / "plan.json").write_text(json.dumps(plan))
    source = (project / "calc.py").read_text()
    (project / "calc.py").write_text(
        "import time\n" + source.replace("return x * 2", "time.sleep(60)\n    return x * 2")
    )
    judged = _judge(project)
    assert judged.returncode == 1
    assert "Timeout (>2.5s)" in judged.stdout


@pytest.mark.parametrize(
    ("tests", "limit"),
    [
        pytest.param(["a"], 3 * 2.0 + 20, id="its-own-time"),
        pytest.param(["a", "b"], 3 * 5.0 + 20, id="the-slowest-run"),
        pytest.param(["file.py"], 3 * 5.0 + 20, id="untimed-the-plans-slowest"),
    ],
)
def test_each_test_may_take_a_few_times_its_baseline(tests: list[str], limit: float) -> None:
    plan = {"order": ["a", "b"], "seconds": [2.0, 5.0]}
    assert judge.per_test_limit(plan, tests) == limit


def test_every_module_in_scope_has_its_self_tests_from_coverage() -> None:
    """mutation/map.json (``python mutation/run.py --map``) names, for every module in
    mutation/scope.toml, test files that exist: a module added to the scope, or tests moved,
    without a new map stop here, not hours into a mutation run."""
    import tomllib

    scope = tomllib.loads((REPO / "mutation" / "scope.toml").read_text(encoding="utf-8"))
    mapped = json.loads((REPO / "mutation" / "map.json").read_text(encoding="utf-8"))["modules"]
    modules = [target["module"] for target in scope["target"]]
    assert sorted(m for m in modules if m not in mapped) == []
    for module in modules:
        assert mapped[module], f"no self-test reaches {module}"
        missing = [test for test in mapped[module] if not (REPO / test).is_file()]
        assert missing == [], f"{module}: run `python mutation/run.py --map` ({missing[:3]})"


def test_every_listed_equivalent_names_a_line_that_exists() -> None:
    """An ``[[equivalent]]`` entry whose line moved away (a module split, a line reworded)
    matches nothing: it reads as reasoning kept while it covers no mutant. Each must match a
    whole line of its module as it is, so moving code means re-reading the reason with it."""
    import re

    _, targets, equivalents = run.load_scope(REPO / "mutation" / "scope.toml")
    lines = {
        t.module: [line.strip() for line in (REPO / t.module).read_text("utf-8").splitlines()]
        for t in targets
    }
    stale = [
        f"{entry.module}: {entry.line}"
        for entry in equivalents
        if not any(
            re.fullmatch(entry.line, line)
            for module in (list(lines) if entry.module == "*" else [entry.module])
            for line in lines.get(module, [])
        )
    ]
    assert stale == [], "re-point or remove (re-reading the reason): " + "; ".join(stale)


@pytest.mark.parametrize(
    ("jobs", "percent", "size"),
    [
        pytest.param(100, 15, 15, id="fifteen-percent"),
        pytest.param(4, 15, 1, id="at-least-one"),
        pytest.param(3, 100, 3, id="all"),
        pytest.param(0, 15, 0, id="none-to-sample"),
    ],
)
def test_a_sample_is_its_share_of_the_mutants(jobs: int, percent: float, size: int) -> None:
    assert len(run.sampled([f"op#{n}" for n in range(jobs)], percent, "m.py")) == size


def test_the_same_code_gives_the_same_sample_whatever_the_order() -> None:
    jobs = [f"op#{n}" for n in range(50)]
    first = run.sampled(jobs, 20, "m.py")
    assert run.sampled(list(reversed(jobs)), 20, "m.py") == first
    assert run.sampled(jobs, 20, "other.py") != first  # each module its own draw


def test_a_lane_python_sees_the_lanes_code_even_with_a_scrubbed_environment(
    tmp_path: Path,
) -> None:
    """A self-test that starts Python without PYTHONPATH (the watch command's, the workflow
    steps') must still run the mutant: in a lane, `python` and the commands beside it import
    the lane's src, never the checkout's editable install."""
    lane = tmp_path / "lane"
    (lane / "src" / "umbrella_checks").mkdir(parents=True)
    (lane / "src" / "umbrella_checks" / "__init__.py").write_text("WHERE = 'the lane'\n")
    made = run.make_venv(lane)
    seen = subprocess.run(
        ["python", "-c", "import umbrella_checks, httpx; print(umbrella_checks.WHERE)"],
        env={"PATH": f"{made / 'bin'}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert seen.stdout.strip() == "the lane", seen.stderr
    pytest_script = (made / "bin" / "pytest").read_text().splitlines()[0]
    assert pytest_script == f"#!{made / 'bin' / 'python'}"


def test_the_order_file_names_each_test_from_where_the_run_started(tmp_path: Path) -> None:
    # A test that moves into a scratch folder (pytester, monkeypatch.chdir) is still named from
    # the lane the run started in: the judge runs these names from a lane, and a name through
    # the scratch folder pointed into the baseline's lane, so a mutant judged in another lane
    # ran the module's whole list instead of the few tests that execute its line.
    tests = tmp_path / "lane" / "tests"
    tests.mkdir(parents=True)
    (tests / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tests / "test_moves.py").write_text(
        "import pytest\n"
        "@pytest.fixture\n"
        "def elsewhere(tmp_path, monkeypatch):\n"
        "    monkeypatch.chdir(tmp_path)  # at setup, as pytester does\n"
        "def test_moves_away(elsewhere):\n"
        "    pass\n"
        "def test_stays():\n"
        "    pass\n",
        encoding="utf-8",
    )
    order = tmp_path / "order.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "contexts", "-p", "no:randomly", "tests"],
        cwd=tests.parent,
        env={
            **os.environ,
            "PYTHONPATH": str(REPO / "mutation"),
            "MUTATION_ORDER_FILE": str(order),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    named = sorted(entry[1] for entry in json.loads(order.read_text(encoding="utf-8")))
    assert named == ["tests/test_moves.py::test_moves_away", "tests/test_moves.py::test_stays"]
