"""The token-table text format and its `.meta.json` sidecar."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ocr_common.errors import UserError
from vqvae.token_table import (
    TokenTableMeta,
    grid_to_string,
    meta_path,
    read_meta,
    string_to_grid,
    write_meta,
)


def test_grid_string_round_trip() -> None:
    grid = [[12, 5, 9], [3, 3, 8]]
    assert grid_to_string(grid) == "12 5 9\t3 3 8"
    assert string_to_grid(grid_to_string(grid)) == grid
    assert string_to_grid("7") == [[7]]


@pytest.mark.parametrize("bad", ["1 2\t3", "1 x", ""])
def test_malformed_grid_strings_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        string_to_grid(bad)


def test_meta_round_trip_and_version_check(tmp_path: Path) -> None:
    table = tmp_path / "tokens.csv"
    meta = TokenTableMeta(1024, 8, 128, "ab" * 32, 10, 1, 0.25)
    write_meta(table, meta)
    assert meta_path(table) == tmp_path / "tokens.meta.json"
    assert read_meta(table) == meta
    values = json.loads(meta_path(table).read_text())
    # The file keeps its keys (tables written before the code said num_codes and
    # max_visual_length read as they are).
    assert (values["num_embeddings"], values["max_length"]) == (1024, 128)
    assert "num_codes" not in values and "max_visual_length" not in values
    assert (read_meta(table).num_codes, read_meta(table).max_visual_length) == (1024, 128)
    meta_path(table).write_text(json.dumps({**values, "format_version": 99}))
    with pytest.raises(UserError, match="format_version 99"):
        read_meta(table)
