"""Sentry: issues first seen in the last 24 h, classified by the runbook's priorities.

Runbook › Morning Health Check 3: Critical — database errors, authentication failures; High —
5xx errors, unhandled exceptions; Medium — 4xx errors except 401 and 404; Low — warnings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from umbrella_checks.config.suite import Http, Sentry
from umbrella_checks.errors import CouldNotCheck
from umbrella_checks.secrets import Secret
from umbrella_checks.services.external import ReadOnlyService
from umbrella_checks.transport import RequestCounter

PRIORITIES = ("critical", "high", "medium", "low")


def _whole_word(word: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w]){re.escape(word.strip().lower())}(?![\w])")


_4XX = re.compile(r"\b4(0[0-35-9]|[1-9]\d)\b")  # 400-499 except 401 and 404
_5XX = re.compile(r"\b5\d\d\b")
_EXPECTED_4XX = re.compile(r"\b40[14]\b")  # signed-out users and dead links: noise, not errors


@dataclass(frozen=True)
class Issue:
    title: str
    culprit: str
    level: str
    count: str
    permalink: str

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Issue:
        metadata = raw.get("metadata") or {}
        title = " ".join(str(x) for x in (raw.get("title", ""), metadata.get("value", "")) if x)
        return cls(
            title,
            str(raw.get("culprit") or ""),
            str(raw.get("level") or "error"),
            str(raw.get("count") or "?"),
            str(raw.get("permalink") or ""),
        )

    def line(self, priority: str) -> str:
        return f"[{priority}] {self.title} ({self.culprit}, {self.count} events) {self.permalink}"


def classify(issue: Issue, config: Sentry) -> str:
    """The runbook's priority. Noise first (401/404 are signed-out users and dead links, so a
    "jwt expired" 401 is not an authentication outage), then critical words as whole words."""
    text = f"{issue.title} {issue.culprit}".lower()
    if _EXPECTED_4XX.search(text):
        return "low"
    if issue.level in ("warning", "info", "debug", "sample"):
        return "low"
    if any(_whole_word(word).search(text) for word in config.critical_words):
        return "critical"
    if _4XX.search(text):
        return "medium"
    if issue.level in ("error", "fatal") or _5XX.search(text):
        return "high"
    return "low"


def project_id(service: ReadOnlyService, base: str, org: str, slug: str) -> str:
    """Sentry's issue search takes the numeric project id; a slug is looked up once."""
    response = service.call("GET", f"{base.rstrip('/')}/api/0/projects/{org}/{slug}/")
    found = service.json_of(response)
    if not isinstance(found, dict) or not str(found.get("id", "")).isdigit():
        raise CouldNotCheck(f"the Sentry API has no numeric id for project {org}/{slug}")
    return str(found["id"])


def new_issues(
    base: str,
    org: str,
    project: str,
    environment: str | None,
    token: Secret,
    config: Sentry,
    http: Http,
    counter: RequestCounter,
) -> list[Issue]:
    """Every unresolved issue first seen in 24 h, following the Link header's cursor."""
    url: str | None = f"{base.rstrip('/')}/api/0/organizations/{org}/issues/"
    first_page = {"project": project, "query": "is:unresolved firstSeen:-24h", "statsPeriod": "24h"}
    if environment:
        first_page["environment"] = environment
    issues: list[Issue] = []
    service = ReadOnlyService("the Sentry API", token, http, counter)
    if not project.isdigit():
        first_page["project"] = project_id(service, base, org, project)
    params: dict[str, str] | None = first_page
    for _ in range(config.max_pages):
        if url is None:
            break
        response = service.call("GET", url, params=params)
        page = service.json_of(response)
        if not isinstance(page, list):
            raise CouldNotCheck("the Sentry API answered something other than a list of issues")
        issues += [Issue.of(item) for item in page if isinstance(item, dict)]
        following = response.links.get("next", {})
        url = following.get("url") if following.get("results") == "true" else None
        params = None  # the next URL carries the cursor and the query
    return issues
