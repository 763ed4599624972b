"""Read-only services we cannot run here (Cloudflare GraphQL, Sentry), with one error policy.

An outage, a refused token or a malformed answer becomes ``could not check: <reason>``
(``CouldNotCheck``): the check fails with that line — never a pass, never a traceback, never
the token.
"""

from __future__ import annotations

from typing import Any

import httpx

from umbrella_checks.config.suite import Http
from umbrella_checks.errors import CouldNotCheck, ServiceDown
from umbrella_checks.secrets import Secret
from umbrella_checks.transport import (
    NoAnswer,
    RequestCounter,
    could_not_check_reason,
    request_once,
)


class ReadOnlyService:
    """A bearer-token API the suite only reads from."""

    def __init__(self, what: str, token: Secret, http: Http, counter: RequestCounter) -> None:
        self.what = what
        self.token = token
        self.http = http
        self.counter = counter

    def call(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One request; any answer that is not 2xx raises ``CouldNotCheck`` naming the cause —
        ``ServiceDown`` (a root cause: one failure for all the checks reading the service) when
        it did not answer, or answered 5xx."""
        try:
            response = request_once(
                self.http,
                method,
                url,
                what=self.what,
                counter=self.counter,
                headers={"Authorization": f"Bearer {self.token.reveal()}"},
                json=json,
                params=params,
            )
        except NoAnswer as exc:
            raise ServiceDown(str(exc), self.what) from None
        reason = could_not_check_reason(response, self.what, self.token.source)
        if reason and response.status_code >= 500:
            raise ServiceDown(reason, self.what)  # down: one failure for every check reading it
        if reason:
            raise CouldNotCheck(reason)
        return response

    def json_of(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise CouldNotCheck(
                f"{self.what} answered HTTP {response.status_code} with malformed JSON"
            ) from None
