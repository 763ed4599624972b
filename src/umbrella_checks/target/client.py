"""The target's API client: every request to the target, timed, paced and counted.

Answers and their expectations are ``answer.py``; how much is in flight at once is
``pacing.py``. No pytest import here.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, NoReturn

from umbrella_checks.config.suite import Envelope, Errors, Http, SuiteConfig
from umbrella_checks.errors import UNREACHABLE, UNRESPONSIVE, RootCause, Unreachable
from umbrella_checks.secrets import Secret, scrub
from umbrella_checks.target.answer import Answer
from umbrella_checks.target.exchange import (
    Exchange,
    NotSent,
    Overwhelmed,
    Planned,
    is_platform_page,
)
from umbrella_checks.target.pacing import Pacer
from umbrella_checks.transport import NoAnswer, RequestCounter, new_client, send


class ApiClient:
    """httpx with the suite's timeouts, User-Agent, pacing and request counting.

    After a request that got no answer — confirmed alone when it was sent among the tier's
    burst — the target is marked unresponsive and every later request in this process fails at
    once with the same explanation, so a hung service ends the run in about one timeout
    instead of one per check.
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
        self._http = new_client(
            http, answers=counter, connections=http.concurrency, http2=tls, tls=tls
        )
        self._timeouts = http.connect_timeout + http.read_timeout
        self.pacer = Pacer(http.concurrency)
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
        # When the asking check must be done by (time.perf_counter(); pytest-timeout's limit):
        # confirmations stop in time for the check to judge what it has.
        self.deadline: float | None = None
        self._declared: set[tuple[Planned, str]] = set()
        # Requests of the burst that left, and those a check took the answer of (counted then).
        self._burst_sent = 0
        self._burst_taken = 0
        # Requests a non-destructive check sent without having declared them: (check, what).
        self.on_demand: list[tuple[str, str]] = []
        # Per check (node id): "GET url -> 200 in 12 ms" lines, for its report.
        self.exchanges: dict[str, list[str]] = {}
        # Requests the burst overwhelmed and that answered alone: (what, what came back first).
        self.overwhelmed: list[tuple[str, str]] = []

    def _log(self, answer: Answer, how: str = "") -> None:
        queued = (
            f", waited {answer.queued * 1000:.0f} ms for its turn" if answer.queued > 0.001 else ""
        )
        line = (
            f"{answer.what} → {answer.status} in {answer.elapsed * 1000:.0f} ms "
            f"(service time {answer.server_time * 1000:.0f} ms, {answer.timed_by}{queued}){how}"
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
        """Count what was prefetched, sent, and never asked for (it was sent all the same)."""
        with self._lock:
            self._drop_prefetched()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._http.close()
        for _ in range(self._burst_sent - self._burst_taken):
            self.counter.add()

    def _drop_prefetched(self) -> None:
        """Forget every prefetched answer (under the lock); what was not sent yet never is."""
        for waiting in self._planned.values():
            for _, future in waiting:
                future.cancel()
        self._planned.clear()

    def prefetch(
        self,
        requests: Sequence[tuple[Planned, set[str]]],
        timed: Sequence[tuple[Planned, set[str]]] = (),
    ) -> None:
        """Send these now, paced, then the ``timed`` ones (latency samples): those wait until
        the others have left, so the pacer has learned the target by then. A check that
        declared one (method, path, token, headers, body) gets its answer instead of waiting a
        round trip of its own."""
        with self._lock:
            for planned, owners in requests:
                self.pacer.expect()
                self._submit(planned, owners, expected=True)
            for planned, owners in timed:
                self._submit(planned, owners, timed=True)

    def _submit(self, planned: Planned, owners: set[str], **how: bool) -> None:
        """(Under the lock.) One prefetched request on the pool, kept for its owners."""
        self._declared.update((planned, owner) for owner in owners)
        future = self._pool.submit(self._exchange, planned, in_burst=True, **how)
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
            if future is not None:
                with self._lock:
                    self._burst_taken += 1
                exchange = self._confirmed(what, planned, future.result)
            else:
                exchange = self._received(what, lambda: self._exchange(planned))
        finally:
            self.counter.add()
        answer = self._answer(exchange, method, path)
        self._log(answer, ", prefetched" if future is not None else "")
        self._check_envelope(answer)
        return answer

    def probe(self, path: str) -> Future[Answer]:
        """GET ``path`` now, first of whatever is prefetched, without waiting: the answer (or
        the ``CheckFailed`` saying there was none) comes on the future. Counted now, so no check
        is charged for it; not held to the envelope rule, which the checks that read the route
        judge."""
        planned = Planned.of("GET", path)
        self.counter.add()
        with self._lock:
            self._burst_taken += 1  # counted here, not at close
        what = f"GET {self.url(path)}"
        self.pacer.expect()
        future = self._pool.submit(
            lambda: self._answer(
                self._confirmed(
                    what, planned, lambda: self._exchange(planned, in_burst=True, expected=True)
                ),
                "GET",
                path,
            )
        )
        with self._lock:
            self._sent.append(future)
        return future

    def _confirmed(self, what: str, planned: Planned, exchange: Callable[[], Exchange]) -> Exchange:
        """An answer from the tier's burst, confirmed alone when the burst may be what broke
        it: a request that got no answer, or the platform's own error page (a dev server
        shedding load), is asked again on its own before it becomes a root cause. A target
        that answers alone was overwhelmed by the burst, not broken: the run says so once and
        the pacer halves what it sends at once."""
        try:
            first = exchange()
        except Overwhelmed as exc:
            seen, company = "no answer within the read timeout", exc.company
        except NoAnswer as exc:
            self._no_answer(what, exc)  # no connection at all: nothing to confirm
        else:
            if not is_platform_page(first):
                return first
            seen, company = f"the platform's own {first.response.status_code} page", first.company
        self.pacer.overwhelmed(company)
        with self.pacer.alone(timeout=self._timeouts):
            try:
                alone = self._received(what, lambda: self._exchange(planned, paced=False))
            finally:
                self.counter.add()  # sent as well: the run's count says so
        if not is_platform_page(alone):
            with self._lock:
                self.overwhelmed.append((what, seen))
        return alone

    @property
    def notes(self) -> list[str]:
        """What the run should know about how the target took the burst, in one line."""
        if not self.overwhelmed:
            return []
        seen = sorted({how for _, how in self.overwhelmed})
        listed = ", ".join(what for what, _ in self.overwhelmed[:3])
        more = f" and {len(self.overwhelmed) - 3} more" if len(self.overwhelmed) > 3 else ""
        return [
            scrub(
                f"{len(self.overwhelmed)} request(s) got {' or '.join(seen)} among the tier's "
                f"requests and an answer alone ({listed}{more}): the burst was more than the "
                f"target handles at once, so the run sent at most {self.pacer.ceiling} at once "
                "from then on (lower [http] concurrency to start there)"
            )
        ]

    def quiet(self, timeout: float) -> None:
        """Wait (at most ``timeout`` s, and never past the asking check's deadline less one
        request's timeouts) until nothing this client sent on its pool is still in flight: an
        answer timed now does not queue behind the tier's own burst."""
        with self._lock:
            pending = [future for future in self._sent if not future.done()]
            self._sent = pending
        if self.deadline is not None:
            timeout = min(timeout, max(self.deadline - time.perf_counter() - self._timeouts, 0))
        wait(pending, timeout=timeout)

    def time_for_another(self) -> bool:
        """Does the asking check have time for one more request before its deadline?"""
        return self.deadline is None or time.perf_counter() + self._timeouts < self.deadline

    def resend(
        self, method: str, path: str, *, token: Secret | None = None, times: int
    ) -> list[Answer]:
        """The same read-only request again, up to ``times`` times one after another, once
        nothing else is in flight: a latency figure measured without the burst's queueing.
        Stops early when the asking check would run out of time (pytest-timeout's limit): it
        then judges what it has. Never a prefetched answer, and it leaves prefetched ones alone
        (a GET changes nothing)."""
        self.quiet(timeout=self._timeouts)
        planned = Planned.of(method, path, token)
        what = f"{method} {self.url(path)}"
        answers = []
        for _ in range(times):
            if not self.time_for_another():
                break
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
                f"{what}: not sent, {self.unresponsive}",
                UNRESPONSIVE,
                self._unresponsive_short,
                severity="SEV-1",
            )

    _unresponsive_short = "the target stopped answering (a request timed out)"

    def _received(self, what: str, exchange: Callable[[], Exchange]) -> Exchange:
        """The exchange, or a one-line failure. A connected request whose answer never came
        marks the target unresponsive: production down (SEV-1), the first check to meet it
        fails, the later ones are stopped. No connection at all is doubt about the run."""
        try:
            return exchange()
        except NoAnswer as exc:
            self._no_answer(what, exc)

    def _no_answer(self, what: str, exc: NoAnswer) -> NoReturn:
        if exc.timed_out:
            self.unresponsive = (
                f"the target did not answer {what} in time; it accepts connections but "
                "hangs — check `wrangler tail`, recent deploys, and Cloudflare status"
            )
            raise RootCause(
                f"{exc}; {self.unresponsive}",
                UNRESPONSIVE,
                self._unresponsive_short,
                severity="SEV-1",
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

    def _exchange(
        self,
        planned: Planned,
        *,
        in_burst: bool = False,
        paced: bool = True,
        timed: bool = False,
        expected: bool = False,
    ) -> Exchange:
        """One request on the shared pool, paced (unless sent ``alone``, which holds every
        place) and timed: wall time, time to first byte, the TCP connect time when it opened a
        connection (the round trip, for server-time estimates) and the time it waited for its
        turn. A ``timed`` one (a latency sample) leaves alone unless the target has been shown
        to serve in parallel (``Pacer.parallel``)."""
        marks: dict[str, float] = {}

        def trace(event: str, _info: Any) -> None:
            marks[event] = time.perf_counter()

        headers = dict(planned.headers)
        if not paced:
            turn: Any = contextlib.nullcontext((0.0, 1))
        elif timed:
            turn = self.pacer.timed_slot(self._timeouts)
        else:
            turn = self.pacer.slot(expected)
        with turn as (queued, company):
            if paced and self.unresponsive:  # queued behind a request the target never answered
                raise NotSent(f"{planned.method} {self.url(planned.path)}: not sent")
            if in_burst:
                with self._lock:
                    self._burst_sent += 1
            started = time.perf_counter()
            try:
                response = send(
                    self._http,
                    planned.method,
                    self.url(planned.path),
                    what=f"{planned.method} {self.url(planned.path)}",
                    headers=headers,
                    content=planned.body,
                    extensions={"trace": trace},
                )
            except NoAnswer as exc:
                if exc.timed_out and in_burst:
                    raise Overwhelmed(str(exc), company) from None
                raise
            exchange = Exchange(
                response,
                started,
                time.perf_counter(),
                marks,
                queued=queued,
                company=company,
                in_burst=in_burst,
            )
            self.pacer.answered(exchange.first_byte, company)
        return exchange

    def _check_envelope(self, answer: Answer) -> None:
        """Remember JSON answers without the contract's envelope; the plugin fails the check
        that sent the request (in its call phase, once), unless that check failed already."""
        violation = answer.envelope_violation()
        if violation is not None:
            self.envelope_violations.append((answer.route, violation))

    def get(self, path: str, **kwargs: Any) -> Answer:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Answer:
        return self.request("POST", path, **kwargs)
