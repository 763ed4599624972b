"""Installed beside other projects, the suite stays out of their way; inside, one way each."""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import umbrella_checks
from umbrella_checks.sandbox import Sandbox

UNRELATED_TESTS = """
import pytest

@pytest.fixture
def settings():
    return {"theme": "dark"}  # a fixture name the suite also uses: theirs must win

def test_their_own_fixture(settings):
    assert settings == {"theme": "dark"}

def test_base_url_comes_from_pytest_base_url(base_url):
    assert base_url == "https://shop.example"
"""


def _files(root: Path) -> set[Path]:
    # pytester keeps its own basetemp and captured output beside the project.
    own = ("runpytest-", "stdout", "stderr", "__pycache__")
    return {
        path.relative_to(root)
        for path in root.rglob("*")
        if not any(part.startswith(own) for part in path.relative_to(root).parts)
    }


def test_an_unrelated_project_runs_untouched_and_nothing_is_written(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The variables a scheduled umbrella run would have: they must not wake the plugin.
    monkeypatch.setenv("API_URL", "https://umbrella.app")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "http://127.0.0.1:9/never-posted")
    pytester.makepyfile(test_shop=UNRELATED_TESTS)
    before = _files(pytester.path)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--base-url=https://shop.example"
    )
    result.assert_outcomes(passed=2)
    assert _files(pytester.path) == before
    assert "umbrella:" not in result.stdout.str()  # no header lines, no request tally


def test_an_ini_switch_turns_the_plugin_on_without_umbrella_toml(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\numbrella_checks = true\n")
    result = pytester.runpytest_subprocess("--markers")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["@pytest.mark.postdeploy: *"])


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--help"], id="help"),
        pytest.param(["--markers"], id="markers"),
        pytest.param(["--fixtures"], id="fixtures"),
        pytest.param(["--collect-only", "-q", "-m", "postdeploy"], id="collect-only"),
        pytest.param(["--version"], id="version"),
    ],
)
def test_listing_works_without_a_target(
    pytester: pytest.Pytester, suite_dir: Path, args: list[str]
) -> None:
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == 0, result.stderr.str()
    assert "no target" not in result.stdout.str() + result.stderr.str()
    assert not (suite_dir / "reports").exists()


@pytest.mark.parametrize(
    "disabled",
    [
        pytest.param(["-p", "no:xdist"], id="without-xdist"),
        pytest.param(["-p", "no:html"], id="without-pytest-html"),
    ],
)
def test_a_run_works_with_an_optional_plugin_disabled(
    pytester: pytest.Pytester, suite_dir: Path, disabled: list[str]
) -> None:
    """The hooks for xdist and pytest-html are optional: a run without them is not a crash."""
    result = pytester.runpytest_subprocess(*disabled, "--umbrella-sandbox", "checks/test_health.py")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] >= 1
    assert "failed" not in outcomes


@pytest.mark.parametrize(
    "switch",
    [
        pytest.param(["-p", "umbrella_checks"], id="p-then-name"),
        pytest.param(["-pumbrella_checks"], id="p-joined"),
    ],
)
def test_naming_the_plugin_turns_it_on_without_umbrella_toml(
    pytester: pytest.Pytester, switch: list[str]
) -> None:
    result = pytester.runpytest_subprocess(*switch, "--markers")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["@pytest.mark.postdeploy: *"])


def test_a_config_given_turns_the_plugin_on_without_umbrella_toml(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = pytester.path / "elsewhere.toml"
    config.write_text("[health]\npath = '/health'\n", encoding="utf-8")
    given = pytester.runpytest_subprocess(f"--umbrella-config={config}", "--markers")
    given.stdout.fnmatch_lines(["@pytest.mark.postdeploy: *"])
    monkeypatch.setenv("UMBRELLA_CONFIG", str(config))
    from_environment = pytester.runpytest_subprocess("--markers")
    from_environment.stdout.fnmatch_lines(["@pytest.mark.postdeploy: *"])


@pytest.mark.parametrize("listing", ["--help", "--markers"])
def test_listing_starts_no_sandbox(
    pytester: pytest.Pytester, suite_dir: Path, listing: str
) -> None:
    """Nothing runs, so nothing starts: a bad fault switch is not even read."""
    result = pytester.runpytest_subprocess(
        "--umbrella-sandbox", "--umbrella-sandbox-fault=no-such-fault", listing
    )
    assert result.ret == 0, result.stderr.str()


def test_fault_switches_without_the_sandbox_start_nothing(
    pytester: pytest.Pytester, suite_dir: Path
) -> None:
    result = pytester.runpytest_subprocess(
        "--co", "-q", "--base-url=http://127.0.0.1:9", "--umbrella-sandbox-fault=no-such-fault"
    )
    assert result.ret == 0, result.stderr.str()


def test_checks_that_need_no_target_run_without_one(
    pytester: pytest.Pytester, suite_dir: Path, sandbox_server: Callable[..., Sandbox]
) -> None:
    sandbox = sandbox_server()
    result = pytester.runpytest_subprocess(
        "checks/test_database.py",
        f"--umbrella-d1-sqlite={sandbox.d1_sqlite}",
        f"--umbrella-app-dir={sandbox.app_dir}",
        "--umbrella-environment=development",
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    assert "umbrella: Target: none (from none)" in result.stdout.str()


# Every layer but the pytest wiring (``wiring/`` and the entry point ``plugin.py``).
DOMAIN_PACKAGES = ("config", "target", "services", "operations", "sandbox")
DOMAIN_MODULES = [
    "errors",
    "moments",
    "secrets",
    "transport",
    "__main__",
    *(
        module.name.removeprefix("umbrella_checks.")
        for package in DOMAIN_PACKAGES
        for module in pkgutil.walk_packages(
            [str(Path(umbrella_checks.__file__).parent / package)], f"umbrella_checks.{package}."
        )
        if not module.name.endswith("sandbox.__main__")
    ),
]


def test_domain_modules_never_import_pytest() -> None:
    """Locust processes, the monitor and the sandbox import these; pytest has no place there."""
    assert len(DOMAIN_MODULES) > 30
    imports = "; ".join(f"import umbrella_checks.{name}" for name in DOMAIN_MODULES)
    code = f"import sys; {imports}; print(sorted(m for m in sys.modules if m == 'pytest'))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_loading_the_plugin_elsewhere_costs_no_http_client_or_checks() -> None:
    """Every pytest run in the environment loads the entry point: it imports only the option
    table, the config's environments and the fault switches — not httpx, the hooks or the
    sandbox server."""
    code = (
        "import sys, umbrella_checks.plugin; print(sorted(m for m in ('httpx', "
        "'umbrella_checks.wiring.hooks', 'umbrella_checks.wiring.fixtures', "
        "'umbrella_checks.sandbox.server') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "plugin", [pytest.param("junitxml", id="no-junitxml"), pytest.param("xdist", id="no-xdist")]
)
def test_a_tier_runs_with_a_standard_plugin_turned_off(
    pytester: pytest.Pytester, suite_dir: Path, plugin: str
) -> None:
    result = pytester.runpytest_subprocess(
        "-m", "postdeploy", "--umbrella-sandbox", "-p", f"no:{plugin}"
    )
    assert result.ret == 0, result.stdout.str()[-2000:] + result.stderr.str()[-2000:]
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_n_auto_means_what_xdist_says_for_the_suite_too(
    pytester: pytest.Pytester, suite_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-n auto` is xdist's count (the cores), as in any project: more workers than cores only
    cost start-up time here (each ~0.3 s of CPU), and the tier sends its requests together."""
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    ours = pytester.runpytest_subprocess(
        "--umbrella-sandbox", "-n", "auto", "checks/test_health.py"
    )
    elsewhere = pytester.mkdir("elsewhere")
    (elsewhere / "test_shop.py").write_text("def test_one():\n    pass\n", encoding="utf-8")
    theirs = pytester.runpytest_subprocess(
        "-p", "no:umbrella_checks", "-n", "auto", "--rootdir", str(elsewhere), elsewhere
    )
    counts = [re.findall(r"created: \d+/\d+ workers", r.stdout.str()) for r in (ours, theirs)]
    assert counts[0] == counts[1] != []


def test_a_pytest_run_does_not_import_locust() -> None:
    code = (
        "import sys, umbrella_checks.plugin, umbrella_checks.wiring.hooks, "
        "umbrella_checks.wiring.fixtures; "
        "print(sorted(m for m in ('locust', 'gevent', 'flask', 'zmq') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_a_project_with_its_own_environment_sandbox_and_alert_options_runs_unharmed(
    pytester: pytest.Pytester,
) -> None:
    """The entry point registers its options in every pytest run of the environment: all of
    them carry the umbrella prefix, so a project's own --environment, --sandbox or --alert
    (and their dests) never collide with them."""
    pytester.makeconftest(
        """
        def pytest_addoption(parser):
            parser.addoption("--environment", dest="environment", default="dev")
            parser.addoption("--sandbox", dest="sandbox", action="store_true")
            parser.addoption("--alert", dest="alert", action="store_true")
            parser.addoption("--reports-dir", dest="reports_dir")
        """
    )
    pytester.makepyfile(
        test_theirs="""
        def test_their_options(pytestconfig):
            assert pytestconfig.getoption("environment") == "qa"
            assert pytestconfig.getoption("sandbox") is True
            assert pytestconfig.getoption("alert") is True
        """
    )
    result = pytester.runpytest_subprocess("--environment=qa", "--sandbox", "--alert")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=1)
    assert "umbrella" not in result.stdout.str().lower().replace("umbrella-checks-", "")


def test_a_per_test_timeout_shorter_than_a_request_is_one_line(
    pytester: pytest.Pytester, suite_dir: Path
) -> None:
    """pytest-timeout cutting a request short would dump every prefetch thread's stack; the
    run refuses that setting up front instead (10 s read + 5 s connect by default)."""
    short = pytester.runpytest_subprocess("--timeout=3", "-m", "postdeploy", "--umbrella-sandbox")
    assert short.ret == pytest.ExitCode.USAGE_ERROR
    (line,) = [line for line in short.stderr.lines if line.strip()]
    assert "pytest-timeout's limit (3 s) is not longer than one request's own timeouts" in line
    roomy = pytester.runpytest_subprocess(
        "--timeout=60", "checks/test_health.py", "--umbrella-sandbox"
    )
    assert roomy.ret == 0, roomy.stdout.str()
