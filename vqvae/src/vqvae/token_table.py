"""The token grid at the stage boundary: what the VQVAE writes and the GPT-2 reads.

The one owner of
- the budget rule: a grid of h rows × w codes takes h·(w+1) sequence tokens (one [ROW] per row),
  at most the budget L, `max_visual_length` in code (`max_length` in the VQVAE's config and
  export and the table's .meta.json);
- the codebook rule: codes are ids in [0, N), N the codebook size, `num_codes` in code
  (`num_embeddings` in the VQVAE's config and export and the table's .meta.json,
  `num_visual_tokens` in the GPT-2 config and export; docs/architecture.md's glossary);
- the token table format: a grid as text, rows of ids separated by one space, rows separated by
  a tab ("12 5 9\t3 3 8"), and the table's `.meta.json` sidecar (TokenTableMeta).

vqvae.shapes (templates), inverse_dalle.token_format (sequences), inverse_dalle.grid_repair
(sampled grids) and every codebook-agreement check use the rules from here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ocr_common.errors import UserError, check_version
from ocr_common.json_files import read_json, write_json

TOKEN_TABLE_FORMAT_VERSION = 1


def grid_length(rows: int, cols: int) -> int:
    """Sequence tokens a rows × cols grid takes: one [ROW] per row, then its codes."""
    return rows * (cols + 1)


def max_cols(rows: int, max_visual_length: int) -> int:
    """The widest grid of `rows` rows within the budget (may be < 1: none fits)."""
    return max_visual_length // rows - 1


def max_rows(cols: int, max_visual_length: int) -> int:
    """The tallest grid of `cols` columns within the budget."""
    return max_visual_length // (cols + 1)


def check_budget(grid: Sequence[Sequence[int]], max_visual_length: int) -> None:
    """ValueError unless the grid's rows, each with its [ROW], fit `max_visual_length` tokens."""
    needed = sum(len(row) + 1 for row in grid)
    if needed > max_visual_length:
        raise ValueError(f"grid needs {needed} tokens, max_visual_length is {max_visual_length}")


def check_codes(grid: Sequence[Sequence[int]], num_codes: int) -> None:
    """ValueError unless every code id is in [0, num_codes)."""
    if any(code < 0 or code >= num_codes for row in grid for code in row):
        raise ValueError(f"token grid has code ids outside [0, {num_codes})")


def check_codebook(
    source: str, codes: int, reader: str, expected: int, error: type[Exception] = UserError
) -> None:
    """The one codebook-agreement check between the stages: "SOURCE has N codes, READER M"."""
    if codes != expected:
        raise error(f"{source} has {codes} codes, {reader} {expected}")


def grid_to_string(grid: list[list[int]]) -> str:
    return "\t".join(" ".join(str(token) for token in row) for row in grid)


def grid_shape(text: str) -> tuple[int, int]:
    """(rows, columns) of a grid_to_string grid, without parsing its codes."""
    return text.count("\t") + 1, text.split("\t", 1)[0].count(" ") + 1


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
    num_codes: int  # `num_embeddings` in the file
    downsample: int
    max_visual_length: int  # `max_length` in the file
    vqvae_sha256: str
    num_rows: int
    num_skipped: int
    wasted_slot_share: float
    format_version: int = TOKEN_TABLE_FORMAT_VERSION


def meta_path(table_path: str | os.PathLike) -> Path:
    return Path(table_path).with_suffix(".meta.json")


# The file's keys for the fields named otherwise in code (the file keeps the keys it always had).
FILE_KEYS = {"num_codes": "num_embeddings", "max_visual_length": "max_length"}


def write_meta(table_path: str | os.PathLike, meta: TokenTableMeta) -> None:
    values = {FILE_KEYS.get(name, name): value for name, value in asdict(meta).items()}
    write_json(meta_path(table_path), values)


def read_meta(table_path: str | os.PathLike) -> TokenTableMeta:
    path = meta_path(table_path)
    values = read_json(path, "token table metadata not found")
    check_version(
        path, "token table format_version", values.get("format_version"), TOKEN_TABLE_FORMAT_VERSION
    )
    keys = {f.name: FILE_KEYS.get(f.name, f.name) for f in fields(TokenTableMeta)}
    missing = set(keys.values()) - values.keys()
    if missing:
        raise UserError(f"{path}: missing key(s) {', '.join(sorted(missing))}")
    return TokenTableMeta(**{name: values[key] for name, key in keys.items()})


def check_made_by(table_path: str | os.PathLike, vqvae_sha256: str) -> None:
    """Refuse a token table that another VQVAE made (its .meta.json names the VQVAE's weights)."""
    made_by = read_meta(table_path).vqvae_sha256
    if made_by != vqvae_sha256:
        raise UserError(
            f"{table_path}: made by VQVAE {made_by[:12]}…, this model's VQVAE is "
            f"{vqvae_sha256[:12]}…"
        )
