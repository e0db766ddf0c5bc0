"""The dataset table (`img_path,text,…`) and everything derived from it, as CSV or Parquet.

`img_path` is relative to the table's folder (absolute paths also work); text is NFC-normalised
because AIHub labels and macOS file systems produce decomposed (NFD) Hangul.
"""

from __future__ import annotations

import csv
import os
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ocr_common.atomic import atomic_path
from ocr_common.errors import UserError

SUFFIXES = (".csv", ".parquet")


def check_table_suffix(path: Path) -> None:
    """A table we can write: commands check their output before the work, not after it."""
    if path.suffix.lower() not in SUFFIXES:
        raise UserError(f"{path}: unsupported table format '{path.suffix}' (use .csv or .parquet)")


def _check_field_counts(path: Path) -> None:
    """Every row has as many fields as the header. pandas would take a first row with one more
    (`x.png,24,000원`, an unquoted comma) as an index column and shift every column."""
    with path.open(encoding="utf-8", newline="") as file:
        rows = csv.reader(file)
        header = next(rows, [])
        for row in rows:
            if row and len(row) != len(header):
                raise UserError(
                    f"{path}: line {rows.line_num} has {len(row)} fields, the header "
                    f'{len(header)} (quote text that holds a comma: "24,000원")'
                )


def read_table(
    path: str | os.PathLike, required: Sequence[str] = ("img_path", "text")
) -> pd.DataFrame:
    """Read a table, check its columns and NFC-normalise its `text` column."""
    path = Path(path)
    if not path.is_file():  # before the suffix: a mistyped folder has none
        raise UserError(f"{path}: table not found")
    check_table_suffix(path)
    try:
        if path.suffix.lower() == ".csv":
            _check_field_counts(path)
            # keep_default_na=False: a sign reading "NA" or "null" is text, not a missing value.
            # index_col=False: a row with an extra field must not turn column 1 into an index.
            table = pd.read_csv(
                path, dtype=str, keep_default_na=False, encoding="utf-8", index_col=False
            )
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
    check_table_suffix(path)
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".csv":
            table.to_csv(tmp, index=False, encoding="utf-8")
        else:
            table.to_parquet(tmp, index=False)


def resolve_image_paths(table: pd.DataFrame, table_path: str | os.PathLike) -> list[Path]:
    """Absolute image paths: `img_path` relative to the table's folder, or already absolute."""
    folder = Path(table_path).resolve().parent
    return [folder / str(p) for p in table["img_path"]]


ARROW_SUFFIXES = (".arrow", ".feather")


def arrow_cache_path(path: str | os.PathLike) -> Path:
    """Where `open_arrow_table` keeps the Arrow IPC copy of a CSV or Parquet table."""
    path = Path(path)
    return path.with_name(f".{path.name}.arrow")


def _source_stamp(path: Path) -> dict[bytes, bytes]:
    stat = path.stat()
    return {
        b"source_size": str(stat.st_size).encode(),
        b"source_mtime_ns": str(stat.st_mtime_ns).encode(),
    }


def _read_source_as_arrow(path: Path) -> pa.Table:
    """The table as Arrow, all CSV columns as strings (as read_table) and `text` NFC."""
    try:
        if path.suffix.lower() == ".csv":
            with path.open(encoding="utf-8", newline="") as file:
                header = next(csv.reader(file), [])
            table = pa_csv.read_csv(
                path,
                convert_options=pa_csv.ConvertOptions(
                    column_types={name: pa.string() for name in header},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        else:
            table = pq.read_table(path)
    except (pa.ArrowInvalid, UnicodeDecodeError, OSError) as error:
        raise UserError(f"{path}: cannot read table ({error})") from None
    if "text" in table.column_names:
        text = pc.utf8_normalize(table["text"].cast(pa.string()), "NFC")
        table = table.set_column(table.column_names.index("text"), "text", text)
    return table


def open_arrow_table(
    path: str | os.PathLike, required: Sequence[str] = ("img_path", "text")
) -> pa.Table:
    """A table memory-mapped from disk: near-instant to open, pages read only when touched and
    shared by every process (DDP ranks, DataLoader workers) that opens the same file.

    `.arrow`/`.feather` (uncompressed Arrow IPC) files are mapped directly. A CSV or Parquet table
    is converted once to an Arrow IPC file beside it (`arrow_cache_path`, rebuilt when the source's
    size or modification time changes; written atomically, so concurrent ranks are safe) and that
    is mapped. Parquet is compressed and encoded, so it cannot be used in place.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise UserError(f"{path}: table not found")
    if suffix not in SUFFIXES + ARROW_SUFFIXES:
        raise UserError(
            f"{path}: unsupported table format '{path.suffix}' (use .csv, .parquet or .arrow)"
        )
    if suffix in ARROW_SUFFIXES:
        mapped = path
    else:
        mapped = arrow_cache_path(path)
        stamp = _source_stamp(path)
        if not mapped.is_file() or _mapped_stamp(mapped) != stamp:
            table = _read_source_as_arrow(path)
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), **stamp})
            with (
                atomic_path(mapped) as tmp,
                pa.OSFile(str(tmp), "wb") as sink,
                pa.ipc.new_file(sink, table.schema) as writer,
            ):
                writer.write_table(table, max_chunksize=65536)
    try:
        table = pa.ipc.open_file(pa.memory_map(str(mapped), "r")).read_all()
    except (pa.ArrowInvalid, OSError) as error:
        raise UserError(f"{mapped}: not a readable Arrow IPC file ({error})") from None
    missing = [column for column in required if column not in table.column_names]
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)}")
    return table


def _mapped_stamp(path: Path) -> dict[bytes, bytes] | None:
    try:
        metadata = pa.ipc.open_file(pa.memory_map(str(path), "r")).schema.metadata or {}
    except (pa.ArrowInvalid, OSError):
        return None  # a damaged cache is rebuilt
    return {key: metadata.get(key) for key in (b"source_size", b"source_mtime_ns")}
