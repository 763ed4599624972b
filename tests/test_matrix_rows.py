"""A status matrix row written twice: two checks with one id would hide which one failed."""

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
