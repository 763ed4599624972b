"""The target's API client, and answers that fail like an on-call note.

A failure names the request, what was expected, what came back and, where we know it, the
likely fix. Failures are ``CheckFailed`` errors: the plugin reports the message alone, so no
traceback full of locals can carry a token into a report. No pytest import here.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn
from urllib.parse import urlsplit

import httpx

from umbrella_checks.config.suite import Envelope, Errors, Http, SuiteConfig
from umbrella_checks.errors import (
    UNREACHABLE,
    UNRESPONSIVE,
    CannotJudge,
    CheckFailed,
    EnvelopeMissing,
    RootCause,
    Unreachable,
)
from umbrella_checks.secrets import Secret, scrub
from umbrella_checks.transport import NoAnswer, RequestCounter, new_client, send

_STACK_MARKERS = (
    "Traceback (most recent call last)",
    'File "/',
    "    at ",
    ".js:",
    ".ts:",
    "SQLITE_ERROR",
    "D1_ERROR",
    "SELECT ",
    "INSERT INTO",
    "sqlite3.",
)


# How an answer's service time was measured, for the figures and the failure message.
BY_BYTES = "time to first byte less a round trip"


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
    # False for a route recorded as answering without the envelope ([envelope] bare_routes).
    enveloped: bool = True
    # Set when an answer that already failed is read all the same (a non-200 health answer):
    # a field it lacks is then doubt ("cannot judge"), not a second failure for one defect.
    doubt: str | None = None
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

    def expect_status(self, *codes: int, hint: str | None = None) -> Answer:
        if self.status not in codes:
            wanted = " or ".join(str(code) for code in codes)
            if self.status >= 500 and not any(code >= 500 for code in codes):
                self.route_failed(f"status {wanted}", hint)
            self.fail(f"status {wanted}", f"{self.status}: {self.describe_body()}", hint)
        return self

    def route_failed(self, expected: str, hint: str | None = None) -> NoReturn:
        """This route answered a 5xx: the first check to see it fails, saying so; the others
        that need this route's answer cannot judge (one defect, one failure)."""
        hint = hint or "the Worker failed on this route; check Sentry and `wrangler tail`"
        note = f" ({hint})"
        raise RootCause(
            f"{self.what}: expected {expected}, got {self.status}: {self.describe_body()}{note}",
            f"5xx {self.request_line}",
            f"{self.request_line} answers {self.status}",
            route=self.request_line,
            expected=expected,
        )

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
                if self.doubt:
                    raise CannotJudge(f"{self.doubt}: it has no {dotted} to read")
                expected = f'field "{".".join(walked)}"'
                if not self.enveloped and walked[0] == "data" and len(walked) > 1:
                    inner = ".".join(walked[1:])
                    expected += f' ("{inner}" at the top level: the route is recorded bare)'
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
            return f"a bare answer ([envelope] bare_routes) whose top-level keys are: {keys}"
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
        return self

    def expect_fresh(self, dotted: str, within: float, now: datetime) -> Answer:
        raw = self.field(dotted)
        try:
            stamp = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{dotted} as an ISO-8601 time", repr(raw))
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        skew = abs((now - stamp).total_seconds())
        if skew > within:
            self.fail(
                f"{dotted} within {within:g} s of now ({now:%Y-%m-%dT%H:%M:%SZ})",
                f"{raw}, {skew:.0f} s off",
                "the service is serving a stale cached answer or its clock is wrong",
            )
        return self

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
        return self

    def expect_no_internals(self) -> Answer:
        """No stack trace, file path or SQL in the body: they help attackers, not users."""
        for marker in _STACK_MARKERS:
            if marker in self.text:
                self.fail(
                    "a body without stack traces, file paths or SQL",
                    f"{marker.strip()!r} in {snippet(self.text)}",
                    "the error handler leaks internals; check the Worker's error middleware",
                )
        return self


@dataclass(frozen=True)
class Planned:
    """A request by what identifies it: the same method, path, credential, headers and body
    get the same answer, whether prefetched or sent when a check asks."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None

    @classmethod
    def of(
        cls,
        method: str,
        path: str,
        token: Secret | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: str | bytes | None = None,
    ) -> Planned:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token.reveal()}"
        body: bytes | None = content.encode() if isinstance(content, str) else content
        if json is not None:
            body = jsonlib.dumps(json, separators=(",", ":")).encode()
            sent.setdefault("Content-Type", "application/json")
        return cls(method, path, tuple(sorted(sent.items())), body)

    def __repr__(self) -> str:  # never the Authorization header
        return f"Planned({self.method} {self.path})"


@dataclass
class Exchange:
    response: httpx.Response
    started: float
    finished: float
    marks: dict[str, float]

    @property
    def rtt(self) -> float | None:
        """TCP connect time, when this exchange opened its connection."""
        start = self.marks.get("connection.connect_tcp.started")
        done = self.marks.get("connection.connect_tcp.complete")
        return done - start if start is not None and done is not None else None

    def _mark(self, event: str, default: float) -> float:
        for protocol in ("http11", "http2"):
            if f"{protocol}.{event}" in self.marks:
                return self.marks[f"{protocol}.{event}"]
        return default

    def answer(
        self,
        method: str,
        url: str,
        rtt: float | None,
        errors: Errors,
        enveloped: bool,
        metrics: tuple[str, ...],
    ) -> Answer:
        sent = self._mark("send_request_headers.started", self.started)
        first_byte = self._mark("receive_response_headers.complete", self.finished)
        spent, timed_by = server_time(self.response, first_byte - sent, self.rtt or rtt, metrics)
        return Answer(
            method,
            url,
            self.response,
            self.finished - self.started,
            server_time=spent,
            timed_by=timed_by,
            errors=errors,
            enveloped=enveloped,
        )


def server_timing(header: str) -> dict[str, float]:
    """``Server-Timing`` as metric name -> seconds (metrics without ``dur`` left out; the first
    of a repeated name counts). Grammar: ``name;dur=12.5;desc="x", other;dur=3``."""
    metrics: dict[str, float] = {}
    for entry in header.split(","):
        name, *params = (part.strip() for part in entry.split(";"))
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "dur" and name and name not in metrics:
                # A malformed dur is no figure: the answer is then timed by its bytes.
                with contextlib.suppress(ValueError):
                    metrics[name] = float(value.strip().strip('"')) / 1000
    return metrics


def server_time(
    response: httpx.Response, ttfb: float, rtt: float | None, metrics: tuple[str, ...]
) -> tuple[float, str]:
    """The service's own time for an answer, and how it was measured: the first of
    ``metrics`` its ``Server-Timing`` reports (a metric that times the whole answer), else
    time to first byte less one network round trip. A metric that times a part (``db``) is
    never taken for the whole: a Worker timing only its query would pass any budget."""
    reported = server_timing(response.headers.get("Server-Timing", ""))
    for name in metrics:
        if name in reported:
            return reported[name], f"Server-Timing {name}"
    return max(ttfb - (rtt or 0.0), 0.0), BY_BYTES


class ApiClient:
    """httpx with the suite's timeouts, User-Agent and request counting.

    After one timeout the target is marked unresponsive and every later request in this
    process fails at once with the same explanation, so a hung service ends the run in about
    one timeout instead of one per check.
    """

    def __init__(
        self,
        base_url: str,
        http: Http,
        counter: RequestCounter,
        envelope_violations: list[tuple[str, str]] | None = None,
        errors: Errors | None = None,
        envelope: Envelope | None = None,
        server_timing: tuple[str, ...] = ("total",),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.server_timing = server_timing
        # Every exchange sent on the pool (prefetched or probed): quiet() waits for them.
        self._sent: list[Future[Any]] = []
        self.errors = errors or Errors()
        self.envelope = envelope or Envelope()
        self.counter = counter
        self.unresponsive: str | None = None
        # Shared with the plugin, which fails the check whose request broke the rule.
        self.envelope_violations: list[tuple[str, str]] = (
            envelope_violations if envelope_violations is not None else []
        )
        # Not counted when sent: a request is counted when a check uses its answer, so each
        # check is charged for what it asked (prefetched or not); see prefetch().
        # HTTP/2 only over TLS: a plain-HTTP target (the sandbox) would not offer it anyway.
        tls = self.base_url.startswith("https://")
        self._http = new_client(http, connections=http.concurrency, http2=tls, tls=tls)
        self._timeouts = http.connect_timeout + http.read_timeout
        self._pool = ThreadPoolExecutor(max_workers=http.concurrency, thread_name_prefix="prefetch")
        # Prefetched answers, each bound to the check(s) that declared it (planning.py).
        self._planned: dict[Planned, list[tuple[frozenset[str], Future[Exchange]]]] = {}
        self._lock = threading.Lock()
        self._rtt: float | None = None
        # The check now running (its node id), and whether it is destructive: set by the
        # plugin before each check's setup.
        self.asking = ""
        self.asking_destructive = False
        # The asking check is marked on_demand: it sends what it cannot declare (by design).
        self.asking_on_demand = False
        self._declared: set[tuple[Planned, str]] = set()
        # Requests a non-destructive check sent without having declared them: (check, what).
        self.on_demand: list[tuple[str, str]] = []
        # Per check (node id): "GET url -> 200 in 12 ms" lines, for its report.
        self.exchanges: dict[str, list[str]] = {}

    def _log(self, answer: Answer, how: str = "") -> None:
        line = (
            f"{answer.what} → {answer.status} in {answer.elapsed * 1000:.0f} ms "
            f"(service time {answer.server_time * 1000:.0f} ms, {answer.timed_by}){how}"
        )
        with self._lock:
            self.exchanges.setdefault(self.asking, []).append(scrub(line))

    @classmethod
    def for_target(
        cls,
        base_url: str,
        config: SuiteConfig,
        counter: RequestCounter | None = None,
        envelope_violations: list[tuple[str, str]] | None = None,
    ) -> ApiClient:
        """The client every caller uses (checks, the Locust gate, the contract diff): the
        config's timeouts, error spellings, bare routes and Server-Timing metric names."""
        return cls(
            base_url,
            config.http,
            counter if counter is not None else RequestCounter(),
            envelope_violations,
            config.errors,
            config.envelope,
            tuple(config.budgets.server_timing),
        )

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def close(self) -> None:
        """Count what was prefetched and never asked for (it was sent all the same)."""
        with self._lock:
            self._drop_prefetched()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._http.close()

    def _drop_prefetched(self) -> None:
        """Forget every prefetched answer (under the lock): what was already sent is counted."""
        leftover = [future for waiting in self._planned.values() for _, future in waiting]
        self._planned.clear()
        for future in leftover:
            if not future.cancel():
                self.counter.add()

    def prefetch(self, requests: list[tuple[Planned, set[str]]]) -> None:
        """Send these now, concurrently; a check that declared one (method, path, token,
        headers, body) gets its answer instead of waiting a round trip of its own."""
        with self._lock:
            for planned, owners in requests:
                self._declared.update((planned, owner) for owner in owners)
                future = self._pool.submit(self._exchange, planned)
                self._sent.append(future)
                self._planned.setdefault(planned, []).append((frozenset(owners), future))

    def _take_prefetched(self, planned: Planned, what: str) -> Future[Exchange] | None:
        """The answer prefetched for this request *for the asking check*, if it is still
        current. A destructive check's request, or one nobody declared, may change the target:
        it drops every prefetched answer, which later checks then ask afresh."""
        with self._lock:
            waiting = self._planned.get(planned, [])
            if not self.asking_destructive:
                for index, (owners, future) in enumerate(waiting):
                    if self.asking in owners:
                        del waiting[index]
                        return future
                undeclared = (planned, self.asking) not in self._declared
                if undeclared and not self.asking_on_demand:
                    self.on_demand.append((self.asking, what))
            self._drop_prefetched()
        return None

    def request(
        self,
        method: str,
        path: str,
        *,
        token: Secret | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: str | bytes | None = None,
    ) -> Answer:
        planned = Planned.of(method, path, token, headers, json, content)
        what = f"{method} {self.url(path)}"
        self._refuse_if_unresponsive(what)
        future = self._take_prefetched(planned, f"{method} {path}")
        try:
            exchange = self._received(
                what, future.result if future is not None else lambda: self._exchange(planned)
            )
        finally:
            self.counter.add()
        answer = self._answer(exchange, method, path)
        self._log(answer, ", prefetched" if future is not None else "")
        self._check_envelope(answer)
        return answer

    def probe(self, path: str) -> Future[Answer]:
        """GET ``path`` now, beside whatever is prefetched, without waiting: the answer (or the
        ``CheckFailed`` saying there was none) comes on the future. Counted now, so no check is
        charged for it; not held to the envelope rule, which the checks that read the route
        judge."""
        planned = Planned.of("GET", path)
        self.counter.add()
        future = self._pool.submit(
            lambda: self._answer(
                self._received(f"GET {self.url(path)}", lambda: self._exchange(planned)),
                "GET",
                path,
            )
        )
        with self._lock:
            self._sent.append(future)
        return future

    def quiet(self, timeout: float) -> None:
        """Wait (at most ``timeout`` s) until nothing this client sent on its pool is still in
        flight: an answer timed now does not queue behind the tier's own burst."""
        with self._lock:
            pending = [future for future in self._sent if not future.done()]
            self._sent = pending
        wait(pending, timeout=timeout)

    def resend(
        self, method: str, path: str, *, token: Secret | None = None, times: int
    ) -> list[Answer]:
        """The same read-only request again, ``times`` times one after another, once nothing
        else is in flight: a latency figure confirmed without the burst's queueing. Never a
        prefetched answer, and it leaves prefetched ones alone (a GET changes nothing)."""
        self.quiet(timeout=self._timeouts)
        planned = Planned.of(method, path, token)
        what = f"{method} {self.url(path)}"
        answers = []
        for _ in range(times):
            self._refuse_if_unresponsive(what)
            try:
                exchange = self._received(what, lambda: self._exchange(planned))
            finally:
                self.counter.add()
            answers.append(self._answer(exchange, method, path))
            self._log(answers[-1], ", sent alone to confirm a latency miss")
        return answers

    def _refuse_if_unresponsive(self, what: str) -> None:
        if self.unresponsive:
            raise RootCause(
                f"{what}: not sent, {self.unresponsive}", UNRESPONSIVE, self._unresponsive_short
            )

    _unresponsive_short = "the target stopped answering (a request timed out)"

    def _received(self, what: str, exchange: Callable[[], Exchange]) -> Exchange:
        """The exchange, or a one-line failure; after a timeout the target is unresponsive:
        the first check to meet it fails, the later ones cannot judge (``RootCause``)."""
        try:
            return exchange()
        except NoAnswer as exc:
            if exc.timed_out:
                self.unresponsive = (
                    f"the target did not answer {what} in time; it accepts connections but "
                    "hangs — check `wrangler tail`, recent deploys, and Cloudflare status"
                )
                raise RootCause(
                    f"{exc}; {self.unresponsive}", UNRESPONSIVE, self._unresponsive_short
                ) from None
            raise Unreachable(
                f"{exc}; is the URL right, the service up and this runner's network working?",
                UNREACHABLE,
                "the target could not be reached (no connection)",
            ) from None

    def _answer(self, exchange: Exchange, method: str, path: str) -> Answer:
        enveloped = not any(path.startswith(bare) for bare in self.envelope.bare_routes)
        answer = exchange.answer(
            method, self.url(path), self._rtt, self.errors, enveloped, self.server_timing
        )
        if exchange.rtt is not None:
            self._rtt = exchange.rtt if self._rtt is None else min(self._rtt, exchange.rtt)
        return answer

    def _exchange(self, planned: Planned) -> Exchange:
        """One request on the shared pool, timed: wall time, time to first byte, and the TCP
        connect time when it opened a connection (the round trip, for server-time estimates)."""
        marks: dict[str, float] = {}

        def trace(event: str, _info: Any) -> None:
            marks[event] = time.perf_counter()

        headers = dict(planned.headers)
        started = time.perf_counter()
        response = send(
            self._http,
            planned.method,
            self.url(planned.path),
            what=f"{planned.method} {self.url(planned.path)}",
            headers=headers,
            content=planned.body,
            extensions={"trace": trace},
        )
        return Exchange(response, started, time.perf_counter(), marks)

    def _check_envelope(self, answer: Answer) -> None:
        """Remember JSON answers without the contract's envelope; the plugin fails the check
        that sent the request (in its call phase, once), unless that check failed already."""
        if not answer.enveloped or "json" not in answer.headers.get("content-type", ""):
            return
        try:
            body = answer.parsed()
        except ValueError:  # UnicodeDecodeError too
            return  # not JSON after all: the checks that read it say so
        if envelope_problem(body):
            self.envelope_violations.append(
                (
                    answer.route,
                    f"{answer.what}: expected a JSON envelope with success and meta.timestamp, "
                    f"got {answer.status} {snippet(answer.text)}",
                )
            )

    def get(self, path: str, **kwargs: Any) -> Answer:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Answer:
        return self.request("POST", path, **kwargs)
