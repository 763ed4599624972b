"""Status matrix rows refused at start: one written twice (two checks with one id would hide
which one failed), and one that could change state without saying it is destructive."""

from __future__ import annotations

from pathlib import Path

import pytest

from umbrella_checks.config.matrix import load_rows
from umbrella_checks.config.suite import ConfigError

ROW = '[[row]]\nmethod = "GET"\npath = "/v1/artists"\nwho = "anonymous"\nstatus = 200\n'


def test_a_row_written_twice_is_one_line_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "status_matrix.toml"
    path.write_text(ROW + ROW, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_rows(path)
    assert str(raised.value) == (
        f"{path}: row 'GET /v1/artists [anonymous] -> 200' appears twice; remove one"
    )


@pytest.mark.parametrize(
    ("row", "said"),
    [
        pytest.param(
            '[[row]]\nmethod = "DELETE"\npath = "/v1/profile"\nwho = "user"\nstatus = 403\n',
            "row 1 (DELETE /v1/profile) sends a DELETE, which can change state",
            id="delete",
        ),
        pytest.param(
            '[[row]]\nmethod = "POST"\npath = "/v1/auth/callback"\nwho = "anonymous"\n'
            "status = 400\n",
            "row 1 (POST /v1/auth/callback) sends a POST",
            id="post",
        ),
        pytest.param(
            '[[row]]\nmethod = "GET"\npath = "/v1/violet/prompt"\nwho = "user"\n'
            'status = 200\nprompt = "hello"\n',
            "sends a Violet prompt, which uses quota",
            id="prompt",
        ),
    ],
)
def test_a_row_that_could_change_state_must_say_it_is_destructive(
    tmp_path: Path, row: str, said: str
) -> None:
    path = tmp_path / "status_matrix.toml"
    path.write_text(row, encoding="utf-8")
    with pytest.raises(ConfigError, match="mark it destructive = true") as raised:
        load_rows(path)
    assert said in str(raised.value)
    path.write_text(row + "destructive = true\n", encoding="utf-8")
    assert len(load_rows(path)) == 1
