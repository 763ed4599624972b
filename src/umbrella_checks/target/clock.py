"""The target's clock: the ``Date`` of its answers. No pytest here."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from umbrella_checks.target.answer import Answer


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
        wait = self.until_next_minute(after, datetime.now(UTC))
        if wait > 0:
            time.sleep(wait)

    @classmethod
    def until_next_minute(cls, after: Answer, now: datetime) -> float:
        """Seconds from ``now`` (this machine's clock) until the target's clock, as ``after``
        showed it, is 0.2 s past its next minute."""
        stamp = cls.of(after)
        # Date has whole seconds: the target's time was in [stamp, stamp + 1 s); waiting from
        # the earliest of those is enough for all of them.
        boundary = stamp.replace(second=0, microsecond=0) + timedelta(minutes=1)
        since = (now - after.received_at).total_seconds()
        return (boundary - stamp).total_seconds() + 0.2 - since
