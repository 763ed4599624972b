"""Bench helper: hammer one route, keep every raw response time, print them at the end."""

from __future__ import annotations

import json
import os
from typing import Any

from locust import FastHttpUser, constant, events, task
from locust.runners import WorkerRunner

ROUTE = os.environ.get("BENCH_ROUTE", "/v1/health")
WAIT = float(os.environ.get("BENCH_WAIT", "0"))
samples: list[float] = []


class Hammer(FastHttpUser):
    wait_time = constant(WAIT)

    @task
    def hit(self) -> None:
        self.client.get(ROUTE, name=ROUTE)


def _record(response_time: float, exception: Any, **_: Any) -> None:
    if exception is None:
        samples.append(response_time)


def _report(environment: Any, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    entry = environment.stats.get(ROUTE, "GET")
    print(
        "BENCH "
        + json.dumps(
            {
                "locust_p95": entry.get_response_time_percentile(0.95),
                "requests": entry.num_requests,
                "rps": entry.total_rps,
                "samples": samples,
            }
        ),
        flush=True,
    )
    environment.process_exit_code = 0


events.request.add_listener(_record)
events.quitting.add_listener(_report)
