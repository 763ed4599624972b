"""Access to the services a run reads besides the target — Cloudflare's APIs, Sentry, Clerk —
from the environment only: each a small value naming its base URL and credentials (secrets held
as ``Secret``), or None when its variables are not set. Also how a URL from the user is checked
(one line naming where it came from, its password never shown).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from umbrella_checks.config.suite import SuiteConfig
from umbrella_checks.secrets import Secret, from_env
from umbrella_checks.services.clerk import CLERK_API, ID_VARS, ClerkApi, frontend_api_of


class SettingsError(Exception):
    """One line for the user: what is wrong and what to do."""


CLOUDFLARE_API = "https://api.cloudflare.com/client/v4"


@dataclass(frozen=True)
class CloudflareAccess:
    api_token: Secret
    account_id: str
    database_id: str | None
    api_base: str
    # The zone serving the API (HTTP analytics: status codes, countries, paths).
    zone_id: str | None = None


@dataclass(frozen=True)
class ClerkAccess:
    secret: Secret
    api_base: str
    # account -> ClerkApi user id, for the accounts without a static token
    mint: dict[str, str]
    # The instance's Frontend API (production instances sign in with sign-in tokens there).
    frontend_api: str | None = None


@dataclass(frozen=True)
class SentryAccess:
    token: Secret
    org: str
    project: str
    base_url: str


SENTRY_VARS = ("SENTRY_AUTH_TOKEN", "SENTRY_ORG", "SENTRY_PROJECT")


def validate_url(url: str, source: str) -> str:
    """The URL as given, checked the way the HTTP client will read it; one line (never the
    credentials it may carry) when it is no URL to send to."""
    try:
        parts = urlsplit(url)
        parsed = httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        raise SettingsError(
            f"{source}: {_shown(url)!r} is not a valid URL ({exc}); give one like "
            "https://umbrella.app"
        ) from None
    if parts.username is not None or parts.password is not None:
        raise SettingsError(
            f"{source}: {_shown(url)!r} carries credentials (user:password@): they would be "
            "sent to the target and written to every report; remove them (the suite takes its "
            "credentials from environment variables only)"
        )
    if parts.scheme not in ("http", "https") or not parsed.host:
        raise SettingsError(
            f"{source}: {url!r} is not an http(s) URL with a host; "
            "give one like https://umbrella.app"
        )
    if "" in parsed.host.rstrip(".").split(".") and not parsed.host.startswith("["):
        raise SettingsError(f"{source}: {url!r} has an empty part in its host name; check dots")
    if parts.query or parts.fragment:
        raise SettingsError(f"{source}: {url!r} has a query or fragment; give the bare base URL")
    try:
        parts.port  # noqa: B018 — raises on a malformed port
    except ValueError:
        raise SettingsError(f"{source}: {url!r} has an invalid port") from None
    return url.rstrip("/")


def _shown(url: str) -> str:
    """A URL as it may be shown: whatever stands before an ``@`` in its authority masked."""
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    return f"{scheme}{sep}{authority}{slash}{path}" if sep else url


def _env_url(environ: Mapping[str, str], name: str, default: str) -> str:
    return validate_url(environ.get(name, "").strip() or default, name)


def cloudflare_access(environ: Mapping[str, str]) -> CloudflareAccess | None:
    token = from_env("CLOUDFLARE_API_TOKEN")
    account_id = environ.get("CLOUDFLARE_ACCOUNT_ID", "").strip()
    if not (token and account_id):
        return None
    database_id = environ.get("D1_DATABASE_ID", "").strip() or None
    return CloudflareAccess(
        token,
        account_id,
        database_id,
        _env_url(environ, "CLOUDFLARE_API_BASE_URL", CLOUDFLARE_API),
        environ.get("CLOUDFLARE_ZONE_ID", "").strip() or None,
    )


def clerk_access(
    environ: Mapping[str, str], tokens: Mapping[str, Secret | None]
) -> ClerkAccess | None:
    """Clerk minting for the accounts that have a Clerk user id and no static token."""
    secret = from_env("CLERK_SECRET_KEY")
    mint = {
        account: environ[var].strip()
        for account, var in ID_VARS.items()
        if tokens.get(account) is None and environ.get(var, "").strip()
    }
    if not (secret and mint):
        return None
    frontend = environ.get("CLERK_FRONTEND_API_URL", "").strip() or frontend_api_of(
        environ.get("CLERK_PUBLISHABLE_KEY", "").strip()
    )
    return ClerkAccess(
        secret,
        _env_url(environ, "CLERK_API_URL", CLERK_API),
        mint,
        validate_url(frontend, "CLERK_FRONTEND_API_URL") if frontend else None,
    )


def sentry_access(environ: Mapping[str, str]) -> SentryAccess | None:
    token = from_env("SENTRY_AUTH_TOKEN")
    org = environ.get("SENTRY_ORG", "").strip()
    project = environ.get("SENTRY_PROJECT", "").strip()
    if not (token and org and project):
        return None
    return SentryAccess(
        token, org, project, _env_url(environ, "SENTRY_BASE_URL", "https://sentry.io")
    )


def clerk_client(access: ClerkAccess, config: SuiteConfig) -> ClerkApi:
    return ClerkApi(
        access.secret, access.api_base, config.http, config.clerk.template, access.frontend_api
    )
