"""One settings object, resolved once per run.

Precedence, for every value: command line > environment variable > config file > default.
Secrets (tokens, API keys) come from environment variables only, never from files or the
command line, where they would land in shell history and CI logs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from umbrella_checks import ENVIRONMENTS
from umbrella_checks.access import (
    ClerkAccess,
    CloudflareAccess,
    SentryAccess,
    SettingsError,
    clerk_access,
    cloudflare_access,
    sentry_access,
    validate_url,
)
from umbrella_checks.config.loading import load_config
from umbrella_checks.config.suite import SuiteConfig
from umbrella_checks.sandbox.info import SandboxInfo
from umbrella_checks.secrets import Secret, SecretError, from_env
from umbrella_checks.services.clerk import ID_VARS
from umbrella_checks.target.accounts import TOKEN_VARS
from umbrella_checks.target.safety import sensitive_reason
from umbrella_checks.transport import bundle_problem, given_trust_store


def sandbox_cloudflare(sandbox: SandboxInfo) -> CloudflareAccess | None:
    """The sandbox's own Cloudflare (services.py), as the run reads a real one."""
    given = sandbox.services
    if not given:
        return None
    return CloudflareAccess(
        Secret("the sandbox's Cloudflare token", given["cloudflare_token"]),
        given["cloudflare_account"],
        None,
        given["cloudflare_api"],
        given["cloudflare_zone"],
    )


def sandbox_sentry(sandbox: SandboxInfo) -> SentryAccess | None:
    """The sandbox's own Sentry (services.py), as the run reads a real one."""
    given = sandbox.services
    if not given:
        return None
    return SentryAccess(
        Secret("the sandbox's Sentry token", given["sentry_token"]),
        given["sentry_org"],
        given["sentry_project"],
        given["sentry_url"],
    )


@dataclass(frozen=True)
class Settings:
    base_url: str
    base_url_source: str
    environment: str
    environment_source: str
    config: SuiteConfig
    config_path: Path | None
    app_dir: Path | None
    d1_sqlite: Path | None
    migrations_dir: Path | None
    expected_version: str | None
    allow_destructive: bool
    strict_skips: bool
    tokens: dict[str, Secret | None]
    cloudflare: CloudflareAccess | None
    sandbox: SandboxInfo | None = None
    sentry: SentryAccess | None = None
    clerk: ClerkAccess | None = None
    # A pre-deploy baseline to compare with, and where to write one (operations/baseline.py).
    baseline: Path | None = None
    baseline_out: Path | None = None

    @property
    def latency_samples(self) -> int:
        """Samples per critical route: ``[budgets] samples``, or ``[baseline] samples`` when a
        baseline is taken or compared with (a rank test needs more)."""
        if self.baseline or self.baseline_out:
            return max(self.config.baseline.samples, self.config.budgets.samples)
        return self.config.budgets.samples

    def token_source(self, account: str) -> str:
        secret = self.tokens.get(account)
        if secret:
            return f"{secret.source} (set)"
        if self.clerk and account in self.clerk.mint:
            return f"minted per run via Clerk for {ID_VARS[account]}"
        return "not set"


Getter = Callable[[str], Any]


def _pick(
    cli: Any,
    env_name: str | None,
    environ: Mapping[str, str],
    file_value: Any,
    default: Any,
    cli_name: str,
) -> tuple[Any, str]:
    if cli not in (None, ""):
        return cli, cli_name
    if env_name and environ.get(env_name, "").strip():
        return environ[env_name].strip(), env_name
    if file_value not in (None, ""):
        return file_value, "config file"
    return default, "default"


def _path(value: Any, source: str, must_exist: bool = True) -> Path | None:
    if value in (None, ""):
        return None
    path = Path(str(value)).expanduser()
    if must_exist and not path.exists():
        raise SettingsError(f"{source}: {path} does not exist; give an existing path")
    return path


def find_config(option: Getter, environ: Mapping[str, str], rootdir: Path) -> Path | None:
    """The thresholds file: --umbrella-config > UMBRELLA_CONFIG > <rootdir>/umbrella.toml."""
    value, source = _pick(
        option("umbrella_config"), "UMBRELLA_CONFIG", environ, None, None, "--umbrella-config"
    )
    if value:
        path = Path(str(value))
        if not path.exists():
            raise SettingsError(f"{source}: config file {path} does not exist")
        return path
    default = rootdir / "umbrella.toml"
    return default if default.exists() else None


def _environment(
    option: Getter, environ: Mapping[str, str], file_value: str | None, sandbox: bool
) -> tuple[str, str]:
    environment, source = _pick(
        option("environment"),
        "ENVIRONMENT",
        environ,
        file_value,
        "development" if sandbox else "production",
        "--umbrella-environment",
    )
    if environment not in ENVIRONMENTS:
        raise SettingsError(
            f"{source}: unknown environment {environment!r}; use one of {', '.join(ENVIRONMENTS)}"
        )
    return str(environment), source


def _target(
    option: Getter, environ: Mapping[str, str], config: SuiteConfig, required: bool
) -> tuple[str, str]:
    """The base URL and where it came from; ("", "none") when there is none and none is needed."""
    cli = option("base_url")
    value, source = _pick(cli, "API_URL", environ, None, None, "--base-url")
    if not value:
        file_value = config.target.base_url or option("base_url_ini")
        value, source = _pick(None, "PYTEST_BASE_URL", environ, file_value, None, "")
    if not value:
        if required:
            raise SettingsError(NO_TARGET)
        return "", "none"
    return validate_url(str(value), source), source


NO_TARGET = (
    "no target: pass --base-url=https://umbrella.app (or set API_URL), "
    "or --umbrella-sandbox to run against the bundled sandbox"
)


def _refuse_destructive_on_production(base_url: str, environment: str, config: SuiteConfig) -> None:
    reason = sensitive_reason(base_url, environment, config.safety.sensitive_url)
    if reason:
        raise SettingsError(
            f"--umbrella-allow-destructive refused: {reason}; destructive checks run only "
            "against staging, preview or development (--umbrella-environment staging "
            "--base-url <staging URL>)"
        )


def _local_inputs(option: Getter, environ: Mapping[str, str]) -> tuple[Path | None, Path | None]:
    """The app checkout and a local D1 file, when given."""
    app_value, app_source = _pick(
        option("app_dir"), "UMBRELLA_APP_DIR", environ, None, None, "--umbrella-app-dir"
    )
    d1_value, d1_source = _pick(
        option("d1_sqlite"), "D1_SQLITE_PATH", environ, None, None, "--umbrella-d1-sqlite"
    )
    # Existence of the D1 file is the D1 check's to report (a database that went missing is a
    # finding), not a usage error.
    return _path(app_value, app_source), _path(d1_value, d1_source, must_exist=False)


def _one_target(option: Getter) -> None:
    """``--umbrella-sandbox`` brings its own target, app dir and database: another one given on
    the same command line would be silently ignored (the environment's are, by precedence)."""
    given = [
        flag
        for name, flag in (
            ("base_url", "--base-url"),
            ("app_dir", "--umbrella-app-dir"),
            ("d1_sqlite", "--umbrella-d1-sqlite"),
        )
        if option(name)
    ]
    if given:
        raise SettingsError(
            f"{' and '.join(given)} with --umbrella-sandbox: the sandbox brings its own target, "
            "app dir and database; drop one or the other"
        )


@dataclass(frozen=True)
class _Where:
    """What the run points at: the sandbox's target and inputs, or the ones the user gave."""

    base_url: str
    source: str
    tokens: dict[str, Secret | None]
    app_dir: Path | None
    d1_sqlite: Path | None

    @classmethod
    def sandbox(cls, sandbox: SandboxInfo) -> _Where:
        tokens: dict[str, Secret | None] = {
            key: Secret(f"sandbox {key} account", sandbox.tokens[key]) for key in TOKEN_VARS
        }
        return cls(sandbox.url, "--umbrella-sandbox", tokens, sandbox.app_dir, sandbox.d1_sqlite)

    @classmethod
    def given(
        cls, option: Getter, environ: Mapping[str, str], config: SuiteConfig, required: bool
    ) -> _Where:
        base_url, source = _target(option, environ, config, required)
        tokens = {key: from_env(*names) for key, names in TOKEN_VARS.items()}
        return cls(base_url, source, tokens, *_local_inputs(option, environ))


def resolve(
    option: Getter,
    environ: Mapping[str, str],
    rootdir: Path,
    start_sandbox: Callable[[str], SandboxInfo] | None = None,
    *,
    target_required: bool = True,
) -> Settings:
    """Build the run's Settings; raises SettingsError (or ConfigError) with one line: see
    ``_resolve`` (a secret that cannot be sent is a SettingsError too, naming its variable)."""
    try:
        return _resolve(option, environ, rootdir, start_sandbox, target_required=target_required)
    except SecretError as exc:
        raise SettingsError(str(exc)) from None


def _resolve(
    option: Getter,
    environ: Mapping[str, str],
    rootdir: Path,
    start_sandbox: Callable[[str], SandboxInfo] | None = None,
    *,
    target_required: bool = True,
) -> Settings:
    """Build the run's Settings.

    ``start_sandbox`` (given with ``--umbrella-sandbox``) is called with the resolved
    environment and returns the sandbox that then replaces target, tokens, app dir and
    database. Without ``target_required`` a missing target resolves to ``base_url == ""``
    (the plugin then refuses only the checks that need one). Long only by the Settings
    constructor's keywords.
    """
    config_path = find_config(option, environ, rootdir)
    first = load_config(config_path, "production")
    environment, environment_source = _environment(
        option, environ, first.target.environment, start_sandbox is not None
    )
    config = load_config(config_path, environment)
    ca_file = Path(config.tls.ca_file).expanduser() if config.tls.ca_file else None
    if ca_file is not None and not ca_file.is_file():
        raise SettingsError(
            f"{config_path}: tls.ca_file: {config.tls.ca_file} does not exist; give the path "
            "of a PEM bundle, or remove the key to use the platform's trust store"
        )
    if ca_file is not None and (problem := bundle_problem(str(ca_file))):
        raise SettingsError(
            f"{config_path}: tls.ca_file: {config.tls.ca_file} is {problem}; give the path of "
            "a PEM bundle, or remove the key to use the platform's trust store"
        )
    bundle = given_trust_store(environ)
    if bundle and (problem := bundle_problem(bundle)):
        raise SettingsError(
            f"SSL_CERT_FILE={bundle} is {problem}; point it at a PEM bundle (a proxy's or a "
            "private CA's), or unset it to trust certifi's"
        )
    if start_sandbox is not None:
        _one_target(option)
    sandbox = start_sandbox(environment) if start_sandbox else None
    if sandbox:
        where = _Where.sandbox(sandbox)
    else:
        where = _Where.given(option, environ, config, target_required)
    allow_destructive = bool(option("allow_destructive"))
    if allow_destructive:
        _refuse_destructive_on_production(where.base_url, environment, config)
    expected_version, _ = _pick(
        option("expected_version"),
        "EXPECTED_VERSION",
        environ,
        None,
        None,
        "--umbrella-expected-version",
    )
    baseline, baseline_source = _pick(
        option("baseline"), "UMBRELLA_BASELINE", environ, None, None, "--umbrella-baseline"
    )
    baseline_out = _path(option("baseline_out"), "--umbrella-baseline-out", must_exist=False)
    if baseline and baseline_out:
        raise SettingsError(
            "--umbrella-baseline-out and --umbrella-baseline in one run: take the baseline "
            "before the deploy, compare with it after"
        )
    return Settings(
        base_url=where.base_url,
        base_url_source=where.source,
        environment=environment,
        environment_source=environment_source,
        config=config,
        config_path=config_path,
        app_dir=where.app_dir,
        d1_sqlite=where.d1_sqlite,
        migrations_dir=_path(option("migrations_dir"), "--umbrella-migrations-dir"),
        expected_version=str(expected_version) if expected_version else None,
        allow_destructive=allow_destructive,
        strict_skips=bool(option("strict_skips")),
        tokens=where.tokens,
        # The environment's credentials win; a sandbox run without them reads the sandbox's
        # own Cloudflare and Sentry.
        cloudflare=cloudflare_access(environ) or (sandbox_cloudflare(sandbox) if sandbox else None),
        sandbox=sandbox,
        sentry=sentry_access(environ) or (sandbox_sentry(sandbox) if sandbox else None),
        clerk=clerk_access(environ, where.tokens),
        baseline=_path(baseline, baseline_source, must_exist=False),
        baseline_out=baseline_out,
    )


def script_config(
    environ: Mapping[str, str], rootdir: Path, config_option: str | None = None
) -> tuple[SuiteConfig, str]:
    """The thresholds and expected environment for the commands outside pytest (perf, the
    locustfile, monitor): the same file lookup and ``[env.*]`` overrides as a pytest run."""
    option: Getter = lambda name: config_option if name == "umbrella_config" else None  # noqa: E731
    path = find_config(option, environ, rootdir)
    environment, _ = _environment(
        option, environ, load_config(path, "production").target.environment, False
    )
    return load_config(path, environment), environment
