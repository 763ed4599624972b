"""One settings object, resolved once per run.

Precedence, for every value: command line > environment variable > config file > default.
Secrets (tokens, API keys) come from environment variables only, never from files or the
command line, where they would land in shell history and CI logs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from umbrella_checks.clerk import CLERK_API, ID_VARS
from umbrella_checks.config import ENVIRONMENTS, SuiteConfig, load_config
from umbrella_checks.safety import sensitive_reason
from umbrella_checks.secrets import Secret, from_env

# account -> environment variables that may hold its token, first wins.
TOKEN_VARS: dict[str, tuple[str, ...]] = {
    "user": ("UMBRELLA_USER_TOKEN", "SMOKE_TEST_TOKEN"),
    "admin": ("UMBRELLA_ADMIN_TOKEN",),
    "limit": ("UMBRELLA_LIMIT_TOKEN",),
}

CLOUDFLARE_API = "https://api.cloudflare.com/client/v4"


class SettingsError(Exception):
    """One line for the user: what is wrong and what to do."""


@dataclass(frozen=True)
class SandboxInfo:
    """What a running sandbox tells the suite about itself."""

    url: str
    environment: str
    version: str
    app_dir: Path
    d1_sqlite: Path
    tokens: dict[str, str] = field(repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SandboxInfo:
        return cls(
            url=data["url"],
            environment=data["environment"],
            version=data["version"],
            app_dir=Path(data["app_dir"]),
            d1_sqlite=Path(data["d1_sqlite"]),
            tokens=dict(data["tokens"]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "environment": self.environment,
            "version": self.version,
            "app_dir": str(self.app_dir),
            "d1_sqlite": str(self.d1_sqlite),
            "tokens": self.tokens,
        }


@dataclass(frozen=True)
class CloudflareAccess:
    api_token: Secret
    account_id: str
    database_id: str | None
    api_base: str


@dataclass(frozen=True)
class ClerkAccess:
    secret: Secret
    api_base: str
    # account -> Clerk user id, for the accounts without a static token
    mint: dict[str, str]


@dataclass(frozen=True)
class SentryAccess:
    token: Secret
    org: str
    project: str
    base_url: str


SENTRY_VARS = ("SENTRY_AUTH_TOKEN", "SENTRY_ORG", "SENTRY_PROJECT")


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


def validate_url(url: str, source: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(
            f"{source}: {url!r} is not an http(s) URL with a host; "
            "give one like https://umbrella.app"
        )
    if parts.query or parts.fragment:
        raise SettingsError(f"{source}: {url!r} has a query or fragment; give the bare base URL")
    try:
        parts.port  # noqa: B018 — raises on a malformed port
    except ValueError:
        raise SettingsError(f"{source}: {url!r} has an invalid port") from None
    return url.rstrip("/")


def _path(value: Any, source: str, must_exist: bool = True) -> Path | None:
    if value in (None, ""):
        return None
    path = Path(str(value)).expanduser()
    if must_exist and not path.exists():
        raise SettingsError(f"{source}: {path} does not exist; give an existing path")
    return path


def resolve(
    option: Getter,
    environ: Mapping[str, str],
    rootdir: Path,
    start_sandbox: Callable[[str], SandboxInfo] | None = None,
) -> Settings:
    """Build the run's Settings; raises SettingsError with a one-line message.

    ``start_sandbox`` (given with ``--sandbox``) is called with the resolved environment and
    returns the sandbox that then replaces target, tokens, app dir and database.
    """
    config_cli = option("umbrella_config")
    config_value, config_source = _pick(
        config_cli, "UMBRELLA_CONFIG", environ, None, None, "--umbrella-config"
    )
    config_path: Path | None
    if config_value:
        config_path = Path(str(config_value))
        if not config_path.exists():
            raise SettingsError(f"{config_source}: config file {config_path} does not exist")
    else:
        default = rootdir / "umbrella.toml"
        config_path = default if default.exists() else None

    first = load_config(config_path, "production")
    default_env = "development" if start_sandbox else "production"
    environment, environment_source = _pick(
        option("environment"),
        "ENVIRONMENT",
        environ,
        first.target.environment,
        default_env,
        "--environment",
    )
    if environment not in ENVIRONMENTS:
        raise SettingsError(
            f"{environment_source}: unknown environment {environment!r}; "
            f"use one of {', '.join(ENVIRONMENTS)}"
        )
    config = load_config(config_path, environment)

    sandbox = start_sandbox(str(environment)) if start_sandbox else None
    app_dir: Path | None
    d1_sqlite: Path | None
    if sandbox:
        base_url, base_source = sandbox.url, "--sandbox"
    else:
        base_url, base_source = _pick(
            option("base_url"), "API_URL", environ, config.target.base_url, None, "--base-url"
        )
        if not base_url:
            raise SettingsError(
                "no target: pass --base-url https://umbrella.app (or set API_URL), "
                "or --sandbox to run against the bundled sandbox"
            )
    base_url = validate_url(str(base_url), base_source)

    allow_destructive = bool(option("allow_destructive"))
    if allow_destructive:
        reason = sensitive_reason(base_url, environment, config.safety.sensitive_url)
        if reason:
            raise SettingsError(
                f"--allow-destructive refused: {reason}; destructive checks run only against "
                "staging, preview or development (--environment staging --base-url <staging URL>)"
            )

    if sandbox:
        tokens: dict[str, Secret | None] = {
            key: Secret(f"sandbox {key} account", sandbox.tokens[key]) for key in TOKEN_VARS
        }
        app_dir, d1_sqlite = sandbox.app_dir, sandbox.d1_sqlite
    else:
        tokens = {key: from_env(*names) for key, names in TOKEN_VARS.items()}
        app_value, app_source = _pick(
            option("app_dir"), "UMBRELLA_APP_DIR", environ, None, None, "--app-dir"
        )
        app_dir = _path(app_value, app_source)
        d1_value, d1_source = _pick(
            option("d1_sqlite"), "D1_SQLITE_PATH", environ, None, None, "--d1-sqlite"
        )
        # Existence is the D1 check's to report (a database that went missing is a finding).
        d1_sqlite = _path(d1_value, d1_source, must_exist=False)
    migrations_dir = _path(option("migrations_dir"), "--migrations-dir")

    expected_version, _ = _pick(
        option("expected_version"), "EXPECTED_VERSION", environ, None, None, "--expected-version"
    )

    cf_token = from_env("CLOUDFLARE_API_TOKEN")
    account_id = environ.get("CLOUDFLARE_ACCOUNT_ID", "").strip()
    cloudflare = None
    if cf_token and account_id:
        api_base = validate_url(
            environ.get("CLOUDFLARE_API_BASE_URL", "").strip() or CLOUDFLARE_API,
            "CLOUDFLARE_API_BASE_URL",
        )
        cloudflare = CloudflareAccess(
            cf_token, account_id, environ.get("D1_DATABASE_ID", "").strip() or None, api_base
        )

    clerk = None
    clerk_secret = from_env("CLERK_SECRET_KEY")
    mint = {
        account: environ[var].strip()
        for account, var in ID_VARS.items()
        if tokens.get(account) is None and environ.get(var, "").strip()
    }
    if clerk_secret and mint:
        clerk = ClerkAccess(
            clerk_secret,
            validate_url(environ.get("CLERK_API_URL", "").strip() or CLERK_API, "CLERK_API_URL"),
            mint,
        )

    sentry = None
    sentry_token = from_env("SENTRY_AUTH_TOKEN")
    if sentry_token and environ.get("SENTRY_ORG") and environ.get("SENTRY_PROJECT"):
        sentry = SentryAccess(
            sentry_token,
            environ["SENTRY_ORG"].strip(),
            environ["SENTRY_PROJECT"].strip(),
            validate_url(
                environ.get("SENTRY_BASE_URL", "").strip() or "https://sentry.io", "SENTRY_BASE_URL"
            ),
        )

    return Settings(
        clerk=clerk,
        sentry=sentry,
        base_url=base_url,
        base_url_source=base_source,
        environment=str(environment),
        environment_source=environment_source,
        config=config,
        config_path=config_path,
        app_dir=app_dir,
        d1_sqlite=d1_sqlite,
        migrations_dir=migrations_dir,
        expected_version=str(expected_version) if expected_version else None,
        allow_destructive=allow_destructive,
        strict_skips=bool(option("strict_skips")),
        tokens=tokens,
        cloudflare=cloudflare,
        sandbox=sandbox,
    )
