"""The dataset table (`img_path,text,…`) and everything derived from it, as CSV or Parquet.

`img_path` is relative to the table's folder (absolute paths also work); text is NFC-normalised
because AIHub labels and macOS file systems produce decomposed (NFD) Hangul.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ocr_common.atomic import atomic_path
from ocr_common.errors import UserError

SUFFIXES = (".csv", ".parquet")


def _check_suffix(path: Path) -> None:
    if path.suffix.lower() not in SUFFIXES:
        raise UserError(f"{path}: unsupported table format '{path.suffix}' (use .csv or .parquet)")


def read_table(
    path: str | os.PathLike, required: Sequence[str] = ("img_path", "text")
) -> pd.DataFrame:
    """Read a table, check its columns and NFC-normalise its `text` column."""
    path = Path(path)
    _check_suffix(path)
    if not path.is_file():
        raise UserError(f"{path}: table not found")
    try:
        if path.suffix.lower() == ".csv":
            # keep_default_na=False: a sign reading "NA" or "null" is text, not a missing value.
            table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        else:
            table = pd.read_parquet(path)
    except (UnicodeDecodeError, ValueError, OSError, pd.errors.ParserError) as error:
        raise UserError(f"{path}: cannot read table ({error})") from None
    missing = [column for column in required if column not in table.columns]
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)}")
    if "text" in table.columns:
        table["text"] = [unicodedata.normalize("NFC", str(text)) for text in table["text"]]
    return table


def write_table(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write atomically, as CSV or Parquet by the suffix of `path`."""
    path = Path(path)
    _check_suffix(path)
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".csv":
            table.to_csv(tmp, index=False, encoding="utf-8")
        else:
            table.to_parquet(tmp, index=False)


def resolve_image_paths(table: pd.DataFrame, table_path: str | os.PathLike) -> list[Path]:
    """Absolute image paths: `img_path` relative to the table's folder, or already absolute."""
    folder = Path(table_path).resolve().parent
    return [folder / str(p) for p in table["img_path"]]
