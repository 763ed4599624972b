"""An answer from the target, and expectations that fail like an on-call note.

A failure names the request, what was expected, what came back and, where we know it, the
likely fix. Failures are ``CheckFailed`` errors: the plugin reports the message alone, so no
traceback full of locals can carry a token into a report. No pytest import here.
"""

from __future__ import annotations

import json as jsonlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, NoReturn
from urllib.parse import urlsplit

import httpx

from umbrella_checks.config.suite import Errors
from umbrella_checks.errors import (
    PLATFORM_PAGE,
    CheckFailed,
    EnvelopeMissing,
    RootCause,
)
from umbrella_checks.evidence import saw
from umbrella_checks.target.leaks import leak_in
from umbrella_checks.target.timing import BY_BYTES

# Headers that say an answer came from a cache, not from the Worker just now.
_CACHE_HITS = ("HIT", "STALE", "UPDATING", "REVALIDATED")


def snippet(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def envelope_problem(body: Any) -> str | None:
    """What the contract's envelope lacks in ``body`` (``success``, ``meta.timestamp``)."""
    if not isinstance(body, dict) or not isinstance(body.get("success"), bool):
        return 'boolean "success"'
    meta = body.get("meta")
    if not isinstance(meta, dict) or "timestamp" not in meta:
        return '"meta.timestamp"'
    return None


_UNPARSED = object()


@dataclass
class Answer:
    """One HTTP exchange, with expectations that fail readably."""

    method: str
    url: str
    response: httpx.Response
    elapsed: float
    # The service's own time (Server-Timing, else time to first byte less a round trip) ...
    server_time: float = 0.0
    # ... and how it was measured.
    timed_by: str = BY_BYTES
    # When the answer arrived, by this machine's clock (UTC).
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # How the service spells its error codes ([errors]).
    errors: Errors = field(default_factory=Errors, repr=False, compare=False)
    # False for a route recorded as answering without the envelope ([envelope] bare_routes), or
    # one read as it came back (``unwrapped``): the envelope rule then judges the envelope once.
    enveloped: bool = True
    unwrapped: bool = False
    # Set when an answer that already failed is read all the same (a non-200 health answer),
    # to the hint of that failure: a field it lacks is then that same failure (a root cause,
    # reported once), not a second failure for one defect.
    doubt: str | None = None
    # Seconds this request waited for a place among the client's requests in flight (its own
    # queue, never the service's time), and whether it was sent among the tier's burst.
    queued: float = 0.0
    in_burst: bool = False
    # The body is parsed once, however many expectations (and the envelope rule) read it.
    _parsed: Any = field(default=_UNPARSED, init=False, repr=False, compare=False)

    def parsed(self) -> Any:
        """The JSON body; raises ValueError when there is none."""
        if self._parsed is _UNPARSED:
            self._parsed = self.response.json()
        return self._parsed

    @property
    def what(self) -> str:
        return f"{self.method} {self.url}"

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def headers(self) -> httpx.Headers:
        return self.response.headers

    @property
    def text(self) -> str:
        return self.response.text

    def describe_body(self) -> str:
        kind = self.response.headers.get("content-type", "no content-type").split(";")[0]
        body = snippet(self.response.text) if self.response.content else "(empty body)"
        return f"{kind} {body}"

    def fail(self, expected: str, got: str, hint: str | None = None) -> NoReturn:
        note = f" ({hint})" if hint else ""
        raise CheckFailed(
            f"{self.what}: expected {expected}, got {got}{note}",
            route=self.request_line,
            expected=expected,
        ) from None

    def expect_status(self, *codes: int, hint: str | None = None, root: bool = False) -> Answer:
        """The status must be one of ``codes``. A 5xx nobody expected is a root cause (the
        route fails for every check that asks it); with ``root``, so is any other status (an
        answer several checks read, such as health's)."""
        if self.status not in codes:
            wanted = _either(codes)
            if self.status >= 500 and not any(code >= 500 for code in codes):
                self.route_failed(f"status {wanted}", hint)
            if root:
                note = f" ({hint})" if hint else ""
                raise RootCause(
                    f"{self.what}: expected status {wanted}, got {self.status}: "
                    f"{self.describe_body()}{note}",
                    f"status {self.request_line}",
                    f"{self.request_line} answers {self.status}",
                    route=self.request_line,
                    expected=f"status {wanted}",
                )
            self.fail(f"status {wanted}", f"{self.status}: {self.describe_body()}", hint)
        saw(f"{self.request_line} status", self.status, f"expected {_either(codes)}")
        return self

    def route_failed(self, expected: str, hint: str | None = None) -> NoReturn:
        """This route answered a 5xx: the first check to see it fails, saying so; the others
        that need this route's answer are stopped (one defect, one failure). The Worker failing
        on a route is critical functionality broken (SEV-1, whichever check meets it). A 5xx
        that is no JSON is the platform's own error page, which every route answers alike:
        one cause for all of them."""
        if self.is_platform_page:
            cause, summary = PLATFORM_PAGE, "the platform answers its own error page"
            hint = hint or (
                "the platform in front of the Worker answers instead of it: check Cloudflare "
                "status and `wrangler tail`"
            )
        else:
            cause, summary = (
                f"5xx {self.request_line}",
                f"{self.request_line} answers {self.status}",
            )
            hint = hint or "the Worker failed on this route; check Sentry and `wrangler tail`"
        raise RootCause(
            f"{self.what}: expected {expected}, got {self.status}: {self.describe_body()}"
            f"{self._leak_note()} ({hint})",
            cause,
            summary,
            route=self.request_line,
            expected=expected,
            severity="SEV-1",
        )

    @property
    def is_platform_page(self) -> bool:
        """A 5xx whose body is no JSON: an error page of the platform (Cloudflare's, a dev
        server's), not an answer of the Worker's."""
        if self.status < 500:
            return False
        try:
            self.parsed()
        except ValueError:  # UnicodeDecodeError too
            return True
        return False

    def _leak_note(self) -> str:
        leaked = self.leak()
        return f" — and the body leaks {leaked}" if leaked else ""

    def leak(self) -> str | None:
        """What the body gives away that it must not (``leaks.py``); None when nothing."""
        return leak_in(self.text)

    def json(self) -> Any:
        try:
            return self.parsed()
        except ValueError:  # UnicodeDecodeError too
            self.fail("a JSON body", f"{self.status} {self.describe_body()}")

    def body(self) -> dict[str, Any]:
        """The JSON object; an answer from a route recorded as bare (``[envelope]
        bare_routes``) is read as if enveloped, so field paths such as ``data.status`` hold."""
        data = self.json()
        if not self.enveloped:
            return {"success": self.status < 400, "data": data, "meta": {}}
        if not isinstance(data, dict):
            self.fail("a JSON object", snippet(jsonlib.dumps(data)))
        return data

    def find(self, dotted: str) -> Any:
        """The value at a dotted path, or None (for descriptions, never for verdicts)."""
        try:
            node: Any = self.body()
        except CheckFailed:
            return None
        for part in dotted.split("."):
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        return node

    def field(self, dotted: str, required: str | None = None) -> Any:
        """The value at ``data.status``-style path, or fail naming the missing part and what
        the body did have (so a shape difference reads as one, not as a wrong value).
        ``required``: why the runbook needs this field, said when it is missing (so the hint
        never suggests recording its absence away)."""
        node: Any = self.body()
        walked: list[str] = []
        for part in dotted.split("."):
            walked.append(part)
            if not isinstance(node, dict) or part not in node:
                if self.doubt is not None:
                    # The failure this answer's status already is, whichever check meets it.
                    self.expect_status(200, hint=self.doubt, root=True)
                expected = f'field "{".".join(walked)}"'
                if not self.enveloped and walked[0] == "data" and len(walked) > 1:
                    inner = ".".join(walked[1:])
                    why = (
                        "it answered without the envelope"
                        if self.unwrapped
                        else ("the route is recorded bare")
                    )
                    expected += f' ("{inner}" at the top level: {why})'
                if self.enveloped and envelope_problem(self.body()):
                    self._missing_envelope(expected, required)
                self.fail(expected, self._shape(), required)
            node = node[part]
        return node

    @property
    def route(self) -> str:
        return f"{self.method} {urlsplit(self.url).path}"

    @property
    def request_line(self) -> str:
        """Method, path and query: ``GET /v1/gigs?limit=5``."""
        parts = urlsplit(self.url)
        return f"{self.method} {parts.path}{'?' + parts.query if parts.query else ''}"

    def _missing_envelope(self, expected: str, required: str | None = None) -> NoReturn:
        need = f"{required}; " if required else ""
        raise EnvelopeMissing(
            f"{self.what}: expected {expected}, got {self._shape()} ({need}the contract's "
            "envelope is missing; if the route answers bare by design, record it in "
            "[envelope] bare_routes)",
            self.route,
        )

    def _shape(self) -> str:
        if not self.enveloped:
            raw = self.json()
            keys = ", ".join(sorted(raw)) if isinstance(raw, dict) else type(raw).__name__
            bare = (
                "an answer without the envelope"
                if self.unwrapped
                else ("a bare answer ([envelope] bare_routes)")
            )
            return f"{bare} whose top-level keys are: {keys}"
        body = self.body()
        keys = ", ".join(sorted(body)) or "none"
        if envelope_problem(body):
            return f"an answer with no envelope, top-level keys: {keys}"
        data = body.get("data")
        inner = ", ".join(sorted(data)) if isinstance(data, dict) else type(data).__name__
        return f"an answer whose data has: {inner}"

    def expect_field(
        self, dotted: str, expected: Any, hint: str | None = None, required: str | None = None
    ) -> Answer:
        actual = self.field(dotted, required)
        if actual != expected:
            self.fail(f"{dotted} {jsonlib.dumps(expected)}", jsonlib.dumps(actual), hint)
        saw(dotted, jsonlib.dumps(actual), f"expected {jsonlib.dumps(expected)}")
        return self

    @property
    def sent_at(self) -> datetime | None:
        """When the target says it sent this answer (its ``Date``, to the second)."""
        raw = self.headers.get("Date")
        if not raw:
            return None
        try:
            return parsedate_to_datetime(raw).astimezone(UTC)
        except (TypeError, ValueError):
            return None

    def from_cache(self) -> str | None:
        """What says this answer came from a cache rather than from the Worker just now."""
        status = self.headers.get("CF-Cache-Status", "").strip().upper()
        if status in _CACHE_HITS:
            return f"CF-Cache-Status: {status}"
        age = self.headers.get("Age", "").strip()
        if age.isdigit() and int(age) > 0:
            return f"Age: {age}"
        return None

    def expect_fresh(self, dotted: str, within: float) -> Answer:
        """The time at ``dotted`` is current — against the answer's own ``Date`` (the target's
        clock, so an answer fetched early in the run is not held against a later clock) and
        against this runner's clock when the answer arrived (so an answer a cache kept, Date
        and all, is not fresh evidence); an answer that says it came from a cache is not."""
        raw = self.field(dotted)
        try:
            stamp = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{dotted} as an ISO-8601 time", repr(raw))
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        cached = self.from_cache()
        if cached:
            self.fail(
                f"{dotted} from the Worker itself, now",
                f"an answer from a cache ({cached}; {dotted} {raw})",
                "a cache in front of the health route hides the deploy: exclude it from "
                "caching (a Cache Rule, or Cache-Control: no-store)",
            )
        clocks = [("this runner's clock", self.received_at)]
        if self.sent_at is not None:
            clocks.insert(0, ("the answer's Date", self.sent_at))
        for which, now in clocks:
            skew = abs((now - stamp).total_seconds())
            if skew > within:
                self.fail(
                    f"{dotted} within {within:g} s of {which} ({now:%Y-%m-%dT%H:%M:%SZ})",
                    f"{raw}, {skew:.0f} s off",
                    "the service is serving a stale cached answer or its clock is wrong",
                )
        if self.sent_at is not None:
            behind = (self.received_at - self.sent_at).total_seconds()
            if abs(behind) > within:
                self.fail(
                    f"a Date within {within:g} s of this runner's clock "
                    f"({self.received_at:%Y-%m-%dT%H:%M:%SZ})",
                    f"{self.headers.get('Date')}, {behind:.0f} s off",
                    "a cache served an old answer, or the target's or this runner's clock is wrong",
                )
        offs = [abs((now - stamp).total_seconds()) for _, now in clocks]
        saw(
            dotted,
            f"{raw} ({max(offs):.0f} s from {' and '.join(which for which, _ in clocks)})",
            f"expected within {within:g} s, not from a cache",
        )
        return self

    def envelope_violation(self) -> str | None:
        """What breaks the contract's envelope rule in this answer, for any check that sent
        it: a JSON answer of a route not recorded as bare, without ``success`` and
        ``meta.timestamp``. None when the rule holds, or does not apply."""
        if not self.enveloped or "json" not in self.headers.get("content-type", ""):
            return None
        try:
            body = self.parsed()
        except ValueError:  # UnicodeDecodeError too: the checks that read it say so
            return None
        if not envelope_problem(body):
            return None
        return (
            f"{self.what}: expected a JSON envelope with success and meta.timestamp, "
            f"got {self.status} {snippet(self.text)}"
        )

    def expect_envelope(self) -> dict[str, Any]:
        """The contract's envelope: ``success`` and ``meta.timestamp``; errors need a code.
        A route recorded as bare answers without one, by design."""
        body = self.body()
        if not self.enveloped:
            return body
        problem = envelope_problem(body)
        if problem:
            self._missing_envelope(f"an envelope with {problem}")
        if body["success"] is False:
            error = body.get("error")
            if not isinstance(error, dict) or not error.get("code"):
                self.fail('an error envelope with "error.code"', snippet(self.text))
        saw(f"{self.request_line} envelope", "success, meta.timestamp", "expected the contract's")
        return body

    def expect_error_code(self, name: str) -> Answer:
        """The error code the contract calls ``name``, spelled as ``[errors]`` records it."""
        body = self.expect_envelope()
        actual = body.get("error", {}).get("code") if body["success"] is False else None
        code = self.errors.codes.get(name, name)
        same = (
            actual == code
            if self.errors.strict_case
            else isinstance(actual, str) and actual.casefold() == code.casefold()
        )
        if not same:
            strict = " (exactly: [errors] strict_case)" if self.errors.strict_case else ""
            self.fail(f'error code "{code}"{strict}', f"{self.status} {snippet(self.text)}")
        saw(f"{self.request_line} error code", actual, f'expected "{code}"')
        return self

    def expect_no_internals(self) -> Answer:
        """No stack trace, file path, SQL or database error in the body: they help attackers,
        not users."""
        leaked = self.leak()
        if leaked:
            self.fail(
                "a body without stack traces, file paths or SQL",
                f"{self.status} whose body leaks {leaked}: {snippet(self.text)}",
                "the error handler leaks internals; check the Worker's error middleware",
            )
        saw(f"{self.request_line} body", "no stack trace, file path or SQL", "expected none")
        return self

    @property
    def timed_by_service(self) -> bool:
        """Timed by the service's own Server-Timing (which leaves out any queue in front of
        it), not by its bytes."""
        return self.timed_by != BY_BYTES


def _either(codes: tuple[int, ...]) -> str:
    return " or ".join(str(code) for code in codes)
