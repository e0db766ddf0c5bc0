"""Read every row of a token table, a dataset table or a folder of images (predict, evaluate).

Unreadable images are counted and read as empty text with confidence 0, never dropped, so
evaluation scores always cover the whole table.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pandas as pd
from tqdm import tqdm

from inverse_dalle.batch_sizing import MemorySizedBatches
from inverse_dalle.exported import ExportedModel
from inverse_dalle.ocr import InverseDalleOCR
from inverse_dalle.process_reading import default_workers, read_in_processes
from ocr_common.errors import UserError
from ocr_common.images import IMAGE_SUFFIXES, list_images
from ocr_common.tables import read_table, resolve_image_paths
from vqvae.token_table import check_codebook, check_made_by, read_meta, string_to_grid

CHUNK = 1024  # rows read at once (their VQVAE inputs held, not images; progress updates)
Result = tuple[str, float, bool] | None  # (text, confidence, ended); None: unreadable image
T = TypeVar("T")


@dataclass
class TableReading:
    rows: pd.DataFrame  # the input rows (img_path as given, carried columns)
    texts: list[str]
    confidences: list[float]
    num_unended: int  # outputs that hit max_text_length without </s>
    num_unreadable: int  # images that could not be opened (read as "")


def load_rows(path: Path) -> pd.DataFrame:
    """A table as is, or a folder as a table of its image files (img_path relative to it)."""
    if path.is_dir():
        files = list_images(path)
        if not files:
            raise UserError(f"{path}: no image files ({', '.join(IMAGE_SUFFIXES)})")
        return pd.DataFrame({"img_path": [str(p.relative_to(path)) for p in files]})
    return read_table(path, required=("img_path",))


def check_token_table(ocr: InverseDalleOCR | ExportedModel, path: Path) -> None:
    meta = read_meta(path)
    check_codebook(
        f"{path}: token table (.meta.json)",
        meta.num_codes,
        "the model reads",
        ocr.layout.num_codes,
    )
    if ocr.tokenizer is not None:
        check_made_by(path, ocr.tokenizer.sha256)


def _grids_from_tokens(
    ocr: InverseDalleOCR, rows: pd.DataFrame, path: Path
) -> list[list[list[int]]]:
    grids = []
    for number, tokens in enumerate(rows["visual_tokens"], start=2):  # header is line 1
        try:
            grids.append(string_to_grid(str(tokens)))
            ocr.check_grid(grids[-1])
        except ValueError as error:
            raise UserError(f"{path}: row {number}: {error}") from None
    return grids


def _read_in_chunks(
    read: Callable[[list[T], int], list[Result]],
    items: list[T],
    batches: MemorySizedBatches,
    show_progress: bool,
) -> list[Result]:
    """`read(chunk, batch_size)` over `items` CHUNK at a time, in batches as large as memory
    allows, with a progress bar on stderr."""
    results: list[Result] = []
    with tqdm(total=len(items), unit="img", desc="reading", disable=not show_progress) as bar:
        for start in range(0, len(items), CHUNK):
            results.extend(batches(read, items[start : start + CHUNK]))
            bar.update(min(CHUNK, len(items) - start))
    return results


def _read_files_in_processes(
    ocr: InverseDalleOCR, files: list[Path], batch_size: int, workers: int, show_progress: bool
) -> list[tuple[str, float, bool] | None]:
    with tqdm(total=len(files), unit="img", desc="reading", disable=not show_progress) as bar:
        return read_in_processes(ocr, files, batch_size, workers, bar.update)


def read_rows(
    ocr: InverseDalleOCR,
    path: str | os.PathLike,
    batch_size: int | None = None,
    show_progress: bool = True,
    workers: int | None = None,
) -> TableReading:
    """Read every row, CHUNK rows at a time (a progress bar on stderr when `show_progress`),
    `batch_size` at once (None: the device's default, batch_sizing.py); image files are
    tokenised with the bundled VQVAE (`ocr.tta` views of each, voted on), by `workers`
    processes when more than 1 (process_reading.py: CPU, same readings; None: one per core
    where that pays, `default_workers`)."""
    path = Path(path)
    batches = MemorySizedBatches(batch_size, ocr.device)
    rows = load_rows(path)
    if "visual_tokens" in rows.columns:
        if workers not in (None, 1):
            raise UserError(f"{path}: --workers reads image files; a token table is read in one")
        if ocr.tta > 1:
            raise UserError(
                f"{path}: a token table holds one view per row; test-time augmentation reads "
                "image files (or tokenise with --use-tta and merge with predict --merge-tta)"
            )
        if ocr.tiles:
            raise UserError(f"{path}: tiles are cut from image files; a token table has none")
        check_token_table(ocr, path)
        views = [[grid] for grid in _grids_from_tokens(ocr, rows, path)]
        return _table_reading(rows, _read_in_chunks(ocr.read_views, views, batches, show_progress))
    if ocr.tokenizer is None:
        raise UserError(f"{path}: has no visual_tokens column and the model bundles no VQVAE")
    if path.is_dir():
        files = [path / name for name in rows["img_path"]]
    else:
        files = resolve_image_paths(rows, path)
    if workers is None:
        workers = default_workers(ocr.device, len(files), batches.batch_size)
    if workers != 1:
        return _table_reading(
            rows, _read_files_in_processes(ocr, files, batches.batch_size, workers, show_progress)
        )
    return _table_reading(rows, _read_in_chunks(ocr.read_images, files, batches, show_progress))


def _table_reading(rows: pd.DataFrame, results: list[Result]) -> TableReading:
    return TableReading(
        rows,
        [r[0] if r is not None else "" for r in results],
        [r[1] if r is not None else 0.0 for r in results],
        sum(r is not None and not r[2] for r in results),
        sum(r is None for r in results),
    )
