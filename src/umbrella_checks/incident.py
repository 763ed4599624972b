"""A failed run leaves a pre-filled incident log (runbook › Incident Log Template)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class Failure:
    nodeid: str
    message: str

    @property
    def name(self) -> str:
        return self.nodeid.split("::", 1)[-1]


def severity(failures: list[Failure]) -> str:
    """The runbook's SEV definitions, from which checks failed."""
    names = " ".join(f.nodeid for f in failures)
    texts = " ".join(f.message for f in failures)
    if (
        "test_health_answers_200" in names
        or "hangs" in texts
        or "test_protected_route_refuses_anonymous" in names
    ):
        return "SEV-1"  # production down, or auth open: immediate
    if "latency_budget" in names or "error rate" in texts or "P95" in texts:
        return "SEV-2"  # degraded performance: < 15 minutes
    return "SEV-3"


def draft(
    failures: list[Failure], *, tier: str, target: str, started: datetime, report: Path
) -> str:
    """The runbook's Incident Log Template, pre-filled (long: it is the template's text)."""
    sev = severity(failures)
    first = failures[0].name if failures else "unknown"
    timeline = "\n".join(
        f"- {started:%H:%M} - Detected by umbrella-checks ({tier}): {f.name} — "
        f"{' '.join(f.message.split())[:300]}"
        for f in failures
    )
    return f"""## Incident: {tier} checks failed on {target} ({first})

**Date:** {started:%Y-%m-%d}
**Time:** {started:%H:%M} UTC
**Severity:** {sev}
**Status:** Open

### Timeline
{timeline}
- HH:MM - Team notified
- HH:MM - Investigation started
- HH:MM - Mitigation applied
- HH:MM - Issue resolved

### Impact
- Users affected: [number/percentage]
- Duration: [minutes/hours]
- Services impacted: [list]

### Root Cause
[Description of what caused the incident]

### Resolution
[Description of how it was fixed]

### Action Items
- [ ] Fix underlying issue
- [ ] Add monitoring/alerting
- [ ] Update runbook
- [ ] Review with team

### Lessons Learned
[What we learned and how to prevent in future]

Report: {report}
"""


def signature(failures: list[Failure]) -> str:
    """Which checks failed: one incident per signature and UTC day."""
    names = "\n".join(sorted({f.nodeid for f in failures}))
    return hashlib.sha256(names.encode()).hexdigest()[:10]


def write(
    reports_dir: Path, text: str, started: datetime, failures: list[Failure], tier: str
) -> tuple[Path, bool]:
    """The draft for this incident, and whether it is new. A run that fails the same way the
    same day adds one line to the existing draft instead of a second incident."""
    path = reports_dir / f"incident-{started:%Y-%m-%d}-{signature(failures)}.md"
    if path.exists():
        with path.open("a", encoding="utf-8") as draft_file:
            draft_file.write(f"- {started:%H:%M} - Seen again by umbrella-checks ({tier})\n")
        return path, False
    path.write_text(text, encoding="utf-8")
    return path, True
