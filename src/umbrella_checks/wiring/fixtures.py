"""The fixtures the checks use: the target, credentials, D1, external APIs, report helpers.

Loaded by the plugin (``pytest_plugins``); check modules import the helper types from here.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from umbrella_checks.config.matrix import Row
from umbrella_checks.config.settings import SENTRY_VARS, TOKEN_VARS, SentryAccess, Settings
from umbrella_checks.config.wrangler import WranglerApp, WranglerError
from umbrella_checks.errors import CouldNotCheck, MissingInput, Refused, fail
from umbrella_checks.operations import history
from umbrella_checks.secrets import Secret
from umbrella_checks.services.analytics import GraphQL
from umbrella_checks.services.clerk import HOW_TO_GET_ONE, ID_VARS, ClerkError, jwt_expiry
from umbrella_checks.services.d1 import D1ApiBackend, D1Backend, SqliteBackend
from umbrella_checks.target.client import Answer, ApiClient
from umbrella_checks.target.planning import Unplannable
from umbrella_checks.target.safety import destructive_refusal
from umbrella_checks.target.violet import exhaust
from umbrella_checks.transport import RequestCounter
from umbrella_checks.wiring.runstate import Probe, history_key, reports_dir, run_of


@pytest.fixture(scope="session")
def settings(pytestconfig: pytest.Config) -> Settings:
    """The run's resolved settings (target, environment, thresholds, credentials)."""
    return run_of(pytestconfig).settings


@pytest.fixture(scope="session")
def target_probe(pytestconfig: pytest.Config) -> Probe:
    """What the target said about itself at the start of the run (waits for its answer)."""
    return run_of(pytestconfig).settled_probe()


@pytest.fixture(scope="session")
def request_counter(pytestconfig: pytest.Config) -> RequestCounter:
    """Counts every request this process sends (the report shows the total)."""
    return run_of(pytestconfig).counter


def matrix_rows(config: pytest.Config) -> list[Row]:
    """The validated status-matrix rows, for the matrix check's parametrization."""
    return run_of(config).matrix


@pytest.fixture(scope="session")
def api(pytestconfig: pytest.Config) -> Iterator[ApiClient]:
    """The suite's client for the target (the run's ``--base-url``, pytest-base-url's
    ``base_url``): the one that sent the start-of-run probe and the tier's planned requests
    (see planning.py)."""
    run = run_of(pytestconfig)
    yield run.target_client()
    run.close_client()


def require_destructive(config: pytest.Config) -> None:
    """Refuse unless destructive work is allowed here (call it before any state change): the
    target must positively report a non-production environment (see safety.py)."""
    run = run_of(config)
    settings = run.settings
    refusal = destructive_refusal(
        allowed=settings.allow_destructive,
        base_url=settings.base_url,
        environment=settings.environment,
        pattern=settings.config.safety.sensitive_url,
        reported=run.settled_probe().reported,
    )
    if refusal:
        raise Refused(refusal)


@pytest.fixture(autouse=True)
def _destructive_guard(request: pytest.FixtureRequest) -> None:
    # Function-scoped: wider fixtures that change state must call require_destructive
    # themselves, since they are set up before this one.
    if request.node.get_closest_marker("destructive") is not None:
        require_destructive(request.config)


@pytest.fixture(scope="session")
def health(api: ApiClient, settings: Settings) -> Answer:
    """One GET of the health route, shared by the health checks (the service caches it 10 s)."""
    return api.get(settings.config.health.path)


@pytest.fixture
def health_facts(health: Answer) -> Answer:
    """The health answer, for the checks that read its fields. A non-200 answer is judged
    once, by ``test_health_answers_200``: a field it lacks is "cannot judge" ("expected field
    data.status, got an answer whose data has: NoneType" is no news); a field it has (a 503
    naming the dependency that is down) is judged as usual."""
    if health.status != 200:
        return dataclasses.replace(
            health,
            doubt=f"{health.route} answered {health.status} (test_health_answers_200 fails on it)",
        )
    return health


def credential(config: pytest.Config, account: str) -> Secret:
    """The account's token: static from the environment, or minted via Clerk for this run.

    Skips, naming the variables, when there is neither; fails when a static token has expired.
    """
    run = run_of(config)
    settings = run.settings
    static = settings.tokens.get(account)
    if static is not None:
        expires = jwt_expiry(static.reveal())
        if expires is not None and expires < time.time():
            stamp = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
            fail(
                f"{static.source} expired at {stamp} (Clerk session tokens live 60 s, so a "
                f"pasted one is dead by the time a scheduled run uses it): {HOW_TO_GET_ONE}"
            )
        return static
    store = run.tokens
    if store is not None and settings.clerk and account in settings.clerk.mint:
        try:
            return Secret(f"minted via Clerk for {ID_VARS[account]}", store.current(account))
        except ClerkError as exc:
            fail(str(exc))
    names = TOKEN_VARS[account]
    alias = f" (or {', '.join(names[1:])})" if len(names) > 1 else ""
    raise MissingInput(
        f"{names[0]}{alias} is not set: this check needs the {account} test account's "
        f"bearer token in that variable, or CLERK_SECRET_KEY and {ID_VARS[account]} to "
        "mint one"
    )


@pytest.fixture
def user_token(pytestconfig: pytest.Config) -> Secret:
    """A regular artist test account's token (UMBRELLA_USER_TOKEN)."""
    return credential(pytestconfig, "user")


@pytest.fixture
def admin_token(pytestconfig: pytest.Config) -> Secret:
    """An admin test account's token (UMBRELLA_ADMIN_TOKEN)."""
    return credential(pytestconfig, "admin")


@pytest.fixture
def limit_token(pytestconfig: pytest.Config) -> Secret:
    """The dedicated account whose Violet quota destructive checks may use up."""
    return credential(pytestconfig, "limit")


@pytest.fixture(scope="session")
def exhausted_token(pytestconfig: pytest.Config, settings: Settings, api: ApiClient) -> Secret:
    """A user over Violet's daily limit: ``UMBRELLA_EXHAUSTED_TOKEN`` when set (the sandbox
    sets its own), else the limit account once its quota is used up — destructive: guarded,
    and never against production."""
    static = settings.tokens.get("exhausted")
    if static is not None:
        return static
    require_destructive(pytestconfig)
    token = credential(pytestconfig, "limit")
    try:
        spent = exhaust(api, settings.config.violet, token)
    except CouldNotCheck:
        return token  # over its quota before the run: exactly what is asked for here
    if spent.refused is None:
        fail(
            f"POST {api.url(settings.config.violet.prompt_path)}: expected 429 once the limit "
            "account's quota was used up, got none (Violet's limit is not enforced)"
        )
    return token


INVALID_TOKEN = Secret("invalid-token", "invalid.token.for-umbrella-checks")


def planning_token(config: pytest.Config) -> Callable[[str], Secret | None]:
    """A ``who``'s credential for planning: never skips or fails, raises ``Unplannable``."""
    run = run_of(config)
    found: dict[str, Secret] = {}

    def pick(who: str) -> Secret | None:
        if who == "anonymous":
            return None
        if who == "invalid-token":
            return INVALID_TOKEN
        if who not in found:
            found[who] = lookup(who)
        return found[who]

    def lookup(who: str) -> Secret:
        static = run.settings.tokens.get(who)
        if static is not None:
            return static
        if run.tokens is not None and who in run.tokens.accounts():
            try:
                return Secret(f"minted via Clerk for {ID_VARS[who]}", run.tokens.current(who))
            except ClerkError:
                raise Unplannable(who) from None
        raise Unplannable(who)

    return pick


@pytest.fixture
def token_for(request: pytest.FixtureRequest, settings: Settings) -> Callable[[str], Secret | None]:
    """The credential for a matrix row's ``who``; skips naming the variable when it is unset."""

    def pick(who: str) -> Secret | None:
        if who == "anonymous":
            return None
        if who == "invalid-token":
            return INVALID_TOKEN
        if who == "limit-exhausted":
            return request.getfixturevalue("exhausted_token")  # type: ignore[no-any-return]
        return credential(request.config, who)

    return pick


class Figures:
    """Numbers a check records for the report (the runbook's "note growth trends")."""

    def __init__(self, node: pytest.Item) -> None:
        self._node = node

    def record(self, name: str, value: object) -> None:
        self._node.user_properties.append(("figure", (name, value)))


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    return Figures(request.node)


@pytest.fixture(scope="session")
def wrangler_app(settings: Settings) -> WranglerApp:
    """The app's wrangler.toml (from --app-dir, UMBRELLA_APP_DIR, or the sandbox)."""
    if settings.app_dir is None:
        raise MissingInput(
            "no app checkout: pass --app-dir=DIR (or set UMBRELLA_APP_DIR) so the "
            "suite can read wrangler.toml and the migrations folder"
        )
    try:
        app = WranglerApp.load(settings.app_dir)
        app.env(settings.environment)
    except WranglerError as exc:
        fail(str(exc))
    return app


@pytest.fixture(scope="session")
def d1(settings: Settings, request_counter: RequestCounter) -> D1Backend:
    """Read-only D1: --d1-sqlite / D1_SQLITE_PATH, else the Cloudflare D1 API."""
    if settings.d1_sqlite is not None:
        return SqliteBackend(settings.d1_sqlite)
    cloudflare = settings.cloudflare
    if cloudflare is None:
        raise MissingInput(
            "no D1 access: pass --d1-sqlite=PATH (or D1_SQLITE_PATH), or set "
            "CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID for the D1 API"
        )
    database_id = cloudflare.database_id
    if database_id is None and settings.app_dir is not None:
        try:
            app = WranglerApp.load(settings.app_dir)
            database_id = app.d1(settings.environment, settings.config.database.binding).get(
                "database_id"
            )
        except WranglerError as exc:
            fail(str(exc))
    if not database_id:
        raise MissingInput(
            "no D1 database id: set D1_DATABASE_ID, or --app-dir=DIR with wrangler.toml"
        )
    return D1ApiBackend(
        cloudflare.api_base,
        cloudflare.account_id,
        str(database_id),
        cloudflare.api_token,
        settings.config.http,
        request_counter,
    )


class TargetClock:
    """Time as the target tells it: the ``Date`` header of its answers (every HTTP answer
    carries one; a Worker's comes from Cloudflare's edge), else this machine's clock. The
    quota checks judge resets against it, so a runner whose clock is off does not fail them."""

    @staticmethod
    def of(answer: Answer) -> datetime:
        """The target's time when it sent ``answer`` (to the second)."""
        raw = answer.headers.get("Date")
        if raw:
            try:
                return parsedate_to_datetime(raw).astimezone(UTC)
            except (TypeError, ValueError):
                pass
        return answer.received_at

    def pass_minute_boundary(self, after: Answer) -> None:
        """Wait until the target's clock, as ``after`` showed it, is past its next minute
        (at most 61 s)."""
        stamp = self.of(after)
        # Date has whole seconds: the target's time was in [stamp, stamp + 1 s); waiting from
        # the earliest of those is enough for all of them.
        boundary = stamp.replace(second=0, microsecond=0) + timedelta(minutes=1)
        since = (datetime.now(UTC) - after.received_at).total_seconds()
        wait = (boundary - stamp).total_seconds() + 0.2 - since
        if wait > 0:
            time.sleep(wait)


@pytest.fixture(scope="session")
def target_clock() -> TargetClock:
    return TargetClock()


@pytest.fixture(scope="session")
def graphql(settings: Settings, request_counter: RequestCounter) -> GraphQL:
    """Cloudflare's GraphQL Analytics API (CLOUDFLARE_API_TOKEN + CLOUDFLARE_ACCOUNT_ID)."""
    cloudflare = settings.cloudflare
    if cloudflare is None:
        missing = [
            v
            for v in ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID")
            if not os.environ.get(v, "").strip()
        ]
        raise MissingInput(
            f"Cloudflare analytics not configured: set {' and '.join(missing)} "
            "(a token with Account Analytics read)"
        )
    return GraphQL(
        cloudflare.api_base,
        cloudflare.account_id,
        cloudflare.api_token,
        settings.config.http,
        request_counter,
    )


@pytest.fixture(scope="session")
def worker_script(settings: Settings, request: pytest.FixtureRequest) -> str:
    """The Worker's name: [analytics] script_name, else wrangler.toml's for the environment."""
    if settings.config.analytics.script_name:
        return settings.config.analytics.script_name
    app: WranglerApp = request.getfixturevalue("wrangler_app")
    return app.worker_name(settings.environment)


@pytest.fixture(scope="session")
def sentry_access(settings: Settings) -> SentryAccess:
    if settings.sentry is None:
        missing = [v for v in SENTRY_VARS if not os.environ.get(v, "").strip()]
        raise MissingInput(
            f"Sentry not configured: set {', '.join(missing)} (token scope event:read; "
            "SENTRY_BASE_URL for self-hosted)"
        )
    return settings.sentry


class ReportNotes:
    """HTML put beside a check's row in the report (lists, charts)."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._extras: list[Any] | None = None
        if request.config.pluginmanager.hasplugin("html"):
            self._extras = request.getfixturevalue("extras")

    def add(self, markup: str) -> None:
        if self._extras is not None:
            import pytest_html  # type: ignore[import-untyped]

            self._extras.append(pytest_html.extras.html(markup))


@pytest.fixture
def report_notes(request: pytest.FixtureRequest) -> ReportNotes:
    return ReportNotes(request)


@pytest.fixture(scope="session")
def history_series(
    pytestconfig: pytest.Config,
    settings: Settings,
) -> dict[str, list[tuple[datetime, float]]]:
    """Figures earlier runs stored for this target (``reports/history.sqlite``)."""
    since = datetime.now(UTC) - timedelta(weeks=settings.config.trends.weeks)
    return history.series(
        reports_dir(pytestconfig) / "history.sqlite", history_key(settings), since
    )


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)
