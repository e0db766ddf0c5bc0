"""The token table format: a grid of code ids as text, and the `.meta.json` sidecar.

A grid is rows of ids separated by one space, rows separated by a tab: "12 5 9\t3 3 8".
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ocr_common.errors import UserError
from ocr_common.json_files import read_json, write_json

TOKEN_TABLE_FORMAT_VERSION = 1


def grid_to_string(grid: list[list[int]]) -> str:
    return "\t".join(" ".join(str(token) for token in row) for row in grid)


def string_to_grid(text: str) -> list[list[int]]:
    """Inverse of grid_to_string; rows must all have the same width."""
    try:
        grid = [[int(token) for token in row.split(" ")] for row in text.split("\t")]
    except ValueError:
        raise ValueError(f"not a token grid: {text[:40]!r}") from None
    if len({len(row) for row in grid}) != 1:
        raise ValueError(f"token grid rows differ in width: {text[:40]!r}")
    return grid


@dataclass
class TokenTableMeta:
    num_embeddings: int
    downsample: int
    max_length: int
    vqvae_sha256: str
    num_rows: int
    num_skipped: int
    wasted_slot_share: float
    format_version: int = TOKEN_TABLE_FORMAT_VERSION


def meta_path(table_path: str | os.PathLike) -> Path:
    return Path(table_path).with_suffix(".meta.json")


def write_meta(table_path: str | os.PathLike, meta: TokenTableMeta) -> None:
    write_json(meta_path(table_path), asdict(meta))


def read_meta(table_path: str | os.PathLike) -> TokenTableMeta:
    path = meta_path(table_path)
    values = read_json(path, "token table metadata not found")
    version = values.get("format_version")
    if version != TOKEN_TABLE_FORMAT_VERSION:
        raise UserError(
            f"{path}: token table format_version {version}, this code reads "
            f"{TOKEN_TABLE_FORMAT_VERSION}"
        )
    names = {f.name for f in fields(TokenTableMeta)}
    missing = names - values.keys()
    if missing:
        raise UserError(f"{path}: missing key(s) {', '.join(sorted(missing))}")
    return TokenTableMeta(**{name: values[name] for name in names})
