"""A CA bundle that is no bundle — ``SSL_CERT_FILE`` or ``[tls] ca_file`` naming a file the TLS
library cannot load — is one line at start (exit 4), never a traceback from the first HTTPS
request; a good bundle, or none, runs."""

from __future__ import annotations

from pathlib import Path

import certifi
import pytest

from umbrella_checks.transport import bundle_problem


@pytest.mark.parametrize(
    ("content", "why"),
    [
        pytest.param("", "(NO_CERTIFICATE_OR_CRL_FOUND)", id="empty-file"),
        pytest.param("not a certificate\n", "(NO_CERTIFICATE_OR_CRL_FOUND)", id="text-file"),
        pytest.param(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "([X509] PEM lib (_ssl.c:",
            id="broken-pem",
        ),
    ],
)
def test_a_file_that_is_no_bundle_says_so(tmp_path: Path, content: str, why: str) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text(content, encoding="utf-8")
    problem = bundle_problem(str(bundle))
    assert problem is not None
    assert problem.startswith(f"not a PEM bundle of CA certificates {why}"), problem


def test_a_bundle_that_cannot_be_read_says_why(tmp_path: Path) -> None:
    assert bundle_problem(str(tmp_path)) == "not a PEM bundle of CA certificates (Is a directory)"


def test_certifis_bundle_loads() -> None:
    assert bundle_problem(certifi.where()) is None


def _one_error_line(result: pytest.RunResult) -> str:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    lines = [line for line in result.stderr.lines if line.strip()]
    assert len(lines) == 1, result.stderr.str()
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    return lines[0]


def test_ssl_cert_file_that_is_no_bundle_is_one_line(
    pytester: pytest.Pytester, suite_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "proxy.pem"
    bundle.write_text("not a certificate\n", encoding="utf-8")
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    line = _one_error_line(
        pytester.runpytest_subprocess("checks/test_health.py", "--umbrella-sandbox")
    )
    assert f"SSL_CERT_FILE={bundle} is not a PEM bundle of CA certificates" in line
    assert "unset it to trust certifi's" in line


def test_tls_ca_file_that_is_no_bundle_is_one_line(
    pytester: pytest.Pytester, suite_dir: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "private-ca.pem"
    bundle.write_text("", encoding="utf-8")
    config = suite_dir / "umbrella.toml"
    config.write_text(config.read_text() + f'\n[tls]\nca_file = "{bundle}"\n', encoding="utf-8")
    line = _one_error_line(
        pytester.runpytest_subprocess("checks/test_health.py", "--umbrella-sandbox")
    )
    assert f"tls.ca_file: {bundle} is not a PEM bundle of CA certificates" in line


def test_a_good_ssl_cert_file_runs(
    pytester: pytest.Pytester, suite_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    result = pytester.runpytest_subprocess("checks/test_health.py", "--umbrella-sandbox")
    assert result.ret == 0, result.stdout.str()
