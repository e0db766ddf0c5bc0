"""Crop a whole AIHub label tree in parallel and write one dataset table.

The table is the project's dataset table, `img_path,text,orientation,source`, with `img_path`
relative to the table's folder and `source` the label file (relative to JSON_DIR).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath

import pandas as pd
from tqdm import tqdm

from ocr_common.aihub.crops import CropJob, crop_image, crop_name
from ocr_common.aihub.labels import SKIP_REASONS, MalformedLabels, read_label_file
from ocr_common.aihub.locate import ImageLocator, Unlocatable
from ocr_common.cores import available_cores
from ocr_common.errors import UserError
from ocr_common.tables import SUFFIXES, write_table

COLUMNS = ("img_path", "text", "orientation", "source")


@dataclass
class Report:
    output_dataset: Path
    kept: int
    skipped: dict[str, int]  # every reason of SKIP_REASONS, zero included
    malformed_files: list[str] = field(default_factory=list)  # relative to JSON_DIR
    seconds: float = 0.0

    @property
    def crops_per_second(self) -> float:
        return self.kept / max(self.seconds, 1e-9)

    def summary(self) -> str:
        """One line: kept, skipped by reason (non-zero ones), malformed label files, speed."""
        reasons = ", ".join(f"{reason} {n}" for reason, n in self.skipped.items() if n)
        return (
            f"kept {self.kept} crops, skipped {sum(self.skipped.values())} annotations"
            f"{f' ({reasons})' if reasons else ''}, {len(self.malformed_files)} malformed "
            f"label files; wrote {self.output_dataset} in {self.seconds:.1f} s "
            f"({self.crops_per_second:.0f} crops/s)"
        )


def _label_files(json_dir: Path) -> list[Path]:
    """Every *.json under `json_dir`, minus hidden files (macOS archives add `._name.json`)."""
    files = [
        path
        for path in json_dir.rglob("*")
        if path.suffix.lower() == ".json"
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(json_dir).parts)
    ]
    return sorted(files, key=lambda path: unicodedata.normalize("NFC", path.as_posix()))


def _plan(
    json_dir: Path, image_dir: Path, skipped: Counter, malformed: list[str], progress: bool
) -> list[CropJob]:
    """One job per located image, its annotations checked and deduplicated; skips counted."""
    label_files = _label_files(json_dir)
    if not label_files:
        raise UserError(f"{json_dir}: no *.json label files found")
    locator = ImageLocator(image_dir)
    seen: set[str] = set()
    jobs = []
    for path in tqdm(label_files, unit="file", desc="labels", disable=not progress):
        source = path.relative_to(json_dir).as_posix()
        try:
            images = read_label_file(path, skipped)
        except MalformedLabels as error:
            malformed.append(source)
            tqdm.write(f"warning: {path}: {error}; file skipped", file=sys.stderr)
            continue
        for labelled in images:
            try:
                image_path, relative = locator.find(
                    PurePosixPath(source).parent, labelled.file_name
                )
            except Unlocatable as error:
                skipped[error.reason] += len(labelled.annotations)
                continue
            unique = []
            for annotation in labelled.annotations:
                name = crop_name(relative, annotation.id)
                if name in seen:
                    skipped["duplicate"] += 1
                else:
                    seen.add(name)
                    unique.append(annotation)
            if unique:
                jobs.append(CropJob(image_path, relative, source, tuple(unique)))
    return jobs


def _crop_all(
    jobs: list[CropJob], output_dir: Path, workers: int | None
) -> Iterator[tuple[list[dict[str, str]], Counter]]:
    """Results in job order, from a process pool or, for one worker, in this process."""
    work = partial(crop_image, output_dir=output_dir)
    workers = min(workers or available_cores(), len(jobs))
    if workers <= 1:
        yield from map(work, jobs)
        return
    with multiprocessing.Pool(workers) as pool:
        yield from pool.imap(work, jobs, chunksize=8)


def process_aihub(
    json_dir: str | os.PathLike,
    image_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    output_dataset: str | os.PathLike | None = None,
    *,
    workers: int | None = None,
    progress: bool = True,
) -> Report:
    """Crop every usable annotation into `output_dir` and write the table `output_dataset`.

    `output_dataset` defaults to `<output_dir>.csv`. Crop names depend only on the image's path
    under `image_dir` and the annotation id, so a re-run (or a run finishing a killed one)
    rewrites the same files instead of adding new ones.
    """
    started = time.perf_counter()
    json_dir, image_dir, output_dir = Path(json_dir), Path(image_dir), Path(output_dir)
    table_path = Path(output_dataset) if output_dataset else output_dir.with_suffix(".csv")
    for folder, role in ((json_dir, "label"), (image_dir, "image")):
        if not folder.is_dir():
            raise UserError(f"{folder}: {role} folder not found")
    if table_path.suffix.lower() not in SUFFIXES:
        raise UserError(f"{table_path}: unsupported table format (use .csv or .parquet)")
    if workers is not None and workers < 1:
        raise UserError(f"workers must be ≥ 1, not {workers}")

    skipped: Counter = Counter({reason: 0 for reason in SKIP_REASONS})
    malformed: list[str] = []
    jobs = _plan(json_dir, image_dir, skipped, malformed, progress)
    output_dir.mkdir(parents=True, exist_ok=True)
    for leftover in output_dir.glob(".*.partial-*.png"):  # temporary crops of a killed run
        leftover.unlink()
    rows = []
    results = _crop_all(jobs, output_dir, workers)
    for image_rows, image_skipped in tqdm(
        results, total=len(jobs), unit="img", desc="crops", disable=not progress
    ):
        rows.extend(image_rows)
        skipped.update(image_skipped)

    table_folder = table_path.absolute().parent
    for row in rows:
        crop = (output_dir / row.pop("crop")).absolute()
        row["img_path"] = Path(os.path.relpath(crop, table_folder)).as_posix()
    write_table(pd.DataFrame(rows, columns=COLUMNS), table_path)
    return Report(
        output_dataset=table_path,
        kept=len(rows),
        skipped=dict(skipped),
        malformed_files=malformed,
        seconds=time.perf_counter() - started,
    )
