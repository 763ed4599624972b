"""The sandbox's fault switches as a user types them: each valued switch parsed to what the
server reads, every malformed one a one-line FaultError naming the switch, and the answers a
switch reshapes. The faults' effect on the checks is proven by each check's own self-tests."""

from __future__ import annotations

import pytest

from umbrella_checks.sandbox.faults import parse_faults
from umbrella_checks.sandbox.switches import FaultError, Outgoing


def _value(spec: str) -> object:
    name = spec.partition("=")[0]
    return parse_faults([spec]).value(name)


@pytest.mark.parametrize(
    ("spec", "value"),
    [
        pytest.param("distance=200", 0.2, id="distance-ms"),
        pytest.param("distance=0", 0.0, id="distance-zero"),
        pytest.param("health-clock=-60", -60.0, id="seconds-negative"),
        pytest.param("slow-but-first=/v1/health:80", ("/v1/health", 0.08), id="route-ms"),
        pytest.param("slow-but-first=/v1/health:0", ("/v1/health", 0.0), id="route-ms-zero"),
        pytest.param("route-5xx=/v1/gigs", ("/v1/gigs", 1.0), id="5xx-every-answer"),
        pytest.param("route-5xx=*:5", ("*", 0.05), id="5xx-a-share"),
        pytest.param("error-code=/v1/profile:UNAUTHORIZED", ("/v1/profile", "UNAUTHORIZED")),
        pytest.param("violet-limit=1", 1, id="limit-one"),
    ],
)
def test_a_valued_switch_is_parsed_to_what_the_server_reads(spec: str, value: object) -> None:
    assert _value(spec) == value


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        pytest.param("distance=-5", "'-5' is not a number of milliseconds", id="distance-negative"),
        pytest.param("distance=far", "'far' is not a number of milliseconds", id="distance-word"),
        pytest.param("health-clock=soon", "'soon' is not a number of seconds", id="seconds-word"),
        pytest.param("slow-but-first=/v1/health:x", "expected ROUTE:MS", id="route-ms-word"),
        pytest.param("slow-but-first=/v1/health:-1", "expected ROUTE:MS", id="route-ms-negative"),
        pytest.param("slow-but-first=:80", "expected ROUTE:MS", id="route-ms-no-route"),
        pytest.param("slow-but-first=80", "expected ROUTE:MS", id="route-ms-no-colon"),
        pytest.param("route-5xx=", "route-5xx needs a route", id="5xx-no-route"),
        pytest.param("route-5xx=/v1/a:x", "'x' is not a percentage", id="5xx-bad-share"),
        pytest.param("error-code=/v1/profile", "expected ROUTE:CODE", id="code-no-colon"),
        pytest.param("error-code=:UNAUTHORIZED", "expected ROUTE:CODE", id="code-no-route"),
        pytest.param("error-code=/v1/profile:", "expected ROUTE:CODE", id="code-no-code"),
        pytest.param("violet-limit=0", "give a whole number", id="limit-zero"),
        pytest.param("violet-limit=many", "give a whole number", id="limit-word"),
        pytest.param("slow=800", "expected slow=ROUTE:MS", id="slow-no-route"),
        pytest.param("slow=:800", "expected slow=ROUTE:MS", id="slow-empty-route"),
        pytest.param("slow=/v1/a:fast", "'fast' is not MS or MS@PCT", id="slow-word"),
        pytest.param("slow=/v1/a:1@60,2@50", "add up to more than 100", id="slow-over-100"),
        pytest.param("slow", "sandbox fault slow needs a value: slow=ROUTE:MS", id="no-value"),
        pytest.param("health-500=1", "sandbox fault health-500 takes no value", id="extra-value"),
        pytest.param("nope", "unknown sandbox fault 'nope'", id="unknown"),
    ],
)
def test_a_malformed_switch_is_one_line_naming_it(spec: str, said: str) -> None:
    with pytest.raises(FaultError) as raised:
        parse_faults([spec])
    assert said in str(raised.value)


@pytest.mark.parametrize(
    ("spec", "path", "draw", "delay"),
    [
        pytest.param("slow=/v1/artists:800", "/v1/artists/a1", 0.5, 0.8, id="route-prefix"),
        pytest.param("slow=/v1/artists:800", "/v1/gigs", 0.5, 0.0, id="other-route"),
        pytest.param("slow=*:800", "/v1/gigs", 0.99, 0.8, id="star-is-every-route"),
        pytest.param("slow=/v1/a:100,900@10", "/v1/a", 0.05, 0.9, id="within-the-share"),
        pytest.param("slow=/v1/a:100,900@10", "/v1/a", 0.1, 0.1, id="at-the-shares-edge"),
        pytest.param("slow=/v1/a:100,900@10", "/v1/a", 0.99, 0.1, id="the-rest"),
        pytest.param("slow=/v1/a:100,900@10", "/v1/a", 0.0995, 0.9, id="just-within-10-percent"),
        pytest.param("slow=/v1/a:100", "/v1/a", 0.9999999999, 0.1, id="the-highest-draw"),
        pytest.param("slow=/v1/a:900@10", "/v1/a", 0.5, 0.0, id="no-base-no-delay"),
        pytest.param("slow=/v1/a:1@50,2@50", "/v1/a", 0.75, 0.002, id="shares-of-100"),
    ],
)
def test_slow_delays_by_route_and_share(spec: str, path: str, draw: float, delay: float) -> None:
    assert parse_faults([spec]).delay_for(path, draw) == delay


def test_route_5xx_answers_by_route_prefix_or_star() -> None:
    faults = parse_faults(["route-5xx=/v1/gigs:20"])
    assert faults.error_share("/v1/gigs/1") == 0.2
    assert faults.error_share("/v1/artists") == 0.0
    assert parse_faults(["route-5xx=*"]).error_share("/v1/artists") == 1.0


def test_envelope_missing_by_route_prefix_or_star() -> None:
    faults = parse_faults(["envelope-missing=/v1/health"])
    assert faults.is_bare("/v1/health")
    assert not faults.is_bare("/v1/artists")
    assert parse_faults(["envelope-missing=*"]).is_bare("/v1/artists")


def test_the_violet_limit_is_a_number_or_none() -> None:
    assert parse_faults(["violet-limit=100"]).limit == 100
    assert parse_faults([]).limit is None


def _options(faults: list[str], method: str = "OPTIONS") -> dict[str, str]:
    answer = Outgoing(method, "/v1/artists", 204, {"Access-Control-Max-Age": "86400"})
    parse_faults(faults).reshape(answer)
    return answer.headers


def test_preflight_switches_reshape_only_preflights() -> None:
    assert _options(["preflight-max-age=5"]) == {"Access-Control-Max-Age": "5"}
    assert _options(["preflight-no-max-age"]) == {}
    assert _options(["preflight-no-max-age"], "GET") == {"Access-Control-Max-Age": "86400"}
    assert _options(["preflight-max-age=5"], "GET") == {"Access-Control-Max-Age": "86400"}


def test_switches_come_from_the_environment_first() -> None:
    faults = parse_faults(
        ["health-500"], {"UMBRELLA_SANDBOX_FAULTS": "slow=/v1/a:5, ,version-empty"}
    )
    assert faults.raw == ("slow=/v1/a:5", "version-empty", "health-500")
    assert parse_faults(["health-500"]).raw == ("health-500",)


def test_harmless_preflight_variants_reshape_only_preflights() -> None:
    preflight = Outgoing("OPTIONS", "/v1/artists", 204, {})
    parse_faults(["preflight-200", "credentials-on-every-preflight"]).reshape(preflight)
    assert (preflight.status, preflight.headers) == (
        200,
        {"Access-Control-Allow-Credentials": "true"},
    )
    get = Outgoing("GET", "/v1/artists", 204, {})
    parse_faults(["preflight-200", "credentials-on-every-preflight"]).reshape(get)
    assert (get.status, get.headers) == (204, {})
