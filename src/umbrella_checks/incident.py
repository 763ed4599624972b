"""A failed run leaves a pre-filled incident log (runbook › Incident Log Template)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

# The runbook's levels, most severe first: SEV-1 production down or auth open (immediate),
# SEV-2 degraded (< 15 min), SEV-3 minor (< 1 h).
SEVERITIES = ("SEV-1", "SEV-2", "SEV-3")


@dataclass(frozen=True)
class Failure:
    nodeid: str
    message: str
    # Declared on the check (``@pytest.mark.severity``), never guessed from its wording.
    severity: str = "SEV-3"
    # The phase it failed in: "setup" (a fixture: the target hung, a credential expired),
    # "call" or "teardown".
    phase: str = "call"

    @property
    def name(self) -> str:
        return self.nodeid.split("::", 1)[-1]


def severity(failures: list[Failure]) -> str:
    """The incident's level: the most severe level declared by a failed check."""
    levels = [f.severity for f in failures if f.severity in SEVERITIES]
    return min(levels, key=SEVERITIES.index) if levels else SEVERITIES[-1]


def draft(
    failures: list[Failure], *, tier: str, target: str, started: datetime, report: Path
) -> str:
    """The runbook's Incident Log Template, pre-filled (long: it is the template's text)."""
    sev = severity(failures)
    first = failures[0].name if failures else "unknown"
    timeline = "\n".join(
        f"- {started:%H:%M} - Detected by umbrella-checks ({tier}): {f.name}"
        f"{'' if f.phase == 'call' else f' (in {f.phase})'} [{f.severity}] — "
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
