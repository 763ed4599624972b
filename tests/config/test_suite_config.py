"""``umbrella.toml`` read as written: sizes and durations with their units, per-environment
overrides merged key by key, and every mistake named in one line with the key it is in."""

from __future__ import annotations

from pathlib import Path

import pytest

from umbrella_checks.config.loading import load_config
from umbrella_checks.config.matrix import Row, load_rows
from umbrella_checks.config.suite import ConfigError, Routes, SuiteConfig, Violet, maintenance_probe
from umbrella_checks.config.units import parse_duration, parse_size


@pytest.mark.parametrize(
    ("written", "size"),
    [
        pytest.param("10GB", 10e9, id="gigabytes"),
        pytest.param("500MB", 500e6, id="megabytes"),
        pytest.param("2TB", 2e12, id="terabytes"),
        pytest.param("1.5kb", 1500.0, id="lowercase-kilobytes"),
        pytest.param("7 B", 7.0, id="bytes-with-a-space"),
        pytest.param(4096, 4096.0, id="a-bare-number-is-bytes"),
    ],
)
def test_a_size_is_read_with_its_unit(written: object, size: float) -> None:
    assert parse_size(written) == size


@pytest.mark.parametrize(
    "written", [pytest.param(True, id="bool"), pytest.param("lots", id="words")]
)
def test_anything_else_is_not_a_size(written: object) -> None:
    with pytest.raises(ValueError, match="expected a size such as '10GB'"):
        parse_size(written)


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        pytest.param("500ms", 0.5, id="ms"),
        pytest.param("90s", 90.0, id="s"),
        pytest.param("30m", 1800.0, id="m"),
        pytest.param("2 min", 120.0, id="min"),
        pytest.param("1h", 3600.0, id="h"),
        pytest.param("1d", 86400.0, id="d"),
    ],
)
def test_a_duration_is_read_with_its_unit(written: str, seconds: float) -> None:
    assert parse_duration(written) == seconds


def test_a_bare_number_is_no_duration() -> None:
    with pytest.raises(ValueError, match="a bare number is ambiguous; write the unit: 50"):
        parse_duration(50)


def _load(tmp_path: Path, text: str, environment: str = "production") -> SuiteConfig:
    path = tmp_path / "umbrella.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, environment)


def test_sizes_in_the_file_are_bytes(tmp_path: Path) -> None:
    config = _load(tmp_path, '[capacity]\nd1_quota = "5GB"\nr2_quota = 1000\n')
    assert config.capacity.d1_quota == 5e9
    assert config.capacity.r2_quota == 1000.0


def test_an_environment_overrides_one_key_and_keeps_the_rest(tmp_path: Path) -> None:
    text = (
        '[http]\nconnect_timeout = "2s"\nread_timeout = "4s"\n'
        '[budgets.endpoints]\n"/v1/gigs" = "100ms"\n'
        '[env.staging.http]\nread_timeout = "15s"\n'
        '[env.staging.budgets.endpoints]\n"/v1/artists" = "900ms"\n'
    )
    staging = _load(tmp_path, text, "staging")
    assert (staging.http.connect_timeout, staging.http.read_timeout) == (2.0, 15.0)
    # A table inside an override is merged too: the file's other budgets stay.
    assert staging.budgets.endpoints == {"/v1/gigs": 0.1, "/v1/artists": 0.9}
    production = _load(tmp_path, text, "production")
    assert production.http.read_timeout == 4.0


def test_an_override_may_replace_a_list_whole(tmp_path: Path) -> None:
    text = (
        '[cors]\nallowed_origins = ["https://a.example", "https://b.example"]\n'
        '[env.preview.cors]\nallowed_origins = ["https://preview.example"]\n'
    )
    preview = _load(tmp_path, text, "preview")
    assert preview.cors.allowed_origins == ["https://preview.example"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            '[health]\nmax_clock_skeww = "60s"\n',
            "health.max_clock_skeww: unknown key; did you mean health.max_clock_skew?",
            id="unknown-key",
        ),
        pytest.param(
            '[budgets.endpoints]\n"/v1/health" = "50ms"\n"/v1/gigs" = 400\n',
            'budgets.endpoints."/v1/gigs": a bare number is ambiguous; write the unit, e.g. '
            '"400ms" or "400s"',
            id="bad-value-in-a-table-names-its-key",
        ),
        pytest.param(
            '[env.staging.budgets.endpoints]\n"/v1/artists" = "slow"\n',
            '[env.staging]: budgets.endpoints."/v1/artists": expected a duration',
            id="in-an-override-too",
        ),
        pytest.param(
            '[security]\nmaintenance_routes = ["v1/cron"]\n',
            "security.maintenance_routes: 'v1/cron' is not a path or 'METHOD /path'",
            id="maintenance-route-not-a-path",
        ),
        pytest.param(
            '[security]\nmaintenance_routes = ["POST /v1/jobs run"]\n',
            "security.maintenance_routes: 'POST /v1/jobs run' is not a path",
            id="maintenance-route-with-a-space",
        ),
        pytest.param(
            '[routes.critical.feed]\npath = "/v1/feed/{feed_id}"\n',
            "routes.critical.feed.path: '/v1/feed/{feed_id}' has a placeholder [routes] does not "
            "define",
            id="critical-path-placeholder",
        ),
        pytest.param(
            '[budgets.endpoints]\n"/v1/gig" = "50ms"\n',
            "budgets.endpoints.'/v1/gig' matches no route the suite measures, so its budget "
            "would never apply; did you mean '/v1/gigs'?",
            id="budget-for-no-route",
        ),
    ],
)
def test_a_mistake_is_one_line_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, text)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("entry", "probe"),
    [
        pytest.param("/v1/cron", ("GET", "/v1/cron"), id="bare-path-is-get"),
        pytest.param("POST /v1/jobs/run", ("POST", "/v1/jobs/run"), id="method-and-path"),
        pytest.param(" DELETE  /v1/x ", ("DELETE", "/v1/x"), id="spaces"),
        pytest.param("FETCH /v1/x", ("GET", "FETCH /v1/x"), id="unknown-method-is-a-path"),
    ],
)
def test_a_maintenance_route_is_probed_with_its_method(entry: str, probe: tuple[str, str]) -> None:
    assert maintenance_probe(entry) == probe


def test_a_prompt_body_keeps_fields_that_are_not_text() -> None:
    violet = Violet(prompt_body={"prompt": "Say {text}", "stream": False, "max_tokens": 5})
    assert violet.prompt("hi") == {"prompt": "Say hi", "stream": False, "max_tokens": 5}


def _rows(tmp_path: Path, text: str | bytes, routes: bool = True) -> list[Row]:
    path = tmp_path / "status_matrix.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return load_rows(path, Routes() if routes else None)


ROW = 'method = "GET"\npath = "{path}"\nwho = "anonymous"\nstatus = {status}\n'


@pytest.mark.parametrize("status", [100, 599])
def test_a_matrix_status_from_100_to_599_is_accepted(tmp_path: Path, status: int) -> None:
    (row,) = _rows(tmp_path, "[[row]]\n" + ROW.format(path="/v1/x", status=status))
    assert row.status == status


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "[[row]]\n" + ROW.format(path="/v1/x", status=99), "row 1 (GET /v1/x): status", id="99"
        ),
        pytest.param(
            "[[row]]\n" + ROW.format(path="/v1/x", status=600),
            "row 1 (GET /v1/x): status",
            id="600",
        ),
        pytest.param(
            "[[row]]\n"
            + ROW.format(path="/v1/x", status=200)
            + "[[row]]\n"
            + ROW.format(path="/v1/artists/{nope}", status=200),
            "row 2 (GET /v1/artists/{nope}): '/v1/artists/{nope}' has a placeholder [routes] "
            "does not define",
            id="unknown-placeholder",
        ),
        pytest.param("[[row]\n", "not valid TOML", id="not-toml"),
        pytest.param(b'[[row]]\nmethod = "\xff"\n', "cannot be read (", id="not-utf8"),
        pytest.param("", "no [[row]]: the status matrix would judge nothing", id="no-rows"),
    ],
)
def test_a_matrix_mistake_is_one_line(tmp_path: Path, text: str | bytes, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _rows(tmp_path, text)
    assert message in str(raised.value)


def test_a_missing_matrix_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"does not exist; fix \[matrix\] file"):
        load_rows(tmp_path / "nowhere.toml")


def test_matrix_placeholders_are_checked_only_with_routes(tmp_path: Path) -> None:
    (row,) = _rows(
        tmp_path, "[[row]]\n" + ROW.format(path="/v1/artists/{nope}", status=200), routes=False
    )
    assert row.path == "/v1/artists/{nope}"
