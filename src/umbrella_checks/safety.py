"""Never harm production: the guard in front of everything that writes, burns quota or loads.

pytest-selenium's idea: a target is sensitive when the expected environment is production,
when its URL matches the configured pattern, or when the target itself says it is production.
Any one of those refuses destructive work.
"""

from __future__ import annotations

import re

# Skip reasons that start with this are the guard's own refusals, not missing inputs:
# --strict-skips leaves them as skips, because refusing production is the point.
GUARD_PREFIX = "[safety guard]"

HOW_TO_OPT_IN = (
    "run destructive checks against staging: pytest -m destructive --allow-destructive "
    "--environment staging --base-url https://<staging host>"
)


def sensitive_reason(base_url: str, environment: str, pattern: str) -> str | None:
    """Why this target must be treated as production, or None."""
    if environment == "production":
        return "the expected environment is production"
    if re.search(pattern, base_url):
        return f"{base_url} matches the sensitive-URL pattern {pattern!r} ([safety] sensitive_url)"
    return None


def destructive_refusal(
    *,
    allowed: bool,
    base_url: str,
    environment: str,
    pattern: str,
    reported_environment: str | None,
) -> str | None:
    """The skip reason for a destructive check, or None when it may run."""
    if not allowed:
        return f"{GUARD_PREFIX} destructive checks are off; {HOW_TO_OPT_IN}"
    reason = sensitive_reason(base_url, environment, pattern)
    if reason is None and reported_environment == "production":
        reason = f"the target at {base_url} reports environment production"
    if reason:
        return f"{GUARD_PREFIX} refused: {reason}; {HOW_TO_OPT_IN}"
    return None
